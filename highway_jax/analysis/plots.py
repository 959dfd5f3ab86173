"""Figures of the highway experiments as PNG files (matplotlib's Agg canvas; no display needed).

Each function draws one figure from the numbers computed elsewhere, writes it to ``path`` (creating
the directory) and returns the path:

* :func:`plot_lesion` — loss (and accuracy) with each layer lesioned vs the unlesioned baseline
  (paper Fig. 4), from a :class:`~highway_jax.analysis.lesion.LesionResult`.
* :func:`plot_transform_biases` — transform bias b_T per layer at init vs after training (median,
  25–75 % and 5–95 % bands) and the trained biases as a layers × units map (Fig. 2, first column).
* :func:`plot_gate_activity` — mean transform gate T(x) over the data as a layers × units map, and its
  mean per layer (Fig. 2, second column).
* :func:`plot_example_gates` — single-example gate maps, layers × units (Fig. 2, third column).
* :func:`plot_class_gates` — per class, the class mean gate minus the mean over all examples, layers ×
  units, and the same averaged over units as a classes × layers map (Fig. 3).
* :func:`plot_depth_sweep` — best training loss vs depth per network family, log y (Fig. 1), and the
  loss curves of the best run of each family at each depth.
* :func:`plot_metric_vs_depth` — a final metric (e.g. test accuracy) against depth per family (the
  Highway BiLSTM depth study).
* :func:`plot_metric_curves` — one metric against the step for several runs, read from their
  ``metrics.jsonl`` (e.g. LSTM vs highway training curves).

Layers are numbered from 0, as for ``HighwayStack(lesion=...)``. The figures are built on
``matplotlib.figure.Figure`` without pyplot, so no global backend state is touched.

Example::

    from highway_jax.analysis import lesion, plots
    result = lesion.lesion_sweep(apply_fn, params, batches, num_layers=49)
    plots.plot_lesion(result, 'runs/mnist_highway50/lesion.png', title='MNIST, 50 layers')
    plots.plot_metric_curves({'LSTM': 'runs/lstm', 'highway': 'runs/highway'}, 'curves.png')
"""

from __future__ import annotations

import json
import math
import os
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator

from highway_jax.analysis.gates import BiasDistribution, GateStatistics
from highway_jax.analysis.lesion import LesionResult

METRICS_FILE = 'metrics.jsonl'

_INIT_COLOR = 'tab:gray'
_TRAINED_COLOR = 'tab:blue'


def _save(fig: Figure, path: str | os.PathLike, dpi: int) -> str:
  path = os.fspath(path)
  if os.path.dirname(path):
    os.makedirs(os.path.dirname(path), exist_ok=True)
  fig.savefig(path, dpi=dpi)
  return path


def _layer_map(ax, values: np.ndarray, *, title: str, cmap: str = 'viridis', vmin=None, vmax=None,
               label: str | None = None, colorbar: bool = True, xlabel: str = 'unit'):
  """A layers × units heatmap, layer 0 at the top."""
  image = ax.imshow(values, aspect='auto', interpolation='nearest', cmap=cmap, vmin=vmin, vmax=vmax)
  ax.set_title(title)
  ax.set_xlabel(xlabel)
  ax.set_ylabel('layer')
  # Few integer ticks: the panels are small and layers/units are whole numbers.
  ax.yaxis.set_major_locator(MaxNLocator(nbins=6, integer=True))
  ax.xaxis.set_major_locator(MaxNLocator(nbins=6, integer=True))
  if colorbar:
    ax.figure.colorbar(image, ax=ax, label=label)
  return image


def _check_type(name: str, value: Any, cls: type) -> None:
  if not isinstance(value, cls):
    raise ValueError(f'{name} must be a {cls.__name__}, got {type(value).__name__}.')


# --------------------------------------------------------------------------- lesioning


def plot_lesion(result: LesionResult, path: str | os.PathLike, *, log_scale: bool = True,
                title: str | None = None, dpi: int = 100) -> str:
  """Loss and accuracy with each layer lesioned (markers) vs the unlesioned network (dashed line)."""
  _check_type('result', result, LesionResult)
  fig = Figure(figsize=(10, 3.6), layout='constrained')
  loss_ax, accuracy_ax = fig.subplots(1, 2)
  loss_ax.plot(result.layers, result.loss, 'o-', color='tab:red', markersize=4,
               label='layer lesioned (T = 0)')
  loss_ax.axhline(result.baseline_loss, color='black', linestyle='--', label='no lesion')
  if log_scale:
    loss_ax.set_yscale('log')
  for ax in (loss_ax, accuracy_ax):
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
  loss_ax.set_xlabel('lesioned layer')
  loss_ax.set_ylabel('mean cross-entropy' + (' (log scale)' if log_scale else ''))
  loss_ax.set_title('Loss with one layer lesioned')
  loss_ax.legend()
  loss_ax.grid(True, alpha=0.3)
  accuracy_ax.plot(result.layers, 100 * result.accuracy, 'o-', color='tab:red', markersize=4,
                   label='layer lesioned (T = 0)')
  accuracy_ax.axhline(100 * result.baseline_accuracy, color='black', linestyle='--', label='no lesion')
  accuracy_ax.set_xlabel('lesioned layer')
  accuracy_ax.set_ylabel('accuracy (%)')
  accuracy_ax.set_title('Accuracy with one layer lesioned')
  accuracy_ax.legend()
  accuracy_ax.grid(True, alpha=0.3)
  fig.suptitle(title or f'Layer lesioning ({result.num_examples} predictions)')
  return _save(fig, path, dpi)


# --------------------------------------------------------------------------- gates


def _bias_bands(ax, dist: BiasDistribution, color: str, label: str) -> None:
  levels = list(dist.percentile_levels)
  layers = np.arange(dist.num_layers)

  def level(q):
    if q not in levels:
      raise ValueError(f'the bias distribution needs the {q}th percentile; it has levels {levels}.')
    return dist.percentiles[levels.index(q)]

  ax.fill_between(layers, level(5.0), level(95.0), color=color, alpha=0.15, linewidth=0)
  ax.fill_between(layers, level(25.0), level(75.0), color=color, alpha=0.35, linewidth=0)
  ax.plot(layers, level(50.0), color=color, label=f'{label}: median, 25–75 %, 5–95 %')


def plot_transform_biases(init: BiasDistribution, trained: BiasDistribution,
                          path: str | os.PathLike, *, title: str | None = None,
                          dpi: int = 100) -> str:
  """Transform bias per layer at init vs trained (bands), and the trained biases as a map."""
  _check_type('init', init, BiasDistribution)
  _check_type('trained', trained, BiasDistribution)
  if init.bias.shape != trained.bias.shape:
    raise ValueError(f'init and trained biases differ in shape: {init.bias.shape} vs {trained.bias.shape}.')
  fig = Figure(figsize=(11, 4), layout='constrained')
  bands_ax, map_ax = fig.subplots(1, 2, width_ratios=(1.2, 1))
  _bias_bands(bands_ax, init, _INIT_COLOR, 'init')
  _bias_bands(bands_ax, trained, _TRAINED_COLOR, 'trained')
  bands_ax.xaxis.set_major_locator(MaxNLocator(integer=True))
  bands_ax.set_xlabel('layer')
  bands_ax.set_ylabel('transform bias $b_T$')
  bands_ax.set_title('Transform bias distribution per layer')
  bands_ax.legend(fontsize='small')
  bands_ax.grid(True, alpha=0.3)
  _layer_map(map_ax, trained.bias, title='Trained transform biases', cmap='viridis',
             label='$b_T$')
  fig.suptitle(title or 'Transform gate biases')
  return _save(fig, path, dpi)


def plot_gate_activity(stats: GateStatistics, path: str | os.PathLike, *, title: str | None = None,
                       dpi: int = 100) -> str:
  """Mean transform gate over the data: layers × units map and the per-layer mean."""
  _check_type('stats', stats, GateStatistics)
  fig = Figure(figsize=(11, 4), layout='constrained')
  map_ax, line_ax = fig.subplots(1, 2)
  _layer_map(map_ax, stats.mean_activity, title='Mean transform gate T(x) per unit', vmin=0.0,
             vmax=1.0, label='mean T(x)')
  layers = np.arange(stats.num_layers)
  low, high = np.percentile(stats.mean_activity, [5, 95], axis=1)
  line_ax.fill_between(layers, low, high, color='tab:blue', alpha=0.2, linewidth=0,
                       label='5–95 % of units')
  line_ax.plot(layers, stats.layer_mean_activity, 'o-', color='tab:blue', markersize=3,
               label='mean over units')
  line_ax.set_ylim(0.0, 1.0)
  line_ax.xaxis.set_major_locator(MaxNLocator(integer=True))
  line_ax.set_xlabel('layer')
  line_ax.set_ylabel('mean T(x)')
  line_ax.set_title('Mean transform gate activity per layer')
  line_ax.legend()
  line_ax.grid(True, alpha=0.3)
  fig.suptitle(title or f'Transform gate activity, {stats.name} ({stats.num_examples} examples)')
  return _save(fig, path, dpi)


def plot_example_gates(stats: GateStatistics, path: str | os.PathLike, *,
                       num_examples: int | None = None, class_names: Sequence[str] | None = None,
                       title: str | None = None, dpi: int = 100) -> str:
  """Single-example transform gate maps, layers × units, one panel per kept example."""
  _check_type('stats', stats, GateStatistics)
  available = stats.example_gates.shape[0]
  count = available if num_examples is None else num_examples
  if not 1 <= count <= available:
    raise ValueError(f'num_examples must be in [1, {available}] (the kept examples), got {count}.')
  fig = Figure(figsize=(3.2 * count + 1.2, 3.6), layout='constrained')
  axes = np.atleast_1d(fig.subplots(1, count, sharey=True))
  image = None
  for i, ax in enumerate(axes):
    label = stats.example_labels[i]
    name = (class_names[int(label)] if class_names is not None and np.ndim(label) == 0
            else f'label {label}')
    image = _layer_map(ax, stats.example_gates[i], title=f'example {i} ({name})', vmin=0.0, vmax=1.0,
                       colorbar=False)
    if i:
      ax.set_ylabel('')
  fig.colorbar(image, ax=list(axes), label='T(x)')
  fig.suptitle(title or f'Transform gates of single examples, {stats.name}')
  return _save(fig, path, dpi)


def plot_class_gates(stats: GateStatistics, path: str | os.PathLike, *,
                     class_names: Sequence[str] | None = None, max_classes: int = 10,
                     title: str | None = None, dpi: int = 100) -> str:
  """Class mean gate minus overall mean, layers × units per class; and classes × layers (unit mean)."""
  _check_type('stats', stats, GateStatistics)
  deviation = stats.class_deviation
  num_classes = deviation.shape[0]
  shown = min(num_classes, max_classes)
  names = list(class_names) if class_names is not None else [f'class {c}' for c in range(num_classes)]
  if len(names) != num_classes:
    raise ValueError(f'class_names must have {num_classes} entries, got {len(names)}.')
  columns = min(shown, 5)
  rows = math.ceil(shown / columns)
  fig = Figure(figsize=(2.6 * columns + 5, 2.6 * rows + 0.8), layout='constrained')
  grid = fig.add_gridspec(rows, columns + 2)
  limit = float(np.nanmax(np.abs(deviation[:shown]))) or 1.0
  image = None
  for c in range(shown):
    ax = fig.add_subplot(grid[c // columns, c % columns])
    image = _layer_map(ax, deviation[c], title=f'{names[c]} (n={stats.class_counts[c]})',
                       cmap='RdBu_r', vmin=-limit, vmax=limit, colorbar=False)
    if c % columns:
      ax.set_ylabel('')
    if c // columns != rows - 1:
      ax.set_xlabel('')
  summary_ax = fig.add_subplot(grid[:, columns:])
  summary = deviation.mean(axis=2)
  summary_limit = float(np.nanmax(np.abs(summary))) or 1.0
  summary_image = summary_ax.imshow(summary, aspect='auto', interpolation='nearest', cmap='RdBu_r',
                                    vmin=-summary_limit, vmax=summary_limit)
  summary_ax.set_title('Mean over units')
  summary_ax.xaxis.set_major_locator(MaxNLocator(integer=True))
  summary_ax.set_xlabel('layer')
  summary_ax.set_ylabel('class')
  if num_classes <= 20:
    summary_ax.set_yticks(range(num_classes), names)
  fig.colorbar(summary_image, ax=summary_ax, label='class mean − overall mean')
  fig.colorbar(image, ax=fig.axes[:shown], label='class mean T(x) − overall mean',
               location='bottom', shrink=0.6)
  fig.suptitle(title or f'Class-conditional transform gate activity, {stats.name}'
               + (f' (first {shown} of {num_classes} classes)' if shown < num_classes else ''))
  return _save(fig, path, dpi)


# --------------------------------------------------------------------------- training curves


def plot_depth_sweep(best_loss: Mapping[str, Mapping[int, float]], path: str | os.PathLike, *,
                     curves: Mapping[str, Mapping[int, tuple[Sequence[float], Sequence[float]]]]
                     | None = None, ylabel: str = 'best training loss', title: str | None = None,
                     dpi: int = 100) -> str:
  """Best training loss vs depth per family (log y), and the loss curves of each depth.

  Args:
    best_loss: ``{family: {depth: loss}}``, e.g. ``{'plain': {10: 3e-5, ...}, 'highway': {...}}``.
    curves: optional ``{family: {depth: (steps, losses)}}``, drawn one panel per depth below.
  """
  if not best_loss or not all(isinstance(v, Mapping) and v for v in best_loss.values()):
    raise ValueError('best_loss must map each family to a non-empty {depth: loss} mapping, got '
                     f'{best_loss!r}.')
  families = list(best_loss)
  colors = {family: f'C{i}' for i, family in enumerate(families)}
  depths = sorted({int(d) for family in curves.values() for d in family}) if curves else []
  columns = max(1, len(depths))
  fig = Figure(figsize=(max(6.0, 3.4 * columns), 4.0 if not depths else 7.2), layout='constrained')
  grid = fig.add_gridspec(2 if depths else 1, columns)
  sweep_ax = fig.add_subplot(grid[0, :])
  for family in families:
    points = sorted((int(d), float(v)) for d, v in best_loss[family].items())
    sweep_ax.plot([p[0] for p in points], [p[1] for p in points], 'o-', color=colors[family],
                  label=family)
  sweep_ax.set_yscale('log')
  sweep_ax.set_xlabel('depth (layers)')
  sweep_ax.set_ylabel(ylabel + ' (log scale)')
  sweep_ax.set_title('Best training loss vs depth')
  all_depths = sorted({int(d) for family in best_loss.values() for d in family})
  sweep_ax.set_xticks(all_depths)
  sweep_ax.legend()
  sweep_ax.grid(True, which='both', alpha=0.3)
  for column, depth in enumerate(depths):
    ax = fig.add_subplot(grid[1, column], sharey=fig.axes[-1] if column else None)
    for family in curves:
      if family not in colors:
        colors[family] = f'C{len(colors)}'
      run = {int(d): v for d, v in curves[family].items()}.get(depth)
      if run is None:
        continue
      steps, losses = run
      if len(steps) != len(losses):
        raise ValueError(f'curves[{family!r}][{depth}] has {len(steps)} steps but {len(losses)} losses.')
      ax.plot(steps, losses, color=colors[family], label=family)
    ax.set_yscale('log')
    ax.set_title(f'{depth} layers')
    ax.set_xlabel('step')
    if column == 0:
      ax.set_ylabel('training loss (log scale)')
    ax.legend(fontsize='small')
    ax.grid(True, which='both', alpha=0.3)
  fig.suptitle(title or 'Depth sweep: plain vs highway networks')
  return _save(fig, path, dpi)


def plot_metric_vs_depth(values: Mapping[str, Mapping[int, float]], path: str | os.PathLike, *,
                         ylabel: str = 'test accuracy (%)', percent: bool = True,
                         chance: float | None = None, title: str | None = None,
                         dpi: int = 100) -> str:
  """One line per family of ``values`` (``{family: {depth: value}}``) against depth.

  ``percent`` plots fractions as percentages; ``chance`` (a fraction) draws a dotted chance line.
  """
  if not values or not all(isinstance(v, Mapping) and v for v in values.values()):
    raise ValueError(f'values must map each family to a non-empty {{depth: value}} mapping, got '
                     f'{values!r}.')
  scale = 100.0 if percent else 1.0
  fig = Figure(figsize=(6, 4), layout='constrained')
  ax = fig.add_subplot()
  for family, by_depth in values.items():
    points = sorted((int(d), float(v)) for d, v in by_depth.items())
    ax.plot([p[0] for p in points], [scale * p[1] for p in points], 'o-', label=family)
  if chance is not None:
    ax.axhline(scale * chance, color='gray', linestyle=':', label='chance')
  ax.set_xticks(sorted({int(d) for by_depth in values.values() for d in by_depth}))
  ax.set_xlabel('depth (layers)')
  ax.set_ylabel(ylabel)
  ax.set_title(title or f'{ylabel} vs depth')
  ax.legend()
  ax.grid(True, alpha=0.3)
  return _save(fig, path, dpi)


def read_metrics_jsonl(run: str | os.PathLike) -> list[dict[str, Any]]:
  """Records of a run's ``metrics.jsonl`` (``run`` is the file or its work directory).

  Like the training loop's reader: a resumed run may repeat steps, so the last record per
  ``(split, step)`` wins; records come sorted by step.
  """
  path = os.fspath(run)
  if os.path.isdir(path):
    path = os.path.join(path, METRICS_FILE)
  if not os.path.exists(path):
    raise ValueError(f'no metrics file at {path}; pass a run work directory or its {METRICS_FILE}.')
  latest = {}
  with open(path, encoding='utf-8') as f:
    for line in f:
      if line.strip():
        record = json.loads(line)
        latest[(record['split'], record['step'])] = record
  return sorted(latest.values(), key=lambda r: (r['step'], r['split']))


def plot_metric_curves(runs: Mapping[str, str | os.PathLike | Sequence[Mapping[str, Any]]],
                       path: str | os.PathLike, *, metric: str = 'loss', split: str = 'train',
                       log_scale: bool = True, title: str | None = None, dpi: int = 100) -> str:
  """``metric`` of ``split`` against the step for several runs, one line per run.

  Args:
    runs: ``{label: run}`` where a run is a work directory, a ``metrics.jsonl`` path, or its records
      (dicts with 'step', 'split' and the metric).
    metric, split: which curve, e.g. ``'loss'`` of ``'train'`` or ``'accuracy'`` of ``'test'``.
    log_scale: log y axis.
  """
  if not runs:
    raise ValueError('runs must name at least one run.')
  fig = Figure(figsize=(7, 4.2), layout='constrained')
  ax = fig.add_subplot()
  for label, run in runs.items():
    records = run if isinstance(run, Sequence) and not isinstance(run, str) else read_metrics_jsonl(run)
    points = [(r['step'], r[metric]) for r in records if r.get('split') == split and metric in r]
    if not points:
      available = sorted({(r.get('split'), k) for r in records for k in r if k not in ('split', 'step')})
      raise ValueError(f'run {label!r} has no {metric!r} for split {split!r}; it has (split, metric) '
                       f'{available}.')
    steps, values = zip(*sorted(points))
    ax.plot(steps, values, 'o-' if len(steps) == 1 else '-', label=label)
  if log_scale:
    ax.set_yscale('log')
  ax.set_xlabel('step')
  ax.set_ylabel(f'{split} {metric}' + (' (log scale)' if log_scale else ''))
  ax.set_title(title or f'{split} {metric} per step')
  ax.legend()
  ax.grid(True, which='both', alpha=0.3)
  return _save(fig, path, dpi)

"""PNG figures: the one DPI setting, the figure writer, the axes style, and the training-curve plot.

Figures are ``matplotlib.figure.Figure`` objects drawn on the Agg canvas without pyplot, so they work without a
display and touch no global backend state. Every figure of the package (training curves here, the experiments' figures
in ``highway_jax.analysis``) is written by :func:`save_figure` at :data:`DPI`, its axes styled by :func:`style_axes`.

``plot_curves({label: (steps, values)}, path, ylabel=...)`` draws one line per label against the step (a single point
as a marker), each optionally with a shaded band (``bands={label: (low, high)}``, e.g. the min–max over seeds
around their mean). A training run calls :func:`plot_run`, which writes ``workdir/loss.png`` (the loss of every split,
log scale) and ``workdir/accuracy.png`` (every metric whose name contains 'accuracy', per split) from
``metrics.jsonl``.

Example::

    from highway_jax.training.plots import plot_run
    plot_run('runs/digits_highway')   # ['runs/digits_highway/loss.png', '.../accuracy.png']
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from typing import Any

from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator

from highway_jax.training.workdir import read_metrics

DPI = 80
"""Dots per inch of every PNG the package writes."""


def save_figure(fig: Figure, path: str | os.PathLike) -> str:
  """Writes ``fig`` to ``path`` at :data:`DPI` (creating the directory); returns the path."""
  os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
  fig.savefig(os.fspath(path), dpi=DPI)
  return os.fspath(path)


def style_axes(ax, *, legend: str | None = 'medium', integer_x: bool = True, log_y: bool = False,
               grid: str = 'major', **props: Any) -> None:
  """``ax.set(**props)`` plus the package's look: log y, integer x ticks (layers), legend, light grid."""
  if log_y:
    ax.set_yscale('log')
  if integer_x:
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
  ax.set(**props)
  if legend:
    ax.legend(fontsize=legend)
  ax.grid(True, which=grid, alpha=0.3)


def metric_curve(records: Sequence[Mapping[str, Any]], split: str, metric: str) -> tuple[list[int], list[float]]:
  """``(steps, values)`` of ``metric`` in the ``split`` records of a metrics.jsonl, by step."""
  points = sorted((r['step'], r[metric]) for r in records if r.get('split') == split and metric in r)
  return [p[0] for p in points], [p[1] for p in points]


def plot_curves(curves: Mapping[str, tuple[Sequence[float], Sequence[float]]], path: str | os.PathLike, *,
                ylabel: str, log_scale: bool = True, title: str | None = None,
                bands: Mapping[str, tuple[Sequence[float], Sequence[float]]] | None = None) -> str:
  """One line per ``{label: (steps, values)}`` against the step; log y if all values (band edges included)
  are > 0.

  ``bands`` ``{label: (low, high)}``, values at that label's steps (e.g. the min and max over seeds around
  their mean), shades that range around the label's line in its colour (an error bar at a single point);
  ValueError if a band has no curve of its label or not one value per step."""
  bands = dict(bands or {})
  for label, (low, high) in bands.items():
    if label not in curves or not len(low) == len(high) == len(curves[label][0]):
      raise ValueError(f'band {label!r} must be (low, high) at the steps of the curve of that label; got '
                       f'{len(low)} and {len(high)} values for ' + (
                           f'{len(curves[label][0])} steps.' if label in curves else f'the curves {list(curves)}.'))
  fig = Figure(figsize=(7, 4.2), layout='constrained')
  ax = fig.add_subplot()
  for label, (steps, values) in curves.items():
    (line,) = ax.plot(steps, values, 'o-' if len(steps) == 1 else '-', label=label)
    if label in bands:
      low, high = bands[label]
      if len(steps) == 1:
        ax.errorbar(steps, values, yerr=[[max(values[0] - low[0], 0)], [max(high[0] - values[0], 0)]], fmt='none',
                    ecolor=line.get_color(), alpha=0.5, capsize=4)
      else:
        ax.fill_between(steps, low, high, color=line.get_color(), alpha=0.2, linewidth=0)
  log_scale = log_scale and all(v > 0 for _, values in curves.values() for v in values) and all(
      v > 0 for low, _ in bands.values() for v in low)
  style_axes(ax, integer_x=False, log_y=log_scale, grid='both', xlabel='step', title=title or '',
             ylabel=ylabel + (' (log scale)' if log_scale else ''))
  return save_figure(fig, path)


def plot_run(workdir: str) -> list[str]:
  """Writes loss.png and accuracy.png of the run in ``workdir`` (module docstring); their paths."""
  records = read_metrics(workdir)
  paths = []
  for kind in ('loss', 'accuracy'):
    curves = {split if name == kind else f'{split} {name}': metric_curve(records, split, name)
              for split in sorted({r['split'] for r in records})
              for name in sorted({k for r in records if r['split'] == split for k in r
                                  if (k == 'loss' if kind == 'loss' else 'accuracy' in k)})}
    if curves:
      paths.append(plot_curves(curves, os.path.join(workdir, f'{kind}.png'), ylabel=kind, log_scale=kind == 'loss'))
  return paths

"""Transform-gate statistics of trained highway networks (Srivastava et al. 2015, Figs. 2–3).

The statistics, their CSV/JSON files and figures, and :func:`analyze_gates_run`, which analyses a
trained run (``scripts/analyze_gates.py``).

A highway layer l computes ``y = H(x)·T(x) + x·(1 − T(x))`` with the transform gate
``T(x) = σ(W_T x + b_T)``, one gate per unit. This module measures, per layer l and unit j:

* the transform bias ``b_T[l, j]`` (``.../T/bias``) and its distribution per layer, init vs trained;
* the mean gate activity over a data split, ``(1/N) Σ_n T_l(x_n)[j]``  (Fig. 2, second column);
* the gate map ``T_l(x_n)[j]`` of a few single examples  (Fig. 2, third column);
* the class-conditional mean ``(1/N_c) Σ_{n: y_n = c} T_l(x_n)[j]`` minus the overall mean (Fig. 3).

A conv "unit" is a channel, its gate averaged over each example's positions (sequence layers: over
time steps, padding included).

A *gate site* is one highway module: a :class:`~highway_jax.stack.HighwayStack`'s scanned ``layers``
or a single ``Highway``/``HighwayConv``, found by path, e.g. ``'encoder/stack/layers'``:

    params[...path...]['T']['bias']                 (L, F) in a stack, (F,) for a single layer
    intermediates[...path...]['transform_gate']     (gates,) with gates (L, B, ..., F), or (B, ..., F)

The bias shape says how many leading layer axes the gates have (a single layer is a one-layer site).

Contract with the model (for :func:`gate_statistics`)::

    apply_fn(variables, batch) -> the 'intermediates' collection of model.apply(...,
        mutable=['intermediates']); variables has 'params'; batch has 'inputs', 'label' (int (B,) for
        class statistics) and optionally 'mask' (float (B,), 1 real, 0 padding).

Example::

    from highway_jax.analysis import gates

    def apply_fn(variables, batch):
      _, state = model.apply(variables, batch['inputs'], train=False, mutable=['intermediates'])
      return state['intermediates']

    site = gates.gate_statistics(apply_fn, {'params': params}, data.eval_batches(ds, 'train',
                                 batch_size=500), num_classes=10)['stack/layers']
    site.layer_mean_activity, site.class_deviation    # (L,), (10, L, F)
    init, trained = gates.compare_transform_biases(init_params, params)['stack/layers']
    init.mean, trained.percentiles      # (L,), (5, L)
"""

from __future__ import annotations

import dataclasses
import math
import os
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
from flax import traverse_util
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator

from highway_jax.analysis.runs import LoadedRun, checked_batches, load_run, write_csv
from highway_jax.training.plots import save_figure, style_axes
from highway_jax.training.workdir import write_json

Array = jax.Array

GATE_NAME = 'transform_gate'  # what highway layers sow their transform gate as

PERCENTILE_LEVELS = (5.0, 25.0, 50.0, 75.0, 95.0)
LAYER_CSV_FIELDS = ('layer', 'bias_mean_init', 'bias_std_init', 'bias_median_init', 'bias_mean_trained',
                    'bias_std_trained', 'bias_median_trained', 'mean_gate_activity')
GATE_CLASS_CSV_FIELDS = ('site', 'class', 'layer', 'mean_gate_activity', 'deviation_from_mean')


def find_transform_biases(params: Mapping[str, Any]) -> dict[str, np.ndarray]:
  """Every transform bias ``.../T/bias`` in ``params``, by site path, as ``(num_layers, features)``
  (nested layer axes flattened in order, a single layer's as one)."""
  found = {'/'.join(path[:-2]): np.asarray(bias).reshape(-1, np.shape(bias)[-1])
           for path, bias in traverse_util.flatten_dict(params).items() if path[-2:] == ('T', 'bias')}
  if not found:
    raise ValueError(f"params has no transform bias ('.../T/bias'); its top-level keys are {sorted(params)}. "
                     "Pass the params collection (variables['params']) of a model with highway layers.")
  return found


def find_transform_gates(intermediates: Mapping[str, Any], params: Mapping[str, Any]) -> dict[str, Array]:
  """Every sown transform gate, by site path, as ``(num_layers, batch, ..., features)``; the site's
  ``T/bias`` in ``params`` gives its layer axes. Works on traced arrays too (inside ``jit``)."""
  biases = traverse_util.flatten_dict(params)
  found = {}
  for path, sown in traverse_util.flatten_dict(intermediates).items():
    if path[-1] != GATE_NAME:
      continue
    name, bias = '/'.join(path[:-1]), biases.get(path[:-1] + ('T', 'bias'))
    gates = sown[0] if isinstance(sown, (tuple, list)) and len(sown) == 1 else None
    axes = 0 if bias is None else bias.ndim - 1  # leading layer axes
    if bias is None or gates is None or gates.ndim < axes + 2 or gates.shape[:axes] + gates.shape[-1:] != bias.shape:
      problem = (f"params has no '{name}/T/bias'" if bias is None else
                 f'it must be one sown array (*{bias.shape[:-1]}, batch, ..., {bias.shape[-1]}) to fit its bias '
                 f'{bias.shape}')
      raise ValueError(f"the transform gate sown at '{name}' does not fit: {problem}. Pass the 'intermediates' "
                       "collection (state['intermediates']) and the params collection (variables['params']) of the "
                       'same model, applied once.')
    found[name] = gates.reshape((-1,) + gates.shape[axes:])
  if not found:
    raise ValueError(f"intermediates has no '{GATE_NAME}' entry; its top-level keys are {sorted(intermediates)}. "
                     "Apply the model with mutable=['intermediates'] and pass state['intermediates'].")
  return found


@dataclasses.dataclass(frozen=True)
class BiasDistribution:
  """Per-layer distribution of the transform biases of one gate site."""

  bias: np.ndarray               # (num_layers, features)
  mean: np.ndarray               # (num_layers,), over the units of each layer
  std: np.ndarray                # (num_layers,)
  percentile_levels: np.ndarray  # (P,), in percent
  percentiles: np.ndarray        # (P, num_layers)
  bin_edges: np.ndarray          # (bins + 1,)
  histogram: np.ndarray          # (num_layers, bins) unit counts; values outside the edges uncounted

  def percentile(self, level: float) -> np.ndarray:
      return self.percentiles[list(self.percentile_levels).index(level)]


def _edges(low: float, high: float, bins: int) -> np.ndarray:
  if low == high:  # all biases equal (e.g. at init): a unit-wide range around them
    low, high = low - 0.5, high + 0.5
  return np.linspace(low, high, bins + 1)


def bias_distribution(bias: np.ndarray, *, bin_edges: np.ndarray | None = None, bins: int = 20,
                      percentile_levels: Sequence[float] = PERCENTILE_LEVELS) -> BiasDistribution:
  """The :class:`BiasDistribution` of a ``(num_layers, features)`` bias array; histogram over
  ``bin_edges`` (increasing; to compare two distributions) or ``bins`` bins spanning the biases."""
  bias = np.asarray(bias, dtype=np.float64)
  edges = _edges(bias.min(), bias.max(), bins) if bin_edges is None else np.asarray(bin_edges, float)
  if edges.ndim != 1 or edges.size < 2 or np.any(np.diff(edges) <= 0):
    raise ValueError(f'bin_edges must be a strictly increasing 1-d array of >= 2 edges, got {edges}.')
  levels = np.asarray(percentile_levels, dtype=np.float64)
  return BiasDistribution(bias=bias, mean=bias.mean(axis=1), std=bias.std(axis=1), percentile_levels=levels,
                          percentiles=np.percentile(bias, levels, axis=1).reshape(levels.size, bias.shape[0]),
                          bin_edges=edges, histogram=np.stack([np.histogram(row, bins=edges)[0] for row in bias]))


def compare_transform_biases(init_params: Mapping[str, Any], trained_params: Mapping[str, Any], *,
                             bins: int = 20) -> dict[str, tuple[BiasDistribution, BiasDistribution]]:
  """``(init, trained)`` distributions per site, with shared histogram bins spanning both."""
  init, trained = find_transform_biases(init_params), find_transform_biases(trained_params)
  shapes = [{k: v.shape for k, v in biases.items()} for biases in (init, trained)]
  if shapes[0] != shapes[1]:
    raise ValueError(f'init_params and trained_params have different transform biases (site: shape): '
                     f'{shapes[0]} vs {shapes[1]}.')
  out = {}
  for name in init:
    edges = _edges(min(init[name].min(), trained[name].min()), max(init[name].max(), trained[name].max()), bins)
    out[name] = tuple(bias_distribution(biases[name], bin_edges=edges) for biases in (init, trained))
  return out


@dataclasses.dataclass(frozen=True)
class GateStatistics:
  """Transform-gate activity of one gate site (e.g. ``'stack/layers'``) over a data split; the class
  fields are None without ``num_classes``."""

  name: str
  mean_activity: np.ndarray   # (num_layers, features), mean gate over all real examples
  example_gates: np.ndarray   # (K, num_layers, features), gate maps of the first K real examples
  example_labels: np.ndarray  # (K, ...) their labels
  num_examples: int           # real examples seen
  class_mean_activity: np.ndarray | None = None  # (num_classes, num_layers, features); NaN if empty
  class_counts: np.ndarray | None = None         # (num_classes,)

  @property
  def num_layers(self) -> int:
    return self.mean_activity.shape[0]

  @property
  def layer_mean_activity(self) -> np.ndarray:
    """``(num_layers,)``: mean gate of each layer over examples and units."""
    return self.mean_activity.mean(axis=1)

  @property
  def class_deviation(self) -> np.ndarray:
    """``(num_classes, num_layers, features)``: class mean minus the mean over all examples (Fig. 3)."""
    if self.class_mean_activity is None:
      raise ValueError('class statistics were not computed; pass num_classes to gate_statistics.')
    return self.class_mean_activity - self.mean_activity[None]


def make_gate_statistics_step(apply_fn: Callable[[Any, Mapping[str, Array]], Mapping[str, Any]],
                              num_classes: int | None = None) -> Callable[..., dict]:
  """The jitted ``step(variables, batch) -> {site: sums}`` of :func:`gate_statistics`: mask-weighted
  ``'sum'`` (L, F), ``'count'``, with ``num_classes`` ``'class_sum'`` (C, L, F) and ``'class_count'``
  (C,); and ``'example'`` (B, L, F), the gate maps (positions averaged)."""

  @jax.jit
  def step(variables, batch):
    mask = batch['mask']
    out = {}
    for name, gates in find_transform_gates(apply_fn(variables, batch), variables['params']).items():
      per_example = jnp.mean(gates.astype(jnp.float32), axis=tuple(range(2, gates.ndim - 1)))
      out[name] = {'sum': jnp.einsum('b,lbf->lf', mask, per_example),
                   'example': jnp.swapaxes(per_example, 0, 1), 'count': jnp.sum(mask)}
      if num_classes is not None:
        one_hot = jax.nn.one_hot(batch['label'], num_classes, dtype=jnp.float32) * mask[:, None]
        out[name]['class_sum'] = jnp.einsum('bc,lbf->clf', one_hot, per_example)
        out[name]['class_count'] = jnp.sum(one_hot, axis=0)
    return out

  return step


def gate_statistics(apply_fn: Callable[[Any, Mapping[str, Array]], Mapping[str, Any]], variables: Mapping[str, Any],
                    batches: Iterable[Mapping[str, Any]], *, num_classes: int | None = None,
                    num_kept_examples: int = 4, step: Callable[..., dict] | None = None) -> dict[str, GateStatistics]:
  """``{site path: GateStatistics}`` over ``batches`` (read once; module docstring's contract).

  ``num_classes`` adds the class statistics; the first ``num_kept_examples`` real examples keep their
  gate maps; ``step`` reuses one of :func:`make_gate_statistics_step` (same ``num_classes``).
  """
  if not isinstance(variables, Mapping) or 'params' not in variables:
    raise ValueError("variables must be a mapping with a 'params' collection, e.g. {'params': params}.")
  step = step or make_gate_statistics_step(apply_fn, num_classes)
  totals, examples, example_labels = {}, {}, []
  for index, batch in checked_batches(batches):
    label = np.asarray(batch['label'])
    real_labels = label[batch['mask'] > 0]
    if num_classes is not None and (label.ndim != 1 or (real_labels.size and (
        real_labels.min() < 0 or real_labels.max() >= num_classes))):
      raise ValueError(f'class statistics need labels of shape (batch,) in [0, num_classes={num_classes}); batch '
                       f'{index} has labels of shape {label.shape} in [{real_labels.min()}, {real_labels.max()}]. '
                       'Use num_classes=None for sequence targets.')
    real = np.flatnonzero(batch['mask'] > 0)[:num_kept_examples - sum(map(len, example_labels))]
    example_labels.append(label[real])
    for name, sums in step(variables, batch).items():
      examples.setdefault(name, []).append(np.asarray(sums.pop('example'))[real])
      site = totals.setdefault(name, {})
      for key, value in sums.items():  # host-side float64: exact means over large splits
        site[key] = site.get(key, 0.0) + np.asarray(value, np.float64)
  results = {}
  for name, site in totals.items():
    class_mean = class_counts = None
    if num_classes is not None:
      with np.errstate(invalid='ignore', divide='ignore'):
        class_mean = site['class_sum'] / site['class_count'][:, None, None]
      class_counts = np.rint(site['class_count']).astype(np.int64)
    results[name] = GateStatistics(
        name=name, mean_activity=site['sum'] / float(site['count']), example_gates=np.concatenate(examples[name]),
        example_labels=np.concatenate(example_labels), num_examples=int(round(float(site['count']))),
        class_mean_activity=class_mean, class_counts=class_counts)
  return results


def write_layer_summary_csv(path: str | os.PathLike, *, bias_init: BiasDistribution,
                            bias_trained: BiasDistribution, gates: GateStatistics) -> str:
  """One row per layer of one site: bias mean/std/median at init and trained, mean gate activity."""
  columns = {'mean_gate_activity': gates.layer_mean_activity}
  for suffix, dist in (('init', bias_init), ('trained', bias_trained)):
    columns |= {f'bias_mean_{suffix}': dist.mean, f'bias_std_{suffix}': dist.std,
                f'bias_median_{suffix}': np.median(dist.bias, axis=1)}
  return write_csv(os.fspath(path), LAYER_CSV_FIELDS, [
      {'layer': layer} | {k: v[layer] for k, v in columns.items()} for layer in range(gates.num_layers)])


def _layer_map(ax, values: np.ndarray, *, title: str, cmap: str = 'viridis', vmin=None, vmax=None,
               label: str | None = None, colorbar: bool = True):
  """A layers × units heatmap, layer 0 at the top."""
  image = ax.imshow(values, aspect='auto', interpolation='nearest', cmap=cmap, vmin=vmin, vmax=vmax)
  ax.set(title=title, xlabel='unit', ylabel='layer')
  # Few integer ticks: the panels are small and layers/units are whole numbers.
  ax.yaxis.set_major_locator(MaxNLocator(nbins=6, integer=True))
  ax.xaxis.set_major_locator(MaxNLocator(nbins=6, integer=True))
  if colorbar:
    ax.figure.colorbar(image, ax=ax, label=label)
  return image


def plot_transform_biases(init: BiasDistribution, trained: BiasDistribution,
                          path: str | os.PathLike, *, title: str | None = None) -> str:
  """Transform bias per layer at init vs trained (median, 25–75 % and 5–95 % bands), and the trained
  biases as a layers × units map (Fig. 2, first column)."""
  fig = Figure(figsize=(11, 4), layout='constrained')
  bands_ax, map_ax = fig.subplots(1, 2, width_ratios=(1.2, 1))
  for dist, color, label in ((init, 'tab:gray', 'init'), (trained, 'tab:blue', 'trained')):
    layers = np.arange(len(dist.bias))
    for (low, high), alpha in (((5.0, 95.0), 0.15), ((25.0, 75.0), 0.35)):
      bands_ax.fill_between(layers, dist.percentile(low), dist.percentile(high), color=color, alpha=alpha, linewidth=0)
    bands_ax.plot(layers, dist.percentile(50.0), color=color, label=f'{label}: median, 25–75 %, 5–95 %')
  style_axes(bands_ax, xlabel='layer', ylabel='transform bias $b_T$',
             title='Transform bias distribution per layer', legend='small')
  _layer_map(map_ax, trained.bias, title='Trained transform biases', label='$b_T$')
  fig.suptitle(title or 'Transform gate biases')
  return save_figure(fig, path)


def plot_gate_activity(stats: GateStatistics, path: str | os.PathLike, *, title: str | None = None) -> str:
  """Mean transform gate over the data: layers × units map and the per-layer mean (Fig. 2)."""
  fig = Figure(figsize=(11, 4), layout='constrained')
  map_ax, line_ax = fig.subplots(1, 2)
  _layer_map(map_ax, stats.mean_activity, title='Mean transform gate T(x) per unit', vmin=0.0,
             vmax=1.0, label='mean T(x)')
  layers = np.arange(stats.num_layers)
  low, high = np.percentile(stats.mean_activity, [5, 95], axis=1)
  line_ax.fill_between(layers, low, high, color='tab:blue', alpha=0.2, linewidth=0, label='5–95 % of units')
  line_ax.plot(layers, stats.layer_mean_activity, 'o-', color='tab:blue', markersize=3, label='mean over units')
  style_axes(line_ax, ylim=(0.0, 1.0), xlabel='layer', ylabel='mean T(x)',
             title='Mean transform gate activity per layer')
  fig.suptitle(title or f'Transform gate activity, {stats.name} ({stats.num_examples} examples)')
  return save_figure(fig, path)


def plot_example_gates(stats: GateStatistics, path: str | os.PathLike, *, num_examples: int | None = None,
                       class_names: Sequence[str] | None = None, title: str | None = None) -> str:
  """Single-example transform gate maps, layers × units, one panel per kept example (Fig. 2)."""
  available = stats.example_gates.shape[0]
  count = available if num_examples is None else num_examples
  if not 1 <= count <= available:
    raise ValueError(f'num_examples must be in [1, {available}] (the kept examples), got {count}.')
  fig = Figure(figsize=(3.2 * count + 1.2, 3.6), layout='constrained')
  axes = np.atleast_1d(fig.subplots(1, count, sharey=True))
  for i, ax in enumerate(axes):
    label = stats.example_labels[i]
    name = (class_names[int(label)] if class_names is not None and np.ndim(label) == 0 else f'label {label}')
    image = _layer_map(ax, stats.example_gates[i], title=f'example {i} ({name})', vmin=0.0, vmax=1.0, colorbar=False)
    ax.set_ylabel('' if i else 'layer')
  fig.colorbar(image, ax=list(axes), label='T(x)')
  fig.suptitle(title or f'Transform gates of single examples, {stats.name}')
  return save_figure(fig, path)


def plot_class_gates(stats: GateStatistics, path: str | os.PathLike, *, class_names: Sequence[str] | None = None,
                     max_classes: int = 10, title: str | None = None) -> str:
  """Class mean gate minus overall mean, layers × units per class; and classes × layers (unit mean)
  (Fig. 3)."""
  deviation = stats.class_deviation
  num_classes = deviation.shape[0]
  shown = min(num_classes, max_classes)
  names = list(class_names) if class_names is not None else [f'class {c}' for c in range(num_classes)]
  columns = min(shown, 5)
  rows = math.ceil(shown / columns)
  fig = Figure(figsize=(2.6 * columns + 5, 2.6 * rows + 0.8), layout='constrained')
  grid = fig.add_gridspec(rows, columns + 2)
  limit = float(np.nanmax(np.abs(deviation[:shown]))) or 1.0
  for c in range(shown):
    ax = fig.add_subplot(grid[c // columns, c % columns])
    image = _layer_map(ax, deviation[c], title=f'{names[c]} (n={stats.class_counts[c]})',
                       cmap='RdBu_r', vmin=-limit, vmax=limit, colorbar=False)
    ax.set(ylabel='' if c % columns else 'layer', xlabel='unit' if c // columns == rows - 1 else '')
  summary_ax = fig.add_subplot(grid[:, columns:])
  summary = deviation.mean(axis=2)
  summary_limit = float(np.nanmax(np.abs(summary))) or 1.0
  summary_image = summary_ax.imshow(summary, aspect='auto', interpolation='nearest', cmap='RdBu_r',
                                    vmin=-summary_limit, vmax=summary_limit)
  summary_ax.set(title='Mean over units', xlabel='layer', ylabel='class')
  summary_ax.xaxis.set_major_locator(MaxNLocator(integer=True))
  if num_classes <= 20:
    summary_ax.set_yticks(range(num_classes), names)
  fig.colorbar(summary_image, ax=summary_ax, label='class mean − overall mean')
  fig.colorbar(image, ax=fig.axes[:shown], label='class mean T(x) − overall mean', location='bottom', shrink=0.6)
  fig.suptitle(title or f'Class-conditional transform gate activity, {stats.name}'
               + (f' (first {shown} of {num_classes} classes)' if shown < num_classes else ''))
  return save_figure(fig, path)


@dataclasses.dataclass(frozen=True)
class GateAnalysis:
  """Per gate site: bias distributions at init and trained, and gate statistics over the data."""

  bias_init: dict[str, BiasDistribution]
  bias_trained: dict[str, BiasDistribution]
  statistics: dict[str, GateStatistics]
  files: list[str]


def analyze_gates_run(workdir: str, output_dir: str | None = None, *, split: str = 'train',
                      num_examples: int = 4, batch_size: int | None = None,
                      checkpoint: str | int = 'latest', run: LoadedRun | None = None) -> GateAnalysis:
  """Transform biases at init (re-initialised from the run's config and seed) vs trained, and gate
  activity over ``split``, of a trained run. Writes to ``output_dir`` (default: ``workdir``), per gate
  site (one for the MLP; one per stage for the CNN, files suffixed by site): ``gates.csv`` (per
  layer), ``gate_biases.png``, ``gate_activity.png``, ``gate_examples.png``, ``gate_classes.png``; and
  ``gate_classes.csv`` (per site, class and layer) and ``gates.json`` (per site and layer)."""
  run = run or load_run(workdir, checkpoint)
  output_dir = output_dir or workdir
  compared = compare_transform_biases(run.init_params(), run.params)
  model = run.model

  def apply_fn(variables, batch):
    _, state = model.apply(variables, batch['inputs'], train=False, lengths=batch.get('length'),
                           mutable=['intermediates'])
    return state['intermediates']

  num_classes = run.dataset.num_classes if run.dataset.label_shape == () else None
  statistics = gate_statistics(apply_fn, {'params': run.params}, run.batches(split, batch_size),
                               num_classes=num_classes, num_kept_examples=num_examples)
  files, summary, class_rows = [], {}, []
  for site, (init, trained) in compared.items():
    stats, title = statistics[site], f'{run.name} {site}'
    suffix = '' if len(compared) == 1 else '_' + site.replace('/', '-')
    out = lambda name, ext='png': os.path.join(output_dir, f'{name}{suffix}.{ext}')
    files += [write_layer_summary_csv(out('gates', 'csv'), bias_init=init, bias_trained=trained, gates=stats),
              plot_transform_biases(init, trained, out('gate_biases'),
                                    title=f'{title}: transform biases, init vs step {run.step}'),
              plot_gate_activity(stats, out('gate_activity'), title=(
                  f'{title}: mean transform gate over {stats.num_examples} {split} examples'))]
    if stats.example_gates.shape[0]:
      files.append(plot_example_gates(stats, out('gate_examples'),
                                      title=f'{title}: transform gates of single {split} examples'))
    summary[site] = {
        'bias_mean_init': init.mean, 'bias_mean_trained': trained.mean,
        'bias_median_trained': np.median(trained.bias, axis=1),
        'fraction_biases_decreased': float(np.mean(trained.bias < init.bias)),
        'layer_mean_activity': stats.layer_mean_activity, 'example_labels': stats.example_labels,
        'num_examples': stats.num_examples}
    if num_classes is not None:
      files.append(plot_class_gates(stats, out('gate_classes'), title=f'{title}: class mean minus overall mean gate'))
      class_layer = stats.class_mean_activity.mean(axis=2)  # (num_classes, num_layers)
      deviation = class_layer - stats.layer_mean_activity[None]
      class_rows += [{'site': site, 'class': c, 'layer': layer, 'mean_gate_activity': class_layer[c, layer],
                      'deviation_from_mean': deviation[c, layer]}
                     for c in range(class_layer.shape[0]) for layer in range(class_layer.shape[1])]
      summary[site] |= {'class_layer_mean_activity': class_layer, 'class_counts': stats.class_counts}
  if class_rows:
    files.append(write_csv(os.path.join(output_dir, 'gate_classes.csv'), GATE_CLASS_CSV_FIELDS, class_rows))
  files.append(write_json(os.path.join(output_dir, 'gates.json'), {'step': run.step, 'split': split, 'sites': summary}))
  return GateAnalysis(bias_init={s: d[0] for s, d in compared.items()},
                      bias_trained={s: d[1] for s, d in compared.items()}, statistics=statistics, files=files)

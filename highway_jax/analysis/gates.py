"""Transform-gate statistics of trained highway networks (Srivastava et al. 2015, Figs. 2–3).

A highway layer l computes ``y = H(x)·T(x) + x·(1 − T(x))`` with the transform gate
``T(x) = σ(W_T x + b_T)``, one gate per unit. This module measures, per layer l and unit j:

* the transform bias ``b_T[l, j]`` and its distribution per layer (mean, std, percentiles, histogram),
  read from the parameters (``.../T/bias``), to compare initialisation with the trained network;
* the mean gate activity over a data split, ``(1/N) Σ_n T_l(x_n)[j]``  (Fig. 2, second column);
* the gate map ``T_l(x_n)[j]`` of a few single examples  (Fig. 2, third column);
* the class-conditional mean ``(1/N_c) Σ_{n: y_n = c} T_l(x_n)[j]``, and its deviation from the mean
  over all examples (Fig. 3).

For conv layers a "unit" is a channel and the gate is first averaged over the spatial positions of
each example (for sequence layers, over time steps, padding included).

Where the numbers come from. A *gate site* is one highway module in the model: a
:class:`~highway_jax.stack.HighwayStack`'s scanned ``layers`` or a single ``Highway``/``HighwayConv``.
Sites are found generically by path, e.g. ``'encoder/stack/layers'``:

    params[...path...]['T']['bias']                 (L, F) in a stack, (F,) for a single layer
    intermediates[...path...]['transform_gate']     (gates,) with gates (L, B, ..., F), or (B, ..., F)

The intermediates come from ``model.apply(variables, ..., mutable=['intermediates'])``. The bias
shape says how many leading layer axes the gates have, so single layers count as one-layer sites.

Contract with the model (for :func:`gate_statistics`):

    apply_fn(variables, batch) -> intermediates
      variables  the model's variables, a mapping with 'params' (and e.g. 'batch_stats').
      batch      a dict of arrays with 'inputs', 'label' (int (B,) for class statistics) and optionally
                 'mask' (float (B,), 1 real, 0 padding).
      returns    the 'intermediates' collection of the apply.

Example::

    from highway_jax.analysis import gates

    def apply_fn(variables, batch):
      _, state = model.apply(variables, batch['inputs'], train=False, mutable=['intermediates'])
      return state['intermediates']

    stats = gates.gate_statistics(apply_fn, {'params': params},
                                  data.eval_batches(ds, 'train', batch_size=500), num_classes=10)
    site = stats['stack/layers']
    site.layer_mean_activity            # (L,) mean gate per layer
    site.class_deviation                # (10, L, F) class mean minus overall mean
    init, trained = gates.compare_transform_biases(init_params, params)['stack/layers']
    init.mean, trained.percentiles      # (L,), (5, L)
"""

from __future__ import annotations

import csv
import dataclasses
import os
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

Array = jax.Array

GATE_NAME = 'transform_gate'
"""The name under which highway layers sow their transform gate (``highway_jax.highway``)."""

PERCENTILE_LEVELS = (5.0, 25.0, 50.0, 75.0, 95.0)


def _walk(tree: Mapping[str, Any], path: tuple[str, ...] = ()):
  """Yields ``(path, mapping)`` for every mapping in a nested-mapping tree, parents first."""
  yield path, tree
  for key, value in tree.items():
    if isinstance(value, Mapping):
      yield from _walk(value, path + (str(key),))


def _lookup(tree: Mapping[str, Any], path: tuple[str, ...]) -> Any:
  for key in path:
    if not isinstance(tree, Mapping) or key not in tree:
      return None
    tree = tree[key]
  return tree


def _site_name(path: tuple[str, ...]) -> str:
  return '/'.join(path)


def find_transform_biases(params: Mapping[str, Any]) -> dict[str, np.ndarray]:
  """Every transform bias ``.../T/bias`` in ``params``, by site path, as ``(num_layers, features)``.

  A single (unscanned) layer's ``(features,)`` bias becomes ``(1, features)``; nested layer axes are
  flattened in order. Raises ``ValueError`` if there is none.
  """
  if not isinstance(params, Mapping):
    raise ValueError(f'params must be a nested mapping (the params collection), got {type(params).__name__}.')
  found = {}
  for path, node in _walk(params):
    gate = node.get('T')
    if isinstance(gate, Mapping) and 'bias' in gate:
      bias = np.asarray(gate['bias'])
      found[_site_name(path)] = bias.reshape(-1, bias.shape[-1])
  if not found:
    top = sorted(params)
    raise ValueError(
        f"params has no transform bias ('.../T/bias'); its top-level keys are {top}. Pass the params "
        "collection (variables['params']) of a model with highway layers.")
  return found


def find_transform_gates(intermediates: Mapping[str, Any],
                         params: Mapping[str, Any]) -> dict[str, Array]:
  """Every sown transform gate, by site path, as ``(num_layers, batch, ..., features)``.

  Args:
    intermediates: the 'intermediates' collection of an apply with ``mutable=['intermediates']``.
    params: the params collection of the same model; the site's ``T/bias`` gives its layer axes.

  Works on traced arrays too (inside ``jit``).
  """
  if not isinstance(intermediates, Mapping):
    raise ValueError(
        f'intermediates must be a nested mapping, got {type(intermediates).__name__}.')
  found = {}
  for path, node in _walk(intermediates):
    if GATE_NAME not in node:
      continue
    name = _site_name(path)
    sown = node[GATE_NAME]
    if not isinstance(sown, (tuple, list)) or len(sown) != 1:
      count = len(sown) if isinstance(sown, (tuple, list)) else 'a non-tuple'
      raise ValueError(
          f"intermediates['{name}']['{GATE_NAME}'] must hold one sown value (the module called once "
          f'per apply), got {count}.')
    bias = _lookup(params, path + ('T', 'bias'))
    if bias is None:
      raise ValueError(
          f"params has no '{name}/T/bias' for the transform gate sown at '{name}'; pass the "
          "'intermediates' collection (state['intermediates']) and the params collection "
          "(variables['params']) of the same model.")
    gates = sown[0]
    layer_axes = bias.ndim - 1
    if gates.ndim < layer_axes + 2 or gates.shape[:layer_axes] != bias.shape[:-1] or (
        gates.shape[-1] != bias.shape[-1]):
      raise ValueError(
          f"transform gate at '{name}' has shape {gates.shape}, which does not fit its bias of shape "
          f'{bias.shape}: expected (*{bias.shape[:-1]}, batch, ..., {bias.shape[-1]}).')
    found[name] = gates.reshape((-1,) + gates.shape[layer_axes:])
  if not found:
    raise ValueError(
        f"intermediates has no '{GATE_NAME}' entry; its top-level keys are {sorted(intermediates)}. "
        "Apply the model with mutable=['intermediates'] and pass state['intermediates'].")
  return found


# --------------------------------------------------------------------------- transform biases


@dataclasses.dataclass(frozen=True)
class BiasDistribution:
  """Per-layer distribution of the transform biases of one gate site.

  Attributes:
    bias: the biases, ``(num_layers, features)``.
    mean, std: ``(num_layers,)`` over the units of each layer.
    percentile_levels: the levels in percent, ``(P,)``.
    percentiles: ``(P, num_layers)``.
    bin_edges: histogram bin edges, ``(bins + 1,)``.
    histogram: unit counts per layer and bin, ``(num_layers, bins)``; values outside the edges are
      not counted.
  """

  bias: np.ndarray
  mean: np.ndarray
  std: np.ndarray
  percentile_levels: np.ndarray
  percentiles: np.ndarray
  bin_edges: np.ndarray
  histogram: np.ndarray

  @property
  def num_layers(self) -> int:
    return self.bias.shape[0]


def bias_distribution(bias: np.ndarray, *, bin_edges: np.ndarray | None = None, bins: int = 20,
                      percentile_levels: Sequence[float] = PERCENTILE_LEVELS) -> BiasDistribution:
  """The :class:`BiasDistribution` of a ``(num_layers, features)`` bias array.

  ``bin_edges`` (increasing) fixes the histogram bins (to compare two distributions); otherwise
  ``bins`` equal bins span the bias range.
  """
  bias = np.asarray(bias, dtype=np.float64)
  if bias.ndim != 2:
    raise ValueError(f'bias must have shape (num_layers, features), got {bias.shape}.')
  if bin_edges is None:
    if bins < 1:
      raise ValueError(f'bins must be >= 1, got {bins}.')
    low, high = float(bias.min()), float(bias.max())
    if low == high:  # All biases equal (e.g. at init): a unit-wide range around them.
      low, high = low - 0.5, high + 0.5
    bin_edges = np.linspace(low, high, bins + 1)
  bin_edges = np.asarray(bin_edges, dtype=np.float64)
  if bin_edges.ndim != 1 or bin_edges.size < 2 or np.any(np.diff(bin_edges) <= 0):
    raise ValueError(f'bin_edges must be a strictly increasing 1-d array of >= 2 edges, got {bin_edges}.')
  levels = np.asarray(percentile_levels, dtype=np.float64)
  return BiasDistribution(
      bias=bias,
      mean=bias.mean(axis=1),
      std=bias.std(axis=1),
      percentile_levels=levels,
      percentiles=np.percentile(bias, levels, axis=1).reshape(levels.size, bias.shape[0]),
      bin_edges=bin_edges,
      histogram=np.stack([np.histogram(row, bins=bin_edges)[0] for row in bias]),
  )


def transform_bias_distributions(params: Mapping[str, Any], **kwargs) -> dict[str, BiasDistribution]:
  """:func:`bias_distribution` of every gate site in ``params`` (keyword arguments passed on)."""
  return {name: bias_distribution(bias, **kwargs)
          for name, bias in find_transform_biases(params).items()}


def compare_transform_biases(init_params: Mapping[str, Any], trained_params: Mapping[str, Any], *,
                             bins: int = 20) -> dict[str, tuple[BiasDistribution, BiasDistribution]]:
  """``(init, trained)`` distributions per site, with shared histogram bins spanning both."""
  init, trained = find_transform_biases(init_params), find_transform_biases(trained_params)
  if init.keys() != trained.keys():
    raise ValueError(f'init_params and trained_params have different gate sites: {sorted(init)} vs '
                     f'{sorted(trained)}.')
  out = {}
  for name in init:
    if init[name].shape != trained[name].shape:
      raise ValueError(f"'{name}/T/bias' has shape {init[name].shape} in init_params and "
                       f'{trained[name].shape} in trained_params.')
    low = min(init[name].min(), trained[name].min())
    high = max(init[name].max(), trained[name].max())
    if low == high:
      low, high = low - 0.5, high + 0.5
    edges = np.linspace(low, high, bins + 1)
    out[name] = (bias_distribution(init[name], bin_edges=edges),
                 bias_distribution(trained[name], bin_edges=edges))
  return out


# --------------------------------------------------------------------------- gate activity


@dataclasses.dataclass(frozen=True)
class GateStatistics:
  """Transform-gate activity of one gate site over a data split.

  Attributes:
    name: the site path, e.g. ``'stack/layers'``.
    mean_activity: ``(num_layers, features)``, mean gate over all real examples.
    example_gates: ``(K, num_layers, features)``, the gate maps of the first K real examples.
    example_labels: ``(K, ...)`` their labels.
    num_examples: number of real examples seen.
    class_mean_activity: ``(num_classes, num_layers, features)`` mean gate per class (NaN for a class
      without examples), or None if no ``num_classes`` was given.
    class_counts: ``(num_classes,)`` examples per class, or None.
  """

  name: str
  mean_activity: np.ndarray
  example_gates: np.ndarray
  example_labels: np.ndarray
  num_examples: int
  class_mean_activity: np.ndarray | None = None
  class_counts: np.ndarray | None = None

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

  @property
  def class_layer_mean_activity(self) -> np.ndarray:
    """``(num_classes, num_layers)``: class-conditional mean gate of each layer, over units."""
    if self.class_mean_activity is None:
      raise ValueError('class statistics were not computed; pass num_classes to gate_statistics.')
    return self.class_mean_activity.mean(axis=2)


def make_gate_statistics_step(apply_fn: Callable[[Any, Mapping[str, Array]], Mapping[str, Any]],
                              num_classes: int | None = None) -> Callable[..., dict]:
  """The jitted step ``step(variables, batch) -> {site: sums}`` used by :func:`gate_statistics`.

  Per site: ``'sum'`` ``(L, F)``, ``'example'`` ``(B, L, F)`` (per-example gate maps, positions
  averaged), ``'count'`` (scalar), and with ``num_classes`` ``'class_sum'`` ``(C, L, F)`` and
  ``'class_count'`` ``(C,)``. All sums weight examples by ``batch['mask']``.
  """

  @jax.jit
  def step(variables, batch):
    intermediates = apply_fn(variables, batch)
    mask = batch['mask']
    batch_size = mask.shape[0]
    out = {}
    for name, gates in find_transform_gates(intermediates, variables['params']).items():
      if gates.shape[1] != batch_size:
        raise ValueError(
            f"transform gate at '{name}' has batch axis {gates.shape[1]} (shape {gates.shape}), "
            f'but the batch has {batch_size} examples.')
      per_example = jnp.mean(gates.astype(jnp.float32), axis=tuple(range(2, gates.ndim - 1)))
      sums = {
          'sum': jnp.einsum('b,lbf->lf', mask, per_example),
          'example': jnp.swapaxes(per_example, 0, 1),
          'count': jnp.sum(mask),
      }
      if num_classes is not None:
        one_hot = jax.nn.one_hot(batch['label'], num_classes, dtype=jnp.float32) * mask[:, None]
        sums['class_sum'] = jnp.einsum('bc,lbf->clf', one_hot, per_example)
        sums['class_count'] = jnp.sum(one_hot, axis=0)
      out[name] = sums
    return out

  return step


def _checked_batch(batch: Mapping[str, Any], index: int, num_classes: int | None) -> dict[str, Any]:
  if not isinstance(batch, Mapping) or 'inputs' not in batch or 'label' not in batch:
    keys = sorted(batch) if isinstance(batch, Mapping) else type(batch).__name__
    raise ValueError(f"batches must yield dicts with 'inputs' and 'label'; batch {index} has {keys}.")
  batch = dict(batch)
  label = np.asarray(batch['label'])
  if label.ndim < 1:
    raise ValueError(f"batch['label'] must have a batch axis; batch {index} has shape {label.shape}.")
  mask = np.asarray(batch['mask'], np.float32) if 'mask' in batch else np.ones(label.shape[:1], np.float32)
  if mask.shape != label.shape[:1]:
    raise ValueError(f"batch['mask'] must have shape {label.shape[:1]}; batch {index} has {mask.shape}.")
  batch['mask'] = mask
  if num_classes is not None:
    if label.ndim != 1 or not np.issubdtype(label.dtype, np.integer):
      raise ValueError(
          f"class statistics need integer labels of shape (batch,); batch {index} has "
          f'{label.dtype} labels of shape {label.shape}. Use num_classes=None for sequence targets.')
    real = label[mask > 0]
    if real.size and (real.min() < 0 or real.max() >= num_classes):
      raise ValueError(f'labels must lie in [0, num_classes={num_classes}); batch {index} has labels '
                       f'in [{real.min()}, {real.max()}].')
  return batch


def gate_statistics(apply_fn: Callable[[Any, Mapping[str, Array]], Mapping[str, Any]],
                    variables: Mapping[str, Any], batches: Iterable[Mapping[str, Any]], *,
                    num_classes: int | None = None, num_kept_examples: int = 4,
                    step: Callable[..., dict] | None = None) -> dict[str, GateStatistics]:
  """Transform-gate activity of every gate site over ``batches`` (read once).

  Args:
    apply_fn: ``apply_fn(variables, batch) -> intermediates`` (see the module docstring).
    variables: the model's variables; ``variables['params']`` locates the gate sites.
    batches: dict batches with 'inputs', 'label' and optionally 'mask'. Equal shapes compile once.
    num_classes: if given, also the class-conditional statistics (needs integer labels ``(B,)``).
    num_kept_examples: how many single-example gate maps to keep (the first real examples).
    step: a step from :func:`make_gate_statistics_step` to reuse (same ``num_classes``).

  Returns:
    ``{site path: GateStatistics}``, in the model's order.
  """
  if not isinstance(variables, Mapping) or 'params' not in variables:
    raise ValueError("variables must be a mapping with a 'params' collection, e.g. {'params': params}.")
  if num_classes is not None and (not isinstance(num_classes, (int, np.integer)) or num_classes < 1):
    raise ValueError(f'num_classes must be None or an integer >= 1, got {num_classes!r}.')
  if num_kept_examples < 0:
    raise ValueError(f'num_kept_examples must be >= 0, got {num_kept_examples}.')
  step = make_gate_statistics_step(apply_fn, num_classes) if step is None else step
  totals: dict[str, dict[str, np.ndarray]] = {}
  examples: dict[str, list[np.ndarray]] = {}
  example_labels: list[np.ndarray] = []
  num_batches = 0
  for index, batch in enumerate(batches):
    batch = _checked_batch(batch, index, num_classes)
    out = step(variables, batch)
    kept = sum(len(e) for e in example_labels)
    real = np.flatnonzero(batch['mask'] > 0)[:num_kept_examples - kept]
    if real.size:
      example_labels.append(np.asarray(batch['label'])[real])
    for name, sums in out.items():
      site = totals.setdefault(name, {})
      for key, value in sums.items():
        if key == 'example':
          if real.size:
            examples.setdefault(name, []).append(np.asarray(value)[real])
          continue
        # Host-side float64 sums keep the means exact over large splits.
        site[key] = site.get(key, 0.0) + np.asarray(value, np.float64)
    num_batches += 1
  if num_batches == 0:
    raise ValueError('batches is empty; gate statistics need at least one batch.')
  results = {}
  for name, site in totals.items():
    count = float(site['count'])
    if count == 0:
      raise ValueError("every example of batches is masked out (batch['mask'] is all zero).")
    first = site['sum']
    class_mean = class_counts = None
    if num_classes is not None:
      class_counts = site['class_count']
      with np.errstate(invalid='ignore', divide='ignore'):
        class_mean = site['class_sum'] / class_counts[:, None, None]
      class_counts = np.rint(class_counts).astype(np.int64)
    kept_maps = examples.get(name)
    results[name] = GateStatistics(
        name=name,
        mean_activity=first / count,
        example_gates=(np.concatenate(kept_maps) if kept_maps
                       else np.zeros((0,) + first.shape, np.float32)),
        example_labels=(np.concatenate(example_labels) if example_labels
                        else np.zeros((0,), np.int64)),
        num_examples=int(round(count)),
        class_mean_activity=class_mean,
        class_counts=class_counts,
    )
  return results


# --------------------------------------------------------------------------- CSV


LAYER_CSV_FIELDS = (
    'layer', 'bias_mean_init', 'bias_std_init', 'bias_median_init', 'bias_mean_trained',
    'bias_std_trained', 'bias_median_trained', 'mean_gate_activity')


def write_layer_summary_csv(path: str | os.PathLike, *, bias_init: BiasDistribution | None = None,
                            bias_trained: BiasDistribution | None = None,
                            gates: GateStatistics | None = None) -> str:
  """One row per layer of one site: bias mean/std/median at init and trained, mean gate activity.

  Columns of missing inputs are left empty. The sources must agree on the number of layers.
  """
  sources = {'bias_init': bias_init, 'bias_trained': bias_trained, 'gates': gates}
  sizes = {k: v.num_layers for k, v in sources.items() if v is not None}
  if not sizes:
    raise ValueError('write_layer_summary_csv needs at least one of bias_init, bias_trained, gates.')
  if len(set(sizes.values())) != 1:
    raise ValueError(f'the inputs disagree on the number of layers: {sizes}.')
  num_layers = next(iter(sizes.values()))

  def bias_columns(dist, layer):
    if dist is None:
      return ['', '', '']
    median = float(np.median(dist.bias[layer]))
    return [repr(float(dist.mean[layer])), repr(float(dist.std[layer])), repr(median)]

  path = os.fspath(path)
  if os.path.dirname(path):
    os.makedirs(os.path.dirname(path), exist_ok=True)
  with open(path, 'w', newline='', encoding='utf-8') as f:
    writer = csv.writer(f)
    writer.writerow(LAYER_CSV_FIELDS)
    for layer in range(num_layers):
      activity = '' if gates is None else repr(float(gates.layer_mean_activity[layer]))
      writer.writerow([layer] + bias_columns(bias_init, layer) + bias_columns(bias_trained, layer)
                      + [activity])
  return path

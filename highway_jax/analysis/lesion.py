"""Layer lesioning (Srivastava et al. 2015, Fig. 4): the loss when one layer's transform gate is closed.

The sweep over layers, its CSV and figure, and :func:`lesion_run`, which lesions a trained run
(``scripts/lesion.py``) and writes ``lesion.csv`` and ``lesion.png``. :func:`lesion_contrast` sets
several runs side by side (``scripts/lesion_contrast.py``; the paper's MNIST vs CIFAR-100 panels).

Lesioning layer l sets its transform gate to zero, T_l(x) = 0, so the coupled highway layer becomes a
pure carry, ``y_l = x_l``, and every other layer is unchanged. For each layer in turn (and for the
unlesioned network, the baseline) we measure over a whole data split

    loss_l     = (1/N) Σ_n −log softmax(f(x_n; lesion = e_l))[y_n]
    accuracy_l = (1/N) Σ_n [argmax f(x_n; lesion = e_l) = y_n]

where ``e_l`` is the boolean mask of shape ``(num_layers,)`` that is true only at layer l. A layer
whose lesion barely changes the loss does not contribute to the trained network.

One compiled program serves every layer (``jax.lax.map`` over the traced masks), and the data is read
once; same-shape batches (``data.eval_batches`` pads the last one, ``'mask'`` 0) compile it once.

Contract with the model::

    apply_fn(params, batch, lesion) -> logits (*label.shape, num_classes)
      params  any pytree, passed through unchanged
      batch   'inputs', 'label' (int (B,) or (B, T_out)), optionally 'mask' (float (B,): 1 real,
              0 padding) and anything else the model reads (e.g. 'length')
      lesion  bool (num_layers,), for the lesion= argument of the model's HighwayStack

For sequence targets every target position counts as one prediction. The per-batch sums are
``training.losses.metric_sums``, as in training's evaluation.

Example::

    from highway_jax.analysis.lesion import lesion_sweep, write_lesion_csv

    def apply_fn(params, batch, lesion):
      return model.apply({'params': params}, batch['inputs'], train=False, lesion=lesion)

    result = lesion_sweep(apply_fn, params, data.eval_batches(ds, 'train', batch_size=500), 49)
    result.baseline_loss, result.loss[3]      # unlesioned loss; loss with layer 3 lesioned
    write_lesion_csv(result, 'runs/mnist_highway50/lesion.csv')

Contrast of runs (:func:`contrast_summary`): per run the ratio ``loss_l / loss_none`` (the paper's log
axis) and the accuracy drop ``accuracy_none − accuracy_l``, summarised as the layers whose lesion
raises the loss by less than 10% (idle: within a marker's height on a log axis), 2×, 10× and 100×;
the layers costing less than one accuracy point; the mean drop over the first 15 layers and over the
rest; and the layer from which on every lesion costs less than one point. A ratio depends on how close
the unlesioned loss is to 0: on a memorised training set (loss 1e−4) 1e−4 nats more doubles it, so
only the 10× and 100× counts separate such runs, and the accuracy drop, on one scale for any
classifier, is the measure that compares tasks.
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
from matplotlib.figure import Figure

from highway_jax.analysis.runs import LoadedRun, checked_batches, load_run, mean_and_std, write_csv
from highway_jax.errors import ConfigError
from highway_jax.training import losses
from highway_jax.training.plots import save_figure, style_axes

Array = jax.Array
ApplyFn = Callable[[Any, Mapping[str, Array], Array], Array]

BASELINE = 'none'  # the lesioned_layer of the unlesioned network in CSV files

CSV_FIELDS = ('lesioned_layer', 'loss', 'accuracy', 'loss_increase', 'accuracy_drop')
LOSS_RATIOS = (1.1, 2.0, 10.0, 100.0)  # contrast thresholds of loss_l / loss_none (module docstring)
MAX_ACCURACY_DROP = 0.01  # a lesion costing less than one accuracy point counts as idle


@dataclasses.dataclass(frozen=True)
class LesionResult:
  """Full-data loss and accuracy with each layer lesioned in turn, and of the unlesioned network."""

  layers: np.ndarray    # (M,) lesioned layer indices, 0-based as for HighwayStack(lesion=...)
  loss: np.ndarray      # (M,) mean cross-entropy with layers[i] lesioned
  accuracy: np.ndarray  # (M,)
  baseline_loss: float
  baseline_accuracy: float
  num_examples: int     # predictions the means are over (real examples × target positions)

  @property
  def loss_increase(self) -> np.ndarray:
    return self.loss - self.baseline_loss

  @property
  def accuracy_drop(self) -> np.ndarray:
    return self.baseline_accuracy - self.accuracy


def lesion_masks(num_layers: int, layers: Sequence[int] | None = None) -> np.ndarray:
  """Boolean masks ``(1 + len(layers), num_layers)``: row 0 lesions nothing, row 1 + i ``layers[i]``
  (default: every layer)."""
  layers = list(range(num_layers)) if layers is None else [int(l) for l in layers]
  if num_layers < 1 or any(not 0 <= l < num_layers for l in layers):
    raise ValueError(f'layers must be indices in [0, {num_layers}) of num_layers >= 1 layers; got '
                     f'num_layers={num_layers!r} and layers {layers}.')
  masks = np.zeros((1 + len(layers), num_layers), dtype=bool)
  masks[np.arange(1, 1 + len(layers)), layers] = True
  return masks


def make_lesion_eval_step(apply_fn: ApplyFn) -> Callable[[Any, Mapping[str, Array], Array], dict]:
  """The jitted ``step(params, batch, masks (M, num_layers)) -> sums`` of :func:`lesion_sweep`:
  ``'loss'``, ``'correct'`` (M,) over the real predictions, ``'count'``, and ``'invalid_labels'``,
  ``'num_classes'`` for the label check. Pass it to several sweeps (``eval_step=``) to compile once."""

  @jax.jit
  def step(params, batch, masks):
    label, mask = batch['label'], batch['mask']
    num_classes = []  # static (the logits' last axis), recorded while lax.map traces per_mask

    def per_mask(lesion):
      logits = apply_fn(params, batch, lesion)
      num_classes.append(logits.shape[-1])
      return losses.metric_sums(logits, label, mask)

    sums = jax.lax.map(per_mask, masks)
    real = jnp.broadcast_to(mask.reshape(mask.shape + (1,) * (label.ndim - 1)), label.shape) > 0
    return {'loss': sums['loss'], 'correct': sums['correct'], 'count': sums.get('token_count', sums['count'])[0],
            'invalid_labels': jnp.sum(real & ((label < 0) | (label >= num_classes[0]))),
            'num_classes': jnp.int32(num_classes[0])}

  return step


def lesion_sweep(apply_fn: ApplyFn, params: Any, batches: Iterable[Mapping[str, Any]], num_layers: int, *,
                 layers: Sequence[int] | None = None, eval_step: Callable[..., dict] | None = None) -> LesionResult:
  """Loss and accuracy over ``batches`` (read once) with each of ``layers`` (default: all) of the
  ``num_layers``-long lesion mask lesioned in turn (module docstring's contract)."""
  masks = lesion_masks(num_layers, layers)
  step = eval_step or make_lesion_eval_step(apply_fn)
  loss, correct, count = np.zeros(len(masks)), np.zeros(len(masks)), 0.0  # float64: exact over a split
  for index, batch in checked_batches(batches):
    sums = jax.device_get(step(params, batch, jnp.asarray(masks)))
    if sums['invalid_labels']:
      raise ValueError(f"batch {index} has {int(sums['invalid_labels'])} real labels outside [0, num_classes="
                       f"{int(sums['num_classes'])}) (num_classes from the logits' last axis).")
    loss += sums['loss']
    correct += sums['correct']
    count += float(sums['count'])
  return LesionResult(layers=np.argmax(masks[1:], axis=1).astype(np.int64), loss=loss[1:] / count,
                      accuracy=correct[1:] / count, baseline_loss=float(loss[0] / count),
                      baseline_accuracy=float(correct[0] / count), num_examples=int(round(count)))


def write_lesion_csv(result: LesionResult, path: str | os.PathLike) -> str:
  """Writes ``result`` as CSV (columns :data:`CSV_FIELDS`; first row the baseline, layer ``'none'``)."""
  rows = [dict(lesioned_layer=BASELINE, loss=result.baseline_loss,
               accuracy=result.baseline_accuracy, loss_increase=0.0, accuracy_drop=0.0)]
  rows += [dict(zip(CSV_FIELDS, values)) for values in zip(
      result.layers.tolist(), result.loss, result.accuracy, result.loss_increase, result.accuracy_drop)]
  return write_csv(os.fspath(path), CSV_FIELDS, rows)


def read_lesion_csv(path: str | os.PathLike, num_examples: int = 0) -> LesionResult:
  """Reads a CSV written by :func:`write_lesion_csv` (the CSV does not store ``num_examples``)."""
  with open(path, newline='', encoding='utf-8') as f:
    rows = list(csv.DictReader(f))
  (baseline,) = [r for r in rows if r['lesioned_layer'] == BASELINE]
  lesioned = [r for r in rows if r['lesioned_layer'] != BASELINE]
  return LesionResult(layers=np.array([int(r['lesioned_layer']) for r in lesioned], dtype=np.int64),
                      loss=np.array([float(r['loss']) for r in lesioned]),
                      accuracy=np.array([float(r['accuracy']) for r in lesioned]),
                      baseline_loss=float(baseline['loss']), baseline_accuracy=float(baseline['accuracy']),
                      num_examples=num_examples)


def plot_lesion(result: LesionResult, path: str | os.PathLike, *, log_scale: bool = True,
                title: str | None = None) -> str:
  """Loss and accuracy with each layer lesioned (markers) vs the unlesioned network (dashed line)."""
  fig = Figure(figsize=(10, 3.6), layout='constrained')
  for ax, values, baseline, ylabel, name in zip(
      fig.subplots(1, 2), (result.loss, 100 * result.accuracy),
      (result.baseline_loss, 100 * result.baseline_accuracy),
      ('mean cross-entropy' + (' (log scale)' if log_scale else ''), 'accuracy (%)'), ('Loss', 'Accuracy')):
    ax.plot(result.layers, values, 'o-', color='tab:red', markersize=4, label='layer lesioned (T = 0)')
    ax.axhline(baseline, color='black', linestyle='--', label='no lesion')
    if log_scale and name == 'Loss':
      ax.set_yscale('log')
    style_axes(ax, xlabel='lesioned layer', ylabel=ylabel, title=f'{name} with one layer lesioned')
  fig.suptitle(title or f'Layer lesioning ({result.num_examples} predictions)')
  return save_figure(fig, path)


def num_lesion_layers(model) -> int:
  """The length of ``model``'s lesion mask; ConfigError if it has no highway stack to lesion."""
  layers = getattr(model, 'num_lesion_layers', None)
  if layers is None or getattr(model, 'block', None) != 'highway' or layers < 1:
    raise ConfigError(f'the model ({type(model).__module__}, block={getattr(model, "block", None)!r}) has no highway '
                      "stack to lesion; use a run of a 'highway_mlp' or 'highway_cnn' model with block 'highway'.")
  return int(layers)


def lesion_run(workdir: str, output_dir: str | None = None, *, split: str = 'train', batch_size: int | None = None,
               checkpoint: str | int = 'latest', run: LoadedRun | None = None) -> LesionResult:
  """Lesions each highway layer of a trained run in turn over ``split``; writes ``lesion.csv`` and
  ``lesion.png`` to ``output_dir`` (default: ``workdir``)."""
  run = run or load_run(workdir, checkpoint)
  model = run.model

  def apply_fn(params, batch, lesion):
    return model.apply({'params': params}, batch['inputs'], train=False, lengths=batch.get('length'), lesion=lesion)

  result = lesion_sweep(apply_fn, run.params, run.batches(split, batch_size), num_layers=num_lesion_layers(model))
  output_dir = output_dir or workdir
  write_lesion_csv(result, os.path.join(output_dir, 'lesion.csv'))
  plot_lesion(result, os.path.join(output_dir, 'lesion.png'), title=(
      f'Lesioning {run.name}: {split} set, {result.num_examples} examples, step {run.step}'))
  return result


def contrast_summary(result: LesionResult, *, first: int = 15) -> dict[str, Any]:
  """The contrast numbers of one run (module docstring); a mean over no layer is None."""
  ratio, drop, early = result.loss / result.baseline_loss, result.accuracy_drop, result.layers < first
  costly = result.layers[drop >= MAX_ACCURACY_DROP]
  summary = dict(num_layers=len(result.layers), baseline_loss=result.baseline_loss,
                 baseline_accuracy=result.baseline_accuracy)
  counts = {f'loss_below_{r:g}x': np.sum(ratio < r) for r in LOSS_RATIOS}
  counts['accuracy_drop_below_1pt'] = np.sum(drop < MAX_ACCURACY_DROP)
  for name, count in counts.items():
    summary.update({f'layers_{name}': int(count), f'fraction_{name}': float(count) / len(drop)})
  summary.update({f'mean_accuracy_drop_first_{first}': drop[early].mean() if early.any() else None,
                  f'mean_accuracy_drop_from_{first}': drop[~early].mean() if not early.all() else None,
                  'all_below_1pt_from_layer': int(costly.max()) + 1 if costly.size else 0})
  return summary


def pooled_layers(results: Sequence[LesionResult], name: str) -> np.ndarray:
  """The lesioned layers all ``results`` (runs pooled under ``name``) share; ConfigError if they differ."""
  layers = results[0].layers
  if any(not np.array_equal(r.layers, layers) for r in results[1:]):
    raise ConfigError(f'the runs pooled as {name!r} lesion different layers ({[len(r.layers) for r in results]} '
                      'layers); pool only runs of one architecture (e.g. seeds), or give them distinct names.')
  return layers


def plot_lesion_contrast(results: Mapping[str, LesionResult | Sequence[LesionResult]], path: str | os.PathLike, *,
                         title: str | None = None) -> str:
  """Per name, loss ratio lesioned / unlesioned (log) and accuracy drop against the lesioned layer; a name
  with several runs (seeds) shows their mean, with their min–max as a band."""
  fig = Figure(figsize=(11, 4), layout='constrained')
  ratio_ax, drop_ax = fig.subplots(1, 2, sharex=True)
  for name, pooled in results.items():
    pooled = [pooled] if isinstance(pooled, LesionResult) else list(pooled)
    layers = pooled_layers(pooled, name)
    ratios = np.stack([r.loss / r.baseline_loss for r in pooled])
    drops = 100 * np.stack([r.accuracy_drop for r in pooled])
    loss, accuracy = (np.mean([getattr(r, k) for r in pooled]) for k in ('baseline_loss', 'baseline_accuracy'))
    label = f'{name} (no lesion: loss {loss:.2g}, accuracy {accuracy:.1%})'
    if len(pooled) > 1:
      label = f'{name}, mean of {len(pooled)} runs, band min–max (no lesion: loss {loss:.2g}, accuracy {accuracy:.1%})'
    for ax, values, line_label in ((ratio_ax, ratios, label), (drop_ax, drops, name)):
      (line,) = ax.plot(layers, values.mean(axis=0), 'o-', markersize=3, label=line_label)
      if len(pooled) > 1:
        ax.fill_between(layers, values.min(axis=0), values.max(axis=0), color=line.get_color(), alpha=0.2,
                        linewidth=0)
  for ratio in (1.0, *LOSS_RATIOS):
    ratio_ax.axhline(ratio, color='black', linestyle='--' if ratio == 1 else ':', linewidth=0.8)
  drop_ax.axhline(100 * MAX_ACCURACY_DROP, color='black', linestyle=':', linewidth=0.8)
  style_axes(ratio_ax, log_y=True, legend='small', xlabel='lesioned layer', title='Loss with one layer lesioned',
             ylabel='loss lesioned / unlesioned (log scale)')
  style_axes(drop_ax, legend='small', xlabel='lesioned layer', ylabel='accuracy drop (points)',
             title='Accuracy drop with one layer lesioned')
  fig.suptitle(title or 'Layer lesioning: ' + ' vs '.join(results))
  return save_figure(fig, path)


def pooled_summary(summaries: Sequence[Mapping[str, Any]]) -> dict[str, dict[str, Any]]:
  """``{'mean': ..., 'std': ...}`` over runs of each number of :func:`contrast_summary` (``runs.mean_and_std``)."""
  stats = {'mean': {}, 'std': {}}
  for key in summaries[0]:
    stats['mean'][key], stats['std'][key] = mean_and_std([s[key] for s in summaries])
  return stats


def lesion_contrast(sources: Mapping[str, str | Sequence[str]], output_dir: str, *, split: str = 'train',
                    first: int = 15) -> dict[str, dict[str, Any]]:
  """Lesions each ``{name: source}`` (a run's work directory, or its ``lesion.csv`` to reuse; a list of
  them pools runs of one architecture, e.g. seeds, under one name) and writes ``<name>/lesion.csv`` (and
  ``lesion.png`` for a run; ``<name>/<i>/`` for the i-th of pooled sources), ``lesion_contrast.csv`` (one
  row of :func:`contrast_summary` per run: ``name``, ``run`` its directory), for pooled names
  ``lesion_contrast_pooled.csv`` (per name a ``mean`` and a ``std`` row over its runs) and
  ``lesion_contrast.png`` to ``output_dir``. Returns per name its summary, or for pooled names the
  ``{'mean': ..., 'std': ..., 'runs': [summary, ...]}`` of :func:`pooled_summary`."""
  results, rows, summaries, pooled_rows = {}, [], {}, []
  for name, name_sources in sources.items():
    pooled = not isinstance(name_sources, (str, os.PathLike))
    results[name], run_summaries = [], []
    for i, source in enumerate(name_sources if pooled else [name_sources]):
      run = os.path.join(name, str(i)) if pooled else name
      run_dir = os.path.join(output_dir, run)
      result = read_lesion_csv(source) if os.path.isfile(source) else lesion_run(source, run_dir, split=split)
      write_lesion_csv(result, os.path.join(run_dir, 'lesion.csv'))  # a reused CSV lies there too
      results[name].append(result)
      run_summaries.append(contrast_summary(result, first=first))
      rows.append(dict(name=name, run=run, **run_summaries[-1]))
    pooled_layers(results[name], name)
    if pooled:
      summaries[name] = dict(**pooled_summary(run_summaries), runs=run_summaries)
      pooled_rows += [dict(name=name, statistic=k, runs=len(run_summaries), **summaries[name][k])
                      for k in ('mean', 'std')]
    else:
      summaries[name] = run_summaries[0]
  write_csv(os.path.join(output_dir, 'lesion_contrast.csv'), list(rows[0]), rows)
  if pooled_rows:
    write_csv(os.path.join(output_dir, 'lesion_contrast_pooled.csv'), list(pooled_rows[0]), pooled_rows)
  plot_lesion_contrast(results, os.path.join(output_dir, 'lesion_contrast.png'))
  return summaries

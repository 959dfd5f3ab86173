"""Layer lesioning (Srivastava et al. 2015, Fig. 4): the loss when one layer's transform gate is closed.

Lesioning layer l sets its transform gate to zero, T_l(x) = 0, so the coupled highway layer becomes a
pure carry, ``y_l = x_l``, and every other layer is unchanged. For each layer in turn (and for the
unlesioned network, the baseline) we measure over a whole data split

    loss_l     = (1/N) Σ_n −log softmax(f(x_n; lesion = e_l))[y_n]
    accuracy_l = (1/N) Σ_n [argmax f(x_n; lesion = e_l) = y_n]

where ``e_l`` is the boolean mask of shape ``(num_layers,)`` that is true only at layer l. A layer
whose lesion barely changes the loss does not contribute to the trained network.

One compiled program serves every layer: the masks are a traced argument, ``jax.lax.map`` runs the
forward pass once per mask inside the compiled step, and the data is read once. Keep every batch the
same shape (``data.eval_batches`` pads the last batch and marks it with ``'mask'``) and the step
compiles exactly once.

Contract with the model:

    apply_fn(params, batch, lesion) -> logits
      params  any pytree (e.g. ``{'params': ..., 'batch_stats': ...}``), passed through unchanged.
      batch   a dict of arrays: ``'inputs'``, ``'label'`` (int, shape ``(B,)`` or ``(B, T_out)``),
              optionally ``'mask'`` (float ``(B,)``: 1 real example, 0 padding) and anything else the
              model reads (e.g. ``'length'``).
      lesion  bool ``(num_layers,)``, forwarded to the ``lesion=`` argument of the model's
              :class:`~highway_jax.stack.HighwayStack` (a model with several stacks splits it).
      logits  ``(*label.shape, num_classes)``.

For sequence targets (``label`` of shape ``(B, T_out)``) every target position counts as one
prediction in the means.

Example::

    from highway_jax.analysis.lesion import lesion_sweep, write_lesion_csv

    def apply_fn(params, batch, lesion):
      return model.apply({'params': params}, batch['inputs'], train=False, lesion=lesion)

    result = lesion_sweep(apply_fn, params, data.eval_batches(ds, 'train', batch_size=500),
                          num_layers=49)
    result.baseline_loss, result.loss[3]      # unlesioned loss; loss with layer 3 lesioned
    write_lesion_csv(result, 'runs/mnist_highway50/lesion.csv')
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
ApplyFn = Callable[[Any, Mapping[str, Array], Array], Array]

BASELINE = 'none'
"""The ``lesioned_layer`` entry of the unlesioned network in CSV files."""

CSV_FIELDS = ('lesioned_layer', 'loss', 'accuracy', 'loss_increase', 'accuracy_drop')


@dataclasses.dataclass(frozen=True)
class LesionResult:
  """Full-data loss and accuracy with each layer lesioned in turn.

  Attributes:
    layers: the lesioned layer indices (0-based, as for ``HighwayStack(lesion=...)``), shape ``(M,)``.
    loss: mean cross-entropy with ``layers[i]`` lesioned, shape ``(M,)``.
    accuracy: accuracy with ``layers[i]`` lesioned, shape ``(M,)``.
    baseline_loss: mean cross-entropy of the unlesioned network.
    baseline_accuracy: accuracy of the unlesioned network.
    num_examples: number of predictions the means are over (real examples × target positions).
  """

  layers: np.ndarray
  loss: np.ndarray
  accuracy: np.ndarray
  baseline_loss: float
  baseline_accuracy: float
  num_examples: int

  @property
  def loss_increase(self) -> np.ndarray:
    """``loss − baseline_loss`` per lesioned layer."""
    return self.loss - self.baseline_loss

  @property
  def accuracy_drop(self) -> np.ndarray:
    """``baseline_accuracy − accuracy`` per lesioned layer."""
    return self.baseline_accuracy - self.accuracy


def lesion_masks(num_layers: int, layers: Sequence[int] | None = None) -> np.ndarray:
  """Boolean masks ``(1 + len(layers), num_layers)``: row 0 lesions nothing, row 1 + i lesions ``layers[i]``.

  ``layers=None`` means every layer, ``0 … num_layers − 1``.
  """
  if not isinstance(num_layers, (int, np.integer)) or isinstance(num_layers, bool) or num_layers < 1:
    raise ValueError(f'num_layers must be an integer >= 1, got {num_layers!r}.')
  layers = list(range(num_layers)) if layers is None else [int(l) for l in layers]
  bad = [l for l in layers if not 0 <= l < num_layers]
  if bad:
    raise ValueError(f'layers must be indices in [0, {num_layers}), got {bad}.')
  masks = np.zeros((1 + len(layers), num_layers), dtype=bool)
  masks[np.arange(1, 1 + len(layers)), layers] = True
  return masks


def make_lesion_eval_step(apply_fn: ApplyFn) -> Callable[[Any, Mapping[str, Array], Array], dict]:
  """The jitted step ``step(params, batch, masks) -> sums`` used by :func:`lesion_sweep`.

  ``masks`` is bool ``(M, num_layers)``; ``sums`` has ``'loss'`` and ``'correct'`` of shape ``(M,)``
  (summed over real predictions of the batch), ``'count'`` (a scalar), and for the label check
  ``'invalid_labels'`` (real predictions whose label is outside ``[0, num_classes)``) and
  ``'num_classes'``. Build it once and pass it to several sweeps (``eval_step=``) to share the
  compiled program between them.
  """

  def batch_sums(params, batch, lesion):
    label = batch['label']
    logits = apply_fn(params, batch, lesion)
    if logits.shape[:-1] != label.shape:
      raise ValueError(
          f'apply_fn must return logits of shape (*label.shape, num_classes) = '
          f'({", ".join(map(str, label.shape))}, num_classes); got {logits.shape}.')
    num_classes = logits.shape[-1]
    # The per-example mask weights every target position of that example.
    weight = jnp.broadcast_to(
        batch['mask'].reshape(batch['mask'].shape + (1,) * (label.ndim - 1)), label.shape)
    real = weight > 0
    valid = (label >= 0) & (label < num_classes)
    # Padding may carry any label; index with 0 there so the gather stays in range.
    safe_label = jnp.where(real & valid, label, 0)
    log_probs = jax.nn.log_softmax(logits.astype(jnp.float32), axis=-1)
    nll = -jnp.take_along_axis(log_probs, safe_label[..., None], axis=-1)[..., 0]
    correct = (jnp.argmax(logits, axis=-1) == label).astype(jnp.float32)
    loss = jnp.sum(jnp.where(real, weight * nll, 0.0))
    hits = jnp.sum(jnp.where(real, weight * correct, 0.0))
    return loss, hits, jnp.sum(weight), jnp.sum(real & ~valid), num_classes

  @jax.jit
  def step(params, batch, masks):
    num_classes = []  # Static (the logits' last axis); recorded while lax.map traces per_mask.

    def per_mask(m):
      *sums, classes = batch_sums(params, batch, m)
      num_classes.append(classes)
      return tuple(sums)

    loss, correct, count, invalid = jax.lax.map(per_mask, masks)
    return {'loss': loss, 'correct': correct, 'count': count[0], 'invalid_labels': invalid[0],
            'num_classes': jnp.int32(num_classes[0])}

  return step


def _checked_batch(batch: Mapping[str, Any], index: int) -> dict[str, Any]:
  if not isinstance(batch, Mapping):
    raise ValueError(f'batches must yield dicts of arrays; batch {index} is a {type(batch).__name__}.')
  if 'inputs' not in batch or 'label' not in batch:
    raise ValueError(
        f"every batch needs 'inputs' and 'label'; batch {index} has keys {sorted(batch)}.")
  batch = dict(batch)
  label = np.asarray(batch['label'])
  if not np.issubdtype(label.dtype, np.integer):
    raise ValueError(f"batch['label'] must hold integer class ids; batch {index} has dtype {label.dtype}.")
  if label.ndim < 1:
    raise ValueError(f"batch['label'] must have a batch axis; batch {index} has shape {label.shape}.")
  if 'mask' in batch:
    mask = np.asarray(batch['mask'], dtype=np.float32)
    if mask.shape != label.shape[:1]:
      raise ValueError(
          f"batch['mask'] must have shape (batch_size,) = {label.shape[:1]}; batch {index} has "
          f'{mask.shape}.')
  else:
    mask = np.ones(label.shape[:1], np.float32)
  batch['mask'] = mask
  return batch


def lesion_sweep(apply_fn: ApplyFn, params: Any, batches: Iterable[Mapping[str, Any]],
                 num_layers: int, *, layers: Sequence[int] | None = None,
                 eval_step: Callable[..., dict] | None = None) -> LesionResult:
  """Loss and accuracy over ``batches`` with each of ``layers`` lesioned in turn, and unlesioned.

  Args:
    apply_fn: ``apply_fn(params, batch, lesion) -> logits`` (see the module docstring).
    params: passed to ``apply_fn`` unchanged.
    batches: an iterable of dict batches (read once), each with ``'inputs'``, ``'label'`` and
      optionally ``'mask'``. Equal batch shapes give a single compilation.
    num_layers: length of the lesion mask ``apply_fn`` expects.
    layers: which layers to lesion (default: all).
    eval_step: a step from :func:`make_lesion_eval_step` to reuse; by default a new one.

  Returns:
    A :class:`LesionResult`.
  """
  masks = lesion_masks(num_layers, layers)
  lesioned = np.argmax(masks[1:], axis=1)  # row 1 + i of masks is true only at layers[i]
  masks = jnp.asarray(masks)
  step = make_lesion_eval_step(apply_fn) if eval_step is None else eval_step
  loss = np.zeros(masks.shape[0], np.float64)
  correct = np.zeros(masks.shape[0], np.float64)
  count = 0.0
  num_batches = 0
  for index, batch in enumerate(batches):
    sums = jax.device_get(step(params, _checked_batch(batch, index), masks))
    if sums['invalid_labels']:
      raise ValueError(
          f"batch {index} has {int(sums['invalid_labels'])} real labels outside [0, num_classes="
          f"{int(sums['num_classes'])}) (num_classes from the logits' last axis).")
    # Host-side float64 sums: float32 device sums would lose digits over a whole training set.
    loss += sums['loss']
    correct += sums['correct']
    count += float(sums['count'])
    num_batches += 1
  if num_batches == 0:
    raise ValueError('batches is empty; lesioning needs at least one batch.')
  if count == 0:
    raise ValueError("every example of batches is masked out (batch['mask'] is all zero).")
  return LesionResult(
      layers=lesioned.astype(np.int64),
      loss=loss[1:] / count,
      accuracy=correct[1:] / count,
      baseline_loss=float(loss[0] / count),
      baseline_accuracy=float(correct[0] / count),
      num_examples=int(round(count)),
  )


def write_lesion_csv(result: LesionResult, path: str | os.PathLike) -> str:
  """Writes ``result`` as CSV (columns :data:`CSV_FIELDS`; first row the baseline, layer ``'none'``)."""
  path = os.fspath(path)
  directory = os.path.dirname(path)
  if directory:
    os.makedirs(directory, exist_ok=True)
  with open(path, 'w', newline='', encoding='utf-8') as f:
    writer = csv.writer(f)
    writer.writerow(CSV_FIELDS)
    writer.writerow([BASELINE, repr(result.baseline_loss), repr(result.baseline_accuracy), 0.0, 0.0])
    for layer, loss, accuracy, increase, drop in zip(
        result.layers, result.loss, result.accuracy, result.loss_increase, result.accuracy_drop):
      writer.writerow([int(layer), repr(float(loss)), repr(float(accuracy)),
                       repr(float(increase)), repr(float(drop))])
  return path


def read_lesion_csv(path: str | os.PathLike, num_examples: int = 0) -> LesionResult:
  """Reads a CSV written by :func:`write_lesion_csv` (the CSV does not store ``num_examples``)."""
  with open(path, newline='', encoding='utf-8') as f:
    rows = list(csv.DictReader(f))
  baseline = [r for r in rows if r['lesioned_layer'] == BASELINE]
  if len(baseline) != 1:
    raise ValueError(f'{path}: expected exactly one row with lesioned_layer={BASELINE!r}, '
                     f'found {len(baseline)}.')
  lesioned = [r for r in rows if r['lesioned_layer'] != BASELINE]
  return LesionResult(
      layers=np.array([int(r['lesioned_layer']) for r in lesioned], dtype=np.int64),
      loss=np.array([float(r['loss']) for r in lesioned]),
      accuracy=np.array([float(r['accuracy']) for r in lesioned]),
      baseline_loss=float(baseline[0]['loss']),
      baseline_accuracy=float(baseline[0]['accuracy']),
      num_examples=num_examples,
  )

"""Softmax cross-entropy and accuracy, as per-batch sums that are reduced on the host.

For logits z (…, K) and integer labels y, over the examples (or target tokens) with weight m = 1:

    loss       = Σ m · (logsumexp(z) − z_y) / Σ m
    accuracy   = Σ m · [argmax z = y] / Σ m

Labels of shape (B,) are one class per example. Labels of shape (B, T_out) are sequence targets with
logits (B, T_out, K): the loss and ``accuracy`` are per target token, and ``sequence_accuracy`` counts
an example as right only when all its T_out tokens are.

The optional ``mask`` (B,) marks real examples (1) versus padding (0) in evaluation batches. Batch
functions return sums plus counts (``count``: examples; ``token_count``: target tokens), so results
over many batches, devices and processes are exact means after :func:`normalize`.

Example::

    sums = [metric_sums(logits, labels, mask) for ...]   # inside jit, per batch
    normalize(jax.device_get(sums))                      # on the host: {'loss': …, 'accuracy': …}
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import optax

Array = jax.Array


def _check_shapes(logits: Array, labels: Array) -> None:
  if logits.shape[:-1] != labels.shape:
    raise ValueError(f'logits must have shape labels.shape + (num_classes,); got logits {logits.shape} and labels '
                     f'{labels.shape}.')


def mean_cross_entropy(logits: Array, labels: Array) -> Array:
  """Mean softmax cross-entropy over all label entries, computed in float32."""
  _check_shapes(logits, labels)
  return jnp.mean(optax.softmax_cross_entropy_with_integer_labels(logits.astype(jnp.float32), labels))


def metric_sums(logits: Array, labels: Array, mask: Array | None = None) -> dict[str, Array]:
  """Summed loss and accuracy of one batch (module docstring); padding's labels are never read."""
  _check_shapes(logits, labels)
  mask = jnp.ones(labels.shape[:1], jnp.float32) if mask is None else mask.astype(jnp.float32)
  weight = jnp.broadcast_to(mask.reshape(mask.shape + (1,) * (labels.ndim - 1)), labels.shape)
  real = weight > 0
  losses = optax.softmax_cross_entropy_with_integer_labels(logits.astype(jnp.float32), jnp.where(real, labels, 0))
  correct = (jnp.argmax(logits, axis=-1) == labels).astype(jnp.float32)
  sums = {'loss': jnp.sum(jnp.where(real, weight * losses, 0.0)),
          'correct': jnp.sum(jnp.where(real, weight * correct, 0.0)), 'count': jnp.sum(mask)}
  if labels.ndim > 1:
    extra_axes = tuple(range(1, labels.ndim))
    sums['sequence_correct'] = jnp.sum(jnp.all(correct > 0, axis=extra_axes) * mask)
    sums['token_count'] = jnp.sum(mask) * np.prod(labels.shape[1:])
  return sums


def normalize(sums: list[dict[str, float]]) -> dict[str, float]:
  """Means over several batches' sums (added on the host in float64): loss, accuracy (and
  sequence_accuracy for sequence targets)."""
  total = {k: sum(float(s[k]) for s in sums) for k in sums[0]}
  denominator = total.get('token_count', total['count'])
  result = {'loss': total['loss'] / denominator, 'accuracy': total['correct'] / denominator}
  if 'sequence_correct' in total:
    result['sequence_accuracy'] = total['sequence_correct'] / total['count']
  return result

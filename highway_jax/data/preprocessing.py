"""Input normalisation and training-time image augmentation.

Normalisation (``config.data.normalize``), for real-valued inputs x with channels last, after scaling images to [0,
1]:

- ``'per_channel'``: x' = (x − μ_c) / σ_c with the training split's per-channel mean μ_c and
  standard deviation σ_c (published constants for the TFDS image sets, computed for the offline
  sets).
- ``'gcn'``: global contrast normalisation per example, x' = (x − mean(x)) / sqrt(var(x) + ε),
  mean and variance over all pixels and channels of that one example (Goodfellow et al. 2013,
  with scale 1 and λ = 0; ε = 1e-8 guards constant images).
- ``'none'``: x unchanged ([0, 1] for images).

Augmentation (``config.data.augment``), the authors' CIFAR recipe (``docs/references.md``): pad ``augment_padding``
pixels (8 in the recipe) of zeros on every side, crop a random H×W window (H×W the original size), and mirror
left-right with probability 1/2 if ``augment_flip``.
Padding is applied after normalisation, so the border is the mean colour for ``'per_channel'``::

    x = normalize(images, 'per_channel', mean=(0.49, 0.48, 0.45), std=(0.25, 0.24, 0.26))
    example = make_crop_flip(padding=8, flip=True)(example, np.random.default_rng(0))
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np

Example = dict[str, np.ndarray]
# A training-time random transform: (example, np.random.Generator) -> example.
Augmentation = Callable[[Example, np.random.Generator], Example]

_GCN_EPSILON = 1e-8


def normalize(x: np.ndarray, mode: str, *, mean: Sequence[float] | None = None,
              std: Sequence[float] | None = None, example_ndim: int | None = None) -> np.ndarray:
  """Normalises float inputs ``x`` (channels last; one example or a stack) to float32.

  ``mode``: ``'per_channel'`` (needs ``mean`` and ``std``), ``'gcn'`` (over the last
  ``example_ndim`` axes, default all) or ``'none'``.
  """
  x = np.asarray(x, np.float32)
  if mode == 'none':
    return x
  if mode == 'per_channel':
    return ((x - np.asarray(mean, np.float32)) / np.asarray(std, np.float32)).astype(np.float32)
  axes = tuple(range(x.ndim - (x.ndim if example_ndim is None else example_ndim), x.ndim))
  centred = x - x.mean(axis=axes, keepdims=True)
  scale = np.sqrt(np.mean(np.square(centred), axis=axes, keepdims=True) + _GCN_EPSILON)
  return (centred / scale).astype(np.float32)


def channel_statistics(x: np.ndarray) -> tuple[tuple[float, ...], tuple[float, ...]]:
  """Per-channel mean and standard deviation of a stack of examples ``(N, ..., C)``."""
  axes = tuple(range(x.ndim - 1))
  return (tuple(float(m) for m in x.mean(axis=axes, dtype=np.float64)),
          tuple(float(s) for s in x.std(axis=axes, dtype=np.float64)))


def make_crop_flip(padding: int, flip: bool) -> Augmentation:
  """Random pad-and-crop translation plus optional horizontal mirroring of ``'inputs'`` (H, W, C)."""

  def crop_flip(example: Example, rng: np.random.Generator) -> Example:
    image = example['inputs']
    height, width = image.shape[:2]
    if padding:
      padded = np.pad(image, ((padding, padding), (padding, padding), (0, 0)))
      top, left = rng.integers(0, 2 * padding + 1, size=2)
      image = padded[top:top + height, left:left + width]
    if flip and rng.random() < 0.5:
      image = image[:, ::-1]
    return {**example, 'inputs': np.ascontiguousarray(image)}

  return crop_flip

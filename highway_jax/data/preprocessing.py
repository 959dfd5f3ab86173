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
    dy = dx = 0
    if padding:
      dy, dx = (int(offset) - padding for offset in rng.integers(0, 2 * padding + 1, size=2))
    mirrored = flip and rng.random() < 0.5
    # The H×W window at (padding + dy, padding + dx) of the image zero-padded by ``padding``, built
    # without padding it: the image shifted by (−dy, −dx), zeros where the window leaves the image;
    # written through a mirrored view when mirrored.
    window = np.zeros_like(image)
    target = window[:, ::-1] if mirrored else window
    (r0, r1), (c0, c1) = ((min(max(-d, 0), n), max(min(n - d, n), 0)) for d, n in ((dy, height), (dx, width)))
    if r0 < r1 and c0 < c1:
      target[r0:r1, c0:c1] = image[r0 + dy:r1 + dy, c0 + dx:c1 + dx]
    return {**example, 'inputs': window}

  return crop_flip

"""The ``Dataset`` description that every input pipeline returns, and its error type.

A dataset is a set of named splits. Each split is a ``grain.MapDataset`` with random access (``len(split)``,
``split[i]``) whose examples are dicts of NumPy arrays, already decoded and
normalised (training-time augmentation is applied later, by ``train_loader``)::

    {'inputs': input_dtype input_shape,      # e.g. float32 (32, 32, 3) or int32 (max_length,)
     'label':  int32 label_shape,            # () for classification, (T_out,) for sequence targets
     'length': int32 ()}                     # only for variable-length (text) datasets
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Mapping
from typing import Any

import grain
import numpy as np

from highway_jax.data.preprocessing import Augmentation, make_crop_flip


class DatasetUnavailableError(RuntimeError):
  """A dataset is neither prepared locally nor obtainable (no network, or TensorFlow missing)."""


@dataclasses.dataclass(frozen=True)
class Dataset:
  """A loaded dataset: metadata plus random-access splits."""

  name: str  # the config.data.name it was loaded from
  num_classes: int  # target classes (per position for sequence targets)
  input_shape: tuple[int, ...]  # one example's 'inputs'
  input_dtype: np.dtype  # float32 for real values, int32 for token ids
  label_shape: tuple[int, ...]  # () or (T_out,)
  vocab_size: int | None  # input token ids for token inputs (text, addition, memorization)
  splits: Mapping[str, grain.MapDataset]  # 'train', 'test' and, if configured, 'validation'
  num_examples: Mapping[str, int]  # split name -> number of examples
  augment: Augmentation | None = None  # random transform train_loader applies to training examples
  read_options: grain.ReadOptions = dataclasses.field(default_factory=grain.ReadOptions)
  metadata: Mapping[str, Any] = dataclasses.field(default_factory=dict)  # for logging

  @property
  def has_lengths(self) -> bool:
    """Whether examples carry a ``'length'`` key (variable-length sequences)."""
    return 'length' in self.splits['train'][0]


class ArraySource(grain.MapDataset):
  """A split of equally long NumPy arrays (one example per row), itself a ``grain.MapDataset``.

  ``source[i]`` is example ``i`` (modulo the length, as grain's sources); ``source[indices]`` with an
  integer array is a whole batch, one fancy index per array (what ``train_loader`` uses). Also
  accepted by ``grain.MapDataset.source``.
  """

  def __init__(self, arrays: Mapping[str, np.ndarray]):
    super().__init__()
    lengths = {key: len(value) for key, value in arrays.items()}
    if len(set(lengths.values())) != 1:
      raise ValueError(f'arrays must all have the same length, got {lengths}.')
    self._arrays = dict(arrays)
    self._length = next(iter(lengths.values()))

  def __len__(self) -> int:
    return self._length

  def __getitem__(self, index):
    if isinstance(index, slice):
      return self.slice(index)
    index = index % self._length
    return {key: value[index] for key, value in self._arrays.items()}

  def __str__(self) -> str:
    return f'ArraySource({ {key: value.shape for key, value in self._arrays.items()} })'

  __repr__ = __str__


def holdout_count(num: int, fraction: float, key: str) -> int:
  """Rows that ``config.data.<key>`` moves out of ``num`` (rounded up); both parts non-empty."""
  count = math.ceil(fraction * num)
  if not 0 < count < num:
    raise ValueError(f'config.data.{key}={fraction} leaves no training or no held-out examples '
                     f'out of {num}.')
  return count


def reader_threads(cfg, splits: Mapping[str, grain.MapDataset]) -> int:
  """``config.data.num_threads``, or where it is None, its default for these splits (see ``DataConfig``)."""
  if cfg.num_threads is not None:
    return cfg.num_threads
  return 0 if all(isinstance(split, ArraySource) for split in splits.values()) else 4


def from_splits(cfg, splits: Mapping[str, grain.MapDataset], *, num_classes: int,
                vocab_size: int | None = None, image: bool = False,
                metadata: Mapping[str, Any] | None = None) -> Dataset:
  """A ``Dataset`` whose shapes and dtypes are read off the first training example; ``image``
  datasets get ``config.data.augment``'s crop-and-flip."""
  first = splits['train'][0]
  return Dataset(
      name=cfg.name, num_classes=num_classes, input_shape=tuple(first['inputs'].shape),
      input_dtype=first['inputs'].dtype, label_shape=tuple(first['label'].shape),
      vocab_size=vocab_size, splits=splits,
      num_examples={split: len(dataset) for split, dataset in splits.items()},
      augment=(make_crop_flip(cfg.augment_padding, cfg.augment_flip)
               if image and cfg.augment else None),
      read_options=grain.ReadOptions(num_threads=reader_threads(cfg, splits),
                                     prefetch_buffer_size=cfg.prefetch_buffer_size), metadata=dict(metadata or {}))

"""The ``Dataset`` description that every input pipeline returns, and its error type.

A dataset is a set of named splits. Each split is a ``grain.MapDataset`` with random access
(``len(split)``, ``split[i]``) whose examples are dicts of NumPy arrays, already decoded and
normalised (training-time augmentation is applied later, by ``train_loader``)::

    {'inputs': input_dtype input_shape,      # e.g. float32 (32, 32, 3) or int32 (max_length,)
     'label':  int32 label_shape,            # () for classification, (T_out,) for sequence targets
     'length': int32 ()}                     # only for variable-length (text) datasets

Example::

    ds = data.load(config.data)
    ds.splits['train'][0]['inputs'].shape == ds.input_shape
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable, Mapping
from typing import Any

import grain
import numpy as np

Example = dict[str, np.ndarray]
# A training-time random transform: (example, np.random.Generator) -> example.
Augmentation = Callable[[Example, np.random.Generator], Example]


class DatasetUnavailableError(RuntimeError):
  """A dataset is neither prepared locally nor obtainable (no network, or TensorFlow missing)."""


@dataclasses.dataclass(frozen=True)
class Dataset:
  """A loaded dataset: metadata plus random-access splits.

  Attributes:
    name: the ``config.data.name`` it was loaded from.
    num_classes: number of target classes (per position for sequence targets).
    input_shape: shape of one example's ``'inputs'``.
    input_dtype: NumPy dtype of ``'inputs'`` (float32 for real-valued, int32 for token ids).
    label_shape: shape of one example's ``'label'``: ``()`` or ``(T_out,)``.
    vocab_size: number of input token ids for token inputs (text, addition, memorization),
      else None.
    splits: ``'train'``, ``'test'`` and, if configured, ``'validation'`` -> ``grain.MapDataset``.
    num_examples: split name -> number of examples.
    augment: random transform applied by ``train_loader`` to training examples, or None.
    read_options: grain threading/prefetch options used by ``train_loader`` and ``eval_batches``.
    metadata: free-form details for logging (normalisation statistics, vocabulary path, ...).
  """

  name: str
  num_classes: int
  input_shape: tuple[int, ...]
  input_dtype: np.dtype
  label_shape: tuple[int, ...]
  vocab_size: int | None
  splits: Mapping[str, grain.MapDataset]
  num_examples: Mapping[str, int]
  augment: Augmentation | None = None
  read_options: grain.ReadOptions = dataclasses.field(default_factory=grain.ReadOptions)
  metadata: Mapping[str, Any] = dataclasses.field(default_factory=dict)

  @property
  def has_lengths(self) -> bool:
    """Whether examples carry a ``'length'`` key (variable-length sequences)."""
    return 'length' in self.splits['train'][0]


class ArraySource:
  """Random-access source over a dict of equally long NumPy arrays (one example per row)."""

  def __init__(self, arrays: Mapping[str, np.ndarray]):
    lengths = {key: len(value) for key, value in arrays.items()}
    if len(set(lengths.values())) != 1:
      raise ValueError(f'arrays must all have the same length, got {lengths}.')
    self._arrays = dict(arrays)
    self._length = next(iter(lengths.values()))

  def __len__(self) -> int:
    return self._length

  def __getitem__(self, index: int) -> Example:
    return {key: value[index] for key, value in self._arrays.items()}

  def __repr__(self) -> str:
    shapes = {key: value.shape for key, value in self._arrays.items()}
    return f'ArraySource({shapes})'


def split_off(arrays: Mapping[str, np.ndarray], count: int
              ) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray]]:
  """Splits the last ``count`` rows off every array: returns (first part, last ``count``)."""
  length = len(next(iter(arrays.values())))
  keep = length - count
  return ({k: v[:keep] for k, v in arrays.items()}, {k: v[keep:] for k, v in arrays.items()})


def validation_count(num_train: int, fraction: float) -> int:
  """Examples carved off the end of the training split for ``validation_fraction``."""
  if fraction == 0:
    return 0
  count = math.ceil(fraction * num_train)
  if not 0 < count < num_train:
    raise ValueError(f'config.data.validation_fraction={fraction} leaves no training or no '
                     f'validation examples out of {num_train}.')
  return count

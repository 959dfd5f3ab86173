"""grain input pipelines over a ``Dataset``: shuffled training batches and padded eval batches.

Training (``train_loader``): every index transformation happens on the random-access ``grain.MapDataset``, so the
iterator's whole state is one integer (``{'next_index': k}``) and a
restored iterator continues with exactly the batches the original would have produced::

    train split ─ seed(seed) ─ shuffle ─ repeat(num_epochs) ─ random_map(augment)
                ─ [shard_index::shard_count] ─ batch(batch_size, drop_remainder) ─ iterator

- ``shuffle`` before ``repeat``: every epoch is a different permutation (grain folds the epoch into
  the shuffle seed); ``seed`` alone fixes the order.
- Augmentation draws its randomness from the seed and the example's position in the repeated
  stream, so it is deterministic, differs between epochs, and does not depend on sharding.
- Sharding takes every ``shard_count``-th element of the shuffled stream, so the shards partition
  every epoch. ``batch_size`` is the per-shard (per-process) batch size. With a finite
  ``num_epochs`` every shard gets the same number of batches.

Evaluation (``eval_batches``): the split in order, shard ``k`` taking examples ``k, k + S, ...``. Every shard yields
the same number of batches (``ceil(ceil(N / S) / batch_size)``); the last ones are filled with copies of the shard's
first example, and ``'mask'`` (float32, 1 real / 0 padding) tells them apart, so every example is counted exactly
once. Copies rather than zeros keep padded
rows numerically harmless (e.g. no zero-length sequences)::

    it = train_loader(ds, batch_size=128, seed=0)
    state = it.get_state()                  # JSON-serialisable; it.set_state(state) resumes
    for batch in eval_batches(ds, 'test', batch_size=500):
      correct += ((predict(batch['inputs']) == batch['label']) * batch['mask']).sum()
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Iterator

import grain
import numpy as np

from highway_jax.data.dataset import Dataset
from highway_jax.data.preprocessing import Example


def _check_int(name: str, value, minimum: int, maximum: int | None = None, why: str = '') -> None:
  if (isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < minimum
      or (maximum is not None and value > maximum)):
    bounds = f'>= {minimum}' if maximum is None else f'in [{minimum}, {maximum}]'
    raise ValueError(f'{name} must be an integer {bounds}{why}, got {value!r}.')


def _check_shard(shard_index: int, shard_count: int) -> None:
  _check_int('shard_count', shard_count, 1)
  _check_int('shard_index', shard_index, 0, shard_count - 1)


def train_loader(ds: Dataset, *, batch_size: int, seed: int, num_epochs: int | None = None,
                 shard_index: int = 0, shard_count: int = 1) -> grain.DatasetIterator:
  """Iterator over shuffled (and augmented) training batches; see the module docstring.

  ``batch_size`` examples per batch on this shard (incomplete batches are dropped); ``seed`` in
  [0, 2**32) fixes order and augmentation; ``num_epochs`` passes over the training split (None:
  forever); ``shard_index``/``shard_count``: this process's share. The returned iterator yields
  dicts of NumPy arrays and supports ``get_state()`` / ``set_state(state)``.
  """
  _check_int('batch_size', batch_size, 1)
  _check_int('seed', seed, 0, 2**32 - 1)
  if num_epochs is not None:
    _check_int('num_epochs', num_epochs, 1)
  _check_shard(shard_index, shard_count)

  dataset = ds.splits['train'].seed(int(seed)).shuffle().repeat(num_epochs)
  if ds.augment is not None:
    dataset = dataset.random_map(ds.augment)
  if num_epochs is not None:
    # Equal-length shards: multi-process training must not run out on one process first.
    per_shard = len(dataset) // shard_count
    _check_int('batch_size', batch_size, 1, per_shard,
               f' (the training examples that {num_epochs} epoch(s) of {len(ds.splits["train"])} '
               f'give each of {shard_count} shard(s))')
    dataset = dataset[:per_shard * shard_count]
  dataset = dataset[shard_index::shard_count].batch(batch_size, drop_remainder=True)
  return iter(dataset.to_iter_dataset(ds.read_options))


@dataclasses.dataclass(frozen=True)
class EvalBatches:
  """Re-iterable padded evaluation batches of one split (see ``eval_batches``)."""

  batches: grain.MapDataset
  num_examples: int  # real examples on this shard
  batch_size: int
  read_options: grain.ReadOptions

  def __len__(self) -> int:
    return len(self.batches)

  def __iter__(self) -> Iterator[Example]:
    return iter(self.batches.to_iter_dataset(self.read_options))


def eval_batches(ds: Dataset, split: str, *, batch_size: int, shard_index: int = 0,
                 shard_count: int = 1) -> EvalBatches:
  """Every example of ``split`` exactly once, in padded batches with a float32 ``'mask'``.

  Returns:
    An ``EvalBatches`` (iterable, ``len()`` = batches per shard, the same on every shard).
  """
  if not len(ds.splits.get(split, ())):
    raise ValueError(f'split must be one of the non-empty splits of {ds.name!r}, '
                     f'{sorted(name for name, s in ds.splits.items() if len(s))}, got {split!r}.')
  _check_int('batch_size', batch_size, 1)
  _check_shard(shard_index, shard_count)
  full = ds.splits[split]
  shard = full[shard_index::shard_count]
  num_real = len(shard)
  num_batches = math.ceil(math.ceil(len(full) / shard_count) / batch_size)
  filler_source = shard if num_real else full

  def example_or_padding(position: int) -> Example:
    if position < num_real:
      return {**shard[position], 'mask': np.float32(1.0)}
    return {**filler_source[0], 'mask': np.float32(0.0)}

  padded = grain.MapDataset.range(num_batches * batch_size).map(example_or_padding)
  return EvalBatches(padded.batch(batch_size), num_real, batch_size, ds.read_options)

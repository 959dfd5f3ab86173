"""grain input pipelines over a ``Dataset``: shuffled training batches and padded eval batches.

Training (``train_loader``): the examples, order and augmentation of the per-example grain pipeline ::

    train split ─ seed(seed) ─ shuffle ─ repeat(num_epochs) ─ random_map(augment)
                ─ [shard_index::shard_count] ─ batch(batch_size, drop_remainder) ─ iterator

built as one grain element per *batch* (``MapDataset.range(num_batches).map(make_batch)``), so the
iterator's whole state is one integer (``{'next_index': k}``, the same meaning as before) and a
restored iterator continues with exactly the batches the original would have produced. Batch ``k``
takes positions ``p = shard_index + shard_count · (k · batch_size + j)`` of the repeated stream:
example ``shuffled_indices(N, epoch seed)[p mod N]`` of epoch ``p // N`` (grain's shuffle, computed
for a whole epoch at once), augmented with grain's random generator for position ``p``. An
``ArraySource`` split (the offline datasets, TFDS images with ``config.data.in_memory``) gathers a batch
with one fancy index per array; other splits are read example by example. Per-example grain layers
cost ~100 µs an example (mostly grain's one-index-at-a-time shuffle), more than a small model's step.

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
import functools
import math
import sys
from collections.abc import Iterator

import grain
import numpy as np

from highway_jax.data.dataset import ArraySource, Dataset
from highway_jax.data.preprocessing import Example


def _check_int(name: str, value, minimum: int, maximum: int | None = None, why: str = '') -> None:
  if (isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < minimum
      or (maximum is not None and value > maximum)):
    bounds = f'>= {minimum}' if maximum is None else f'in [{minimum}, {maximum}]'
    raise ValueError(f'{name} must be an integer {bounds}{why}, got {value!r}.')


def _check_shard(shard_index: int, shard_count: int) -> None:
  _check_int('shard_count', shard_count, 1)
  _check_int('shard_index', shard_index, 0, shard_count - 1)


_MASK32 = 2**32 - 1


def _seed_sequence_words(seed: int, n: int) -> list[int]:
  """C++'s ``std::seed_seq{seed}.generate`` of ``n`` 32-bit words (the standard's algorithm)."""
  out = [0x8b8b8b8b] * n
  t = 11 if n >= 623 else 7 if n >= 68 else 5 if n >= 39 else 3 if n >= 7 else (n - 1) // 2
  p, q = (n - t) // 2, (n - t) // 2 + t
  mix = lambda x: x ^ (x >> 27)
  for k in range(max(2, n)):
    r1 = 1664525 * mix(out[k % n] ^ out[(k + p) % n] ^ out[(k - 1) % n]) & _MASK32
    r2 = (r1 + (1 if k == 0 else k % n + seed if k == 1 else k % n)) & _MASK32
    out[(k + p) % n] = (out[(k + p) % n] + r1) & _MASK32
    out[(k + q) % n] = (out[(k + q) % n] + r2) & _MASK32
    out[k % n] = r2
  for k in range(max(2, n), max(2, n) + n):
    r3 = 1566083941 * mix((out[k % n] + out[(k + p) % n] + out[(k - 1) % n]) & _MASK32) & _MASK32
    r4 = (r3 - k % n) & _MASK32
    out[(k + p) % n] ^= r3
    out[(k + q) % n] ^= r4
    out[k % n] = r4
  return out


def shuffled_indices(num: int, seed: int, rounds: int = 4) -> np.ndarray:
  """Grain's ``MapDataset.shuffle`` order of ``range(num)`` for one epoch seed, all at once.

  grain computes each position alone with a 2W-bit Simon cipher (2W = max(16, ceil(log2(num - 1)))
  rounded up to even; round keys from ``std::seed_seq{seed}``), re-encrypting until the value is
  < ``num`` (cycle walking), at ~70 µs a call; this is the same cipher vectorised over the epoch
  (~5 ms for 4,000 examples).
  """
  if num <= 1:
    return np.zeros(num, np.int64)
  bits = math.ceil(math.log2(num - 1))
  word = max(bits + bits % 2, 16) // 2
  half = np.uint8 if word <= 8 else np.uint16 if word <= 16 else np.uint32  # one word
  mask = half(2**word - 1)
  keys = [half(k & (2**word - 1)) for k in _seed_sequence_words(seed, rounds)]
  rotate = lambda x, r: ((x << half(r)) | (x >> half(word - r))) & mask
  simon = lambda x: (rotate(x, 1) & rotate(x, 8)) ^ rotate(x, 2)
  # Cycle walking takes up to hundreds of encryptions per index: encrypt every block value once
  # (as left and right words), then follow the cipher's cycles by pointer jumping (each pointer to a
  # value >= num jumps to that value's pointer; only such values are ever skipped).
  words = np.arange(2**word, dtype=half)
  left, right = np.repeat(words, 2**word), np.tile(words, 2**word)
  for k in range(0, rounds, 2):
    left ^= simon(right) ^ keys[k]
    right ^= simon(left) ^ keys[k + 1]
  following = (left.astype(np.intp) << word) | right
  while (following[:num] >= num).any():
    following = np.where(following >= num, following[following], following)
  # num = 2**(2W) + 1: grain truncates the last index to the block, repeating index 0's value.
  return np.resize(following, num).astype(np.int64)


def _grain_rng(rng: np.random.Generator, position: int) -> np.random.Generator:
  """``rng`` (a Philox generator) in the state grain's ``random_map`` gives element ``position``."""
  state = rng.bit_generator.state
  state['state']['counter'] = np.array([0, 0, 0, position], np.uint64)
  state.update(buffer=np.zeros(4, np.uint64), buffer_pos=4, has_uint32=0, uinteger=0)
  rng.bit_generator.state = state
  return rng


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

  split = ds.splits['train']
  num_train = len(split)
  stream_length = sys.maxsize if num_epochs is None else num_epochs * num_train
  if num_epochs is not None:
    # Equal-length shards: multi-process training must not run out on one process first.
    per_shard = stream_length // shard_count
    _check_int('batch_size', batch_size, 1, per_shard,
               f' (the training examples that {num_epochs} epoch(s) of {num_train} '
               f'give each of {shard_count} shard(s))')
    stream_length = per_shard * shard_count
  num_batches = len(range(shard_index, stream_length, shard_count)) // batch_size
  # The seeds grain derives from ``seed`` for the shuffle and the augmentation (graph depths 1, 3).
  shuffle_seed, augment_seed = (int(np.random.SeedSequence([seed, depth]).generate_state(1, np.uint32)[0])
                                for depth in (1, 3))
  permutation = functools.lru_cache(maxsize=2)(
      lambda epoch: shuffled_indices(num_train, (shuffle_seed + epoch) % 2**32))

  def make_batch(batch: int) -> Example:
    positions = shard_index + shard_count * (batch * batch_size + np.arange(batch_size))
    epochs, offsets = np.divmod(positions, num_train)  # epochs ascending
    if epochs[0] == epochs[-1]:  # most batches lie within one epoch
      indices = permutation(int(epochs[0]))[offsets]
    else:
      indices = np.concatenate([permutation(int(epoch))[offsets[epochs == epoch]]
                                for epoch in np.unique(epochs)])
    if isinstance(split, ArraySource):
      batch = split[indices]  # one fancy index per array
      if ds.augment is None:
        return batch
      examples = [{key: value[j] for key, value in batch.items()} for j in range(len(indices))]
    else:
      examples = [split[int(index)] for index in indices]
    if ds.augment is not None:
      rng = np.random.Generator(np.random.Philox(augment_seed))
      examples = [ds.augment(example, _grain_rng(rng, int(position)))
                  for example, position in zip(examples, positions)]
    return {key: np.stack([example[key] for example in examples]) for key in examples[0]}

  batches = grain.MapDataset.range(num_batches).map(make_batch)
  return iter(batches.to_iter_dataset(ds.read_options))


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

"""The training loader's batches are bit-identical to the per-example grain pipeline it replaced.

Reference: the original ``train_loader`` chain, rebuilt here from public grain calls
(``seed → shuffle → repeat → random_map → slice → batch``), and digests of batches that the original
implementation produced (recorded before the change): same examples, same order, same augmentation
random numbers, and the same meaning of the iterator state ``{'next_index': k}`` (exact resume of
checkpoints written before the change).
"""

import hashlib

import grain
import numpy as np
import pytest
import tensorflow_datasets as tfds

from highway_jax import data
from highway_jax.data.dataset import ArraySource, Dataset
from highway_jax.data.pipeline import shuffled_indices

# name -> (config.data, train_loader arguments, a batch index to resume from that crosses an epoch)
CASES = {
    'digits': ({'name': 'digits'}, dict(batch_size=32, seed=3), 44),
    'digits_augment': ({'name': 'digits', 'augment': True, 'augment_padding': 2},
                       dict(batch_size=16, seed=1), 89),
    'mnist1d_sharded': ({'name': 'mnist1d', 'num_train': 400, 'num_test': 100},
                        dict(batch_size=20, seed=5, num_epochs=3, shard_index=1, shard_count=3), 6),
}
# Digests of batches 0, 1 and resume, resume + 1, from the per-example grain pipeline (grain 0.2.18).
DIGESTS = {
    'digits': (['932542c50cadcf0e', '592c33ef637889d3'], ['cbfb0bc056de5128', 'a76e1012dd6ca994']),
    'digits_augment': (['911aa186d5d950c9', 'a6cd910f31ba492d'],
                       ['d7214b095d04331f', '178ff9d914ffb02d']),
    'mnist1d_sharded': (['11b10fc1b4785bf5', 'bff983aae6bcac06'],
                        ['680987a2c0effee1', 'e2c29b1a028d39d0']),
}


def digest(batch):
  sha = hashlib.sha256()
  for key in sorted(batch):
    array = np.ascontiguousarray(batch[key])
    sha.update(f'{key}{array.dtype}{array.shape}'.encode())
    sha.update(array.tobytes())
  return sha.hexdigest()[:16]


def first_batches(ds, resume, **kwargs):
  """Batches 0, 1 of a fresh iterator and ``resume``, ``resume + 1`` of one restored there."""
  it = data.train_loader(ds, **kwargs)
  first = [next(it) for _ in range(2)]
  it = data.train_loader(ds, **kwargs)
  it.set_state({'next_index': resume})
  return first, [next(it) for _ in range(2)]


@pytest.mark.parametrize('name', list(CASES))
def test_batches_match_the_recorded_per_example_pipeline(name):
  config, kwargs, resume = CASES[name]
  first, resumed = first_batches(data.load(config), resume, **kwargs)
  assert ([digest(b) for b in first], [digest(b) for b in resumed]) == DIGESTS[name]


def per_example_loader(ds, *, batch_size, seed, num_epochs=None, shard_index=0, shard_count=1):
  """The original ``train_loader``: one grain element per example (the independent reference)."""
  stream = ds.splits['train'].seed(seed).shuffle().repeat(num_epochs)
  if ds.augment is not None:
    stream = stream.random_map(ds.augment)
  if num_epochs is not None:
    stream = stream[:len(stream) // shard_count * shard_count]
  return stream[shard_index::shard_count].batch(batch_size, drop_remainder=True)


def toy(num_train, lengths=False, wrapped=False):
  """Examples that are their index (plus a 'length'); ``wrapped``: the split behind
  ``grain.MapDataset.source``, so the loader reads example by example instead of gathering."""
  ids = np.arange(num_train, dtype=np.int32)
  arrays = {'inputs': np.stack([ids, -ids], 1), 'label': ids % 3,
            **({'length': ids % 5 + 1} if lengths else {})}
  split = grain.MapDataset.source(ArraySource(arrays)) if wrapped else ArraySource(arrays)
  return Dataset(name='toy', num_classes=3, input_shape=(2,), input_dtype=np.dtype(np.int32),
                 label_shape=(), vocab_size=None, splits={'train': split, 'test': split},
                 num_examples={'train': num_train, 'test': num_train})


@pytest.mark.parametrize('ds, kwargs', [
    (toy(37), dict(batch_size=5, seed=0)),
    (toy(37, lengths=True, wrapped=True), dict(batch_size=4, seed=2**32 - 1, num_epochs=2,
                                               shard_index=2, shard_count=3)),
    (toy(1), dict(batch_size=3, seed=9)),
    (toy(70_001), dict(batch_size=512, seed=11)),   # an 18-bit cipher block
])
def test_batches_match_the_per_example_pipeline(ds, kwargs):
  reference = per_example_loader(ds, **kwargs)
  loader = data.train_loader(ds, **kwargs)
  count = min(len(reference), 20)
  for index in range(count):
    batch, expected = next(loader), reference[index]
    assert batch.keys() == expected.keys()
    for key in batch:
      assert batch[key].dtype == expected[key].dtype
      np.testing.assert_array_equal(batch[key], expected[key])
  if count == len(reference):
    with pytest.raises(StopIteration):
      next(loader)


@pytest.mark.parametrize('num, seed', [(2, 0), (1437, 3), (65_536, 5), (65_537, 7), (70_001, 8)])
def test_shuffled_indices_is_grains_shuffle(num, seed):
  ours = shuffled_indices(num, seed)
  if num == 2**16 + 1:   # grain's 16-bit block truncates the last index to 0: a repeat
    assert ours[-1] == ours[0] and len(set(ours)) == num - 1
  else:
    np.testing.assert_array_equal(np.sort(ours), np.arange(num))
  grains = grain.MapDataset.range(num).shuffle(seed=seed)
  positions = np.linspace(0, num - 1, min(num, 300)).astype(int)   # grain: ~70 µs an index
  np.testing.assert_array_equal(ours[positions], [grains[int(p)] for p in positions])


def test_tfds_image_path_matches_the_per_example_pipeline():
  with tfds.testing.mock_data(num_examples=40):
    ds = data.load({'name': 'cifar10', 'normalize': 'gcn', 'augment': True})
    kwargs = dict(batch_size=8, seed=4)
    reference = per_example_loader(ds, **kwargs)
    loader = data.train_loader(ds, **kwargs)
    for index in range(6):
      batch = next(loader)
      for key in batch:
        np.testing.assert_array_equal(batch[key], reference[index][key])

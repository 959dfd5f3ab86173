"""The training loader's batches are bit-identical to the per-example grain pipeline it replaced.

Reference: the original ``train_loader`` chain, rebuilt here from public grain calls
(``seed → shuffle → repeat → random_map → slice → batch``), and digests of batches that the original
implementation produced (recorded before the change): same examples, same order, same augmentation
random numbers, and the same meaning of the iterator state ``{'next_index': k}`` (exact resume of
checkpoints written before the change).
"""

import hashlib

import numpy as np
import pytest

from highway_jax import data

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

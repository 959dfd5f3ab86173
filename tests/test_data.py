"""Input pipelines: contents against independent references, determinism, resumption, sharding,
padding masks, augmentation, and the offline failure path."""

import dataclasses
import itertools
import math
import random
import time

import grain
import numpy as np
import orbax.checkpoint as ocp
import pytest
import tensorflow_datasets as tfds

from highway_jax import data
from highway_jax.data import algorithmic, preprocessing, text, tfds_sources
from highway_jax.data.dataset import ArraySource, Dataset

# Published training-set statistics, typed independently of the library.
MNIST_MEAN, MNIST_STD = 0.1307, 0.3081
CIFAR10_MEAN = np.array([0.4914, 0.4822, 0.4465], np.float32)
CIFAR10_STD = np.array([0.2470, 0.2435, 0.2616], np.float32)
OPTIONS = grain.ReadOptions(num_threads=2, prefetch_buffer_size=2)


def toy_dataset(num_train=20, num_test=23):
  """Examples whose 'inputs' is their own index, to track order and coverage."""
  def split(n, offset):
    ids = np.arange(offset, offset + n, dtype=np.int32)
    return grain.MapDataset.source(ArraySource({'inputs': ids, 'label': ids % 2}))
  return Dataset(name='toy', num_classes=2, input_shape=(), input_dtype=np.dtype(np.int32),
                 label_shape=(), vocab_size=None,
                 splits={'train': split(num_train, 0), 'test': split(num_test, 1000)},
                 num_examples={'train': num_train, 'test': num_test}, read_options=OPTIONS)


def take(iterator, n):
  return [next(iterator) for _ in range(n)]


def assert_batches_equal(a, b):
  assert len(a) == len(b)
  for x, y in zip(a, b):
    assert x.keys() == y.keys()
    for key in x:
      np.testing.assert_array_equal(x[key], y[key])


@pytest.fixture(scope='module')
def digits():
  return data.load({'name': 'digits', 'normalize': 'none'})


@pytest.fixture(scope='module')
def digits_images():
  from sklearn.datasets import load_digits
  bunch = load_digits()
  return bunch.images.astype(np.float32) / 16.0, bunch.target


# ------------------------------------------------------------------ offline datasets


def test_digits_split_and_values(digits, digits_images):
  images, targets = digits_images
  assert digits.num_examples == {'train': 1437, 'test': 360}
  assert (digits.input_shape, digits.input_dtype, digits.label_shape) == ((8, 8, 1), np.float32, ())
  order = np.random.default_rng(0).permutation(len(targets))
  for split, rows in (('test', order[:360]), ('train', order[360:])):
    for position in (0, 7, len(rows) - 1):
      example = digits.splits[split][position]
      np.testing.assert_array_equal(example['inputs'][..., 0], images[rows[position]])
      assert example['label'] == targets[rows[position]] and example['label'].dtype == np.int32


def test_digits_per_channel_normalisation_and_validation(digits_images):
  ds = data.load({'name': 'digits', 'validation_fraction': 0.1})
  assert ds.num_examples == {'train': 1293, 'validation': 144, 'test': 360}
  images, _ = digits_images
  order = np.random.default_rng(0).permutation(len(images))
  train_raw = images[order[360:360 + 1293]]
  mean, std = train_raw.mean(), train_raw.std()
  np.testing.assert_allclose(ds.metadata['normalize_mean'], [mean], rtol=1e-5)
  expected = (images[order[360 + 1293]] - mean) / std   # first validation example
  np.testing.assert_allclose(ds.splits['validation'][0]['inputs'][..., 0], expected, atol=1e-5)


def test_mnist1d_is_the_published_split_and_keeps_global_rng():
  """Train and test are the published 4,000/1,000 (unchanged by the validation split, which is
  generated apart with the next seed)."""
  from mnist1d.data import get_dataset_args, make_dataset
  random.seed(5)
  np.random.seed(5)
  before = (random.random(), np.random.rand())
  random.seed(5)
  np.random.seed(5)
  ds = data.load({'name': 'mnist1d', 'normalize': 'none'})
  assert (random.random(), np.random.rand()) == before
  assert ds.num_examples == {'train': 4000, 'test': 1000, 'validation': 1000}
  assert ds.input_shape == (40, 1) and ds.num_classes == 10
  reference = make_dataset(get_dataset_args())
  args = get_dataset_args()
  args.seed, args.num_samples = 43, 1000
  validation = make_dataset(args)  # its 'x' (800) and 'x_test' (200) together
  for split, x, y in (('train', reference['x'], reference['y']),
                      ('test', reference['x_test'], reference['y_test']),
                      ('validation', np.concatenate([validation['x'], validation['x_test']]),
                       np.concatenate([validation['y'], validation['y_test']]))):
    for i in (0, 999):
      example = ds.splits[split][i]
      np.testing.assert_allclose(example['inputs'][:, 0], x[i], rtol=1e-6)
      assert example['label'] == y[i]
  labels = [int(ds.splits['validation'][i]['label']) for i in range(1000)]
  assert np.bincount(labels).tolist() == [100] * 10  # like test: balanced classes


@pytest.mark.parametrize('name, make, kwargs', [
    ('parity', algorithmic.make_parity, {'bits': 5}),
    ('addition', algorithmic.make_addition, {'digits': 3}),
])
def test_algorithmic_tasks(name, make, kwargs):
  """Train and test as before the validation split existed; validation drawn like test (seed + 2)."""
  cfg = {'name': name, 'num_train': 50, 'num_test': 20, 'num_validation': 30, 'data_seed': 3,
         'parity_bits': 5, 'addition_digits': 3}
  ds = data.load(cfg)
  train, test = make(50, seed=3, **kwargs), make(20, seed=4, **kwargs)
  assert ds.num_examples == {'train': 50, 'test': 20, 'validation': 30}
  for split, reference in (('train', train), ('test', test), ('validation', make(30, seed=5, **kwargs))):
    for i in (0, 19):
      np.testing.assert_array_equal(ds.splits[split][i]['inputs'], reference['inputs'][i])
      np.testing.assert_array_equal(ds.splits[split][i]['label'], reference['label'][i])
  assert ds.label_shape == reference['label'].shape[1:]
  if name == 'addition':
    assert (ds.num_classes, ds.vocab_size, ds.label_shape) == (10, 13, (4,))


def test_parity_validation_strings_are_uniform_like_test():
  """With 'random' training density, validation and test strings stay uniform: their number of ones
  is Binomial(8, 1/2) (variance 2), the training strings' is uniform on 0..8 (variance 20/3)."""
  ds = data.load({'name': 'parity', 'parity_bits': 8, 'parity_train_density': 'random',
                  'num_train': 1000, 'num_test': 1000, 'data_seed': 1})
  ones = {split: np.stack([ds.splits[split][i]['inputs'] for i in range(1000)]).sum(axis=1)
          for split in ('train', 'validation', 'test')}
  assert abs(ones['validation'].var() - 2) < 0.4 and abs(ones['test'].var() - 2) < 0.4
  assert ones['train'].var() > 5
  np.testing.assert_array_equal(ones['validation'], algorithmic.make_parity(1000, 8, seed=3)['inputs'].sum(1))


# ------------------------------------------------------------------ TFDS under mock data


def test_tfds_images_under_mock(tmp_path):
  with tfds.testing.mock_data(num_examples=12):
    mnist = data.load({'name': 'mnist', 'data_dir': str(tmp_path)})
    raw = tfds.data_source('mnist', split='test')
    cifar = data.load({'name': 'cifar10', 'normalize': 'gcn'})
    raw_cifar = tfds.data_source('cifar10', split='train')
    assert mnist.num_examples == {'train': 12, 'test': 12}
    assert (mnist.input_shape, mnist.input_dtype, mnist.num_classes) == ((28, 28, 1), np.float32, 10)
    expected = (raw[5]['image'].astype(np.float32) / 255 - MNIST_MEAN) / MNIST_STD
    np.testing.assert_allclose(mnist.splits['test'][5]['inputs'], expected, atol=1e-5)
    assert mnist.splits['test'][5]['label'] == raw[5]['label']
    x = raw_cifar[3]['image'].astype(np.float32) / 255
    expected = (x - x.mean()) / np.sqrt(((x - x.mean()) ** 2).mean() + 1e-8)
    np.testing.assert_allclose(cifar.splits['train'][3]['inputs'], expected, atol=1e-4)
    batch = next(data.train_loader(cifar, batch_size=4, seed=0))
    assert batch['inputs'].shape == (4, 32, 32, 3) and batch['label'].dtype == np.int32
  np.testing.assert_allclose(preprocessing.normalize(np.ones((2, 1, 3)), 'per_channel',
                                                     mean=CIFAR10_MEAN, std=CIFAR10_STD)[1, 0],
                             (1 - CIFAR10_MEAN) / CIFAR10_STD, rtol=1e-6)


def test_tfds_images_in_memory_equal_the_per_example_path():
  # config.data.in_memory: the same examples and training batches (augmented) as reading them one by one.
  config = {'name': 'cifar10', 'normalize': 'gcn', 'validation_fraction': 0.25, 'augment': True}
  with tfds.testing.mock_data(num_examples=16):
    streamed = data.load(config)
    loaded = data.load({**config, 'in_memory': True})
    assert isinstance(loaded.splits['train'], data.ArraySource)
    assert not isinstance(streamed.splits['train'], data.ArraySource)
    assert loaded.num_examples == streamed.num_examples == {'train': 12, 'test': 16, 'validation': 4}
    for split, size in loaded.num_examples.items():
      for i in range(size):
        want, got = streamed.splits[split][i], loaded.splits[split][i]
        np.testing.assert_allclose(got['inputs'], want['inputs'], rtol=0, atol=1e-6)
        assert got['inputs'].dtype == np.float32 and got['label'] == want['label']
    for want, got in zip(itertools.islice(data.train_loader(streamed, batch_size=5, seed=3), 4),
                         itertools.islice(data.train_loader(loaded, batch_size=5, seed=3), 4)):
      np.testing.assert_allclose(got['inputs'], want['inputs'], rtol=0, atol=1e-6)
      np.testing.assert_array_equal(got['label'], want['label'])
    with pytest.raises(ValueError, match=r"config.data.in_memory=True is for the image datasets; 'imdb_reviews'"):
      data.load({'name': 'imdb_reviews', 'in_memory': True})


def test_tfds_text_vocabulary_built_cached_and_reused(tmp_path, monkeypatch):
  with tfds.testing.mock_data(num_examples=16):
    ds = data.load({'name': 'imdb_reviews', 'max_length': 6, 'vocab_size': 40}, workdir=tmp_path)
    raw_train = tfds.data_source('imdb_reviews', split='train')
    raw_test = tfds.data_source('imdb_reviews', split='test')
    path = tmp_path / 'vocab_imdb_reviews_40.txt'
    assert path.exists()
    # Reference vocabulary: mock texts are lowercase letters and spaces.
    counts = {}
    for i in range(16):
      for word in raw_train[i]['text'].split():
        counts[word] = counts.get(word, 0) + 1
    ranked = sorted(counts, key=lambda w: (-counts[w], w))[:38]
    assert path.read_text().split('\n')[:-1] == ['<pad>', '<unk>'] + ranked
    assert ds.vocab_size == len(ranked) + 2 and ds.input_shape == (6,)
    ids = {w: i + 2 for i, w in enumerate(ranked)}
    for i in (0, 9):
      words = raw_test[i]['text'].split()
      expected = np.zeros(6, np.int32)
      expected[:min(6, len(words))] = [ids.get(w, 1) for w in words[:6]]
      example = ds.splits['test'][i]
      np.testing.assert_array_equal(example['inputs'], expected)
      assert example['length'] == min(6, len(words)) and example['label'] == raw_test[i]['label']
    batch = next(data.train_loader(ds, batch_size=4, seed=0))
    assert set(batch) == {'inputs', 'label', 'length'} and batch['length'].shape == (4,)
    sst2 = data.load({'name': 'glue/sst2', 'max_length': 6, 'vocab_size': 40}, workdir=tmp_path)
    assert sst2.metadata['tfds_splits']['test'] == 'validation'  # GLUE's test has no labels
    assert (tmp_path / 'vocab_glue_sst2_40.txt').exists()

    def no_rebuild(*args, **kwargs):
      raise AssertionError('the cached vocabulary should have been reused')
    monkeypatch.setattr(text.Vocabulary, 'build', no_rebuild)
    again = data.load({'name': 'imdb_reviews', 'max_length': 6, 'vocab_size': 40},
                      workdir=tmp_path)
    assert again.metadata['vocabulary'] == ds.metadata['vocabulary']


def test_tokenizer_and_vocabulary():
  assert text.tokenize(b"It's GREAT!<br />Really.") == ["it's", 'great', '!', 'really', '.']
  vocab = text.Vocabulary.build(['b a', 'c b a', 'd'], vocab_size=4)
  assert vocab.tokens == ('<pad>', '<unk>', 'a', 'b')      # ties broken alphabetically
  encoded = vocab.encode('a z b a b', max_length=4)
  np.testing.assert_array_equal(encoded['inputs'], [2, 1, 3, 2])
  assert encoded['length'] == 4


# ------------------------------------------------------------------ train_loader


def test_train_loader_deterministic_and_reshuffled_each_epoch():
  ds = toy_dataset(num_train=20)
  order = lambda seed: np.concatenate(
      [b['inputs'] for b in data.train_loader(ds, batch_size=5, seed=seed, num_epochs=2)])
  first, again, other = order(0), order(0), order(1)
  np.testing.assert_array_equal(first, again)
  assert not np.array_equal(first, other)
  epoch1, epoch2 = first[:20], first[20:]
  np.testing.assert_array_equal(np.sort(epoch1), np.arange(20))
  np.testing.assert_array_equal(np.sort(epoch2), np.arange(20))
  assert not np.array_equal(epoch1, epoch2)
  assert len(first) == 40


def test_train_loader_shards_partition_each_epoch():
  ds = toy_dataset(num_train=21)
  shards = [np.concatenate([b['inputs'] for b in data.train_loader(
      ds, batch_size=5, seed=3, num_epochs=1, shard_index=k, shard_count=2)]) for k in (0, 1)]
  assert len(shards[0]) == len(shards[1]) == 10          # equal batches per shard
  assert not set(shards[0]) & set(shards[1])
  single = np.concatenate([b['inputs'] for b in data.train_loader(ds, batch_size=1, seed=3,
                                                                   num_epochs=1)])
  np.testing.assert_array_equal(shards[0], single[0:20:2])   # shard k = stream[k::2]
  np.testing.assert_array_equal(shards[1], single[1:20:2])


def test_iterator_state_resumes_exactly(digits):
  ds = data.load({'name': 'digits', 'augment': True, 'augment_padding': 2})
  iterator = data.train_loader(ds, batch_size=16, seed=7)
  take(iterator, 3)
  state = iterator.get_state()
  expected = take(iterator, 4)
  resumed = data.train_loader(ds, batch_size=16, seed=7)
  resumed.set_state(state)
  assert_batches_equal(take(resumed, 4), expected)


def test_iterator_resumes_through_orbax(tmp_path):
  ds = toy_dataset(num_train=30)
  iterator = data.train_loader(ds, batch_size=4, seed=2)
  take(iterator, 5)
  manager = ocp.CheckpointManager(tmp_path / 'ckpt', item_names=('state', 'data'))
  manager.save(5, args=ocp.args.Composite(
      state=ocp.args.StandardSave({'w': np.arange(3.0)}),
      data=grain.checkpoint.CheckpointSave(iterator)))
  expected = take(iterator, 6)   # advancing right after save must not change what was saved
  manager.wait_until_finished()
  manager.close()

  manager = ocp.CheckpointManager(tmp_path / 'ckpt', item_names=('state', 'data'))
  fresh = data.train_loader(ds, batch_size=4, seed=2)
  restored = manager.restore(manager.latest_step(), args=ocp.args.Composite(
      state=ocp.args.StandardRestore({'w': np.zeros(3)}),
      data=grain.checkpoint.CheckpointRestore(fresh)))
  manager.close()
  np.testing.assert_array_equal(restored['state']['w'], np.arange(3.0))
  assert_batches_equal(take(restored['data'], 6), expected)


# ------------------------------------------------------------------ eval_batches


@pytest.mark.parametrize('shard_count', [1, 2])
def test_eval_batches_cover_every_example_once(shard_count):
  ds = toy_dataset(num_test=23)
  seen, batch_counts = [], []
  for k in range(shard_count):
    batches = data.eval_batches(ds, 'test', batch_size=5, shard_index=k, shard_count=shard_count)
    listed = list(batches)
    batch_counts.append(len(listed))
    assert len(listed) == len(batches)
    for batch in listed:
      assert batch['mask'].dtype == np.float32 and batch['inputs'].shape == (5,)
      seen.extend(batch['inputs'][batch['mask'] == 1])
      assert set(batch['mask']) <= {0.0, 1.0}
    assert sum(b['mask'].sum() for b in listed) == batches.num_examples
  np.testing.assert_array_equal(np.sort(seen), np.arange(1000, 1023))
  assert len(set(batch_counts)) == 1                        # same number on every shard
  assert batch_counts[0] == math.ceil(math.ceil(23 / shard_count) / 5)


# ------------------------------------------------------------------ augmentation


def test_augmentation_deterministic_and_a_padded_crop(digits):
  augmented = data.load({'name': 'digits', 'normalize': 'none', 'augment': True,
                         'augment_padding': 2})
  plain = data.train_loader(digits, batch_size=32, seed=4)
  first = data.train_loader(augmented, batch_size=32, seed=4)
  second = data.train_loader(augmented, batch_size=32, seed=4)
  a, b, c = next(plain), next(first), next(second)
  assert_batches_equal([b], [c])
  np.testing.assert_array_equal(a['label'], b['label'])     # same order, only images differ
  assert np.mean([not np.array_equal(x, y) for x, y in zip(a['inputs'], b['inputs'])]) > 0.5
  for original, result in zip(a['inputs'], b['inputs']):
    padded = np.pad(original, ((2, 2), (2, 2), (0, 0)))
    candidates = [crop[:, ::-1] if flip else crop
                  for top in range(5) for left in range(5) for flip in (False, True)
                  for crop in [padded[top:top + 8, left:left + 8]]]
    assert any(np.array_equal(result, candidate) for candidate in candidates)


def test_reader_threads_default_to_none_for_in_memory_splits(digits):
  assert digits.read_options.num_threads == 0
  assert data.load({'name': 'digits', 'num_threads': 2}).read_options.num_threads == 2
  assert data.load({'name': 'digits', 'augment': True}).read_options.num_threads == 0
  with tfds.testing.mock_data(num_examples=4):
    assert data.load({'name': 'cifar10'}).read_options.num_threads == 4  # read example by example
    assert data.load({'name': 'cifar10', 'in_memory': True}).read_options.num_threads == 0
  # The batches are the same whatever the threads.
  batches = [list(itertools.islice(data.train_loader(dataclasses.replace(
      digits, read_options=grain.ReadOptions(num_threads=threads, prefetch_buffer_size=2)), batch_size=64, seed=1), 25))
             for threads in (0, 3)]
  assert_batches_equal(*batches)


def test_crop_flip_is_the_window_of_the_zero_padded_image_with_the_same_draws():
  # The definition (pad, crop at two draws, then mirror at a third), down to the generator's state after.
  def reference(image, rng, padding, flip):
    height, width = image.shape[:2]
    if padding:
      top, left = rng.integers(0, 2 * padding + 1, size=2)
      image = np.pad(image, ((padding, padding), (padding, padding), (0, 0)))[top:top + height, left:left + width]
    return image[:, ::-1] if flip and rng.random() < 0.5 else image

  for padding, flip, shape in ((0, True, (5, 7)), (2, False, (8, 8)), (8, True, (32, 32, 3)), (9, True, (8, 6, 2)),
                               (3, True, (1, 1, 1))):
    augment = preprocessing.make_crop_flip(padding, flip)
    for seed in range(25):
      image = np.random.default_rng(seed).normal(size=shape if len(shape) == 3 else (*shape, 3))
      image = image.astype(np.float32)
      want_rng, got_rng = np.random.default_rng(seed), np.random.default_rng(seed)
      want = reference(image, want_rng, padding, flip)
      got = augment({'inputs': image, 'label': np.int32(1)}, got_rng)
      np.testing.assert_array_equal(got['inputs'], want)
      assert got['inputs'].dtype == np.float32 and got['inputs'].flags.c_contiguous and got['label'] == 1
      assert got_rng.random() == want_rng.random()


# ------------------------------------------------------------------ errors


def test_unknown_name_and_bad_keys():
  with pytest.raises(ValueError, match=r"config\.data\.name='svhn'") as error:
    data.load({'name': 'svhn'})
  for name in data.DATASET_NAMES:
    assert name in str(error.value)
  with pytest.raises(ValueError, match=r'config\.data\.colour'):
    data.load({'name': 'digits', 'colour': True})
  with pytest.raises(ValueError, match=r'config\.data\.normalize'):
    data.load({'name': 'digits', 'normalize': 'zca'})
  with pytest.raises(ValueError, match=r'config\.data\.augment'):
    data.load({'name': 'mnist1d', 'augment': True})
  with pytest.raises(ValueError, match=r'config\.data\.max_length'):
    data.load({'name': 'imdb_reviews', 'max_length': 2.5})
  with pytest.raises(ValueError, match='batch_size'):
    data.train_loader(toy_dataset(), batch_size=0, seed=0)


@pytest.mark.parametrize('config, match', [
    ({'name': 'parity', 'parity_bits': 0}, r'config\.data\.parity_bits=0 must be >= 1\.'),
    ({'name': 'addition', 'num_train': -1}, r'config\.data\.num_train=-1 must be >= 1\.'),
    ({'name': 'addition', 'addition_digits': 2.5},
     r'config\.data\.addition_digits=2\.5 has type float; expected int\.'),
    ({'name': 'memorization', 'memorization_symbols': 1},
     r'config\.data\.memorization_symbols=1 must be >= 2\.'),
    ({'name': 'parity', 'parity_train_density': 'dense'},
     r"config\.data\.parity_train_density='dense' is not one of 'half', 'random'\."),
    ({'name': 'digits', 'augment': True, 'augment_padding': -1},
     r'config\.data\.augment_padding=-1 must be >= 0\.'),
    ({'name': 'imdb_reviews', 'vocab_size': 2}, r'config\.data\.vocab_size=2 must be >= 3\.'),
    ({'name': 'digits', 'validation_fraction': 1.0},
     r'config\.data\.validation_fraction=1\.0 leaves no training or no held-out examples out of 1437\.'),
    ({'name': 'digits', 'test_fraction': 0}, r'config\.data\.test_fraction=0 leaves no training'),
    ({'name': 'mnist1d', 'num_train': 4000, 'num_test': 5},
     r'config\.data\.num_train \+ num_test and num_validation must be multiples of 10 for mnist1d '
     r'.* got 4000 \+ 5, 5\.'),
    ({'name': 'mnist1d', 'num_validation': 15}, r'must be multiples of 10 .* got 4000 \+ 1000, 15\.'),
    ({'name': 'parity', 'validation_fraction': 0.1},
     r"config\.data\.validation_fraction is for digits and TFDS; 'parity' generates its own "
     r'validation split: set config\.data\.num_validation instead\.'),
])
def test_config_mistakes_are_one_line_naming_the_key(config, match):
  with pytest.raises(ValueError, match=match) as error:
    data.load(config)
  assert '\n' not in str(error.value)


def test_loader_argument_mistakes():
  ds = toy_dataset(num_train=20)
  with pytest.raises(ValueError, match=r'seed must be an integer in \[0, 4294967295\], got -1\.'):
    data.train_loader(ds, batch_size=4, seed=-1)
  with pytest.raises(ValueError, match=r'shard_index must be an integer in \[0, 1\], got 2\.'):
    data.train_loader(ds, batch_size=4, seed=0, shard_index=2, shard_count=2)
  with pytest.raises(ValueError, match=r'batch_size must be an integer in \[1, 10\] \(the training '
                     r'examples that 1 epoch\(s\) of 20 give each of 2 shard\(s\)\), got 11\.'):
    data.train_loader(ds, batch_size=11, seed=0, num_epochs=1, shard_count=2)
  with pytest.raises(ValueError, match=r"split must be one of the non-empty splits of 'toy', "
                     r"\['test', 'train'\], got 'validation'\."):
    data.eval_batches(ds, 'validation', batch_size=4)
  with pytest.raises(ValueError, match=r'arrays must all have the same length'):
    ArraySource({'inputs': np.zeros(2), 'label': np.zeros(3)})


def test_bad_vocabulary_file_is_named(tmp_path):
  path = tmp_path / 'vocab.txt'
  for contents in ('a\nb\n', '<pad>\n<unk>\na\na\n', '<pad>\n<unk>\na\nb\n'):
    path.write_text(contents)
    with pytest.raises(ValueError, match=rf'Vocabulary file {path} is corrupt or has more than '
                       r'config\.data\.vocab_size=3 tokens; delete it'):
      text.load_or_build_vocabulary(None, vocab_size=3, path=str(path))
  path.write_text('<pad>\n<unk>\nfilm\n')
  assert text.load_or_build_vocabulary(None, vocab_size=3, path=str(path)).tokens == (
      '<pad>', '<unk>', 'film')


def test_offline_tfds_fails_fast_with_guidance(tmp_path, monkeypatch):
  probed = []
  monkeypatch.setattr(tfds_sources, 'can_download', lambda url: probed.append(url) or False)
  start = time.monotonic()
  with pytest.raises(data.DatasetUnavailableError) as error:
    data.load({'name': 'cifar10', 'data_dir': str(tmp_path / 'empty')})
  assert time.monotonic() - start < 5
  assert isinstance(error.value, RuntimeError)
  message = str(error.value)
  for needed in ('could not be downloaded', 'configs/digits_highway.py', 'configs/mnist1d_gru.py',
                 '--config.data.data_dir', str(tmp_path / 'empty')):
    assert needed in message
  assert probed == ['https://www.cs.toronto.edu/~kriz/cifar-10-binary.tar.gz']

  monkeypatch.setattr(tfds_sources, 'can_download', lambda url: True)
  monkeypatch.setattr(tfds_sources, '_tensorflow_importable', lambda: False)
  with pytest.raises(data.DatasetUnavailableError, match=r'pip install -e "\.\[tf\]"'):
    data.load({'name': 'glue/sst2', 'data_dir': str(tmp_path / 'empty')})

  def tfrecord_only(*args, **kwargs):
    raise NotImplementedError('no random access')
  with tfds.testing.mock_data(num_examples=4), monkeypatch.context() as patch:
    patch.setattr(tfds, 'data_source', tfrecord_only)  # undone before mock_data's own patches
    with pytest.raises(data.DatasetUnavailableError, match=r"TFDS dataset 'mnist' in the default TFDS "
                       r'directory is not stored in a random-access format; prepare it with '
                       r'file_format=array_record'):
      data.load({'name': 'mnist'})


def test_download_probe_is_false_for_unresolvable_host():
  start = time.monotonic()
  assert not tfds_sources.can_download('http://no-such-host.invalid/file', timeout=1.0)
  assert time.monotonic() - start < 3

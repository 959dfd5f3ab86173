"""Offline datasets: scikit-learn's 8×8 digits, MNIST-1D, and the algorithmic tasks.

None of these touches the network. All are held in memory as NumPy arrays.

``'digits'`` (``sklearn.datasets.load_digits``, 1,797 images)
    inputs float32 (8, 8, 1): pixel values 0–16 scaled to [0, 1], then ``config.data.normalize``
    (``'per_channel'`` uses the training split's mean and std). label int32 (), 10 classes.
    Test split: a ``test_fraction`` share (rounded up; 0.2 → 360 test, 1,437 train) chosen by a
    permutation from ``np.random.default_rng(data_seed)`` (default seed 0).

``'mnist1d'`` (Greydanus 2020; ``mnist1d.data.make_dataset``, never ``get_dataset``, which downloads)
    inputs float32 (40, 1), label int32 (), 10 classes. ``num_train``/``num_test`` default to the
    published 4,000/1,000 and ``data_seed`` to the package's 42, which reproduces the published
    split exactly: the first ``num_train`` generated sequences train, the rest test. The package
    already standardises the whole set; ``normalize`` is applied on top (``'per_channel'`` is then
    almost the identity).

``'parity'``, ``'addition'``, ``'memorization'`` (``highway_jax.data.algorithmic``)
    Generated with ``seed = data_seed`` (default 0) for train and ``data_seed + 1`` for test, so the
    splits are independent draws (they may share examples when the input space is small).
    ``num_train``/``num_test`` default to 10,000/1,000.

    ============  ===========================  ==================  =======  ===========
    name          inputs                       label               classes  vocab_size
    ============  ===========================  ==================  =======  ===========
    parity        float32 (bits,) of 0/1       int32 ()            2        None
    addition      int32 (3·digits + 3,) ids    int32 (digits + 1,) 10       13
    memorization  int32 (2·length + 1,) ids    int32 (length,)     symbols  symbols + 2
    ============  ===========================  ==================  =======  ===========

    (``symbols`` = ``memorization_symbols``; ``normalize`` is not applied to these tasks.)

``validation_fraction`` > 0 moves the last share of the training examples into ``'validation'``.

Example::

    cfg = data.default_config(); cfg.name = 'digits'
    ds = load_digits(cfg)          # via data.load(cfg)
    ds.num_examples                # {'train': 1437, 'test': 360}
"""

from __future__ import annotations

import functools
import math
import random

import grain
import ml_collections
import numpy as np

from highway_jax.data import preprocessing
from highway_jax.data.dataset import ArraySource, Dataset, split_off, validation_count

MNIST1D_DEFAULT_SEED = 42
MNIST1D_DEFAULT_SIZES = (4000, 1000)
ALGORITHMIC_DEFAULT_SIZES = (10_000, 1_000)


def _read_options(cfg: ml_collections.ConfigDict) -> grain.ReadOptions:
  return grain.ReadOptions(num_threads=cfg.num_threads,
                           prefetch_buffer_size=cfg.prefetch_buffer_size)


def from_arrays(cfg: ml_collections.ConfigDict, *, train: dict[str, np.ndarray],
                test: dict[str, np.ndarray], num_classes: int, vocab_size: int | None = None,
                normalize: bool = False, image: bool = False, metadata=None) -> Dataset:
  """Builds a ``Dataset`` from in-memory train/test arrays ('inputs', 'label', ...).

  Carves ``'validation'`` off the end of ``train``, normalises real-valued inputs with the
  training split's statistics if ``normalize``, and sets up augmentation if ``image``.
  """
  metadata = dict(metadata or {})
  splits = {'train': train, 'test': test}
  count = validation_count(len(train['label']), cfg.validation_fraction)
  if count:
    splits['train'], splits['validation'] = split_off(train, count)
  if normalize:
    mean = std = None
    if cfg.normalize == 'per_channel':
      mean, std = preprocessing.channel_statistics(splits['train']['inputs'])
      metadata.update(normalize_mean=mean, normalize_std=std)
    example_ndim = splits['train']['inputs'].ndim - 1
    splits = {name: {**arrays, 'inputs': preprocessing.normalize(
        arrays['inputs'], cfg.normalize, mean=mean, std=std, example_ndim=example_ndim)}
              for name, arrays in splits.items()}
  first = {key: value[0] for key, value in splits['train'].items()}
  return Dataset(
      name=cfg.name,
      num_classes=num_classes,
      input_shape=tuple(first['inputs'].shape),
      input_dtype=first['inputs'].dtype,
      label_shape=tuple(first['label'].shape),
      vocab_size=vocab_size,
      splits={name: grain.MapDataset.source(ArraySource(arrays))
              for name, arrays in splits.items()},
      num_examples={name: len(arrays['label']) for name, arrays in splits.items()},
      augment=(preprocessing.make_crop_flip(cfg.augment_padding, cfg.augment_flip)
               if image and cfg.augment else None),
      read_options=_read_options(cfg),
      metadata=metadata)


def load_digits(cfg: ml_collections.ConfigDict) -> Dataset:
  """scikit-learn's bundled 8×8 digits (see the module docstring)."""
  from sklearn import datasets as sklearn_datasets  # pylint: disable=g-import-not-at-top

  bunch = sklearn_datasets.load_digits()
  images = (bunch.images.astype(np.float32) / 16.0)[..., None]
  labels = bunch.target.astype(np.int32)
  seed = 0 if cfg.data_seed is None else cfg.data_seed
  order = np.random.default_rng(seed).permutation(len(labels))
  num_test = math.ceil(cfg.test_fraction * len(labels))
  if not 0 < num_test < len(labels):
    raise ValueError(f'config.data.test_fraction={cfg.test_fraction} leaves no training or no '
                     f'test examples out of {len(labels)}.')
  test_rows, train_rows = order[:num_test], order[num_test:]
  return from_arrays(
      cfg,
      train={'inputs': images[train_rows], 'label': labels[train_rows]},
      test={'inputs': images[test_rows], 'label': labels[test_rows]},
      num_classes=10, normalize=True, image=True, metadata={'split_seed': seed})


@functools.lru_cache(maxsize=4)
def _generate_mnist1d(num_samples: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
  from mnist1d import data as mnist1d_data  # pylint: disable=g-import-not-at-top

  args = mnist1d_data.get_dataset_args()
  args.num_samples = num_samples
  args.train_split = 1.0  # we split ourselves: exact sizes, no float rounding
  args.seed = seed
  # make_dataset reseeds the global `random` and `np.random` generators; restore them after.
  python_state, numpy_state = random.getstate(), np.random.get_state()
  try:
    generated = mnist1d_data.make_dataset(args)
  finally:
    random.setstate(python_state)
    np.random.set_state(numpy_state)
  inputs = generated['x'].astype(np.float32)[..., None]
  labels = generated['y'].astype(np.int32)
  inputs.flags.writeable = False
  labels.flags.writeable = False
  return inputs, labels


def load_mnist1d(cfg: ml_collections.ConfigDict) -> Dataset:
  """MNIST-1D generated locally (see the module docstring)."""
  num_train = MNIST1D_DEFAULT_SIZES[0] if cfg.num_train is None else cfg.num_train
  num_test = MNIST1D_DEFAULT_SIZES[1] if cfg.num_test is None else cfg.num_test
  seed = MNIST1D_DEFAULT_SEED if cfg.data_seed is None else cfg.data_seed
  total = num_train + num_test
  if num_train < 1 or num_test < 1 or total % 10:
    raise ValueError('config.data.num_train and num_test must be >= 1 and sum to a multiple of '
                     f'10 for mnist1d (equal examples per class), got {num_train} + {num_test}.')
  inputs, labels = _generate_mnist1d(total, seed)
  return from_arrays(
      cfg,
      train={'inputs': inputs[:num_train], 'label': labels[:num_train]},
      test={'inputs': inputs[num_train:], 'label': labels[num_train:]},
      num_classes=10, normalize=True, metadata={'generation_seed': seed})


def load_algorithmic(cfg: ml_collections.ConfigDict) -> Dataset:
  """'parity', 'addition' or 'memorization' from ``highway_jax.data.algorithmic``."""
  # Imported here so that this module works without (or before) the algorithmic module.
  from highway_jax.data import algorithmic  # pylint: disable=g-import-not-at-top

  num_train = ALGORITHMIC_DEFAULT_SIZES[0] if cfg.num_train is None else cfg.num_train
  num_test = ALGORITHMIC_DEFAULT_SIZES[1] if cfg.num_test is None else cfg.num_test
  if num_train < 1 or num_test < 1:
    raise ValueError('config.data.num_train and num_test must be >= 1, got '
                     f'{num_train} and {num_test}.')
  seed = 0 if cfg.data_seed is None else cfg.data_seed
  make_test = None
  if cfg.name == 'parity':
    make = functools.partial(algorithmic.make_parity, bits=cfg.parity_bits,
                             density=cfg.parity_train_density)
    # Test strings are always uniform, whatever the training distribution.
    make_test = functools.partial(algorithmic.make_parity, bits=cfg.parity_bits)
    num_classes, vocab_size = algorithmic.PARITY_NUM_CLASSES, None
  elif cfg.name == 'addition':
    make = functools.partial(algorithmic.make_addition, digits=cfg.addition_digits,
                             reverse=cfg.addition_reverse)
    num_classes, vocab_size = algorithmic.ADDITION_NUM_CLASSES, algorithmic.ADDITION_VOCAB
  elif cfg.name == 'memorization':
    make = functools.partial(algorithmic.make_memorization, length=cfg.memorization_length,
                             num_symbols=cfg.memorization_symbols)
    num_classes = cfg.memorization_symbols
    vocab_size = algorithmic.memorization_vocab(cfg.memorization_symbols)
  else:
    raise ValueError(f"config.data.name={cfg.name!r} is not an algorithmic task "
                     "('parity', 'addition', 'memorization').")
  return from_arrays(
      cfg,
      train=make(num_train, seed=seed),
      test=(make_test or make)(num_test, seed=seed + 1),
      num_classes=num_classes, vocab_size=vocab_size,
      metadata={'generation_seeds': {'train': seed, 'test': seed + 1}})

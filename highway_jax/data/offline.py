"""Offline datasets: scikit-learn's 8×8 digits, MNIST-1D, and the algorithmic tasks.

None of these touches the network; all are held in memory as NumPy arrays.

``'digits'`` (``sklearn.datasets.load_digits``, 1,797 images)
    inputs float32 (8, 8, 1): pixel values 0–16 scaled to [0, 1], then ``config.data.normalize``
    (``'per_channel'`` uses the training split's mean and std). label int32 (), 10 classes.
    Test split: a ``test_fraction`` share (rounded up; 0.2 → 360 test, 1,437 train) chosen by a
    permutation from ``np.random.default_rng(data_seed)`` (default seed 0).

``'mnist1d'`` (Greydanus 2020; ``mnist1d.data.make_dataset``, never ``get_dataset``, which downloads)
    inputs float32 (40, 1), label int32 (), 10 classes. ``num_train``/``num_test`` default to the
    published 4,000/1,000 and ``data_seed`` to the package's 42, which reproduces the published
    split exactly: the first ``num_train`` generated sequences train, the rest test. Validation:
    ``num_validation`` (default ``num_test``) sequences generated with seed ``data_seed + 1``. The
    package standardises each generated set; ``normalize`` is applied on top (``'per_channel'`` is
    then almost the identity).

``'parity'``, ``'addition'``, ``'memorization'`` (``highway_jax.data.algorithmic``)
    Generated with ``seed = data_seed`` (default 0) for train, ``data_seed + 1`` for test and
    ``data_seed + 2`` for validation (drawn like test), so the splits are independent draws (they may
    share examples when the input space is small). ``num_train``/``num_test`` default to
    10,000/1,000, ``num_validation`` to ``num_test``.

    ============  ===========================  ==================  =======  ===========
    name          inputs                       label               classes  vocab_size
    ============  ===========================  ==================  =======  ===========
    parity        float32 (bits,) of 0/1       int32 ()            2        None
    addition      int32 (3·digits + 3,) ids    int32 (digits + 1,) 10       13
    memorization  int32 (2·length + 1,) ids    int32 (length,)     symbols  symbols + 2
    ============  ===========================  ==================  =======  ===========

    (``symbols`` = ``memorization_symbols``; ``normalize`` is not applied to these tasks.)
"""

from __future__ import annotations

import functools
import random

import numpy as np

from highway_jax.data import algorithmic, preprocessing
from highway_jax.data.dataset import ArraySource, Dataset, from_splits, holdout_count


def from_arrays(cfg, *, train: dict[str, np.ndarray], test: dict[str, np.ndarray],
                validation: dict[str, np.ndarray] | None = None, num_classes: int,
                vocab_size: int | None = None, normalize: bool = False, image: bool = False,
                metadata=None) -> Dataset:
  """A ``Dataset`` of in-memory arrays with the given ``validation`` split or one carved off the end
  of ``train``; normalises with the training split's statistics if ``normalize``, augments if
  ``image``."""
  metadata = dict(metadata or {})  # normalisation statistics are added
  splits = {'train': train, 'test': test}
  if validation is not None:
    if cfg.validation_fraction:
      raise ValueError(f'config.data.validation_fraction is for digits and TFDS; {cfg.name!r} '
                       'generates its own validation split: set config.data.num_validation instead.')
    splits['validation'] = validation
  elif cfg.validation_fraction:
    keep = len(train['label']) - holdout_count(len(train['label']), cfg.validation_fraction, 'validation_fraction')
    splits['train'] = {k: v[:keep] for k, v in train.items()}
    splits['validation'] = {k: v[keep:] for k, v in train.items()}
  if normalize:
    mean = std = None
    if cfg.normalize == 'per_channel':
      mean, std = preprocessing.channel_statistics(splits['train']['inputs'])
      metadata.update(normalize_mean=mean, normalize_std=std)
    splits = {name: {**arrays, 'inputs': preprocessing.normalize(
        arrays['inputs'], cfg.normalize, mean=mean, std=std, example_ndim=train['inputs'].ndim - 1)}
              for name, arrays in splits.items()}
  return from_splits(
      cfg, {name: ArraySource(arrays) for name, arrays in splits.items()},
      num_classes=num_classes, vocab_size=vocab_size, image=image, metadata=metadata)


def load_digits(cfg) -> Dataset:
  """scikit-learn's bundled 8×8 digits (see the module docstring)."""
  from sklearn import datasets as sklearn_datasets  # pylint: disable=g-import-not-at-top

  bunch = sklearn_datasets.load_digits()
  images = (bunch.images.astype(np.float32) / 16.0)[..., None]
  labels = bunch.target.astype(np.int32)
  seed = 0 if cfg.data_seed is None else cfg.data_seed
  order = np.random.default_rng(seed).permutation(len(labels))
  num_test = holdout_count(len(labels), cfg.test_fraction, 'test_fraction')
  test, train = order[:num_test], order[num_test:]
  return from_arrays(cfg, train={'inputs': images[train], 'label': labels[train]},
                     test={'inputs': images[test], 'label': labels[test]},
                     num_classes=10, normalize=True, image=True, metadata={'split_seed': seed})


@functools.lru_cache(maxsize=4)
def _generate_mnist1d(num_samples: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
  from mnist1d import data as mnist1d_data  # pylint: disable=g-import-not-at-top

  args = mnist1d_data.get_dataset_args()
  args.num_samples, args.seed = num_samples, seed
  args.train_split = 1.0  # we split ourselves: exact sizes, no float rounding
  # make_dataset reseeds the global `random` and `np.random` generators; restore them after.
  python_state, numpy_state = random.getstate(), np.random.get_state()
  try:
    generated = mnist1d_data.make_dataset(args)
  finally:
    random.setstate(python_state)
    np.random.set_state(numpy_state)
  inputs, labels = generated['x'].astype(np.float32)[..., None], generated['y'].astype(np.int32)
  inputs.flags.writeable = labels.flags.writeable = False
  return inputs, labels


def load_mnist1d(cfg) -> Dataset:
  """MNIST-1D generated locally (see the module docstring)."""
  num_train = 4000 if cfg.num_train is None else cfg.num_train
  num_test = 1000 if cfg.num_test is None else cfg.num_test
  num_validation = num_test if cfg.num_validation is None else cfg.num_validation
  seed = 42 if cfg.data_seed is None else cfg.data_seed
  if (num_train + num_test) % 10 or num_validation % 10:
    raise ValueError('config.data.num_train + num_test and num_validation must be multiples of 10 for '
                     f'mnist1d (equal examples per class), got {num_train} + {num_test}, {num_validation}.')
  inputs, labels = _generate_mnist1d(num_train + num_test, seed)
  validation_inputs, validation_labels = _generate_mnist1d(num_validation, seed + 1)
  return from_arrays(cfg, train={'inputs': inputs[:num_train], 'label': labels[:num_train]},
                     test={'inputs': inputs[num_train:], 'label': labels[num_train:]},
                     validation={'inputs': validation_inputs, 'label': validation_labels},
                     num_classes=10, normalize=True,
                     metadata={'generation_seed': seed, 'validation_seed': seed + 1})


def load_algorithmic(cfg) -> Dataset:
  """'parity', 'addition' or 'memorization' from ``highway_jax.data.algorithmic``."""
  seed = 0 if cfg.data_seed is None else cfg.data_seed
  make_test = None
  if cfg.name == 'parity':
    make = functools.partial(algorithmic.make_parity, bits=cfg.parity_bits, density=cfg.parity_train_density)
    make_test = functools.partial(algorithmic.make_parity, bits=cfg.parity_bits)  # always uniform
    num_classes, vocab_size = algorithmic.PARITY_NUM_CLASSES, None
  elif cfg.name == 'addition':
    make = functools.partial(algorithmic.make_addition, digits=cfg.addition_digits, reverse=cfg.addition_reverse)
    num_classes, vocab_size = algorithmic.ADDITION_NUM_CLASSES, algorithmic.ADDITION_VOCAB
  else:
    make = functools.partial(algorithmic.make_memorization, length=cfg.memorization_length,
                             num_symbols=cfg.memorization_symbols)
    num_classes = cfg.memorization_symbols
    vocab_size = algorithmic.memorization_vocab(cfg.memorization_symbols)
  num_test = 1_000 if cfg.num_test is None else cfg.num_test
  make_test = make_test or make
  return from_arrays(
      cfg, train=make(10_000 if cfg.num_train is None else cfg.num_train, seed=seed),
      test=make_test(num_test, seed=seed + 1),
      validation=make_test(num_test if cfg.num_validation is None else cfg.num_validation, seed=seed + 2),
      num_classes=num_classes, vocab_size=vocab_size,
      metadata={'generation_seeds': {'train': seed, 'test': seed + 1, 'validation': seed + 2}})

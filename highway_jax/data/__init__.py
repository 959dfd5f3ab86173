"""Input pipelines: TFDS image/text sets, offline digits/MNIST-1D, algorithmic tasks, via grain.

Every example is a dict of NumPy arrays: ``'inputs'`` and ``'label'`` (int32), plus ``'length'``
(int32) for variable-length text. ``load`` returns a ``Dataset`` (metadata plus random-access
splits); ``train_loader`` and ``eval_batches`` turn it into batches::

    from highway_jax import data

    ds = data.load(config.data, workdir=workdir)
    ds.num_classes, ds.input_shape, ds.input_dtype, ds.label_shape, ds.vocab_size, ds.num_examples
    it = data.train_loader(ds, batch_size=128, seed=config.seed,
                           shard_index=jax.process_index(), shard_count=jax.process_count())
    batch = next(it)               # {'inputs': (128, *input_shape), 'label': (128, *label_shape)}
    for batch in data.eval_batches(ds, 'test', batch_size=500):
      ...                          # batch['mask']: float32 (500,), 1 for real examples, 0 padding

Datasets (``DATASET_NAMES``; details in ``tfds_sources`` and ``offline``):

- TFDS, read with ``tfds.data_source`` (no TensorFlow needed to read): ``'mnist'``,
  ``'cifar10'``, ``'cifar100'`` (float32 NHWC images), ``'imdb_reviews'``, ``'glue/sst2'`` (int32
  token ids + ``'length'``; ``glue/sst2``'s ``'test'`` is GLUE's labelled validation split).
  If a dataset is not prepared in ``data_dir`` and cannot be downloaded (no network), ``load``
  raises ``DatasetUnavailableError`` within seconds, naming the offline configs and
  ``--config.data.data_dir``; preparing needs TensorFlow (``pip install -e ".[tf]"``).
- Offline: ``'digits'`` (scikit-learn 8×8, 1,437/360), ``'mnist1d'`` (generated, 4,000/1,000),
  ``'parity'``, ``'addition'``, ``'memorization'`` (``algorithmic``).

Config keys (``config.data``; start from ``default_config()``, which has every key; ``load``
rejects unknown keys and fills missing ones from the defaults):

======================  ==============  ======================================================
key                     default         meaning
======================  ==============  ======================================================
name                    (required)      one of ``DATASET_NAMES``
data_dir                None            TFDS data directory (None: ``$TFDS_DATA_DIR`` or
                                        ``~/tensorflow_datasets``)
validation_fraction     0.0             share of the training split moved (from its end) into
                                        a ``'validation'`` split
normalize               'per_channel'   images, digits, mnist1d: ``'per_channel'`` mean/std,
                                        ``'gcn'`` per-example contrast normalisation, ``'none'``
                                        (images then in [0, 1]); ignored for text and the
                                        algorithmic tasks
augment                 False           images only: random pad-and-crop (+ mirror) in training
augment_padding         8               pixels of zero padding before the random crop (the
                                        authors' CIFAR recipe pads 8 and crops 32)
augment_flip            True            mirror left-right with probability 1/2 (set False for
                                        digits/MNIST)
max_length              256             text: tokens kept per example (truncate, pad with 0)
vocab_size              20000           text: vocabulary size including ``<pad>``, ``<unk>``
test_fraction           0.2             digits: share held out as the test split
num_train, num_test     None            generated sets: sizes (None: mnist1d 4,000/1,000,
                                        algorithmic 10,000/1,000)
data_seed               None            seed of the offline split/generation (None: digits 0,
                                        mnist1d 42 = the published set, algorithmic 0)
parity_bits             16              parity: bits per string
parity_train_density    'half'          parity training strings: ``'half'`` (uniform bits) or
                                        ``'random'`` (per-string density q ~ U(0, 1)); test
                                        strings are always uniform
addition_digits         15              addition: digits per operand
addition_reverse        False           addition: least significant digit first
memorization_length     20              memorization: symbols to reproduce
memorization_symbols    64              memorization: alphabet size (= num_classes)
num_threads             4               grain reader threads per iterator
prefetch_buffer_size    16              batches grain prepares ahead
======================  ==============  ======================================================

Checkpointing the training iterator with Orbax. ``train_loader`` returns a grain
``DatasetIterator`` whose state is a small JSON dict; grain ships an Orbax handler for it
(``grain.checkpoint.CheckpointSave`` / ``CheckpointRestore``, registered with ``ocp.args``). Save
it as one more item next to the train state, and on restore pass a *freshly built* iterator with
the same dataset config, ``batch_size``, ``seed``, ``num_epochs`` and sharding; it is advanced in
place to the saved position and the next batches are exactly those the saved run would have
seen::

    import grain
    import orbax.checkpoint as ocp

    manager = ocp.CheckpointManager(workdir / 'checkpoints', item_names=('state', 'data'))
    manager.save(step, args=ocp.args.Composite(
        state=ocp.args.StandardSave(state),
        data=grain.checkpoint.CheckpointSave(train_iter)))
    ...
    train_iter = data.train_loader(ds, batch_size=..., seed=..., shard_index=..., shard_count=...)
    restored = manager.restore(step, args=ocp.args.Composite(
        state=ocp.args.StandardRestore(abstract_state),
        data=grain.checkpoint.CheckpointRestore(train_iter)))
    train_iter = restored['data']      # the same object, now at the saved position

The handler takes the iterator state when ``save`` is called (safe with asynchronous
checkpointing) and writes ``data/process_<i>-of-<n>.json`` per process, so a restore needs the
same process count. Without Orbax: ``state = train_iter.get_state()`` /
``train_iter.set_state(state)``.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import ml_collections
from ml_collections import config_dict

from highway_jax.data import offline, preprocessing, tfds_sources
from highway_jax.data.dataset import ArraySource, Dataset, DatasetUnavailableError
from highway_jax.data.pipeline import EvalBatches, eval_batches, train_loader

__all__ = [
    'DATASET_NAMES',
    'ArraySource',
    'Dataset',
    'DatasetUnavailableError',
    'EvalBatches',
    'default_config',
    'eval_batches',
    'load',
    'train_loader',
]

_Loader = Callable[[ml_collections.ConfigDict, 'str | None'], Dataset]

_LOADERS: dict[str, _Loader] = {
    'digits': lambda cfg, workdir: offline.load_digits(cfg),
    'mnist1d': lambda cfg, workdir: offline.load_mnist1d(cfg),
    **{name: tfds_sources.load_tfds for name in tfds_sources.TFDS_DATASETS},
    **{name: (lambda cfg, workdir: offline.load_algorithmic(cfg))
       for name in ('parity', 'addition', 'memorization')},
}
DATASET_NAMES = tuple(_LOADERS)
IMAGE_DATASETS = ('digits', 'mnist', 'cifar10', 'cifar100')


def default_config() -> ml_collections.ConfigDict:
  """Every key the pipelines read, with its default (table in the module docstring)."""
  return ml_collections.ConfigDict({
      'name': config_dict.placeholder(str),
      'data_dir': config_dict.placeholder(str),
      'validation_fraction': 0.0,
      'normalize': 'per_channel',
      'augment': False,
      'augment_padding': 8,
      'augment_flip': True,
      'max_length': 256,
      'vocab_size': 20_000,
      'test_fraction': 0.2,
      'num_train': config_dict.placeholder(int),
      'num_test': config_dict.placeholder(int),
      'data_seed': config_dict.placeholder(int),
      'parity_bits': 16,
      'parity_train_density': 'half',
      'addition_digits': 15,
      'addition_reverse': False,
      'memorization_length': 20,
      'memorization_symbols': 64,
      'num_threads': 4,
      'prefetch_buffer_size': 16,
  })


def _merge_with_defaults(data_config: Mapping[str, Any] | ml_collections.ConfigDict
                         ) -> ml_collections.ConfigDict:
  cfg = default_config()
  given = data_config.to_dict() if isinstance(data_config, ml_collections.ConfigDict) else dict(
      data_config)
  unknown = sorted(set(given) - set(cfg.keys()))
  if unknown:
    raise ValueError(f'Unknown key(s) config.data.{", config.data.".join(unknown)}; allowed keys: '
                     f'{", ".join(sorted(cfg.keys()))}.')
  for key, value in given.items():
    try:
      cfg[key] = value
    except TypeError as error:
      raise ValueError(f'config.data.{key}={value!r} has the wrong type: expected '
                       f'{cfg.get_type(key).__name__}, got {type(value).__name__}.') from error
  return cfg


def _check_number(cfg, key: str, low: float, high: float | None = None, *, integer: bool = True,
                  optional: bool = False, high_inclusive: bool = True) -> None:
  value = cfg[key]
  if value is None and optional:
    return
  kind = int if integer else (int, float)
  ok = isinstance(value, kind) and not isinstance(value, bool) and value >= low
  if ok and high is not None:
    ok = value <= high if high_inclusive else value < high
  if not ok:
    bound = f'>= {low}' if high is None else f'in [{low}, {high}{"]" if high_inclusive else ")"}'
    what = 'an integer' if integer else 'a number'
    raise ValueError(f'config.data.{key} must be {what} {bound}'
                     f'{" or None" if optional else ""}, got {value!r}.')


def _validate(cfg: ml_collections.ConfigDict) -> None:
  if cfg.name is None:
    raise ValueError(f'config.data.name is not set; allowed names: {", ".join(DATASET_NAMES)}.')
  if cfg.name not in _LOADERS:
    raise ValueError(f'Unknown dataset config.data.name={cfg.name!r}; allowed names: '
                     f'{", ".join(DATASET_NAMES)}.')
  if cfg.normalize not in preprocessing.NORMALIZATIONS:
    raise ValueError(f'config.data.normalize must be one of {preprocessing.NORMALIZATIONS}, got '
                     f'{cfg.normalize!r}.')
  if cfg.parity_train_density not in ('half', 'random'):
    raise ValueError("config.data.parity_train_density must be 'half' or 'random', got "
                     f'{cfg.parity_train_density!r}.')
  for key in ('augment', 'augment_flip', 'addition_reverse'):
    if not isinstance(cfg[key], bool):
      raise ValueError(f'config.data.{key} must be True or False, got {cfg[key]!r}.')
  if cfg.augment and cfg.name not in IMAGE_DATASETS:
    raise ValueError(f'config.data.augment=True is only supported for the image datasets '
                     f'{IMAGE_DATASETS}, not config.data.name={cfg.name!r}.')
  _check_number(cfg, 'validation_fraction', 0.0, 1.0, integer=False, high_inclusive=False)
  _check_number(cfg, 'test_fraction', 0.0, 1.0, integer=False, high_inclusive=False)
  for key, low in (('augment_padding', 0), ('max_length', 1), ('vocab_size', 3),
                   ('parity_bits', 1), ('addition_digits', 1), ('memorization_length', 1),
                   ('memorization_symbols', 2), ('num_threads', 0), ('prefetch_buffer_size', 0)):
    _check_number(cfg, key, low)
  for key in ('num_train', 'num_test'):
    _check_number(cfg, key, 1, optional=True)
  _check_number(cfg, 'data_seed', 0, 2**32 - 2, optional=True)


def load(data_config: Mapping[str, Any] | ml_collections.ConfigDict,
         workdir: str | None = None) -> Dataset:
  """Loads the dataset named by ``data_config.name``.

  Args:
    data_config: ``config.data`` (keys in the module docstring; missing keys take defaults).
    workdir: the run's work directory, where text vocabularies are cached (``None``: built in
      memory every time).

  Returns:
    A ``Dataset``.

  Raises:
    ValueError: unknown or unset name, unknown key, or a bad value (the message names the key).
    DatasetUnavailableError: a TFDS dataset is not prepared and cannot be prepared here.
  """
  cfg = _merge_with_defaults(data_config)
  _validate(cfg)
  return _LOADERS[cfg.name](cfg, None if workdir is None else str(workdir))

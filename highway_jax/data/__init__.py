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

Config keys (``config.data``): the fields of ``DataConfig``, whose annotations hold their types,
allowed values and bounds. ``default_config()`` has every key; ``load`` rejects unknown, renamed or
mistyped keys and fills missing ones from the defaults (``errors.build``):

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

import dataclasses
import typing
from collections.abc import Callable, Mapping
from typing import Annotated, Any, Literal

import ml_collections
from ml_collections import config_dict

from highway_jax.data import offline, tfds_sources
from highway_jax.data.dataset import ArraySource, Dataset, DatasetUnavailableError
from highway_jax.data.pipeline import EvalBatches, eval_batches, train_loader
from highway_jax.errors import Bounds, ConfigError, build

__all__ = [
    'DATASET_NAMES',
    'ArraySource',
    'DataConfig',
    'Dataset',
    'DatasetUnavailableError',
    'EvalBatches',
    'default_config',
    'eval_batches',
    'load',
    'train_loader',
]

_Loader = Callable[[Any, 'str | None'], Dataset]

_LOADERS: dict[str, _Loader] = {
    'digits': lambda cfg, workdir: offline.load_digits(cfg),
    'mnist1d': lambda cfg, workdir: offline.load_mnist1d(cfg),
    **{name: tfds_sources.load_tfds for name in tfds_sources.TFDS_DATASETS},
    **{name: (lambda cfg, workdir: offline.load_algorithmic(cfg))
       for name in ('parity', 'addition', 'memorization')},
}
DATASET_NAMES = tuple(_LOADERS)
IMAGE_DATASETS = ('digits', 'mnist', 'cifar10', 'cifar100')
Count = Annotated[int, Bounds(ge=1)]
NonNegative = Annotated[int, Bounds(ge=0)]


@dataclasses.dataclass(frozen=True)
class DataConfig:
  """The schema of ``config.data`` (table in the module docstring). Sizes, fractions and the
  vocabulary size are checked by the loader that uses them."""

  name: Literal[DATASET_NAMES]
  data_dir: str | None = None
  validation_fraction: float = 0.0
  normalize: Literal['per_channel', 'gcn', 'none'] = 'per_channel'
  augment: bool = False
  augment_padding: int = 8
  augment_flip: bool = True
  max_length: Count = 256
  vocab_size: int = 20_000
  test_fraction: float = 0.2
  num_train: int | None = None
  num_test: int | None = None
  data_seed: NonNegative | None = None
  parity_bits: Count = 16
  parity_train_density: Literal['half', 'random'] = 'half'
  addition_digits: Count = 15
  addition_reverse: bool = False
  memorization_length: Count = 20
  memorization_symbols: Annotated[int, Bounds(ge=2)] = 64
  num_threads: NonNegative = 4
  prefetch_buffer_size: NonNegative = 16


def default_config() -> ml_collections.ConfigDict:
  """Every key of ``DataConfig`` with its default; unset ones (None) are typed placeholders."""
  hints = typing.get_type_hints(DataConfig)
  config = ml_collections.ConfigDict()
  for field in dataclasses.fields(DataConfig):
    if field.default not in (None, dataclasses.MISSING):
      config[field.name] = field.default
    else:  # the placeholder's type lets --config.data.<key>=... be parsed
      config[field.name] = config_dict.placeholder(int if int in typing.get_args(hints[field.name])
                                                   else str)
  return config


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
    ConfigError (a ValueError): unknown or unset name, unknown key, or a bad value (the message
      names the key); the loaders raise ValueError for sizes that don't fit the data.
    DatasetUnavailableError: a TFDS dataset is not prepared and cannot be prepared here.
  """
  cfg = build(DataConfig, dict(data_config), 'config.data')
  if cfg.augment and cfg.name not in IMAGE_DATASETS:
    raise ConfigError(f'config.data.augment=True is only supported for the image datasets '
                      f'{IMAGE_DATASETS}, not config.data.name={cfg.name!r}.')
  return _LOADERS[cfg.name](cfg, None if workdir is None else str(workdir))

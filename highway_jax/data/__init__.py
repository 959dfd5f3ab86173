"""Input pipelines: TFDS image/text sets, offline digits/MNIST-1D, algorithmic tasks, via grain.

Every example is a dict of NumPy arrays: ``'inputs'`` and ``'label'`` (int32), plus ``'length'`` (int32) for
variable-length text. ``load`` returns a ``Dataset`` (metadata plus random-access
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
  ``'parity'``, ``'addition'``, ``'memorization'`` (``algorithmic``). The generated sets also draw a
  ``'validation'`` split from the test distribution (``num_validation``, default the test size);
  digits and TFDS carve one off the end of train with ``validation_fraction``.

Config keys (``config.data``): the fields of ``DataConfig``, commented with their meaning; their annotations hold
the types, allowed values and bounds. ``default_config()`` has every key; ``load`` rejects unknown, renamed or
mistyped keys and fills missing ones from the defaults (``errors.build``).

Resuming the training iterator: ``train_loader`` returns a grain ``DatasetIterator`` whose state is a small JSON
dict (``get_state()`` / ``set_state(state)``). With Orbax, save it as one more item (grain's handler writes
``data/process_<i>-of-<n>.json`` per process when ``save`` is called, so a restore needs the same process count) and
restore into a *freshly built* iterator with the same dataset config, ``batch_size``, ``seed``, ``num_epochs`` and
sharding; it continues with exactly
the batches the saved run would have seen::

    manager = ocp.CheckpointManager(workdir / 'checkpoints', item_names=('state', 'data'))
    manager.save(step, args=ocp.args.Composite(state=ocp.args.StandardSave(state),
                                               data=grain.checkpoint.CheckpointSave(train_iter)))
    train_iter = manager.restore(step, args=ocp.args.Composite(
        state=ocp.args.StandardRestore(abstract_state),
        data=grain.checkpoint.CheckpointRestore(data.train_loader(ds, ...))))['data']
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

__all__ = ['DATASET_NAMES', 'ArraySource', 'DataConfig', 'Dataset', 'DatasetUnavailableError',
           'EvalBatches', 'default_config', 'eval_batches', 'load', 'train_loader']

_LOADERS: dict[str, Callable[[Any, str | None], Dataset]] = {
    'digits': lambda cfg, workdir: offline.load_digits(cfg),
    'mnist1d': lambda cfg, workdir: offline.load_mnist1d(cfg),
    **{name: tfds_sources.load_tfds for name in tfds_sources.TFDS_DATASETS},
    **{name: lambda cfg, workdir: offline.load_algorithmic(cfg)
       for name in ('parity', 'addition', 'memorization')},
}
DATASET_NAMES = tuple(_LOADERS)
IMAGE_DATASETS = ('digits', 'mnist', 'cifar10', 'cifar100')
Count = Annotated[int, Bounds(ge=1)]
NonNegative = Annotated[int, Bounds(ge=0)]


@dataclasses.dataclass(frozen=True)
class DataConfig:
  """The schema of ``config.data``. Fractions are checked by the loader, against the data size."""

  name: Literal[DATASET_NAMES]  # required
  data_dir: str | None = None  # TFDS directory (None: $TFDS_DATA_DIR or ~/tensorflow_datasets)
  # digits and TFDS: share of the training split moved (from its end) to 'validation' (the generated
  # sets draw their own, num_validation).
  validation_fraction: float = 0.0
  # Images, digits, mnist1d (not text or the algorithmic tasks): 'per_channel' mean/std, 'gcn'
  # per-example contrast normalisation, 'none' (images then in [0, 1]).
  normalize: Literal['per_channel', 'gcn', 'none'] = 'per_channel'
  augment: bool = False  # images only: random pad-and-crop (+ mirror) in training
  augment_padding: NonNegative = 8  # zero padding before the crop (the authors' CIFAR recipe: 8)
  augment_flip: bool = True  # mirror left-right with probability 1/2 (set False for digits/MNIST)
  max_length: Count = 256  # text: tokens kept per example (truncate, pad with 0)
  vocab_size: Annotated[int, Bounds(ge=3)] = 20_000  # text: vocabulary incl. <pad>, <unk>
  test_fraction: float = 0.2  # digits: share held out as the test split
  # Generated sets: sizes (None: mnist1d 4,000/1,000, algorithmic 10,000/1,000; validation: num_test).
  num_train: Count | None = None
  num_test: Count | None = None
  num_validation: Count | None = None
  # Seed of the offline split/generation (None: digits 0, mnist1d 42 = the published set,
  # algorithmic 0).
  data_seed: NonNegative | None = None
  parity_bits: Count = 16
  # Parity training strings: 'half' (uniform bits) or 'random' (per-string density q ~ U(0, 1));
  # test strings are always uniform.
  parity_train_density: Literal['half', 'random'] = 'half'
  addition_digits: Count = 15  # digits per operand
  addition_reverse: bool = False  # least significant digit first
  memorization_length: Count = 20  # symbols to reproduce
  memorization_symbols: Annotated[int, Bounds(ge=2)] = 64  # alphabet size (= num_classes)
  # TFDS images: decode and normalise every split once, at load, into float32 arrays in memory
  # (CIFAR-10: 737 MB, MNIST: 188 MB), so a training batch is one gather instead of a read, PNG decode
  # and normalisation per example (docs/performance.md, "Input pipeline").
  in_memory: bool = False
  # grain reader threads per iterator (None: 0 where every split is in-memory arrays, whose batch is
  # one gather (and Python augmentation, which holds the GIL): cheaper on the loop's thread than
  # handed between threads; otherwise 4, for TFDS reads). They set how fast batches come, never which
  # (training.workdir.READER_KEYS; docs/performance.md, "Input pipeline").
  num_threads: NonNegative | None = None
  prefetch_buffer_size: NonNegative = 16  # batches grain prepares ahead


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


def load(data_config: Mapping[str, Any] | ml_collections.ConfigDict, workdir: str | None = None) -> Dataset:
  """Loads the dataset named by ``data_config.name`` (``config.data``; missing keys take defaults).

  ``workdir`` caches text vocabularies (None: built in memory every time). Raises ``ConfigError``
  (a ValueError) naming the key for a bad config, ValueError for sizes that don't fit the data,
  and ``DatasetUnavailableError`` for a TFDS dataset that is not prepared and cannot be.
  """
  cfg = build(DataConfig, dict(data_config), 'config.data')
  if cfg.augment and cfg.name not in IMAGE_DATASETS:
    raise ConfigError(f'config.data.augment=True is only supported for the image datasets '
                      f'{IMAGE_DATASETS}, not config.data.name={cfg.name!r}.')
  return _LOADERS[cfg.name](cfg, None if workdir is None else str(workdir))

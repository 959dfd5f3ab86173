"""TFDS datasets read without TensorFlow: ``tfds.data_source`` (ArrayRecord) wrapped in grain.

=============  =====================  ==========================================  =======  ========
name           TFDS splits            inputs                                      classes  vocab
=============  =====================  ==========================================  =======  ========
mnist          train / test           float32 (28, 28, 1)                         10       None
cifar10        train / test           float32 (32, 32, 3)                         10       None
cifar100       train / test           float32 (32, 32, 3) (fine ``label``)        100      None
imdb_reviews   train / test           int32 (max_length,) + ``length``            2        built
glue/sst2      train / validation     int32 (max_length,) + ``length``            2        built
=============  =====================  ==========================================  =======  ========

Images are uint8 in TFDS; they become float32 in [0, 1] and then ``config.data.normalize``
(``preprocessing``), with the widely published training-set channel statistics below for
``'per_channel'``. Text is tokenized with ``text.tokenize``; the vocabulary is built from the whole
TFDS training split and cached in the work directory (``text.vocabulary_path``).

GLUE's SST-2 test split has no labels (they are −1), so our ``'test'`` split of ``glue/sst2`` is
GLUE's labelled validation split (872 sentences).

Availability. Reading a prepared dataset needs only ``tensorflow_datasets`` and ``array_record``.
Preparing one (download, extract, encode, write ArrayRecord) needs TensorFlow in
tensorflow-datasets 4.9.x for every dataset here (its downloader, extractor, shuffler and image
encoder call ``tf.io.gfile``/``tf.image``), and ``glue`` is not even registered unless its module
is imported explicitly, because ``tensorflow_datasets.text`` imports TensorFlow. So before TFDS
gets a chance to retry a download for minutes, ``ensure_available`` checks that the dataset is
prepared in ``data_dir``; if not, that its download host answers within seconds
(``can_download``) and that TensorFlow is importable; otherwise it raises
``DatasetUnavailableError`` naming the offline configs, ``--config.data.data_dir`` and
``pip install -e ".[tf]"``. Under ``tfds.testing.mock_data`` the check is skipped.

Example::

    cfg = data.default_config(); cfg.name = 'cifar10'; cfg.data_dir = '/data/tfds'
    ds = load_tfds(cfg, workdir=None)   # via data.load(cfg)
"""

from __future__ import annotations

import dataclasses
import importlib
import importlib.util
import os
import threading
import urllib.parse
from collections.abc import Mapping
from typing import Any

import grain
import ml_collections
import numpy as np
import requests

from highway_jax.data import preprocessing, text
from highway_jax.data.dataset import Dataset, DatasetUnavailableError, validation_count

OFFLINE_CONFIGS = ('configs/digits_highway.py', 'configs/digits_depth.py',
                   'configs/mnist1d_gru.py', 'configs/mnist1d_highway_bilstm.py',
                   'configs/mnist1d_rhn.py')
PROBE_TIMEOUT_S = 5.0


@dataclasses.dataclass(frozen=True)
class TFDSSpec:
  """How one TFDS dataset maps onto our examples."""
  modality: str                     # 'image' or 'text'
  num_classes: int
  download_url: str                 # probed to decide quickly whether a download can work
  splits: Mapping[str, str] = dataclasses.field(
      default_factory=lambda: {'train': 'train', 'test': 'test'})
  mean: tuple[float, ...] | None = None   # per-channel training-set statistics in [0, 1] units
  std: tuple[float, ...] | None = None
  text_key: str | None = None
  builder_module: str | None = None  # imported first so that TFDS registers the builder


TFDS_DATASETS: dict[str, TFDSSpec] = {
    'mnist': TFDSSpec(
        'image', 10, 'https://storage.googleapis.com/cvdf-datasets/mnist/train-images-idx3-ubyte.gz',
        mean=(0.1307,), std=(0.3081,)),
    'cifar10': TFDSSpec(
        'image', 10, 'https://www.cs.toronto.edu/~kriz/cifar-10-binary.tar.gz',
        mean=(0.4914, 0.4822, 0.4465), std=(0.2470, 0.2435, 0.2616)),
    'cifar100': TFDSSpec(
        'image', 100, 'https://www.cs.toronto.edu/~kriz/cifar-100-binary.tar.gz',
        mean=(0.5071, 0.4865, 0.4409), std=(0.2673, 0.2564, 0.2762)),
    'imdb_reviews': TFDSSpec(
        'text', 2, 'http://ai.stanford.edu/~amaas/data/sentiment/aclImdb_v1.tar.gz',
        text_key='text'),
    'glue/sst2': TFDSSpec(
        'text', 2, 'https://dl.fbaipublicfiles.com/glue/data/SST-2.zip',
        splits={'train': 'train', 'test': 'validation'}, text_key='sentence',
        builder_module='tensorflow_datasets.text.glue'),
}


def can_download(url: str, timeout: float = PROBE_TIMEOUT_S) -> bool:
  """Whether ``url`` answers with a non-error HTTP status within about ``timeout`` seconds.

  Runs in a daemon thread so that a hanging DNS lookup (not covered by requests' timeout)
  cannot block the caller for longer than ``timeout + 1`` seconds.
  """
  answers = []

  def probe():
    try:
      with requests.get(url, stream=True, timeout=timeout, allow_redirects=True) as response:
        answers.append(response.status_code < 400)
    except requests.RequestException:
      answers.append(False)

  thread = threading.Thread(target=probe, name='tfds-download-probe', daemon=True)
  thread.start()
  thread.join(timeout + 1.0)
  return bool(answers and answers[0])


def _tfds_is_mocked() -> bool:
  """True inside ``tfds.testing.mock_data``, which replaces download_and_prepare by a no-op."""
  from tensorflow_datasets.core import dataset_builder  # pylint: disable=g-import-not-at-top

  function = dataset_builder.DatasetBuilder.download_and_prepare
  return getattr(function, '__module__', '').startswith('tensorflow_datasets.testing')


def _tensorflow_importable() -> bool:
  return importlib.util.find_spec('tensorflow') is not None


def _import_tfds(spec: TFDSSpec):
  import tensorflow_datasets as tfds  # pylint: disable=g-import-not-at-top

  if spec.builder_module:
    importlib.import_module(spec.builder_module)
  return tfds


def ensure_available(name: str, data_dir: str | None) -> None:
  """Raises ``DatasetUnavailableError`` quickly if ``name`` can neither be read nor prepared."""
  spec = TFDS_DATASETS[name]
  tfds = _import_tfds(spec)
  if _tfds_is_mocked():
    return
  builder = tfds.builder(name, data_dir=data_dir)
  if builder.is_prepared():
    return
  location = os.fspath(builder.data_path)
  data_dir_hint = (f'--config.data.data_dir=DIR for a TFDS directory in which {name!r} is '
                   'already prepared in array_record format')
  tensorflow_hint = ('Preparing a TFDS dataset also needs TensorFlow, which is not installed: '
                     'pip install -e ".[tf]".')
  tensorflow_missing = not _tensorflow_importable()
  if not can_download(spec.download_url):
    host = urllib.parse.urlparse(spec.download_url).netloc
    message = (f'TFDS dataset {name!r} is not prepared in {location} and could not be '
               f'downloaded: {host} could not be reached within {PROBE_TIMEOUT_S:g} s (no network?). '
               f'Train offline with one of the offline configs ({", ".join(OFFLINE_CONFIGS)}), '
               f'or pass {data_dir_hint}.')
    if tensorflow_missing:
      message += ' ' + tensorflow_hint
    raise DatasetUnavailableError(message)
  if tensorflow_missing:
    raise DatasetUnavailableError(
        f'TFDS dataset {name!r} is not prepared in {location}. {tensorflow_hint} Or pass '
        f'{data_dir_hint}.')


class _RandomAccess:
  """Exposes only ``len`` and ``[i]`` of a TFDS data source, so grain reads one record at a time
  (mocked TFDS sources do not support batched ``__getitems__``)."""

  def __init__(self, source):
    self._source = source

  def __len__(self) -> int:
    return len(self._source)

  def __getitem__(self, index: int) -> dict[str, Any]:
    return self._source[int(index)]

  def __repr__(self) -> str:
    return f'_RandomAccess({self._source!r})'


def _open_split(tfds, name: str, split: str, data_dir: str | None):
  try:
    return tfds.data_source(name, split=split, data_dir=data_dir)
  except NotImplementedError as error:  # prepared, but only as TFRecord (no random access)
    raise DatasetUnavailableError(
        f'TFDS dataset {name!r} in {data_dir or "the default TFDS directory"} is not stored in a '
        f'random-access format; prepare it with file_format=array_record ({error}).') from error


def _image_preprocessor(cfg: ml_collections.ConfigDict, spec: TFDSSpec):
  mode = cfg.normalize

  def preprocess(example):
    image = np.asarray(example['image'], np.float32) / 255.0
    return {'inputs': preprocessing.normalize(image, mode, mean=spec.mean, std=spec.std),
            'label': np.asarray(example['label'], np.int32)}

  return preprocess


def _text_preprocessor(cfg: ml_collections.ConfigDict, spec: TFDSSpec,
                       vocabulary: text.Vocabulary):
  max_length = cfg.max_length

  def preprocess(example):
    encoded = vocabulary.encode(example[spec.text_key], max_length)
    return {'inputs': encoded['inputs'], 'label': np.asarray(example['label'], np.int32),
            'length': encoded['length']}

  return preprocess


def load_tfds(cfg: ml_collections.ConfigDict, workdir: str | None) -> Dataset:
  """Loads one of ``TFDS_DATASETS`` (see the module docstring)."""
  name = cfg.name
  spec = TFDS_DATASETS[name]
  ensure_available(name, cfg.data_dir)
  tfds = _import_tfds(spec)
  raw = {ours: _RandomAccess(_open_split(tfds, name, theirs, cfg.data_dir))
         for ours, theirs in spec.splits.items()}

  metadata: dict[str, Any] = {'tfds_splits': dict(spec.splits)}
  vocab_size = None
  if spec.modality == 'image':
    preprocess = _image_preprocessor(cfg, spec)
    if cfg.normalize == 'per_channel':
      metadata.update(normalize_mean=spec.mean, normalize_std=spec.std)
  else:
    path = None if workdir is None else text.vocabulary_path(workdir, name, cfg.vocab_size)
    train_texts = (raw['train'][i][spec.text_key] for i in range(len(raw['train'])))
    vocabulary = text.load_or_build_vocabulary(train_texts, vocab_size=cfg.vocab_size, path=path)
    vocab_size = len(vocabulary)
    metadata.update(vocabulary_path=path, vocabulary=vocabulary)
    preprocess = _text_preprocessor(cfg, spec, vocabulary)

  splits = {ours: grain.MapDataset.source(source) for ours, source in raw.items()}
  count = validation_count(len(raw['train']), cfg.validation_fraction)
  if count:
    num_train = len(raw['train']) - count
    splits['validation'] = splits['train'].slice(slice(num_train, None))
    splits['train'] = splits['train'].slice(slice(0, num_train))
  splits = {split: dataset.map(preprocess) for split, dataset in splits.items()}

  first = splits['train'][0]
  return Dataset(
      name=name,
      num_classes=spec.num_classes,
      input_shape=tuple(first['inputs'].shape),
      input_dtype=first['inputs'].dtype,
      label_shape=(),
      vocab_size=vocab_size,
      splits=splits,
      num_examples={split: len(dataset) for split, dataset in splits.items()},
      augment=(preprocessing.make_crop_flip(cfg.augment_padding, cfg.augment_flip)
               if spec.modality == 'image' and cfg.augment else None),
      read_options=grain.ReadOptions(num_threads=cfg.num_threads,
                                     prefetch_buffer_size=cfg.prefetch_buffer_size),
      metadata=metadata)

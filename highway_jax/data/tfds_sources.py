"""TFDS datasets read without TensorFlow: ``tfds.data_source`` (ArrayRecord) wrapped in grain.

=============  =====================  ==========================================  =======  ========
name           TFDS splits            inputs                                      classes  vocab
=============  =====================  ==========================================  =======  ========
mnist          train / test           float32 (28, 28, 1)                         10       None cifar10        train
/ test           float32 (32, 32, 3)                         10       None cifar100       train / test
float32 (32, 32, 3) (fine ``label``)        100      None imdb_reviews   train / test           int32 (max_length,)
+ ``length``            2        built glue/sst2      train / validation     int32 (max_length,) + ``length``
2        built
=============  =====================  ==========================================  =======  ========

Images are uint8 in TFDS; they become float32 in [0, 1] and then ``config.data.normalize`` (``preprocessing``), with
the widely published training-set channel statistics below for ``'per_channel'``. Text is tokenized with
``text.tokenize``; the vocabulary is built from the whole TFDS training split and cached in the work directory
(``text.vocabulary_path``).

GLUE's SST-2 test split has no labels (they are −1), so our ``'test'`` split of ``glue/sst2`` is GLUE's labelled
validation split (872 sentences).

Availability. Reading a prepared dataset needs only ``tensorflow_datasets`` and ``array_record``; preparing one
(download, extract, encode, write ArrayRecord) needs TensorFlow in tensorflow-datasets 4.9.x (its downloader,
extractor, shuffler and image encoder call ``tf.io.gfile``/``tf.image``; ``glue`` is only registered once
``tensorflow_datasets.text.glue`` is imported). So before TFDS retries a download for minutes, ``ensure_available``
checks that the dataset is prepared in ``data_dir``, or else that its download host answers within seconds
(``can_download``) and TensorFlow is importable; otherwise it raises ``DatasetUnavailableError`` naming the offline
configs, ``--config.data.data_dir`` and ``pip install -e ".[tf]"``. Skipped under ``tfds.testing.mock_data``.
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
import numpy as np
import requests
from absl import logging

from highway_jax.data import offline, preprocessing, text
from highway_jax.data.dataset import Dataset, DatasetUnavailableError, from_splits, holdout_count
from highway_jax.errors import ConfigError

# Every config whose data needs no TFDS (tests/test_run_hygiene.py checks it against configs/*.py).
OFFLINE_CONFIGS = ('configs/digits_highway.py', 'configs/digits_depth.py', 'configs/digits_grid_lstm3d.py',
                   'configs/mnist1d_highway.py', 'configs/mnist1d_depth.py', 'configs/mnist1d_gru.py',
                   'configs/mnist1d_rhn.py', 'configs/mnist1d_highway_bilstm.py', 'configs/mnist1d_grid_lstm.py',
                   'configs/parity_grid_lstm.py', 'configs/addition_grid_lstm.py')
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
    'mnist': TFDSSpec('image', 10,
                      'https://storage.googleapis.com/cvdf-datasets/mnist/train-images-idx3-ubyte.gz',
                      mean=(0.1307,), std=(0.3081,)),
    'cifar10': TFDSSpec('image', 10, 'https://www.cs.toronto.edu/~kriz/cifar-10-binary.tar.gz',
                        mean=(0.4914, 0.4822, 0.4465), std=(0.2470, 0.2435, 0.2616)),
    'cifar100': TFDSSpec('image', 100, 'https://www.cs.toronto.edu/~kriz/cifar-100-binary.tar.gz',
                         mean=(0.5071, 0.4865, 0.4409), std=(0.2673, 0.2564, 0.2762)),
    'imdb_reviews': TFDSSpec('text', 2, 'http://ai.stanford.edu/~amaas/data/sentiment/aclImdb_v1.tar.gz',
                             text_key='text'),
    'glue/sst2': TFDSSpec('text', 2, 'https://dl.fbaipublicfiles.com/glue/data/SST-2.zip',
                          splits={'train': 'train', 'test': 'validation'}, text_key='sentence',
                          builder_module='tensorflow_datasets.text.glue'),
}


def can_download(url: str, timeout: float = PROBE_TIMEOUT_S) -> bool:
  """Whether ``url`` answers with a non-error HTTP status within about ``timeout`` seconds (in a
  daemon thread: a hanging DNS lookup, which requests' timeout misses, can't block for longer)."""
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
  # Under tfds.testing.mock_data, download_and_prepare is a no-op from tensorflow_datasets.testing.
  prepare = tfds.core.DatasetBuilder.download_and_prepare
  if getattr(prepare, '__module__', '').startswith('tensorflow_datasets.testing'):
    return
  builder = tfds.builder(name, data_dir=data_dir)
  if builder.is_prepared():
    return
  problems = []
  if not can_download(spec.download_url):
    problems.append(f'could not be downloaded: {urllib.parse.urlparse(spec.download_url).netloc} '
                    f'could not be reached within {PROBE_TIMEOUT_S:g} s (no network?)')
  if not _tensorflow_importable():
    problems.append('preparing it needs TensorFlow, which is not installed: pip install -e ".[tf]"')
  if problems:
    raise DatasetUnavailableError(
        f'TFDS dataset {name!r} is not prepared in {os.fspath(builder.data_path)} and '
        f'{"; ".join(problems)}. Train offline with one of the offline configs '
        f'({", ".join(OFFLINE_CONFIGS)}), or pass --config.data.data_dir=DIR for a TFDS directory '
        f'in which {name!r} is already prepared in array_record format.')


class _RandomAccess:
  """Exposes only ``len`` and ``[i]`` of a TFDS data source, so grain reads one record at a time
  (mocked TFDS sources do not support batched ``__getitems__``)."""

  def __init__(self, source):
    self._source = source

  def __len__(self) -> int:
    return len(self._source)

  def __getitem__(self, index: int) -> dict[str, Any]:
    return self._source[int(index)]


def _normalized_images(cfg, spec: TFDSSpec, images: np.ndarray, chunk: int = 1024) -> np.ndarray:
  """uint8 images (N, H, W, C) as ``preprocess`` makes them, chunk by chunk (float32 for N images,
  not several temporaries of that size)."""
  out = np.empty(images.shape, np.float32)
  for start in range(0, len(images), chunk):
    out[start:start + chunk] = preprocessing.normalize(
        images[start:start + chunk].astype(np.float32) / 255.0, cfg.normalize, mean=spec.mean, std=spec.std,
        example_ndim=images.ndim - 1)
  return out


def _load_images_in_memory(cfg, spec: TFDSSpec, raw: Mapping[str, _RandomAccess],
                           metadata: dict[str, Any]) -> Dataset:
  """``config.data.in_memory``: every split read and decoded once, normalised into arrays."""
  arrays = {}
  for split, source in raw.items():
    logging.info('Decoding the %d examples of %s %s into memory (config.data.in_memory).', len(source),
                 cfg.name, spec.splits[split])
    examples = [source[i] for i in range(len(source))]
    images = np.stack([np.asarray(example['image'], np.uint8) for example in examples])
    arrays[split] = {'inputs': _normalized_images(cfg, spec, images),
                     'label': np.asarray([example['label'] for example in examples], np.int32)}
  if cfg.normalize == 'per_channel':
    metadata.update(normalize_mean=spec.mean, normalize_std=spec.std)
  return offline.from_arrays(cfg, train=arrays['train'], test=arrays['test'], num_classes=spec.num_classes,
                             image=True, metadata=metadata)


def load_tfds(cfg, workdir: str | None) -> Dataset:
  """Loads one of ``TFDS_DATASETS`` (see the module docstring)."""
  name, spec = cfg.name, TFDS_DATASETS[cfg.name]
  ensure_available(name, cfg.data_dir)
  tfds = _import_tfds(spec)
  try:
    raw = {ours: _RandomAccess(tfds.data_source(name, split=theirs, data_dir=cfg.data_dir))
           for ours, theirs in spec.splits.items()}
  except NotImplementedError as error:  # prepared, but only as TFRecord (no random access)
    raise DatasetUnavailableError(
        f'TFDS dataset {name!r} in {cfg.data_dir or "the default TFDS directory"} is not stored in '
        f'a random-access format; prepare it with file_format=array_record ({error}).') from error

  metadata: dict[str, Any] = {'tfds_splits': dict(spec.splits)}
  if cfg.in_memory:
    if spec.modality != 'image':
      raise ConfigError(f'config.data.in_memory=True is for the image datasets; {name!r} is text: set it to False.')
    return _load_images_in_memory(cfg, spec, raw, metadata)
  vocab_size = None
  if spec.modality == 'image':
    def preprocess(example):
      image = np.asarray(example['image'], np.float32) / 255.0
      return {'inputs': preprocessing.normalize(image, cfg.normalize, mean=spec.mean, std=spec.std),
              'label': np.asarray(example['label'], np.int32)}
    if cfg.normalize == 'per_channel':
      metadata.update(normalize_mean=spec.mean, normalize_std=spec.std)
  else:
    path = None if workdir is None else text.vocabulary_path(workdir, name, cfg.vocab_size)
    train_texts = (raw['train'][i][spec.text_key] for i in range(len(raw['train'])))
    vocabulary = text.load_or_build_vocabulary(train_texts, vocab_size=cfg.vocab_size, path=path)
    vocab_size = len(vocabulary)
    metadata.update(vocabulary_path=path, vocabulary=vocabulary)

    def preprocess(example):
      encoded = vocabulary.encode(example[spec.text_key], cfg.max_length)
      return {'inputs': encoded['inputs'], 'label': np.asarray(example['label'], np.int32),
              'length': encoded['length']}

  splits = {ours: grain.MapDataset.source(source) for ours, source in raw.items()}
  if cfg.validation_fraction:
    num_train = len(raw['train']) - holdout_count(len(raw['train']), cfg.validation_fraction, 'validation_fraction')
    splits['validation'] = splits['train'].slice(slice(num_train, None))
    splits['train'] = splits['train'].slice(slice(0, num_train))
  splits = {split: dataset.map(preprocess) for split, dataset in splits.items()}

  return from_splits(cfg, splits, num_classes=spec.num_classes, vocab_size=vocab_size,
                     image=spec.modality == 'image', metadata=metadata)

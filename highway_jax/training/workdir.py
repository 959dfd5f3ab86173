"""The files of a work directory: their names, the JSON writer, and metrics.jsonl.

A training run's ``workdir`` holds::

    config.json     the config the run was started with, never overwritten once a checkpoint exists;
                    a relative data.data_dir is stored absolute
    config_changes.jsonl  changes accepted on resume (resume_with_changes), one line each:
                    {"step": 600, "changes": {"optimizer.learning_rate": [0.001, 0.003]}}
    metrics.jsonl   one JSON object per logged (step, split), appended; a resumed run first drops the
                    records after its checkpoint's step (it logs them again, bit-exactly)
    results.json    the final metrics, written once at the end (rerunning a finished run returns them)
    checkpoints/    Orbax checkpoints, one directory per step (checkpoints.py)
    loss.png, accuracy.png, events.out.tfevents.*   curves (plots.py) and TensorBoard events
    profile/        a jax.profiler trace of config.profile_steps steps (only when that is > 0)

A ``metrics.jsonl`` record::

    {"step": 1200, "split": "train", "loss": 0.123, "accuracy": 0.965, "learning_rate": 0.05, ...}

So every (split, step) appears once; readers keep the last record of one that repeats (work directories of older
versions). Files are rewritten atomically (a temporary file, then ``os.replace``).
"""

from __future__ import annotations

import errno
import json
import os
from collections.abc import Mapping
from typing import Any

import ml_collections
import numpy as np
import tensorboardX

from highway_jax.errors import CheckpointError, ConfigError, WorkdirError
from highway_jax.training.defaults import with_new_keys

CONFIG_FILE = 'config.json'
# Config keys that set how fast batches come, never which batches or what a step computes.
READER_KEYS = ('data.num_threads', 'data.prefetch_buffer_size')
RESULTS_FILE = 'results.json'
METRICS_FILE = 'metrics.jsonl'
CHECKPOINT_DIR = 'checkpoints'
CHANGES_FILE = 'config_changes.jsonl'
PROFILE_DIR = 'profile'  # jax.profiler traces (config.profile_steps)


_CAUSES = {errno.EEXIST: 'it is a file', errno.ENOTDIR: 'a part of the path is a file',
           errno.EACCES: 'permission denied', errno.EPERM: 'permission denied',
           errno.EROFS: 'the filesystem is read-only', errno.ENOSPC: 'no space left on the device'}


def prepare(workdir: str) -> None:
  """Creates ``workdir`` and checks that a file can be written there; else a one-line WorkdirError."""
  try:
    os.makedirs(workdir, exist_ok=True)
    probe = os.path.join(workdir, '.write_test')
    with open(probe, 'w', encoding='utf-8') as f:
      f.write('ok')
    os.remove(probe)
  except OSError as e:
    cause = _CAUSES.get(e.errno, e.strerror or type(e).__name__)
    raise WorkdirError(f'cannot use --workdir={workdir}: {cause} ({e.filename or workdir}); pass a '
                       'writable directory with --workdir=DIR.') from None


def drop_metrics_after(workdir: str, step: int) -> None:
  """Drops the records after ``step`` from ``metrics.jsonl``, atomically (a run resumed there logs them again)."""
  path = os.path.join(workdir, METRICS_FILE)
  if os.path.exists(path):
    with open(path, encoding='utf-8') as f, open(path + '.tmp', 'w', encoding='utf-8') as out:
      out.writelines(line for line in f if line.strip() and json.loads(line)['step'] <= step)
    os.replace(path + '.tmp', path)


def write_json(path: str, payload: Any) -> str:
  """Writes ``payload`` (NumPy values allowed) as indented JSON, atomically; returns ``path``."""
  os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
  with open(path + '.tmp', 'w', encoding='utf-8') as f:
    json.dump(payload, f, indent=2, sort_keys=True, default=lambda v: np.asarray(v).tolist())
    f.write('\n')
  os.replace(path + '.tmp', path)
  return path


def read_json(path: str) -> Any:
  with open(path, encoding='utf-8') as f:
    return json.load(f)


def config_json(config: ml_collections.ConfigDict) -> dict[str, Any]:
  """``config`` as the plain JSON dict stored in ``config.json``; a relative ``data.data_dir`` is made
  absolute, so the run can be evaluated from another directory."""
  stored = json.loads(config.to_json())
  if stored.get('data', {}).get('data_dir'):
    stored['data']['data_dir'] = os.path.abspath(stored['data']['data_dir'])
  return stored


def load_config(workdir: str) -> ml_collections.ConfigDict:
  """The config the weights in ``workdir`` were last trained with: ``config.json`` (with keys added since,
  ``defaults.with_new_keys``) and the changes of ``config_changes.jsonl``, in order."""
  path = os.path.join(workdir, CONFIG_FILE)
  if not os.path.exists(path):
    raise CheckpointError(f'{path} does not exist: {workdir} is not a training work directory.')
  config = ml_collections.ConfigDict(with_new_keys(read_json(path)))
  changes = os.path.join(workdir, CHANGES_FILE)
  if os.path.exists(changes):
    with open(changes, encoding='utf-8') as f:
      for record in map(json.loads, f):
        config.update_from_flattened_dict({k: new for k, (_, new) in record['changes'].items()})
  return config


def config_changes(old: Mapping[str, Any], new: Mapping[str, Any], prefix: str = '') -> dict[str, list]:
  """``{'a.b': [old, new]}`` for every leaf of two JSON configs that differs."""
  changes = {}
  for key in sorted(set(old) | set(new)):
    a, b = old.get(key), new.get(key)
    if isinstance(a, Mapping) and isinstance(b, Mapping):
      changes |= config_changes(a, b, f'{prefix}{key}.')
    elif a != b:
      changes[prefix + key] = [a, b]
  return changes


def append_config_changes(workdir: str, step: int, changes: Mapping[str, list]) -> None:
  with open(os.path.join(workdir, CHANGES_FILE), 'a', encoding='utf-8') as f:
    f.write(json.dumps({'step': step, 'changes': changes}) + '\n')


def read_metrics(run: str | os.PathLike) -> list[dict[str, Any]]:
  """The records of a run's ``metrics.jsonl`` (``run``: the file or its work directory), by step."""
  path = os.fspath(run)
  if os.path.isdir(path):
    path = os.path.join(path, METRICS_FILE)
  if not os.path.exists(path):
    raise ConfigError(f'no metrics file at {path}; pass a run work directory or its {METRICS_FILE}.')
  with open(path, encoding='utf-8') as f:  # the last record of a repeated (split, step)
    latest = {(r['split'], r['step']): r for r in map(json.loads, filter(str.strip, f))}
  return sorted(latest.values(), key=lambda r: (r['step'], r['split']))


class MetricWriter:
  """Appends scalars to ``metrics.jsonl`` and, as ``<split>/<name>``, to TensorBoard (tensorboardX,
  no TensorFlow); only process 0 writes (``enabled=False`` elsewhere)."""

  def __init__(self, workdir: str, *, enabled: bool = True):
    self.enabled = enabled
    if enabled:
      os.makedirs(workdir, exist_ok=True)
      self._jsonl = open(os.path.join(workdir, METRICS_FILE), 'a', encoding='utf-8')
      self._tensorboard = tensorboardX.SummaryWriter(logdir=workdir, flush_secs=30)

  def write_scalars(self, step: int, split: str, scalars: Mapping[str, float]) -> None:
    if not self.enabled:
      return
    self._jsonl.write(json.dumps({'step': int(step), 'split': split,
                                  **{k: float(v) for k, v in scalars.items()}}) + '\n')
    self._jsonl.flush()
    for name, value in scalars.items():
      self._tensorboard.add_scalar(f'{split}/{name}', float(value), int(step))

  def write_text(self, tag: str, text: str) -> None:
    if self.enabled:
      self._tensorboard.add_text(tag, text, 0)

  def close(self) -> None:
    if self.enabled:
      self._jsonl.close()
      self._tensorboard.close()
      self.enabled = False

"""What the experiments share: runs to train or reuse and to load, batch checks, curves, CSV.

* :func:`train_or_reuse` trains a config into a work directory, or reads back the results of a
  finished run of the same config (so rerunning an experiment skips finished runs); a diverged run
  is recorded in ``diverged.json``, so a search goes on. :func:`with_step_budget` shortens a config.
* :func:`train_seeds` trains (or reuses) labelled configs once per seed and writes their ``summary.csv``,
  mean and sample std (:func:`mean_and_std`) included; :func:`plot_metric_curves` draws runs, several
  seeds as a mean with a min–max band.
* :func:`load_run` restores a trained run's checkpoint as a :class:`LoadedRun`.
* :func:`checked_batches` is the one check of the batches every analysis reads: dicts with
  ``'inputs'``, integer ``'label'`` ``(B, ...)`` and optionally ``'mask'`` ``(B,)`` (1 real, 0 padding).

Example::

    from highway_jax.analysis import runs
    results = runs.train_or_reuse(runs.with_step_budget(config, 200), 'runs/a')
    run = runs.load_run('runs/a')
    run.params, run.init_params()
"""

from __future__ import annotations

import csv
import dataclasses
import os
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from typing import Any

import ml_collections
import numpy as np

from highway_jax import data
from highway_jax.errors import ConfigError, NonFiniteLossError, Preempted
from highway_jax.training import train_and_evaluate
from highway_jax.training.defaults import with_new_keys
from highway_jax.training.evaluation import restore_run
from highway_jax.training.plots import metric_curve, plot_curves
from highway_jax.training.setup import Setup, check_split
from highway_jax.training.workdir import (
  CONFIG_FILE,
  READER_KEYS,
  RESULTS_FILE,
  config_changes,
  config_json,
  read_json,
  read_metrics,
  write_json,
)

DIVERGED_FILE = 'diverged.json'


def with_step_budget(config: ml_collections.ConfigDict, steps: int | None, *,
                     eval_every: int | None = None) -> ml_collections.ConfigDict:
  """A copy of ``config`` trained for ``steps`` steps (None: unchanged): warmup at most a tenth of it,
  evaluation and checkpoint only at the end, the loss logged about 25 times (enough for a curve).
  ``eval_every``: evaluation on the validation split and checkpoint every so many steps instead (0: only
  at the end; None: as above, or as the config has it without ``steps``)."""
  config = ml_collections.ConfigDict(config.to_dict())
  if steps is not None:
    config.num_train_steps = int(steps)
    config.schedule.warmup_steps = min(config.schedule.warmup_steps, steps // 10)
    config.log_every_steps = max(1, min(config.log_every_steps, steps // 25))
    config.eval_every_steps = 0
    config.checkpoint_every_steps = 0
  if eval_every is not None:
    config.eval_every_steps = config.checkpoint_every_steps = int(eval_every)
  return config


def train_or_reuse(config: ml_collections.ConfigDict, workdir: str) -> dict[str, Any]:
  """Trains ``config`` in ``workdir``, or returns the ``results.json`` (or ``diverged.json``:
  ``{'diverged': True, 'error': message}``) of a finished run there, whose config must be ``config``.
  A run stopped by SIGTERM or Ctrl-C (checkpoint saved) raises ``errors.Preempted``: the experiment stops
  there, and rerunning it resumes that run."""
  config_path = os.path.join(workdir, CONFIG_FILE)
  for name in (RESULTS_FILE, DIVERGED_FILE):
    path = os.path.join(workdir, name)
    if os.path.exists(path):
      if not os.path.exists(config_path) or any(
          key not in READER_KEYS for key in config_changes(with_new_keys(read_json(config_path)), config_json(config))):
        raise ConfigError(f'{workdir} holds a finished run of a different config; remove it or use '
                          'another work directory.')
      return read_json(path)
  try:
    results = train_and_evaluate(config, workdir)
  except NonFiniteLossError as e:
    payload = {'diverged': True, 'error': ' '.join(str(e).split())}
    write_json(config_path, config_json(config))
    write_json(os.path.join(workdir, DIVERGED_FILE), payload)
    return payload
  if results.get('preempted'):
    raise Preempted(f"{workdir} stopped at step {results['step']} with a checkpoint saved; rerun the same "
                    'command to resume it.')
  return results


@dataclasses.dataclass(frozen=True)
class LoadedRun:
  """A trained run restored from its work directory: its ``Setup``, parameters and step."""

  workdir: str
  setup: Setup
  params: Any
  step: int

  @property
  def dataset(self) -> data.Dataset:
    return self.setup.dataset

  @property
  def model(self):
    return self.setup.model

  @property
  def name(self) -> str:  # the work directory's name
    return os.path.basename(os.path.normpath(self.workdir))

  def init_params(self) -> Any:
    """The parameters the run started from (same config and seed)."""
    return self.setup.init_state().params

  def batches(self, split: str, batch_size: int | None = None) -> data.EvalBatches:
    """Every example of ``split`` in padded batches (default size: the run's eval batch)."""
    check_split(self.dataset, split)
    size = min(batch_size or self.setup.config.eval_batch_size, self.dataset.num_examples[split])
    return data.eval_batches(self.dataset, split, batch_size=size)


def load_run(workdir: str, checkpoint: str | int = 'latest') -> LoadedRun:
  """The run in ``workdir`` at ``checkpoint`` (``'latest'``, ``'best'`` or a step; ``restore_run``)."""
  s, state, step = restore_run(workdir, checkpoint)
  return LoadedRun(workdir=workdir, setup=s, params=state.params, step=step)


def first_train_batch(s: Setup, config: ml_collections.ConfigDict) -> dict[str, Any]:
  """The first training batch the run of ``config`` (set up as ``s``) trains on."""
  batches = data.train_loader(s.dataset, batch_size=config.batch_size, seed=config.seed)
  try:
    return next(batches)
  finally:
    batches.close()


def checked_batches(batches: Iterable[Mapping[str, Any]]) -> Iterator[tuple[int, dict[str, Any]]]:
  """``(index, batch)`` with ``batch['mask']`` filled in; ValueError for a malformed batch, or after
  the last one if there was no real example."""
  real = 0.0
  for index, batch in enumerate(batches):
    label = mask = None
    if isinstance(batch, Mapping) and 'inputs' in batch and 'label' in batch:
      label = np.asarray(batch['label'])
      mask = np.asarray(batch.get('mask', np.ones(label.shape[:1])), np.float32)
    if label is None or not np.issubdtype(label.dtype, np.integer) or label.ndim < 1 or mask.shape != label.shape[:1]:
      got = (f'label {label.dtype} {label.shape}, mask {mask.shape}' if label is not None else
             f'keys {sorted(batch)}' if isinstance(batch, Mapping) else type(batch).__name__)
      raise ValueError("batches must yield dicts with 'inputs' and 'label' (integer class ids, "
                       f"(batch, ...)) and optionally 'mask' (batch,); batch {index} has {got}.")
    real += float(mask.sum())
    yield index, {**batch, 'mask': mask}
  if not real:
    raise ValueError("batches is empty or every example is masked out (batch['mask'] all zero).")


Run = str | os.PathLike | Sequence[Mapping[str, Any]]
"""A run whose metrics :func:`plot_metric_curves` reads: a work directory, its metrics.jsonl, or its records."""


def _is_run(value: Run | Sequence[Run]) -> bool:
  """Whether ``value`` is one run (a path, or records: a sequence of mappings), not a list of runs."""
  return not isinstance(value, Sequence) or isinstance(value, str) or all(isinstance(r, Mapping) for r in value)


def plot_metric_curves(runs: Mapping[str, Run | Sequence[Run]], path: str | os.PathLike, *, metric: str = 'loss',
                       split: str = 'train', log_scale: bool = True, title: str | None = None) -> str:
  """``metric`` of ``split`` against the step, one line per ``{label: run}``; a run is a work
  directory, its ``metrics.jsonl``, or its records. A list of several runs (e.g. one per seed) is drawn
  as their mean with a shaded band from their minimum to their maximum, at their logging steps, which
  must be the same (ConfigError naming the runs otherwise); the label is the legend text as given."""
  curves, bands = {}, {}
  for label, value in runs.items():
    group = [value] if _is_run(value) else list(value)
    names, per_run = [], []
    for i, run in enumerate(group):
      is_records = isinstance(run, Sequence) and not isinstance(run, str)
      names.append(f'records #{i}' if is_records else os.fspath(run))
      records = run if is_records else read_metrics(run)
      per_run.append(metric_curve(records, split, metric))
      if not per_run[-1][0]:
        available = sorted({(r['split'], k) for r in records for k in r if k not in ('split', 'step')})
        raise ConfigError(f'run {label!r}' + (f' ({names[-1]})' if len(group) > 1 else '') + f' has no '
                          f'{metric!r} for split {split!r}; it has (split, metric) {available}.')
    steps = per_run[0][0]
    if any(other != steps for other, _ in per_run[1:]):
      logged = ', '.join(f'{name} ({len(s)} at steps {s[0]}..{s[-1]})' for name, (s, _) in zip(names, per_run))
      raise ConfigError(f'the runs of {label!r} logged {split} {metric} at different steps, so they cannot be '
                        f'averaged: {logged}.')
    if len(per_run) == 1:
      curves[label] = per_run[0]
    else:
      values = np.asarray([v for _, v in per_run], np.float64)
      curves[label] = (steps, values.mean(axis=0).tolist())
      bands[label] = (values.min(axis=0).tolist(), values.max(axis=0).tolist())
  return plot_curves(curves, path, ylabel=f'{split} {metric}', log_scale=log_scale,
                     title=title or f'{split} {metric} per step', bands=bands)


def mean_and_std(values: Sequence[float | None]) -> tuple[float | None, float | None]:
  """Mean and sample std (ddof 1) of ``values`` (e.g. one per seed): both None when there is no value or
  one is None, the std None for a single value."""
  if not len(values) or any(v is None for v in values):
    return None, None
  values = np.asarray(values, np.float64)
  return float(values.mean()), float(values.std(ddof=1)) if len(values) > 1 else None


SEEDS_CSV_FIELDS = ('label', 'seed', 'workdir', 'status', 'train_loss', 'validation_accuracy', 'test_accuracy',
                    'steps')
SEEDS_CSV = 'summary.csv'


def train_seeds(configs: Mapping[str, ml_collections.ConfigDict], workdir: str, seeds: Sequence[int], *,
                log: Callable[[str], None] = lambda message: None) -> list[dict[str, Any]]:
  """Trains (or reuses, :func:`train_or_reuse`) each ``{label: config}`` once per seed, seed 0 in
  ``<workdir>/<label>`` (spaces as ``_``) and seed s in ``<workdir>/<label>_seed<s>``; writes
  ``<workdir>/summary.csv`` (``SEEDS_CSV_FIELDS``): per label one row per run (status 'ok' or 'diverged',
  the final step's numbers), then a row of seed ``'mean'`` and one of seed ``'std'``
  (:func:`mean_and_std`) over the runs that did not diverge. Returns those rows; ``log`` gets a line per run
  and per label."""
  rows = []
  for label, base in configs.items():
    label_rows = []
    for seed in seeds:
      config = ml_collections.ConfigDict(base.to_dict())
      config.seed = int(seed)
      name = label.replace(' ', '_') + (f'_seed{seed}' if seed else '')
      results = train_or_reuse(config, os.path.join(workdir, name))
      ok = not results.get('diverged')
      label_rows.append(dict(
          label=label, seed=int(seed), workdir=name, status='ok' if ok else 'diverged',
          train_loss=results.get('train_loss'), validation_accuracy=results.get('validation_accuracy'),
          test_accuracy=results.get('test_accuracy'), steps=results.get('step')))
      log(f'{label}, seed {seed}: ' + (
          f"test accuracy {results['test_accuracy']:.2%}, final training loss {results['train_loss']:.4g} after "
          f"{results['step']} steps" if ok else 'diverged (left out of the mean, the std and the curves)'))
    finished = [r for r in label_rows if r['status'] == 'ok']
    mean, std = dict(label=label, seed='mean'), dict(label=label, seed='std')
    for key in SEEDS_CSV_FIELDS[4:]:
      mean[key], std[key] = mean_and_std([r[key] for r in finished])
    rows += label_rows + [mean, std]
    log(_seeds_line(label, label_rows, mean, std))
  write_csv(os.path.join(workdir, SEEDS_CSV), SEEDS_CSV_FIELDS, rows)
  return rows


def _seeds_line(label: str, rows: Sequence[Mapping[str, Any]], mean: Mapping[str, Any],
                std: Mapping[str, Any]) -> str:
  """``LSTM: test accuracy 84.8% ± 0.5% (3 seeds), final training loss 0.295 ± 0.026``."""
  finished = [r for r in rows if r['status'] == 'ok']
  diverged = [str(r['seed']) for r in rows if r['status'] != 'ok']
  if not finished:
    return f"{label}: {'the run' if len(rows) == 1 else f'all {len(rows)} runs'} diverged"
  note = f"; seed{'s' * (len(diverged) > 1)} {', '.join(diverged)} diverged, left out" if diverged else ''
  spread = lambda key, fmt, std_fmt: format(mean[key], fmt) + (
      '' if std[key] is None else ' ± ' + format(std[key], std_fmt))
  return (f"{label}: test accuracy {spread('test_accuracy', '.1%', '.1%')} ({len(finished)} "
          f"seed{'s' * (len(finished) > 1)}{note}), final training loss {spread('train_loss', '.3g', '.2g')}")


def write_csv(path: str, fields: Sequence[str], rows: Iterable[Mapping[str, Any]]) -> str:
  """One row per mapping (missing or None values empty, floats as ``repr``); returns ``path``."""
  os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
  with open(path, 'w', newline='', encoding='utf-8') as f:
    writer = csv.DictWriter(f, fieldnames=fields, extrasaction='ignore')
    writer.writeheader()
    for row in rows:
      writer.writerow({k: '' if row.get(k) is None else
                       repr(float(row[k])) if isinstance(row[k], (float, np.floating)) else row[k]
                       for k in fields})
  return path

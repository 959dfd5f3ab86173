"""``train_and_evaluate(config, workdir)``: the training loop, with exact resumption.

One optimizer step on a batch (x, y) with dropout key k_t = fold_in(dropout_root, t)::

    loss(θ)  = mean cross-entropy(model(θ, x; train=True, k_t), y)     (losses.py; per token for
                                                                        sequence targets)
    θ, s     = optax update of (θ, s) with ∇loss(θ)                    (optimizers.py)

jit-compiled, with the state replicated and the batch split over every device on the mesh axis
'data' (parallel.py). Along the way, in ``workdir``:

    every log_every_steps         console line (step, loss, accuracy, steps/s, ETA), metrics.jsonl,
                                  TensorBoard; a NaN/Inf loss or gradient stops the run here with
                                  NonFiniteLossError, before anything is saved
    every eval_every_steps        evaluation on config.eval_split
    every checkpoint_every_steps  checkpoint of (train state, data iterator) in workdir/checkpoints
    at the end                    final checkpoint, evaluation on 'test', results.json, loss.png and
                                  accuracy.png

Resuming: if ``workdir/checkpoints`` has a checkpoint, training restarts from the latest one, with the
data iterator's position, so the run continues bit-identically to one never interrupted (on the same
hardware). SIGTERM (or a multi-host preemption notice) saves a checkpoint and returns early with
``{'preempted': True, ...}``. A checkpoint that doesn't fit the current config is a CheckpointError.

Example::

    from highway_jax.training import train_and_evaluate
    results = train_and_evaluate(config, 'runs/digits_highway')
    results['test_accuracy']
"""

from __future__ import annotations

import dataclasses
import functools
import json
import math
import os
import signal
import threading
import time
from typing import Any

import jax
import ml_collections
import numpy as np
import optax
from absl import logging

from highway_jax import data, models
from highway_jax.training import losses, parallel
from highway_jax.training.checkpoints import Checkpointer
from highway_jax.training.config_validation import validate_config
from highway_jax.errors import ConfigError, NonFiniteLossError
from highway_jax.training.evaluation import CHECKPOINT_DIR, CONFIG_FILE, eval_step, evaluate
from highway_jax.training.metrics import MetricWriter, ProgressReporter, format_metrics
from highway_jax.training.optimizers import create_optimizer
from highway_jax.training.plots import plot_curves
from highway_jax.training.state import TrainState, count_params, init_state

RESULTS_FILE = 'results.json'


@dataclasses.dataclass
class Setup:
  """Everything derived from the config before training: data, model, optimizer, steps, keys."""

  mesh: Any
  dataset: Any
  model: Any
  tx: Any
  schedule: Any
  total_steps: int
  steps_per_epoch: int
  init_fn: Any
  init_key: jax.Array
  dropout_root: jax.Array
  abstract_state: Any


def setup(config: ml_collections.ConfigDict, workdir: str | None) -> Setup:
  """Validates ``config`` and builds the dataset, model, optimizer and abstract train state."""
  validate_config(config)
  mesh = parallel.create_mesh()
  for key in ('batch_size', 'eval_batch_size'):
    try:
      parallel.check_batch_size(f'config.{key}', config[key])
    except ValueError as e:
      raise ConfigError(str(e)) from None
  try:
    dataset = data.load(config.data, workdir=workdir)
  except data.DatasetUnavailableError:
    raise
  except ValueError as e:
    # The data package raises ValueError for bad config.data fields (names, sizes).
    raise ConfigError(str(e)) from e
  if config.eval_split not in dataset.splits:
    raise ConfigError(
        f'config.eval_split={config.eval_split!r} is not a split of dataset {dataset.name!r}; it '
        f'has {", ".join(sorted(dataset.splits))}.')
  model = models.get_model(config.model, dataset, dtype=config.dtype)

  steps_per_epoch = dataset.num_examples['train'] // config.batch_size
  if steps_per_epoch < 1:
    raise ConfigError(
        f"config.batch_size={config.batch_size} is larger than the training split "
        f"({dataset.num_examples['train']} examples).")
  if config.num_train_steps > 0:
    total_steps = config.num_train_steps
  else:
    total_steps = max(1, math.ceil(config.num_epochs * steps_per_epoch))
  tx, schedule = create_optimizer(config, total_steps)

  init_key, dropout_root = jax.random.split(jax.random.key(config.seed))
  init_fn = functools.partial(init_state, model, tx, dataset)
  abstract_state = jax.eval_shape(init_fn, init_key)
  return Setup(mesh=mesh, dataset=dataset, model=model, tx=tx, schedule=schedule,
               total_steps=total_steps, steps_per_epoch=steps_per_epoch, init_fn=init_fn,
               init_key=init_key, dropout_root=dropout_root, abstract_state=abstract_state)


def train_step(state: TrainState, batch: dict[str, jax.Array],
               dropout_root: jax.Array) -> tuple[TrainState, dict[str, jax.Array]]:
  """One optimizer step; returns the new state and the batch's summed metrics and gradient norm."""
  dropout_key = jax.random.fold_in(dropout_root, state.step)

  def loss_fn(params):
    logits = state.apply_fn({'params': params}, batch['inputs'], train=True,
                            lengths=batch.get('length'), rngs={'dropout': dropout_key})
    return losses.mean_cross_entropy(logits, batch['label']), logits

  (_, logits), grads = jax.value_and_grad(loss_fn, has_aux=True)(state.params)
  new_state = state.apply_gradients(grads=grads)
  sums = losses.metric_sums(logits, batch['label'])
  sums['grad_norm'] = optax.global_norm(grads)
  return new_state, sums


class _Preemption:
  """Sets a flag on SIGTERM while installed (main thread only); restores the old handler on exit."""

  def __init__(self):
    self.requested = False
    self._previous = None

  def __enter__(self):
    if threading.current_thread() is threading.main_thread():
      self._previous = signal.signal(signal.SIGTERM, self._handle)
    return self

  def _handle(self, signum, frame):
    del signum, frame
    self.requested = True

  def __exit__(self, *exc):
    if self._previous is not None:
      signal.signal(signal.SIGTERM, self._previous)


def _write_json(path: str, payload: dict[str, Any]) -> None:
  tmp = path + '.tmp'
  with open(tmp, 'w', encoding='utf-8') as f:
    json.dump(payload, f, indent=2, sort_keys=True)
    f.write('\n')
  os.replace(tmp, path)


def _log_config_changes(workdir: str, config: ml_collections.ConfigDict) -> None:
  path = os.path.join(workdir, CONFIG_FILE)
  if not os.path.exists(path):
    return
  with open(path, encoding='utf-8') as f:
    old = json.load(f)
  new = json.loads(config.to_json())
  changed = sorted(k for k in set(old) | set(new) if old.get(k) != new.get(k))
  if changed:
    logging.warning('Resuming %s with a changed config; top-level keys that differ: %s',
                    workdir, ', '.join(changed))


def train_and_evaluate(config: ml_collections.ConfigDict, workdir: str) -> dict[str, Any]:
  """Trains and evaluates the model of ``config``, writing everything to ``workdir``.

  Args:
    config: an experiment config (``highway_jax.training.default_config()`` plus data/model fields).
    workdir: directory for checkpoints, metrics, plots and results; resumed from if it has
      checkpoints.

  Returns:
    The final metrics (also in ``workdir/results.json``): ``test_loss``, ``test_accuracy`` (and
    ``test_sequence_accuracy`` for sequence targets), the last training metrics ``train_*``, ``step``,
    ``num_params`` and ``wall_time_s``; or ``{'preempted': True, 'step': ...}`` after SIGTERM.

  Raises:
    ConfigError: a bad config field (one-line message naming it).
    highway_jax.data.DatasetUnavailableError: the dataset can't be obtained (e.g. offline).
    NonFiniteLossError: the loss or gradient became NaN/Inf; the last good checkpoint is intact.
    CheckpointError: the work directory's checkpoint can't be restored into this config's model.
  """
  start_time = time.time()
  workdir = os.path.abspath(workdir)
  is_chief = jax.process_index() == 0
  if is_chief:
    os.makedirs(workdir, exist_ok=True)
  s = setup(config, workdir)
  state_sharding = parallel.replicated(s.mesh)
  train_iter = data.train_loader(
      s.dataset, batch_size=config.batch_size // jax.process_count(), seed=config.seed,
      shard_index=jax.process_index(), shard_count=jax.process_count())
  ckpt = Checkpointer(os.path.join(workdir, CHECKPOINT_DIR), keep=config.keep_checkpoints,
                      best_metric=config.best_metric, best_mode=config.best_mode,
                      async_checkpointing=config.async_checkpointing)
  writer = None
  try:
    latest = ckpt.latest_step()
    if latest is not None:
      abstract = parallel.abstract_with_sharding(s.abstract_state, state_sharding)
      state, train_iter = ckpt.restore(latest, abstract, train_iter)
      logging.info('Resumed from checkpoint %s (step %d).', ckpt.step_path(latest), latest)
      if is_chief:
        _log_config_changes(workdir, config)
    else:
      state = jax.jit(s.init_fn, out_shardings=state_sharding)(s.init_key)
    if is_chief:
      _write_json(os.path.join(workdir, CONFIG_FILE), json.loads(config.to_json()))

    num_params = count_params(state.params)
    logging.info('Model %s: %d parameters; dataset %s: %s train examples; %d steps of batch %d '
                 '(%d steps per epoch) on %d device(s).', config.model.name, num_params,
                 s.dataset.name, s.dataset.num_examples['train'], s.total_steps, config.batch_size,
                 s.steps_per_epoch, jax.device_count())
    writer = MetricWriter(workdir, enabled=is_chief)
    writer.write_text('config', '```\n' + str(config) + '\n```')

    train_step_fn = jax.jit(train_step, donate_argnums=(0,))
    eval_step_fn = jax.jit(eval_step)
    step = int(jax.device_get(state.step))
    progress = ProgressReporter(s.total_steps, start_step=step)
    pending: list[tuple[int, dict[str, jax.Array]]] = []
    last_train: dict[str, float] = {}
    last_eval: tuple[int, dict[str, float]] | None = None

    def flush_train_metrics():
      """Checks and logs the metrics of the steps since the last flush."""
      nonlocal last_train
      if not pending:
        return
      values = jax.device_get([sums for _, sums in pending])
      steps = [t for t, _ in pending]
      pending.clear()
      for t, sums in zip(steps, values):
        loss = float(sums['loss']) / max(float(sums.get('token_count', sums['count'])), 1.0)
        if not (math.isfinite(loss) and math.isfinite(float(sums['grad_norm']))):
          good = ckpt.latest_step()
          where = (f'the last good checkpoint {ckpt.step_path(good)} (step {good}) is left intact'
                   if good is not None else 'no checkpoint had been saved yet')
          raise NonFiniteLossError(
              f'the training loss became {loss} (gradient norm {float(sums["grad_norm"])}) at '
              f'step {t} (learning rate {float(s.schedule(t - 1)):.4g}); {where}. Lower '
              'config.optimizer.learning_rate or set config.optimizer.grad_clip_norm.')
      total = None
      for sums in values:
        total = losses.add_sums(total, {k: v for k, v in sums.items() if k != 'grad_norm'})
      last_train = losses.normalize(total)
      scalars = dict(last_train)
      scalars['grad_norm'] = float(np.mean([float(v['grad_norm']) for v in values]))
      scalars['learning_rate'] = float(s.schedule(steps[-1] - 1))
      writer.write_scalars(steps[-1], 'train', scalars)
      logging.info('%s', progress.line(steps[-1], last_train))

    with _Preemption() as preemption:
      while step < s.total_steps:
        batch = parallel.shard_batch(next(train_iter), s.mesh)
        state, sums = train_step_fn(state, batch, s.dropout_root)
        step += 1
        pending.append((step, sums))
        is_last = step == s.total_steps
        if step % config.log_every_steps == 0 or is_last:
          flush_train_metrics()

        eval_metrics = None
        if (config.eval_every_steps and step % config.eval_every_steps == 0) or is_last:
          flush_train_metrics()
          eval_metrics = evaluate(eval_step_fn, state, s.dataset, config.eval_split,
                                  batch_size=config.eval_batch_size, mesh=s.mesh)
          last_eval = (step, eval_metrics)
          writer.write_scalars(step, config.eval_split, eval_metrics)
          logging.info('step %d eval on %s | %s', step, config.eval_split,
                       format_metrics(eval_metrics))
          progress.reset_clock(step)

        preempted = preemption.requested or ckpt.reached_preemption(step)
        if ((config.checkpoint_every_steps and step % config.checkpoint_every_steps == 0)
            or is_last or preempted):
          flush_train_metrics()  # never save a state whose loss is not known to be finite
          ckpt.save(step, state, train_iter, metrics=eval_metrics)
          progress.reset_clock(step)
        if preempted and not is_last:
          ckpt.wait_until_finished()
          logging.warning('Preempted: saved checkpoint %s at step %d; rerun the same command to '
                          'resume.', ckpt.step_path(step), step)
          return {'preempted': True, 'step': step}

    flush_train_metrics()
    if last_eval is not None and last_eval[0] == step and config.eval_split == 'test':
      test_metrics = last_eval[1]
    else:
      test_metrics = evaluate(eval_step_fn, state, s.dataset, 'test',
                              batch_size=config.eval_batch_size, mesh=s.mesh)
      writer.write_scalars(step, 'test', test_metrics)
    ckpt.wait_until_finished()
    results = {f'test_{k}': v for k, v in test_metrics.items()}
    results.update({f'train_{k}': v for k, v in last_train.items()})
    results.update(step=step, num_params=num_params, best_step=ckpt.best_step(),
                   wall_time_s=time.time() - start_time)
    logging.info('step %d final test | %s', step, format_metrics(test_metrics))
    if is_chief:
      _write_json(os.path.join(workdir, RESULTS_FILE), results)
      writer.flush()
      plot_curves(workdir)
    return results
  finally:
    if writer is not None:
      writer.close()
    ckpt.close()
    train_iter.close()  # stops grain's prefetch threads

"""``train_and_evaluate(config, workdir)``: the training loop, with exact resumption.

One optimizer step on a batch (x, y) with dropout key k_t = fold_in(dropout_root, t)::

    loss(θ)  = mean cross-entropy(model(θ, x; train=True, k_t), y)     (losses.py; per token for
                                                                        sequence targets)
    θ, s     = optax update of (θ, s) with ∇loss(θ)                    (optimizers.py)

jit-compiled, with the state replicated and the batch split over every device on the mesh axis 'data' (parallel.py).
Along the way, in ``workdir``:

    every log_every_steps         console line (step, loss, accuracy, steps/s, ETA), metrics.jsonl,
                                  TensorBoard; a NaN/Inf loss or gradient stops the run here with
                                  NonFiniteLossError, before anything is saved
    every eval_every_steps        evaluation on config.eval_split
    every checkpoint_every_steps  checkpoint of (train state, data iterator) in workdir/checkpoints
    early_stopping_patience       after each evaluation: stop (final checkpoint, evaluation and results as
                                  at the end, 'stopped_on_plateau': True) once that many evaluations in a row
                                  have not beaten the best best_metric so far (strictly; best_mode)
    at the end                    final checkpoint, evaluation on 'validation' (if the dataset has
                                  it) and 'test', results.json, loss.png and accuracy.png

Resuming from the latest checkpoint (with the data position) continues bit-identically to a run never interrupted
(same hardware); metrics.jsonl first loses the records after the checkpoint, which are logged again; early stopping's
count resumes from the checkpoint's metrics. A finished run (final checkpoint and results.json, at the last step or
stopped on a plateau by early stopping) is not run again: its stored results are returned and nothing is written.
SIGTERM, a first Ctrl-C (SIGINT) or a multi-host preemption notice saves a checkpoint at the next step boundary and
returns ``{'preempted': True, 'step': ...}``; a second Ctrl-C exits at once.

Example::

    from highway_jax.training import train_and_evaluate
    results = train_and_evaluate(config, 'runs/digits_highway')
    results['test_accuracy']
"""

from __future__ import annotations

import contextlib
import dataclasses
import datetime
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

from highway_jax import data
from highway_jax.errors import ConfigError, NonFiniteLossError
from highway_jax.training import losses, parallel
from highway_jax.training.checkpoints import Checkpointer
from highway_jax.training.plots import plot_run
from highway_jax.training.setup import Setup, TrainState, count_params, evaluate, setup
from highway_jax.training.workdir import (
  CONFIG_FILE,
  PROFILE_DIR,
  READER_KEYS,
  RESULTS_FILE,
  MetricWriter,
  append_config_changes,
  config_changes,
  config_json,
  drop_metrics_after,
  load_config,
  prepare,
  read_json,
  write_json,
)


def train_step(state: TrainState, batch: dict[str, jax.Array],
               dropout_root: jax.Array) -> tuple[TrainState, dict[str, jax.Array]]:
  """One optimizer step; returns the new state and the batch's summed metrics and gradient norm."""
  dropout_key = jax.random.fold_in(dropout_root, state.step)

  def loss_fn(params):
    logits = state.apply_fn({'params': params}, batch['inputs'], train=True,
                            lengths=batch.get('length'), rngs={'dropout': dropout_key})
    return losses.mean_cross_entropy(logits, batch['label']), logits

  (_, logits), grads = jax.value_and_grad(loss_fn, has_aux=True)(state.params)
  sums = losses.metric_sums(logits, batch['label'])
  sums['grad_norm'] = optax.global_norm(grads)
  return state.apply_gradients(grads=grads), sums


def format_metrics(metrics: dict[str, float]) -> str:
  """``'loss 0.1234 | accuracy 96.50%'``."""
  return ' | '.join(f'{k} {100 * v:.2f}%' if 'accuracy' in k else f'{k} {v:.4g}' for k, v in metrics.items())


def _progress_line(step: int, total: int, metrics: dict[str, float], speed: float) -> str:
  """``step 1200/5000 | loss 0.1234 | accuracy 96.50% | 812.3 steps/s | ETA 0:00:04``."""
  eta = (str(datetime.timedelta(seconds=round((total - step) / speed)))
         if speed > 0 and math.isfinite(speed) else '?')
  return ' | '.join([f'step {step:>{len(str(total))}}/{total}']
                    + ([format_metrics(metrics)] if metrics else []) + [f'{speed:.1f} steps/s', f'ETA {eta}'])


@contextlib.contextmanager
def _stop_event():
  """An Event set by SIGTERM or a first SIGINT (Ctrl-C) while inside (main thread only): the loop then
  saves at the next step boundary and returns. A second SIGINT exits at once (status 130). The old
  handlers are back afterwards."""
  event = threading.Event()
  if threading.current_thread() is not threading.main_thread():
    yield event
    return

  def on_signal(signum, frame):
    if signum == signal.SIGINT and event.is_set():
      os.write(2, b'Interrupted again: exiting now without saving.\n')
      os._exit(130)
    if signum == signal.SIGINT:
      os.write(2, b'Interrupted: saving a checkpoint at the next step, then exiting (Ctrl-C again exits at once).\n')
    event.set()

  previous = {sig: signal.signal(sig, on_signal) for sig in (signal.SIGTERM, signal.SIGINT)}
  try:
    yield event
  finally:
    for sig, handler in previous.items():
      signal.signal(sig, handler)


@dataclasses.dataclass
class EarlyStopping:
  """The count of evaluations since ``metric`` (``mode`` 'max' or 'min') last strictly improved."""

  patience: int
  metric: str
  mode: str
  best: float | None = None
  since_best: int = 0
  KEYS = ('early_stopping_best', 'early_stopping_since_best')  # its state in the checkpoints' metrics

  def update(self, metrics: dict[str, float]) -> bool:
    """Counts one evaluation; whether to stop (``patience`` evaluations in a row without improvement)."""
    if self.metric not in metrics:
      raise ConfigError(f'config.best_metric={self.metric!r} is not among the evaluation metrics {sorted(metrics)} '
                        'that early stopping watches; set it to one of them.')
    value = float(metrics[self.metric])
    if self.best is None or (value > self.best if self.mode == 'max' else value < self.best):
      self.best, self.since_best = value, 0
    else:
      self.since_best += 1
    return self.since_best >= self.patience

  def state(self) -> dict[str, float]:
    return {} if self.best is None else dict(zip(self.KEYS, (self.best, self.since_best)))

  def restore(self, metrics: dict[str, float]) -> None:
    if all(k in metrics for k in self.KEYS):
      self.best, self.since_best = metrics[self.KEYS[0]], int(metrics[self.KEYS[1]])


def _train_metrics(pending: list[tuple[int, dict[str, jax.Array]]], s: Setup,
                   ckpt: Checkpointer) -> tuple[dict[str, float], float]:
  """Mean metrics and gradient norm of the ``(step, sums)`` in ``pending``; NonFiniteLossError at the
  first step whose loss or gradient norm is NaN/Inf."""
  values = jax.device_get([sums for _, sums in pending])
  for (step, _), sums in zip(pending, values):
    loss = float(sums['loss']) / max(float(sums.get('token_count', sums['count'])), 1.0)
    if not (math.isfinite(loss) and math.isfinite(float(sums['grad_norm']))):
      good = ckpt.latest_step()
      where = (f'the last good checkpoint {ckpt.step_path(good)} (step {good}) is left intact'
               if good is not None else 'no checkpoint had been saved yet')
      raise NonFiniteLossError(
          f'the training loss became {loss} (gradient norm {float(sums["grad_norm"])}) at step '
          f'{step} (learning rate {float(s.schedule(step - 1)):.4g}); {where}. Lower '
          'config.optimizer.learning_rate or set config.optimizer.grad_clip_norm.')
  return losses.normalize(values), float(np.mean([float(v['grad_norm']) for v in values]))


# Keys that change how long or how visibly a run trains, not what it computes: resumed without asking.
FREE_ON_RESUME = ('num_train_steps', 'num_epochs', 'log_every_steps', 'eval_every_steps', 'checkpoint_every_steps',
                  'keep_checkpoints', 'async_checkpointing', 'profile_steps', 'eval_batch_size',
                  'resume_with_changes', 'data.data_dir', *READER_KEYS)


def _check_resume(workdir: str, config: ml_collections.ConfigDict) -> dict[str, list]:
  """The changes from the config the checkpoints were trained with; a ConfigError for one that alters
  the computation unless ``config.resume_with_changes``."""
  changes = config_changes(config_json(load_config(workdir)), config_json(config))
  altering = {k: v for k, v in changes.items() if k not in FREE_ON_RESUME}
  listed = lambda items: ', '.join(f'{k} {old!r} -> {new!r}' for k, (old, new) in items.items())
  if altering and not config.resume_with_changes:
    raise ConfigError(
        f'{workdir} holds checkpoints trained with another config ({listed(altering)}). Use another --workdir '
        'for a new run, or add --config.resume_with_changes=true to continue these weights with the change.')
  if changes:
    logging.warning('Resuming %s with config changes: %s', workdir, listed(changes))
  return changes


def _every(step: int, period: int) -> bool:
  return bool(period) and step % period == 0


def train_and_evaluate(config: ml_collections.ConfigDict, workdir: str) -> dict[str, Any]:
  """Trains the model of ``config`` in ``workdir`` (module docstring); returns the final metrics of
  ``results.json``: ``test_*``, ``validation_*`` (if the dataset has it), the last ``train_*``,
  ``step``, ``num_params``, ``best_step`` and ``wall_time_s``. Raises ConfigError,
  data.DatasetUnavailableError, NonFiniteLossError or CheckpointError (``highway_jax.errors``)."""
  start_time = time.time()
  # Checked here, not in validate_config: runs saved before this rule can still be evaluated.
  if config.eval_split == 'test' and config.best_metric:
    raise ConfigError(f"config.eval_split='test' with config.best_metric={config.best_metric!r} would "
                      "select the best checkpoint on the test set; set config.eval_split='validation' "
                      "or config.best_metric=''.")
  workdir = os.path.abspath(workdir)
  is_chief = jax.process_index() == 0
  if is_chief:
    prepare(workdir)
  s = setup(config, workdir)
  train_iter = data.train_loader(
      s.dataset, batch_size=config.batch_size // jax.process_count(), seed=config.seed,
      shard_index=jax.process_index(), shard_count=jax.process_count())
  ckpt = Checkpointer.of_run(workdir, config, async_checkpointing=config.async_checkpointing)
  writer = None
  try:
    stopper = (EarlyStopping(config.early_stopping_patience, config.best_metric, config.best_mode)
               if config.early_stopping_patience else None)
    latest = ckpt.latest_step()  # resume there, with the data position
    if latest is None:
      state = s.init_state()
      if is_chief:
        write_json(os.path.join(workdir, CONFIG_FILE), config_json(config))
    else:
      changes = _check_resume(workdir, config)
      results_path = os.path.join(workdir, RESULTS_FILE)
      stored = read_json(results_path) if os.path.exists(results_path) else {}
      if stored.get('step') == latest and (latest == s.total_steps or (
          stored.get('stopped_on_plateau') and 'early_stopping_patience' not in changes)):
        logging.info('%s already finished at step %d; results in %s.', workdir, latest, results_path)
        return stored
      state, train_iter = ckpt.restore(latest, s.abstract_state(), train_iter)
      if stopper:
        stopper.restore(ckpt.metrics(latest))
      logging.info('Resumed from checkpoint %s (step %d).', ckpt.step_path(latest), latest)
      if is_chief:
        drop_metrics_after(workdir, latest)
      if changes and is_chief:
        append_config_changes(workdir, latest, changes)
    writer = MetricWriter(workdir, enabled=is_chief)
    num_params = count_params(state.params)
    logging.info('Model %s: %d parameters; dataset %s: %s train examples; %d steps of batch %d '
                 '(%d steps per epoch) on %d device(s).', config.model.name, num_params,
                 s.dataset.name, s.dataset.num_examples['train'], s.total_steps, config.batch_size,
                 s.steps_per_epoch, jax.device_count())
    writer.write_text('config', '```\n' + str(config) + '\n```')

    train_step_fn = jax.jit(train_step, donate_argnums=(0,))
    step = int(jax.device_get(state.step))
    clock = (step, time.perf_counter())  # speed since the last line, evaluation or save
    first_step = step
    pending, last_train, last_eval, stopped_on_plateau = [], {}, None, False
    with _stop_event() as stop:
      while step < s.total_steps and not stopped_on_plateau:
        if config.profile_steps and step == first_step + 1:  # after the step that compiled
          jax.profiler.start_trace(os.path.join(workdir, PROFILE_DIR))
        batch = parallel.shard_batch(next(train_iter), s.mesh)
        state, sums = train_step_fn(state, batch, s.dropout_root)
        step += 1
        if config.profile_steps and step == first_step + 1 + config.profile_steps:
          jax.block_until_ready(state)
          jax.profiler.stop_trace()
          logging.info('Wrote a trace of steps %d-%d to %s (TensorBoard profiler or Perfetto).',
                       step - config.profile_steps + 1, step, os.path.join(workdir, PROFILE_DIR))
        pending.append((step, sums))
        is_last = step == s.total_steps
        preempted = stop.is_set() or ckpt.reached_preemption(step)
        evaluate_now = is_last or _every(step, config.eval_every_steps)
        save_now = is_last or preempted or _every(step, config.checkpoint_every_steps)

        # The training metrics come first: a checkpoint is saved only once its loss is known finite.
        if evaluate_now or save_now or _every(step, config.log_every_steps):
          last_train, grad_norm = _train_metrics(pending, s, ckpt)
          pending = []
          writer.write_scalars(step, 'train', last_train | {
              'grad_norm': grad_norm, 'learning_rate': float(s.schedule(step - 1))})
          elapsed = time.perf_counter() - clock[1]
          speed = (step - clock[0]) / elapsed if elapsed > 0 else math.nan
          logging.info('%s', _progress_line(step, s.total_steps, last_train, speed))
          clock = (step, time.perf_counter())
        eval_metrics = None
        if evaluate_now:
          eval_metrics = evaluate(s, state, config.eval_split)
          last_eval = (step, eval_metrics)
          writer.write_scalars(step, config.eval_split, eval_metrics)
          logging.info('step %d eval on %s | %s', step, config.eval_split, format_metrics(eval_metrics))
          if stopper and not is_last and stopper.update(eval_metrics):
            stopped_on_plateau = is_last = save_now = True
        if save_now:
          ckpt.save(step, state, train_iter, metrics=(eval_metrics or {}) | (stopper.state() if stopper else {}))
        if stopped_on_plateau:
          logging.info('Early stopping at step %d: %s on %s has not improved on %.4g for %d evaluations.', step,
                       config.best_metric, config.eval_split, stopper.best, stopper.since_best)
        if evaluate_now or save_now:
          clock = (step, time.perf_counter())
        if preempted and not is_last:
          ckpt.wait_until_finished()
          logging.warning('Preempted: saved checkpoint %s at step %d; rerun the same command to '
                          'resume.', ckpt.step_path(step), step)
          return {'preempted': True, 'step': step}

    final = {}  # the final state on each held-out split (test is reported, never selected on)
    for split in ('validation', 'test'):
      if last_eval is not None and last_eval[0] == step and config.eval_split == split:
        final[split] = last_eval[1]
      elif split in s.dataset.splits:
        final[split] = evaluate(s, state, split)
        writer.write_scalars(step, split, final[split])
    ckpt.wait_until_finished()
    results = ({f'{split}_{k}': v for split, metrics in final.items() for k, v in metrics.items()}
               | {f'train_{k}': v for k, v in last_train.items()}
               | dict(step=step, num_params=num_params, best_step=ckpt.best_step(),
                      wall_time_s=time.time() - start_time)
               | ({'stopped_on_plateau': stopped_on_plateau} if stopper else {}))
    logging.info('step %d final | %s', step,
                 '; '.join(f'{split}: {format_metrics(metrics)}' for split, metrics in final.items()))
    if is_chief:
      write_json(os.path.join(workdir, RESULTS_FILE), results)
      plot_run(workdir)
    return results
  finally:
    if writer is not None:
      writer.close()
    ckpt.close()
    train_iter.close()  # stops grain's prefetch threads

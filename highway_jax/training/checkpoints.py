"""Checkpoints of the train state and the data iterator, with Orbax's ``CheckpointManager``.

Each checkpoint ``<directory>/<step>/`` holds ``state`` (step, params, optimizer state; arrays only) and ``data``
(the grain iterator's position), so a restored run continues with exactly the batches and random numbers it would
have seen.

Kept: the ``keep`` latest, plus (with ``best_metric``) the one whose evaluation ``best_metric`` is best
(``best_mode`` 'max' or 'min'); a save without metrics (a preemption) ranks last. Saves are atomic (a temporary
directory, renamed when complete); those of an interrupted save are removed.

Restoring goes into an abstract target (shapes, dtypes, shardings), after comparing the stored shapes with it. A
mismatch or a damaged checkpoint (a file missing or unparsable; ``_CHECKPOINT_METADATA``, which Orbax only logs, is
checked on opening) raises a one-line ``CheckpointError`` naming the step directory and what to delete, with Orbax's
detail in the debug log: no silent re-initialisation or fall-back. Array bytes carry no checksum: damage that still
decodes goes unnoticed.

Example::

    ckpt = Checkpointer(os.path.join(workdir, 'checkpoints'), keep=2, best_metric='accuracy')
    if ckpt.latest_step() is not None:
      state, iterator = ckpt.restore(ckpt.latest_step(), abstract_state, iterator)
    ckpt.save(step, state, iterator, metrics={'accuracy': 0.97, 'loss': 0.1})
    ckpt.close()
"""

from __future__ import annotations

import math
import os
from collections.abc import Mapping
from typing import Any

import grain
import jax
import orbax.checkpoint as ocp
from absl import logging
from orbax.checkpoint import checkpoint_managers

from highway_jax.errors import CheckpointError
from highway_jax.training.workdir import CHECKPOINT_DIR, read_json


def _shapes(tree: Any) -> dict[str, tuple[int, ...]]:
  """``{'params/stack/layers/H/kernel': shape, ...}`` of the arrays in ``tree``."""
  return {'/'.join(str(getattr(k, 'key', getattr(k, 'name', getattr(k, 'idx', k)))) for k in path):
          tuple(leaf.shape)
          for path, leaf in jax.tree_util.tree_flatten_with_path(tree)[0] if hasattr(leaf, 'shape')}


class Checkpointer:
  """Saves and restores (train state, data iterator) pairs in ``directory`` (module docstring)."""

  def __init__(self, directory: str, *, keep: int = 2, best_metric: str = '',
               best_mode: str = 'max', async_checkpointing: bool = True):
    self.directory = os.path.abspath(directory)
    self.best_metric = best_metric
    for step in self._steps_on_disk():  # before Orbax, which logs an unreadable one and goes on
      try:
        read_json(os.path.join(self.step_path(step), '_CHECKPOINT_METADATA'))
      except (OSError, ValueError) as e:
        raise self._damaged(step, 'its _CHECKPOINT_METADATA cannot be read', e) from e
    policies = [checkpoint_managers.LatestN(n=keep)]
    worst = math.inf if best_mode == 'min' else -math.inf
    best_fn = (lambda metrics: metrics.get(best_metric, worst)) if best_metric else None
    if best_metric:
      policies.append(checkpoint_managers.BestN(
          get_metric_fn=best_fn, reverse=best_mode == 'min', n=1, keep_checkpoints_without_metrics=False))
    options = ocp.CheckpointManagerOptions(
        preservation_policy=checkpoint_managers.AnyPreservationPolicy(policies), best_fn=best_fn,
        best_mode=best_mode, cleanup_tmp_directories=True, enable_async_checkpointing=async_checkpointing)
    # Naming the handlers lets a fresh manager read a checkpoint's metadata before any restore.
    self._manager = ocp.CheckpointManager(
        self.directory, options=options, item_handlers={
            'state': ocp.StandardCheckpointHandler(), 'data': grain.checkpoint.CheckpointHandler()})

  @classmethod
  def of_run(cls, workdir: str, config, *, async_checkpointing: bool = False) -> Checkpointer:
    """The checkpoints of the run in ``workdir``, kept as its ``config`` says."""
    return cls(os.path.join(workdir, CHECKPOINT_DIR), keep=config.keep_checkpoints,
               best_metric=config.best_metric, best_mode=config.best_mode, async_checkpointing=async_checkpointing)

  def step_path(self, step: int) -> str:
    return os.path.join(self.directory, str(step))

  def _steps_on_disk(self) -> list[int]:  # complete ones: a save in progress has a temporary name
    return sorted(int(n) for n in (os.listdir(self.directory) if os.path.isdir(self.directory) else [])
                  if n.isdigit())

  def _damaged(self, step: int, what: str, error: Exception) -> CheckpointError:
    """The one-line error for checkpoint ``step``, with Orbax's ``error`` in the debug log only."""
    logging.debug('Checkpoint %s: %s: %s', self.step_path(step), type(error).__name__, error)
    others = [s for s in self._steps_on_disk() if s != step]
    fix = (f'resume from step {max(others)} (or delete all of {os.path.basename(self.directory)}/ to '
           'start over)' if others else 'start over')
    return CheckpointError(f'Checkpoint {self.step_path(step)} is damaged: {what}. Delete that directory '
                           f'to {fix}, or use another --workdir.')

  def all_steps(self) -> list[int]:
    return list(self._manager.all_steps())

  def latest_step(self) -> int | None:
    return self._manager.latest_step()

  def best_step(self) -> int | None:  # None when best_metric is unset or no saved step was evaluated
    step = self._manager.best_step() if self.best_metric else None
    return step if step is not None and self.best_metric in (self._manager.metrics(step) or {}) else None

  def metrics(self, step: int) -> dict[str, float]:
    """The metrics saved with checkpoint ``step`` ({} for none)."""
    return dict(self._manager.metrics(step) or {})

  def save(self, step: int, state: Any, data_iterator: Any = None,
           metrics: Mapping[str, float] | None = None) -> bool:
    """Saves at ``step`` unless a checkpoint of that step exists; returns whether it saved."""
    if step in self._manager.all_steps():
      return False
    items = {'state': ocp.args.StandardSave(state)}
    if data_iterator is not None:
      items['data'] = grain.checkpoint.CheckpointSave(data_iterator)
    # Always a dict: with best_metric set, Orbax warns on every save without metrics.
    metrics = {k: float(v) for k, v in (metrics or {}).items()}
    return self._manager.save(step, args=ocp.args.Composite(**items), metrics=metrics, force=True)

  def restore(self, step: int, abstract_state: Any, data_iterator: Any = None):
    """``(state, data_iterator)`` of ``step``, restored into ``abstract_state`` and the iterator."""
    try:
      metadata = self._manager.item_metadata(step)['state']
      stored = _shapes(getattr(metadata, 'tree', metadata))
    except Exception as e:  # pylint: disable=broad-except
      raise self._damaged(step, 'the array metadata in state/ cannot be read', e) from e
    expected = _shapes(abstract_state)
    # Parameters first: a different model shows up there most readably.
    for key in sorted(set(stored) | set(expected), key=lambda k: (not k.startswith('params'), k)):
      if stored.get(key) != expected.get(key):
        what = ('missing from the checkpoint' if key not in stored else
                'not in the current model' if key not in expected else
                f'shape {stored[key]} in the checkpoint but {expected[key]} in the current model')
        raise CheckpointError(
            f'Checkpoint {self.step_path(step)} does not match the current config: {key} is {what}. Use another '
            '--workdir for a different model, or delete the checkpoints to start over.')
    items = {'state': ocp.args.StandardRestore(abstract_state)}
    if data_iterator is not None:
      items['data'] = grain.checkpoint.CheckpointRestore(data_iterator)
    try:
      restored = self._manager.restore(step, args=ocp.args.Composite(**items))
    except Exception as e:  # pylint: disable=broad-except
      raise self._damaged(step, 'its arrays or data-iterator position cannot be read', e) from e
    return restored['state'], restored['data'] if data_iterator is not None else None

  def reached_preemption(self, step: int) -> bool:  # JAX's multi-host preemption notice
    return self._manager.reached_preemption(step)

  def wait_until_finished(self) -> None:
    self._manager.wait_until_finished()

  def close(self) -> None:
    self._manager.close()

"""Evaluation: the jit-compiled eval step, a full pass over a split, and evaluating a saved run.

``eval_step(state, batch)`` returns the summed loss and accuracy of one batch, counting only the
examples with ``batch['mask'] == 1`` (the padding of the last batch has mask 0), so a pass over
``data.eval_batches`` gives exact means over every example of the split (see ``losses.py``).

``evaluate_checkpoint(workdir, checkpoint='latest' | 'best' | step, split='test')`` rebuilds the data
and model from ``workdir/config.json``, restores that checkpoint of ``workdir/checkpoints`` and
evaluates it; ``scripts/evaluate.py`` calls it.

Example::

    metrics = evaluate_checkpoint('runs/digits_highway', checkpoint='best')
    metrics['accuracy']
"""

from __future__ import annotations

import json
import os
from typing import Any

import jax
import ml_collections

from highway_jax import data
from highway_jax.training import losses, parallel
from highway_jax.training.checkpoints import Checkpointer
from highway_jax.errors import CheckpointError, ConfigError

CONFIG_FILE = 'config.json'
CHECKPOINT_DIR = 'checkpoints'


def eval_step(state, batch: dict[str, jax.Array]) -> dict[str, jax.Array]:
  logits = state.apply_fn({'params': state.params}, batch['inputs'], train=False,
                          lengths=batch.get('length'))
  return losses.metric_sums(logits, batch['label'], batch['mask'])


def evaluate(eval_step_fn, state, dataset, split: str, *, batch_size: int,
             mesh) -> dict[str, float]:
  """Loss and accuracy of ``state`` over every example of ``split``.

  ``batch_size`` is the global evaluation batch; each process evaluates its shard.
  """
  if split not in dataset.splits:
    raise ConfigError(
        f'split {split!r} is not in dataset {dataset.name!r}; it has {", ".join(dataset.splits)}.')
  batches = data.eval_batches(
      dataset, split, batch_size=batch_size // jax.process_count(),
      shard_index=jax.process_index(), shard_count=jax.process_count())
  sums = [eval_step_fn(state, parallel.shard_batch(batch, mesh)) for batch in batches]
  total = None
  for batch_sums in jax.device_get(sums):
    total = losses.add_sums(total, batch_sums)
  if total is None:
    raise ValueError(f'split {split!r} of dataset {dataset.name!r} has no examples.')
  return losses.normalize(total)


def load_config(workdir: str) -> ml_collections.ConfigDict:
  """The config a run in ``workdir`` was started with (``workdir/config.json``)."""
  path = os.path.join(workdir, CONFIG_FILE)
  if not os.path.exists(path):
    raise CheckpointError(f'{path} does not exist: {workdir} is not a training work directory.')
  with open(path, encoding='utf-8') as f:
    return ml_collections.ConfigDict(json.load(f))


def restore_run(workdir: str, checkpoint: str | int = 'latest'):
  """Rebuilds the run in ``workdir`` from its config and restores a checkpoint.

  ``checkpoint`` is ``'latest'``, ``'best'`` (by the run's ``config.best_metric``) or a step.
  Returns ``(config, setup, state, step)`` (``setup`` as built by ``train.setup``).

  Raises:
    CheckpointError: no ``config.json``, no such checkpoint, or one that doesn't fit the config.
    ConfigError: ``'best'`` for a run without ``config.best_metric``.
  """
  # Imported here to avoid an import cycle (train imports this module).
  from highway_jax.training import train  # pylint: disable=g-import-not-at-top

  config = load_config(workdir)
  directory = os.path.join(workdir, CHECKPOINT_DIR)
  if not os.path.isdir(directory) or not any(n.isdigit() for n in os.listdir(directory)):
    raise CheckpointError(f'{workdir} has no checkpoint ({directory} holds none); train the run '
                          'first with scripts/train.py.')
  setup = train.setup(config, workdir)
  ckpt = Checkpointer(directory, keep=config.keep_checkpoints, best_metric=config.best_metric,
                      best_mode=config.best_mode, async_checkpointing=False)
  try:
    if checkpoint == 'latest':
      step = ckpt.latest_step()
    elif checkpoint == 'best':
      if not config.best_metric:
        raise ConfigError("checkpoint='best' needs a run with config.best_metric set; this run has "
                          "none. Use 'latest'.")
      step = ckpt.best_step()
    else:
      step = int(checkpoint)
      if step not in ckpt.all_steps():
        raise CheckpointError(
            f'no checkpoint of step {step} in {directory}; it has steps {ckpt.all_steps()}.')
    if step is None:
      raise CheckpointError(f'no {checkpoint} checkpoint in {directory}.')
    abstract = parallel.abstract_with_sharding(setup.abstract_state,
                                               parallel.replicated(setup.mesh))
    state, _ = ckpt.restore(step, abstract)
  finally:
    ckpt.close()
  return config, setup, state, int(step)


def evaluate_checkpoint(workdir: str, checkpoint: str | int = 'latest',
                        split: str = 'test') -> dict[str, Any]:
  """Restores a checkpoint of the run in ``workdir`` and evaluates it on ``split`` (module docstring).

  Returns the metrics plus ``'step'`` (the checkpoint's step) and ``'split'``.
  """
  config, setup, state, step = restore_run(workdir, checkpoint)
  eval_step_fn = jax.jit(eval_step)
  metrics = evaluate(eval_step_fn, state, setup.dataset, split,
                     batch_size=config.eval_batch_size, mesh=setup.mesh)
  return {'step': step, 'split': split, **metrics}


"""Evaluating a saved run: restore one of its checkpoints and measure it on a split.

``restore_run(workdir, checkpoint='latest' | 'best' | step)`` rebuilds the run's ``Setup`` from
``workdir/config.json`` (setup.py) and restores that checkpoint of ``workdir/checkpoints`` into it;
``evaluate_checkpoint`` then evaluates it on a split (``scripts/evaluate.py``). The analyses of
``highway_jax.analysis`` load runs through ``restore_run`` too.

Example::

    metrics = evaluate_checkpoint('runs/digits_highway', checkpoint='best')
    metrics['accuracy']
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any

from highway_jax.errors import CheckpointError
from highway_jax.training.checkpoints import Checkpointer
from highway_jax.training.setup import Setup, TrainState, evaluate, setup
from highway_jax.training.workdir import CHECKPOINT_DIR, load_config


def restore_run(workdir: str, checkpoint: str | int = 'latest',
                data_overrides: Mapping[str, Any] | None = None) -> tuple[Setup, TrainState, int]:
  """``(setup, state, step)`` of the run in ``workdir`` at ``checkpoint``: ``'latest'``, ``'best'``
  (by the run's ``config.best_metric`` on its ``config.eval_split``) or a step. CheckpointError if
  there is none that fits."""
  config = load_config(workdir)
  config.data.update(dict(data_overrides or {}))
  directory = os.path.join(workdir, CHECKPOINT_DIR)
  if not os.path.isdir(directory) or not any(n.isdigit() for n in os.listdir(directory)):
    raise CheckpointError(f'{workdir} has no checkpoint ({directory} holds none); train the run '
                          'first with scripts/train.py.')
  s = setup(config, workdir)
  ckpt = Checkpointer.of_run(workdir, config)
  try:
    steps = ckpt.all_steps()
    step = {'latest': ckpt.latest_step, 'best': ckpt.best_step}.get(checkpoint, lambda: int(checkpoint))()
    if step not in steps:
      hint = (" ('best' needs a run with config.best_metric set; use 'latest')"
              if checkpoint == 'best' and not config.best_metric else '')
      raise CheckpointError(f'no {checkpoint} checkpoint in {directory}; it has steps {steps}.{hint}')
    state, _ = ckpt.restore(step, s.abstract_state())
  finally:
    ckpt.close()
  return s, state, int(step)


def evaluate_checkpoint(workdir: str, checkpoint: str | int = 'latest', split: str = 'test',
                        data_overrides: Mapping[str, Any] | None = None) -> dict[str, Any]:
  """The metrics of a checkpoint of the run in ``workdir`` on ``split``, with its ``'step'`` and
  ``'split'``. ``data_overrides`` replace fields of the run's ``config.data`` (e.g. ``data_dir`` for a
  dataset that moved)."""
  s, state, step = restore_run(workdir, checkpoint, data_overrides)
  return {'step': step, 'split': split, **evaluate(s, state, split)}

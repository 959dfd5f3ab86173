"""Highway vs plain nets of hundreds of layers, trained with SGD + momentum (the paper's 1000-layer claim).

:func:`run_very_deep` trains (or reuses, ``runs.train_or_reuse``) ``make_config(depth, family)`` for every
family and depth with the same seed, data order and step budget (``runs.with_step_budget``), ``model.remat``
on from ``remat_from`` layers, and writes, in its work directory:

    runs/<family>_depth<D>/   each run, reused when finished, with run_stats.json (its cost and
                              full training-set metrics, computed once)
    very_deep.csv             one row per run (CSV_FIELDS)
    results.json              'settings' and 'rows'
    very_deep.png             one panel per depth: training loss per step (log y) of each family,
                              titled with the depth, annotated with step time and memory

The cost of a run's train step (:func:`train_step_cost`), the compiled ``training.loop.train_step`` of its
config, state donated as in training::

    memory_mb    = (argument + output − aliased + temp bytes) / 2**20     (XLA's memory analysis)
    step_time_ms = median wall time of TIMED_STEPS calls after one warm-up call, on one training batch

The training loop records no speed in ``metrics.jsonl`` (its records must repeat bit-exactly on resume), so
the step is timed right after the run, on the same core. A diverged run (NaN/Inf loss) is a row with status
'diverged', its curve drawn up to the last logged step and marked 'x'.

Example::

    payload = run_very_deep(lambda depth, family: load_config_file(
        f'configs/digits_depth.py:num_layers={depth},block={family}'), 'runs/very_deep',
        depths=(200, 500, 1000), steps=1000, remat_from=1000)
"""

from __future__ import annotations

import os
import statistics
import time
from collections.abc import Callable, Sequence
from typing import Any

import jax
import jax.numpy as jnp
import ml_collections
from matplotlib.figure import Figure

from highway_jax.analysis.runs import first_train_batch, train_or_reuse, with_step_budget, write_csv
from highway_jax.training import parallel
from highway_jax.training.evaluation import evaluate_checkpoint
from highway_jax.training.loop import train_step
from highway_jax.training.plots import metric_curve, save_figure, style_axes
from highway_jax.training.setup import count_params, setup
from highway_jax.training.workdir import RESULTS_FILE, read_json, read_metrics, write_json

STATS_FILE = 'run_stats.json'
TIMED_STEPS = 5
CSV_FIELDS = ('family', 'depth', 'status', 'num_params', 'last_logged_train_loss', 'train_loss', 'train_accuracy',
              'test_accuracy', 'step_time_ms', 'memory_mb', 'remat', 'learning_rate', 'steps', 'wall_time_s', 'run')


def train_step_cost(config: ml_collections.ConfigDict) -> dict[str, float]:
  """``num_params``, ``memory_mb`` and ``step_time_ms`` of the train step of ``config`` (module docstring).
  The state is zeros shaped like the run's: the same work per step, without initialising the real one."""
  s = setup(config, workdir=None)
  abstract = s.abstract_state()
  state = jax.tree.map(lambda x: jnp.zeros(x.shape, x.dtype, device=x.sharding), abstract)
  batch = parallel.shard_batch(first_train_batch(s, config), s.mesh)
  compiled = jax.jit(train_step, donate_argnums=(0,)).lower(state, batch, s.dropout_root).compile()
  memory = compiled.memory_analysis()
  times = []
  for _ in range(TIMED_STEPS + 1):
    start = time.perf_counter()
    state, _ = jax.block_until_ready(compiled(state, batch, s.dropout_root))
    times.append(time.perf_counter() - start)
  used = (memory.argument_size_in_bytes + memory.output_size_in_bytes - memory.alias_size_in_bytes
          + memory.temp_size_in_bytes)
  return dict(num_params=count_params(abstract.params), memory_mb=used / 2**20,
              step_time_ms=1e3 * statistics.median(times[1:]))


def plot_very_deep(curves: dict[int, dict[str, dict[str, Any]]], path: str | os.PathLike, *,
                   title: str | None = None) -> str:
  """One panel per depth of ``{depth: {family: {'steps', 'losses', 'diverged', 'step_time_ms',
  'memory_mb'}}}``: the training loss against the step (log y); the legend gives each family's cost."""
  depths = sorted(curves)
  fig = Figure(figsize=(max(6.0, 3.8 * len(depths)), 4.0), layout='constrained')
  for column, depth in enumerate(depths):
    ax = fig.add_subplot(1, len(depths), column + 1)
    for index, (family, run) in enumerate(curves[depth].items()):
      label = (f"{family}: {run['step_time_ms']:.3g} ms/step, {run['memory_mb']:.3g} MB"
               + (' (diverged)' if run['diverged'] else ''))
      ax.plot(run['steps'], run['losses'], color=f'C{index}', label=label)
      if run['diverged'] and run['steps']:
        ax.plot(run['steps'][-1:], run['losses'][-1:], 'x', color=f'C{index}', markersize=9)
    style_axes(ax, legend='small', integer_x=False, log_y=True, grid='both', title=f'{depth} layers',
               xlabel='step', ylabel='' if column else 'training loss (log scale)')
  fig.suptitle(title or 'Very deep nets: training loss, highway vs plain (SGD + momentum)')
  return save_figure(fig, path)


def run_very_deep(make_config: Callable[[int, str], ml_collections.ConfigDict], workdir: str, *,
                  depths: Sequence[int], families: Sequence[str] = ('highway', 'plain'), steps: int | None = None,
                  seed: int = 0, remat_from: int | None = None, title: str | None = None,
                  log: Callable[[str], None] = lambda message: None) -> dict[str, Any]:
  """Trains (or reuses) one run per family and depth; writes the module docstring's files and returns
  the content of ``results.json``. ``remat_from``: ``model.remat=True`` at this depth and deeper (None: never)."""
  rows, curves = [], {}
  for depth in depths:
    for family in families:
      config = with_step_budget(make_config(depth, family), steps)
      config.seed = seed
      remat = remat_from is not None and depth >= remat_from
      if remat:  # only set when on, so shallower configs stay those of the other experiments
        config.model.remat = True
      run_dir = os.path.join(workdir, 'runs', f"{family.replace(' ', '_')}_depth{depth}")
      results = train_or_reuse(config, run_dir)
      diverged = bool(results.get('diverged'))
      stats_path = os.path.join(run_dir, STATS_FILE)
      if not os.path.exists(stats_path):
        stats = train_step_cost(config)
        if not diverged:  # the score: the final parameters over the whole training split
          train = evaluate_checkpoint(run_dir, 'latest', split='train')
          stats.update(train_loss=train['loss'], train_accuracy=train['accuracy'])
        write_json(stats_path, stats)
      stats = read_json(stats_path)
      row = dict(family=family, depth=int(depth), status='diverged' if diverged else 'ok', remat=remat,
                 learning_rate=config.optimizer.learning_rate, run=os.path.relpath(run_dir, workdir), **stats)
      if not diverged:
        row.update(last_logged_train_loss=results.get('train_loss'), test_accuracy=results.get('test_accuracy'),
                   steps=results.get('step'), wall_time_s=results.get('wall_time_s'))
      steps_logged, losses = metric_curve(read_metrics(run_dir), 'train', 'loss')
      curves.setdefault(int(depth), {})[family] = dict(steps=steps_logged, losses=losses, diverged=diverged,
                                                       step_time_ms=row['step_time_ms'], memory_mb=row['memory_mb'])
      log(f"{family}, {depth} layers: {row['status']}, full training-set loss {row.get('train_loss')}, "
          f"{row['step_time_ms']:.1f} ms/step, {row['memory_mb']:.1f} MB" + (' (remat)' if remat else ''))
      rows.append(row)
  write_csv(os.path.join(workdir, 'very_deep.csv'), CSV_FIELDS, rows)
  settings = dict(depths=list(depths), families=list(families), steps=steps, seed=seed, remat_from=remat_from,
                  timed_steps=TIMED_STEPS)
  payload = {'settings': settings, 'rows': rows}
  write_json(os.path.join(workdir, RESULTS_FILE), payload)
  plot_very_deep(curves, os.path.join(workdir, 'very_deep.png'), title=title)
  return payload

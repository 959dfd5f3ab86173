"""Plain vs highway fully connected nets at several depths, by random search (paper Fig. 1).

For each network family ('plain' | 'highway') and depth, ``num_trials`` random settings are trained:
the learning rate log-uniform in ``learning_rate_range`` and, for highway nets, the transform bias
uniform in ``transform_bias_range`` ([−10, −1]). The score of a trial is the full training-set loss of
its final checkpoint. Per (family, depth) the figure shows the best trial (the paper's left panel) and the
mean ± standard deviation (``ddof=0``) of the ``top_k`` best finished trials (its right panel; fewer
where fewer finished, said in ``k`` and the legend).

:func:`run_depth_sweep` writes, in its work directory:

    trials/<family>_depth<D>_trial<i>/   each trial's run (reused when finished), with train_eval.json
    sweep.csv          one row per trial (SWEEP_CSV_FIELDS)
    summary.csv        one row per family and depth (SUMMARY_CSV_FIELDS), with the ratio
                       best plain / best highway training loss of that depth
    results.json       'settings', 'trials', 'best' ({family: {depth: row}}) and 'summary' (its rows)
    depth_sweep.png    best and top-k mean training loss vs depth (log y), and the best runs' loss
                       curves per depth
    best_curves.png    the training loss curves of the best trial per (family, depth)

Example::

    payload = run_depth_sweep(lambda depth, family: load_config_file(
        f'configs/digits_depth.py:num_layers={depth},block={family}'), 'runs/depth_sweep', steps=400)
    payload['best']['highway'][50]['train_loss']
"""

from __future__ import annotations

import dataclasses
import math
import os
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import ml_collections
import numpy as np
from matplotlib.figure import Figure

from highway_jax.analysis.runs import plot_metric_curves, train_or_reuse, with_step_budget, write_csv
from highway_jax.errors import Bounds, ConfigError
from highway_jax.training.evaluation import evaluate_checkpoint
from highway_jax.training.plots import metric_curve, save_figure, style_axes
from highway_jax.training.workdir import RESULTS_FILE, read_json, read_metrics, write_json

TRAIN_EVAL_FILE = 'train_eval.json'
LEARNING_RATE_RANGE = (1e-3, 1e-1)
TRANSFORM_BIAS_RANGE = (-10.0, -1.0)
SWEEP_CSV_FIELDS = ('family', 'depth', 'trial', 'learning_rate', 'transform_bias_init', 'status', 'train_loss',
                    'train_accuracy', 'last_logged_train_loss', 'test_loss', 'test_accuracy', 'steps', 'num_params',
                    'run')
SUMMARY_CSV_FIELDS = ('family', 'depth', 'trials', 'diverged', 'best_train_loss', 'top_k_mean_train_loss',
                      'top_k_std_train_loss', 'k', 'best_plain_over_best_highway')


@dataclasses.dataclass(frozen=True)
class Trial:
  """One random-search setting: a family ('plain' | 'highway'), a depth and its hyperparameters."""

  family: str
  depth: int
  index: int
  learning_rate: float
  transform_bias_init: float | None  # None for plain nets

  @property
  def name(self) -> str:
    return f'{self.family}_depth{self.depth}_trial{self.index}'


def sample_trials(depths: Sequence[int], families: Sequence[str], num_trials: int, seed: int, *,
                  learning_rate_range: tuple[float, float] = LEARNING_RATE_RANGE,
                  transform_bias_range: tuple[float, float] = TRANSFORM_BIAS_RANGE) -> list[Trial]:
  """``num_trials`` random settings per (family, depth), each pair with its own random stream seeded
  by ``(seed, depth, family)``, so more trials keep the earlier ones (and their finished runs)."""
  low, high = learning_rate_range
  trials = []
  for family in families:
    for depth in depths:
      rng = np.random.default_rng([seed, depth, sum(map(ord, family))])
      for index in range(num_trials):
        lr = float(math.exp(rng.uniform(math.log(low), math.log(high))))
        bias = float(rng.uniform(*transform_bias_range))  # drawn for both, so streams stay aligned
        trials.append(Trial(family, int(depth), index, lr, round(bias, 4) if family == 'highway' else None))
  return trials


def best_trials(rows: Sequence[Mapping[str, Any]], key: str = 'train_loss') -> dict[str, dict[int, dict]]:
  """The row with the lowest finite ``key`` per family and depth, ``{family: {depth: row}}`` (absent
  where every trial diverged)."""
  best: dict[str, dict[int, dict]] = {}
  for row in rows:
    value = row.get(key)
    if value is None or not math.isfinite(value):
      continue
    family = best.setdefault(row['family'], {})
    if row['depth'] not in family or value < family[row['depth']][key]:
      family[row['depth']] = dict(row)
  return best


def summarize_trials(rows: Sequence[Mapping[str, Any]], top_k: int) -> list[dict[str, Any]]:
  """One row per (family, depth) of the trial ``rows`` (SUMMARY_CSV_FIELDS): the number of trials and
  of diverged ones, the best finite ``train_loss``, the mean and std (``ddof=0``) of the ``k`` lowest
  (``k = min(top_k, finite losses)``) and, on every row of a depth, best plain / best highway."""
  Bounds(ge=1).check('top_k', top_k)
  groups: dict[tuple[str, int], list] = {}
  for row in rows:
    groups.setdefault((row['family'], row['depth']), []).append(row)
  summary = []
  for (family, depth), group in groups.items():
    losses = sorted(r['train_loss'] for r in group if r['train_loss'] is not None and math.isfinite(r['train_loss']))
    top = np.array(losses[:top_k])
    summary.append(dict(family=family, depth=depth, trials=len(group),
                        diverged=sum(r['status'] == 'diverged' for r in group), k=len(top),
                        best_train_loss=losses[0] if losses else None,
                        top_k_mean_train_loss=float(top.mean()) if len(top) else None,
                        top_k_std_train_loss=float(top.std()) if len(top) else None))
  best = {(r['family'], r['depth']): r['best_train_loss'] for r in summary}
  for row in summary:
    plain, highway = best.get(('plain', row['depth'])), best.get(('highway', row['depth']))
    row['best_plain_over_best_highway'] = plain / highway if plain is not None and highway else None
  return summary


def plot_depth_sweep(best_loss: Mapping[str, Mapping[int, float]], path: str | os.PathLike, *,
                     curves: Mapping[str, Mapping[int, tuple[Sequence[float], Sequence[float]]]]
                     | None = None, summary: Sequence[Mapping[str, Any]] | None = None, top_k: int = 10,
                     ylabel: str = 'best training loss', title: str | None = None) -> str:
  """Best training loss ``{family: {depth: loss}}`` vs depth (log y); beside it, with ``summary`` rows
  (:func:`summarize_trials`), the top-``top_k`` mean ± std vs depth; below, one panel per depth of the
  loss curves ``{family: {depth: (steps, losses)}}``."""
  colors = {family: f'C{i}' for i, family in enumerate(best_loss)}
  depths = sorted({int(d) for family in curves.values() for d in family}) if curves else []
  columns = max(2 if summary else 1, len(depths))
  fig = Figure(figsize=(max(6.0, 3.4 * columns), 7.2 if depths else 4.0), layout='constrained')
  grid = fig.add_gridspec(2 if depths else 1, 2 if summary else 1)
  sweep_ax = fig.add_subplot(grid[0, 0])
  xticks = sorted({int(d) for by_depth in best_loss.values() for d in by_depth})
  for family, by_depth in best_loss.items():
    points = sorted((int(d), float(v)) for d, v in by_depth.items())
    sweep_ax.plot(*zip(*points), 'o-', color=colors[family], label=family)
  style_axes(sweep_ax, integer_x=False, log_y=True, grid='both', xlabel='depth (layers)',
             ylabel=ylabel + ' (log scale)', title='Best training loss vs depth', xticks=xticks)
  if summary:
    top_ax = fig.add_subplot(grid[0, 1], sharey=sweep_ax)
    for family in colors:
      rows = sorted((r for r in summary if r['family'] == family and r['k']), key=lambda r: r['depth'])
      fewer = [f"{r['k']} at depth {r['depth']}" for r in rows if r['k'] < top_k]  # fewer finished
      top_ax.errorbar([r['depth'] for r in rows], [r['top_k_mean_train_loss'] for r in rows],
                      [r['top_k_std_train_loss'] for r in rows], fmt='o-', capsize=3, color=colors[family],
                      label=family + (f' (top {", ".join(fewer)}: fewer finished)' if fewer else ''))
    style_axes(top_ax, legend='small', integer_x=False, log_y=True, grid='both', xlabel='depth (layers)',
               title=f'Mean ± std of the top {top_k} trials', xticks=xticks)
  if depths:
    sub = grid[1, :].subgridspec(1, len(depths))
  for column, depth in enumerate(depths):
    ax = fig.add_subplot(sub[0, column], sharey=fig.axes[-1] if column else None)
    for family, by_depth in curves.items():
      run = {int(d): v for d, v in by_depth.items()}.get(depth)
      if run is not None:
        ax.plot(*run, color=colors.setdefault(family, f'C{len(colors)}'), label=family)
    style_axes(ax, legend='small', integer_x=False, log_y=True, grid='both', title=f'{depth} layers',
               xlabel='step', ylabel='' if column else 'training loss (log scale)')
  fig.suptitle(title or 'Depth sweep: plain vs highway networks')
  return save_figure(fig, path)


def run_depth_sweep(make_config: Callable[[int, str], ml_collections.ConfigDict], workdir: str, *,
                    depths: Sequence[int] = (10, 20, 50, 100), families: Sequence[str] = ('plain', 'highway'),
                    num_trials: int = 3, steps: int | None = None, seed: int = 0, top_k: int = 10,
                    learning_rate_range: tuple[float, float] = LEARNING_RATE_RANGE,
                    transform_bias_range: tuple[float, float] = TRANSFORM_BIAS_RANGE,
                    decay_rate: float | None = None,
                    log: Callable[[str], None] = lambda message: None) -> dict[str, Any]:
  """Random search per depth and family; writes the module docstring's files and returns the content
  of ``results.json``. Each trial overrides the learning rate, transform bias (highway), ``seed`` and,
  with ``steps``, the budget (``runs.with_step_budget``) and, with ``decay_rate``, the learning rate's
  decay per ``schedule.transition_steps`` (the same for every trial) of ``make_config(depth, family)``;
  ``log`` gets one line per trial. ``top_k`` only changes the summary, so finished trials are reused."""
  if decay_rate is not None:
    Bounds(gt=0, le=1).check('decay_rate', decay_rate)
  rows = []
  for trial in sample_trials(depths, families, num_trials, seed, learning_rate_range=learning_rate_range,
                             transform_bias_range=transform_bias_range):
    config = with_step_budget(make_config(trial.depth, trial.family), steps)
    config.seed = seed
    config.optimizer.learning_rate = trial.learning_rate
    if decay_rate is not None:
      if config.schedule.name != 'exponential':
        raise ConfigError(f"decay_rate={decay_rate} needs an exponential schedule; {trial.name}'s config has "
                          f"schedule.name={config.schedule.name!r}: leave decay_rate unset.")
      config.schedule.decay_rate = decay_rate
    if trial.transform_bias_init is not None:
      config.model.transform_bias_init = trial.transform_bias_init
    run_dir = os.path.join(workdir, 'trials', trial.name)
    results = train_or_reuse(config, run_dir)
    row = dict(family=trial.family, depth=trial.depth, trial=trial.index, learning_rate=trial.learning_rate,
               transform_bias_init=trial.transform_bias_init, run=os.path.relpath(run_dir, workdir))
    if results.get('diverged'):
      row.update(status='diverged', train_loss=math.inf, train_accuracy=None)
    else:
      # The score: the final checkpoint over the whole training split (cached in the run).
      cached = os.path.join(run_dir, TRAIN_EVAL_FILE)
      if not os.path.exists(cached):
        write_json(cached, evaluate_checkpoint(run_dir, 'latest', split='train'))
      train_metrics = read_json(cached)
      row.update(status='ok', train_loss=train_metrics['loss'], train_accuracy=train_metrics['accuracy'],
                 last_logged_train_loss=results.get('train_loss'), test_loss=results.get('test_loss'),
                 test_accuracy=results.get('test_accuracy'), steps=results.get('step'),
                 num_params=results.get('num_params'))
    log(f"{trial.name}: lr {trial.learning_rate:.3g}"
        + (f', transform bias {trial.transform_bias_init:.2f}' if trial.transform_bias_init
           is not None else '') + f", {row['status']}, train loss {row['train_loss']:.4g}")
    rows.append(row)

  best = best_trials(rows)
  summary = summarize_trials(rows, top_k)
  write_csv(os.path.join(workdir, 'sweep.csv'), SWEEP_CSV_FIELDS, rows)
  write_csv(os.path.join(workdir, 'summary.csv'), SUMMARY_CSV_FIELDS, summary)
  settings = dict(depths=list(depths), families=list(families), num_trials=num_trials, steps=steps, seed=seed,
                  learning_rate_range=list(learning_rate_range), transform_bias_range=list(transform_bias_range),
                  decay_rate=decay_rate, top_k=top_k)
  payload = {'settings': settings,
             'trials': [{k: (None if isinstance(v, float) and not math.isfinite(v) else v) for k, v in r.items()}
                        for r in rows],
             'best': {f: {str(d): r for d, r in by_depth.items()} for f, by_depth in best.items()},
             'summary': summary}
  write_json(os.path.join(workdir, RESULTS_FILE), payload)
  if best:
    run_dirs = {f: {d: os.path.join(workdir, r['run']) for d, r in by_depth.items()} for f, by_depth in best.items()}
    plot_depth_sweep(
        {f: {d: r['train_loss'] for d, r in by_depth.items()} for f, by_depth in best.items()},
        os.path.join(workdir, 'depth_sweep.png'), ylabel='full training-set loss', summary=summary, top_k=top_k,
        curves={f: {d: metric_curve(read_metrics(run), 'train', 'loss') for d, run in by_depth.items()}
                for f, by_depth in run_dirs.items()})
    plot_metric_curves({f'{f} {d} layers': run for f, by_depth in run_dirs.items()
                        for d, run in sorted(by_depth.items())}, os.path.join(workdir, 'best_curves.png'),
                       title='Training loss of the best trial per depth')
  return payload

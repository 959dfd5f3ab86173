"""Test accuracy vs depth of several network families over seeds, selected on validation (the Highway BiLSTM study).

:func:`run_depth_study` trains ``make_config(depth, family)`` for every family, depth and seed (e.g. plain vs
Highway BiLSTM at 1–24 layers, seeds 0, 1, 2), evaluating on ``config.eval_split`` ('validation') and saving a
checkpoint every ``eval_every`` steps. Early stopping is model selection: each run reports the checkpoint whose
validation ``config.best_metric`` is best (training/checkpoints.py keeps it), its step and its test accuracy; the
test split is never selected on. Each run trains its whole budget, or with ``config.early_stopping_patience`` (set
by ``make_config``) stops once that many evaluations in a row have not improved. In the work directory:

    runs/<family>_depth<D>[_seed<S>]/   each run (spaces in the family as ``_``; no suffix for seed 0),
                              reused when finished; best_test.json caches its best checkpoint's test metrics
    depth_study.csv           one row per run (STUDY_CSV_FIELDS): best_step, validation_accuracy, test_accuracy
                              and test_loss of the best checkpoint, final_test_accuracy of the last step,
                              plateaued = stopped on a plateau (early stopping) or best_step ≤ last step −
                              2·eval_every (empty without periodic evaluation)
    summary.csv               per family and depth (SUMMARY_CSV_FIELDS): runs, n not diverged, how many
                              plateaued, mean and sample std (ddof=1; 0 for n = 1) of both test accuracies
    grad_norms.csv            per family, depth in ``grad_depths``, seed and layer l: ‖∂loss/∂θ_l‖₂ at
                              initialisation on the run's first training batch (:func:`layer_gradient_norms`)
    results.json              'rows', 'summary', 'grad_norms' and 'settings'
    accuracy_vs_depth.png     test accuracy (mean ± std over seeds) vs depth with a chance line; beside it the
                              gradient norm per layer (mean over seeds, log scale)

Example::

    payload = run_depth_study(make_config, 'runs/bilstm_depth', depths=(1, 2, 4),
                              families=('plain BiLSTM', 'Highway BiLSTM'), steps=300, seeds=(0, 1, 2),
                              eval_every=15, chance=0.1)
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import jax
import ml_collections
import numpy as np
from flax import linen as nn
from matplotlib.figure import Figure

from highway_jax.analysis.runs import first_train_batch, mean_and_std, train_or_reuse, with_step_budget, write_csv
from highway_jax.training import losses
from highway_jax.training.evaluation import evaluate_checkpoint
from highway_jax.training.plots import save_figure, style_axes
from highway_jax.training.setup import setup
from highway_jax.training.workdir import RESULTS_FILE, read_json, read_metrics, write_json

STUDY_CSV_FIELDS = ('family', 'depth', 'seed', 'status', 'best_step', 'validation_accuracy', 'test_accuracy',
                    'test_loss', 'final_test_accuracy', 'plateaued', 'train_loss', 'train_accuracy', 'steps',
                    'num_params', 'run')
SUMMARY_CSV_FIELDS = ('family', 'depth', 'runs', 'n', 'plateaued', 'test_accuracy_mean', 'test_accuracy_std',
                      'final_test_accuracy_mean', 'final_test_accuracy_std')
GRAD_CSV_FIELDS = ('family', 'depth', 'seed', 'layer', 'grad_norm')


def layer_gradient_norms(model: nn.Module, params: Any, batch: Mapping[str, Any]) -> np.ndarray:
  """``‖∂L/∂θ_l‖₂`` per layer l, L the mean cross-entropy of ``model`` (``train=False``: no dropout) on
  ``batch``. Layers as highway_jax.recurrent and stack store them: a ``layer_0`` subtree is layer 0, a
  ``layers`` subtree holds the next ones stacked on axis 0; other parameters (embedding, classifier) are left out."""
  def loss(p):
    logits = model.apply({'params': p}, batch['inputs'], train=False, lengths=batch.get('length'))
    return losses.mean_cross_entropy(logits, batch['label'])

  names = [{getattr(k, 'key', None) for k in path} for path, _ in jax.tree_util.tree_flatten_with_path(params)[0]]
  if not any(n & {'layer_0', 'layers'} for n in names):
    raise ValueError(f"params have no 'layer_0' or 'layers' subtree (top level: {sorted(params)}); "
                     'layer_gradient_norms reads the layout of highway_jax.recurrent and stack.')
  first, stacked = [], []
  for n, grad in zip(names, jax.tree.leaves(jax.jit(jax.grad(loss))(params))):
    grad = np.asarray(grad, np.float64)
    if 'layer_0' in n:
      first.append(np.sum(grad ** 2))
    elif 'layers' in n:
      stacked.append(np.sum(grad.reshape(len(grad), -1) ** 2, axis=1))
  return np.sqrt(np.array(([sum(first)] if first else []) + list(np.sum(stacked, axis=0) if stacked else [])))


def initial_gradient_norms(config: ml_collections.ConfigDict, workdir: str | None = None) -> np.ndarray:
  """:func:`layer_gradient_norms` of ``config``'s model at initialisation on the first batch its run trains on."""
  s = setup(config, workdir)
  return layer_gradient_norms(s.model, s.init_state().params, first_train_batch(s, config))


def _selected(config: ml_collections.ConfigDict, run_dir: str, results: Mapping[str, Any]) -> dict[str, Any]:
  """A run's CSV fields: its best checkpoint on validation and its last step (module docstring)."""
  if results.get('diverged'):
    return dict(status='diverged')
  step, every = results['step'], config.eval_every_steps
  best = step if results.get('best_step') is None else results['best_step']
  row = dict(status='ok', best_step=best, final_test_accuracy=results['test_accuracy'],
             plateaued=bool(results.get('stopped_on_plateau')) or best <= step - 2 * every if every else None,
             train_loss=results.get('train_loss'),
             train_accuracy=results.get('train_accuracy'), steps=step, num_params=results['num_params'])
  if best == step:
    return row | dict(validation_accuracy=results.get('validation_accuracy'),
                      test_accuracy=results['test_accuracy'], test_loss=results['test_loss'])
  cache = os.path.join(run_dir, 'best_test.json')
  test = read_json(cache) if os.path.exists(cache) else {}
  if test.get('step') != best:
    test = evaluate_checkpoint(run_dir, best, split='test')
    write_json(cache, test)
  validation = {r['step']: r for r in read_metrics(run_dir) if r['split'] == config.eval_split}
  return row | dict(validation_accuracy=validation[best]['accuracy'], test_accuracy=test['accuracy'],
                    test_loss=test['loss'])


def summarize(rows: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
  """SUMMARY_CSV_FIELDS per (family, depth) of the study's ``rows``, in their order (module docstring)."""
  groups = {}
  for row in rows:
    groups.setdefault((row['family'], row['depth']), []).append(row)
  summary = []
  for (family, depth), group in groups.items():
    ok = [r for r in group if r['status'] == 'ok']
    entry = dict(family=family, depth=depth, runs=len(group), n=len(ok),
                 plateaued=sum(bool(r['plateaued']) for r in ok))
    for key in ('test_accuracy', 'final_test_accuracy'):
      mean, std = mean_and_std([r[key] for r in ok])
      entry[f'{key}_mean'], entry[f'{key}_std'] = mean, 0.0 if mean is not None and std is None else std
    summary.append(entry)
  return summary


def plot_metric_vs_depth(values: Mapping[str, Mapping[int, float]], path: str | os.PathLike, *,
                         ylabel: str = 'test accuracy (%)', percent: bool = True, chance: float | None = None,
                         title: str | None = None, errors: Mapping[str, Mapping[int, float]] | None = None,
                         grad_norms: Sequence[Mapping[str, Any]] = ()) -> str:
  """One line per family of ``{family: {depth: value}}`` against depth, ``errors`` (same layout) as error
  bars; ``percent`` plots fractions as percentages, ``chance`` (a fraction) a dotted line. With
  ``grad_norms`` (rows of grad_norms.csv) a second panel: the mean norm over seeds per layer, log scale."""
  scale = 100.0 if percent else 1.0
  fig = Figure(figsize=(11 if grad_norms else 6, 4), layout='constrained')
  ax = fig.add_subplot(1, 2 if grad_norms else 1, 1)
  for family, by_depth in values.items():
    depths = sorted(by_depth)
    spread = [scale * (errors or {}).get(family, {}).get(d, 0.0) for d in depths]
    ax.errorbar(depths, [scale * by_depth[d] for d in depths], yerr=spread, fmt='o-', capsize=3, label=family)
  if chance is not None:
    ax.axhline(scale * chance, color='gray', linestyle=':', label='chance')
  ax.set_xticks(sorted({int(d) for by_depth in values.values() for d in by_depth}))
  style_axes(ax, integer_x=False, xlabel='depth (layers)', ylabel=ylabel, title=title or f'{ylabel} vs depth')
  if grad_norms:
    curves = {}
    for r in grad_norms:
      curves.setdefault((r['family'], r['depth']), {}).setdefault(r['layer'], []).append(r['grad_norm'])
    ax = fig.add_subplot(1, 2, 2)
    for (family, depth), by_layer in curves.items():
      layers = sorted(by_layer)
      ax.plot(layers, [np.mean(by_layer[layer]) for layer in layers], 'o-', ms=3, label=f'{family}, {depth} layers')
    style_axes(ax, log_y=True, xlabel='layer (0: next to the input)', ylabel='‖∂loss/∂θ_layer‖₂',
               title='gradient norm per layer at initialisation')
  return save_figure(fig, path)


def run_depth_study(make_config: Callable[[int, str], ml_collections.ConfigDict], workdir: str, *,
                    depths: Sequence[int], families: Sequence[str], steps: int | None = None, seed: int = 0,
                    chance: float | None = None, title: str | None = None,
                    log: Callable[[str], None] = lambda message: None, seeds: Sequence[int] | None = None,
                    eval_every: int | None = None, grad_depths: Sequence[int] | None = None) -> dict[str, Any]:
  """Trains (or reuses) one run per family, depth and seed (``seeds``, default ``(seed,)``), evaluated and
  checkpointed every ``eval_every`` steps (None: as ``with_step_budget`` leaves the config; 0: only at the
  end); gradient norms at the ``grad_depths`` (default: the deepest). Writes the module docstring's files and
  returns the content of ``results.json``."""
  seeds = [seed] if seeds is None else [int(s) for s in seeds]
  grad_depths = [max(depths)] if grad_depths is None else list(grad_depths)
  rows, grad_rows = [], []
  for family in families:
    for depth in depths:
      for run_seed in seeds:
        config = with_step_budget(make_config(depth, family), steps, eval_every=eval_every)
        config.seed = run_seed
        name = f"{family.replace(' ', '_')}_depth{depth}" + (f'_seed{run_seed}' if run_seed else '')
        run_dir = os.path.join(workdir, 'runs', name)
        results = train_or_reuse(config, run_dir)
        row = dict(family=family, depth=int(depth), seed=run_seed, run=os.path.relpath(run_dir, workdir),
                   **_selected(config, run_dir, results))
        if depth in grad_depths:
          grad_rows += [dict(family=family, depth=int(depth), seed=run_seed, layer=layer, grad_norm=float(norm))
                        for layer, norm in enumerate(initial_gradient_norms(config, run_dir))]
        log(f"{family}, {depth} layers, seed {run_seed}: {row['status']}, best step {row.get('best_step')}, "
            f"test accuracy {row.get('test_accuracy')}")
        rows.append(row)
  summary = summarize(rows)
  write_csv(os.path.join(workdir, 'depth_study.csv'), STUDY_CSV_FIELDS, rows)
  write_csv(os.path.join(workdir, 'summary.csv'), SUMMARY_CSV_FIELDS, summary)
  write_csv(os.path.join(workdir, 'grad_norms.csv'), GRAD_CSV_FIELDS, grad_rows)
  payload = {'settings': dict(depths=list(depths), families=list(families), steps=steps, seeds=seeds,
                              eval_every=eval_every, grad_depths=grad_depths),
             'rows': rows, 'summary': summary, 'grad_norms': grad_rows}
  write_json(os.path.join(workdir, RESULTS_FILE), payload)
  by_family = lambda key: {f: {s['depth']: s[key] for s in summary if s['family'] == f and s['n']}
                           for f in families if any(s['family'] == f and s['n'] for s in summary)}
  plot_metric_vs_depth(by_family('test_accuracy_mean'), os.path.join(workdir, 'accuracy_vs_depth.png'),
                       chance=chance, title=title, errors=by_family('test_accuracy_std'), grad_norms=grad_rows)
  return payload

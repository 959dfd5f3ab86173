"""Test accuracy vs depth of several network families, one run each (the Highway BiLSTM study).

:func:`run_depth_study` trains ``make_config(depth, family)`` for every family and depth (e.g. plain
vs Highway BiLSTM at 1–12 layers) and writes, in its work directory:

    runs/<family>_depth<D>/   each run (spaces in the family as ``_``), reused when finished
    depth_study.csv           one row per run (STUDY_CSV_FIELDS)
    results.json              'rows' and 'settings'
    accuracy_vs_depth.png     test accuracy vs depth per family, with a chance line

Example::

    payload = run_depth_study(make_config, 'runs/bilstm_depth', depths=(1, 2, 4),
                              families=('plain BiLSTM', 'Highway BiLSTM'), steps=300, chance=0.1)
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import ml_collections
from matplotlib.figure import Figure

from highway_jax.analysis.runs import train_or_reuse, with_step_budget, write_csv
from highway_jax.training.plots import save_figure, style_axes
from highway_jax.training.workdir import RESULTS_FILE, write_json

STUDY_CSV_FIELDS = ('family', 'depth', 'status', 'test_accuracy', 'test_loss', 'train_loss',
                    'train_accuracy', 'steps', 'num_params', 'run')


def plot_metric_vs_depth(values: Mapping[str, Mapping[int, float]], path: str | os.PathLike, *,
                         ylabel: str = 'test accuracy (%)', percent: bool = True, chance: float | None = None,
                         title: str | None = None) -> str:
  """One line per family of ``{family: {depth: value}}`` against depth; ``percent`` plots fractions
  as percentages, ``chance`` (a fraction) a dotted line."""
  scale = 100.0 if percent else 1.0
  fig = Figure(figsize=(6, 4), layout='constrained')
  ax = fig.add_subplot()
  for family, by_depth in values.items():
    points = sorted((int(d), scale * float(v)) for d, v in by_depth.items())
    ax.plot(*zip(*points), 'o-', label=family)
  if chance is not None:
    ax.axhline(scale * chance, color='gray', linestyle=':', label='chance')
  ax.set_xticks(sorted({int(d) for by_depth in values.values() for d in by_depth}))
  style_axes(ax, integer_x=False, xlabel='depth (layers)', ylabel=ylabel, title=title or f'{ylabel} vs depth')
  return save_figure(fig, path)


def run_depth_study(make_config: Callable[[int, str], ml_collections.ConfigDict], workdir: str, *,
                    depths: Sequence[int], families: Sequence[str], steps: int | None = None, seed: int = 0,
                    chance: float | None = None, title: str | None = None,
                    log: Callable[[str], None] = lambda message: None) -> dict[str, Any]:
  """Trains (or reuses) one run per family and depth; writes the module docstring's files and
  returns the content of ``results.json``."""
  rows = []
  for family in families:
    for depth in depths:
      config = with_step_budget(make_config(depth, family), steps)
      config.seed = seed
      run_dir = os.path.join(workdir, 'runs', f"{family.replace(' ', '_')}_depth{depth}")
      results = train_or_reuse(config, run_dir)
      row = dict(family=family, depth=int(depth), run=os.path.relpath(run_dir, workdir))
      if results.get('diverged'):
        row.update(status='diverged', test_accuracy=None)
      else:
        row.update(status='ok', test_accuracy=results['test_accuracy'], test_loss=results['test_loss'],
                   train_loss=results.get('train_loss'), train_accuracy=results.get('train_accuracy'),
                   steps=results['step'], num_params=results['num_params'])
      log(f"{family}, {depth} layers: {row['status']}, test accuracy {row['test_accuracy']}")
      rows.append(row)
  write_csv(os.path.join(workdir, 'depth_study.csv'), STUDY_CSV_FIELDS, rows)
  payload = {'settings': dict(depths=list(depths), families=list(families), steps=steps, seed=seed), 'rows': rows}
  write_json(os.path.join(workdir, RESULTS_FILE), payload)
  accuracy = {f: {r['depth']: r['test_accuracy'] for r in rows
                  if r['family'] == f and r['test_accuracy'] is not None} for f in families}
  plot_metric_vs_depth({f: v for f, v in accuracy.items() if v},
                       os.path.join(workdir, 'accuracy_vs_depth.png'), chance=chance, title=title)
  return payload

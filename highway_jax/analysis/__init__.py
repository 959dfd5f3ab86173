"""The paper's analyses and experiments, one module each, each owning its numbers, files and figures.

* :mod:`~highway_jax.analysis.lesion` — loss/accuracy with each layer's transform gate closed
  (paper Fig. 4), one compiled program for all layers; ``lesion.csv``, ``lesion.png``.
* :mod:`~highway_jax.analysis.gates` — transform bias distributions, mean / per-example /
  class-conditional gate activity (paper Figs. 2–3); ``gates.csv``, ``gate_classes.csv``,
  ``gates.json`` and four figures per gate site.
* :mod:`~highway_jax.analysis.depth_sweep` — plain vs highway nets by depth, random search
  (paper Fig. 1); ``sweep.csv``, ``results.json``, ``depth_sweep.png``, ``best_curves.png``.
* :mod:`~highway_jax.analysis.depth_study` — test accuracy vs depth of model families (Highway
  BiLSTM); ``depth_study.csv``, ``results.json``, ``accuracy_vs_depth.png``.
* :mod:`~highway_jax.analysis.runs` — what they share: train or reuse a run, load a trained one,
  check batches, compare training curves, write CSV.

Figures are written at one DPI, ``highway_jax.training.plots.DPI``.

Example::

    from highway_jax.analysis import lesion
    result = lesion.lesion_run('runs/digits_highway')      # writes lesion.csv, lesion.png
    result.loss_increase                                   # (num_layers,)
"""

from highway_jax.analysis import depth_study, depth_sweep, gates, lesion, runs

__all__ = ['depth_study', 'depth_sweep', 'gates', 'lesion', 'runs']

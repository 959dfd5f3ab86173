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
from highway_jax.analysis.depth_study import plot_metric_vs_depth, run_depth_study
from highway_jax.analysis.depth_sweep import best_trials, plot_depth_sweep, run_depth_sweep, sample_trials
from highway_jax.analysis.gates import (
    BiasDistribution,
    GateAnalysis,
    GateStatistics,
    analyze_gates_run,
    bias_distribution,
    compare_transform_biases,
    find_transform_biases,
    find_transform_gates,
    gate_statistics,
    make_gate_statistics_step,
    plot_class_gates,
    plot_example_gates,
    plot_gate_activity,
    plot_transform_biases,
    transform_bias_distributions,
    write_layer_summary_csv,
)
from highway_jax.analysis.lesion import (
    LesionResult,
    lesion_masks,
    lesion_run,
    lesion_sweep,
    make_lesion_eval_step,
    plot_lesion,
    read_lesion_csv,
    write_lesion_csv,
)
from highway_jax.analysis.runs import (LoadedRun, load_run, plot_metric_curves, train_or_reuse,
                                       with_step_budget)

__all__ = [
    'depth_study', 'depth_sweep', 'gates', 'lesion', 'runs',
    'plot_metric_vs_depth', 'run_depth_study',
    'best_trials', 'plot_depth_sweep', 'run_depth_sweep', 'sample_trials',
    'BiasDistribution', 'GateAnalysis', 'GateStatistics', 'analyze_gates_run', 'bias_distribution',
    'compare_transform_biases', 'find_transform_biases', 'find_transform_gates', 'gate_statistics',
    'make_gate_statistics_step', 'plot_class_gates', 'plot_example_gates', 'plot_gate_activity',
    'plot_transform_biases', 'transform_bias_distributions', 'write_layer_summary_csv',
    'LesionResult', 'lesion_masks', 'lesion_run', 'lesion_sweep', 'make_lesion_eval_step',
    'plot_lesion', 'read_lesion_csv', 'write_lesion_csv',
    'LoadedRun', 'load_run', 'plot_metric_curves', 'train_or_reuse', 'with_step_budget',
]

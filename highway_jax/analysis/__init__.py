"""Analyses of trained highway networks: layer lesioning, transform-gate statistics and figures.

* :mod:`highway_jax.analysis.lesion` — loss/accuracy with each layer's transform gate closed
  (paper Fig. 4), one compiled program for all layers.
* :mod:`highway_jax.analysis.gates` — transform bias distributions, mean / per-example /
  class-conditional gate activity (paper Figs. 2–3).
* :mod:`highway_jax.analysis.plots` — PNG figures of the above, of depth sweeps and of training curves.
* :mod:`highway_jax.analysis.experiments` — the paper's experiments end to end (depth sweep, lesioning
  and gate analysis of a trained run, depth study), writing CSV/JSON and figures.

Example::

    from highway_jax.analysis import gates, lesion, plots
"""

from highway_jax.analysis import experiments, gates, lesion, plots
from highway_jax.analysis.gates import (
    BiasDistribution,
    GateStatistics,
    bias_distribution,
    compare_transform_biases,
    find_transform_biases,
    find_transform_gates,
    gate_statistics,
    make_gate_statistics_step,
    transform_bias_distributions,
    write_layer_summary_csv,
)
from highway_jax.analysis.lesion import (
    LesionResult,
    lesion_masks,
    lesion_sweep,
    make_lesion_eval_step,
    read_lesion_csv,
    write_lesion_csv,
)
from highway_jax.analysis.plots import (
    plot_class_gates,
    plot_depth_sweep,
    plot_example_gates,
    plot_gate_activity,
    plot_lesion,
    plot_metric_curves,
    plot_metric_vs_depth,
    plot_transform_biases,
    read_metrics_jsonl,
)

__all__ = [
    'experiments', 'gates', 'lesion', 'plots',
    'BiasDistribution', 'GateStatistics', 'bias_distribution', 'compare_transform_biases',
    'find_transform_biases', 'find_transform_gates', 'gate_statistics', 'make_gate_statistics_step',
    'transform_bias_distributions', 'write_layer_summary_csv',
    'LesionResult', 'lesion_masks', 'lesion_sweep', 'make_lesion_eval_step', 'read_lesion_csv',
    'write_lesion_csv',
    'plot_class_gates', 'plot_depth_sweep', 'plot_example_gates', 'plot_gate_activity', 'plot_lesion',
    'plot_metric_curves', 'plot_metric_vs_depth', 'plot_transform_biases', 'read_metrics_jsonl',
]

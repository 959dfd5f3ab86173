"""The paper's analyses and experiments, one module each, each owning its numbers, files and figures.

    lesion.py        loss/accuracy with each layer's transform gate closed (Fig. 4)
    gates.py         transform bias distributions and gate activity per layer and class (Figs. 2–3)
    depth_sweep.py   plain vs highway nets by depth, random search (Fig. 1)
    depth_study.py   test accuracy vs depth of model families (Highway BiLSTM)
    very_deep.py     highway vs plain nets of hundreds of layers: curves, step time, memory
    runs.py          what they share: train or reuse a run, load a trained one, check batches, CSV

Example::

    from highway_jax.analysis import lesion
    result = lesion.lesion_run('runs/digits_highway')      # writes lesion.csv, lesion.png
    result.loss_increase                                   # (num_layers,)
"""

from highway_jax.analysis import depth_study, depth_sweep, gates, lesion, runs, very_deep

__all__ = ['depth_study', 'depth_sweep', 'gates', 'lesion', 'runs', 'very_deep']

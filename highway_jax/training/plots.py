"""PNG plots of the loss and accuracy curves of a run, read from ``workdir/metrics.jsonl``.

``plot_curves(workdir)`` writes ``workdir/loss.png`` (training and evaluation loss against the step,
log scale) and ``workdir/accuracy.png`` (every metric whose name contains 'accuracy', per split), and
returns their paths. It uses matplotlib's Agg backend, so it works without a display.

Example::

    from highway_jax.training.plots import plot_curves
    plot_curves('runs/digits_highway')   # ['runs/digits_highway/loss.png', '.../accuracy.png']
"""

from __future__ import annotations

import os

from highway_jax.training.metrics import read_metrics


def _series(records, split, name):
  points = [(r['step'], r[name]) for r in records if r['split'] == split and name in r]
  return [p[0] for p in points], [p[1] for p in points]


def plot_curves(workdir: str) -> list[str]:
  """Writes loss.png and accuracy.png into ``workdir`` (module docstring); returns their paths."""
  import matplotlib  # pylint: disable=g-import-not-at-top
  matplotlib.use('Agg')
  from matplotlib import pyplot as plt  # pylint: disable=g-import-not-at-top

  records = read_metrics(workdir)
  splits = sorted({r['split'] for r in records})
  paths = []
  for kind, log_scale in (('loss', True), ('accuracy', False)):
    fig, ax = plt.subplots(figsize=(6, 4))
    drawn = False
    for split in splits:
      names = sorted({k for r in records if r['split'] == split for k in r
                      if (k == 'loss' if kind == 'loss' else 'accuracy' in k)})
      for name in names:
        steps, values = _series(records, split, name)
        label = f'{split} {name}' if name != kind else split
        if len(steps) == 1:
          ax.plot(steps, values, 'o', label=label)
        else:
          ax.plot(steps, values, label=label)
        drawn = True
    if not drawn:
      plt.close(fig)
      continue
    if log_scale and all(r.get('loss', 1.0) > 0 for r in records):
      ax.set_yscale('log')
    ax.set_xlabel('step')
    ax.set_ylabel(kind)
    ax.grid(True, alpha=0.3)
    ax.legend()
    fig.tight_layout()
    path = os.path.join(workdir, f'{kind}.png')
    fig.savefig(path, dpi=100)
    plt.close(fig)
    paths.append(path)
  return paths

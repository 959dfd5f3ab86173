r"""Lesioning contrast of several highway runs in one figure (paper Fig. 4: MNIST vs CIFAR-100).

    python scripts/train.py --config=configs/digits_highway.py --workdir=runs/digits_highway
    python scripts/train.py --config=configs/mnist1d_highway.py:num_layers=50 --workdir=runs/mnist1d_highway50
    python scripts/lesion_contrast.py --runs=digits=runs/digits_highway,mnist1d=runs/mnist1d_highway50 \
        --output_dir=runs/lesion_contrast

Each ``--runs`` entry is ``name=source``: a trained highway run's work directory (lesioned now, over
``--split``, as ``scripts/lesion.py`` does) or a ``lesion.csv`` it wrote (reused). Writes
``<name>/lesion.csv``, ``lesion_contrast.csv`` (per run: unlesioned loss and accuracy, layers whose
lesion raises the loss by less than 10%, 2×, 10×, 100×, layers costing less than one accuracy point, mean
accuracy drop over the first ``--first`` layers and the rest, the layer from which on every lesion
costs less than one point) and ``lesion_contrast.png`` to ``--output_dir``. A name given several times
pools its runs (seeds of one architecture): ``<name>/<i>/lesion.csv`` for the i-th,
``lesion_contrast_pooled.csv`` with their mean and sample std, and in the figure their mean with a
min–max band.
"""

from absl import flags

from highway_jax import cli
from highway_jax.analysis import lesion
from highway_jax.training import ConfigError

FLAGS = flags.FLAGS
flags.DEFINE_list('runs', None, 'name=source pairs: a highway run\'s work directory or its lesion.csv; a '
                  'repeated name pools its runs (mean ± std).', required=True)
flags.DEFINE_string('output_dir', None, 'Where to write the contrast CSV and figure.', required=True)
flags.DEFINE_string('split', 'train', 'Split to lesion the work directories on.')
flags.DEFINE_integer('first', 15, 'Layers [0, first) are the early ones of the mean accuracy drop.')


def main(argv):
  del argv
  pairs = [item.partition('=') for item in FLAGS.runs]
  if not pairs or not all(name and sep and source for name, sep, source in pairs):
    raise ConfigError(f'--runs must be name=source pairs (a work directory or a lesion.csv), got '
                      f'{",".join(FLAGS.runs)!r}.')
  if len({(name, source) for name, _, source in pairs}) < len(pairs):
    raise ConfigError(f'--runs names a run twice under one name, got {",".join(FLAGS.runs)!r}; give each '
                      'run once.')
  sources = {}
  for name, _, source in pairs:
    sources.setdefault(name, []).append(source)
  sources = {name: group if len(group) > 1 else group[0] for name, group in sources.items()}
  summaries = lesion.lesion_contrast(sources, FLAGS.output_dir, split=FLAGS.split, first=FLAGS.first)
  for name, s in summaries.items():
    if 'runs' in s:  # pooled runs: mean ± std
      m, d = s['mean'], s['std']
      pm = lambda key, scale=1, fmt='.3g': f'{scale * m[key]:{fmt}} ± {scale * d[key]:{fmt}}'
      print(f"{name} ({len(s['runs'])} runs, mean ± std): unlesioned loss {pm('baseline_loss')} (accuracy "
            f"{pm('baseline_accuracy', 100, '.2f')}%); of {m['num_layers']:.0f} lesions, "
            f"{pm('layers_loss_below_1.1x', fmt='.1f')} raise the loss < 10%, {pm('layers_loss_below_2x', fmt='.1f')} "
            f"< 2x, {pm('layers_loss_below_10x', fmt='.1f')} < 10x; {pm('layers_accuracy_drop_below_1pt', fmt='.1f')} "
            f"cost < 1 accuracy point, all from layer {pm('all_below_1pt_from_layer', fmt='.1f')} on.")
    else:
      print(f"{name}: unlesioned loss {s['baseline_loss']:.3g} (accuracy {s['baseline_accuracy']:.2%}); of "
            f"{s['num_layers']} lesions, {s['layers_loss_below_1.1x']} raise the loss < 10%, "
            f"{s['layers_loss_below_2x']} < 2x, {s['layers_loss_below_10x']} < 10x; "
            f"{s['layers_accuracy_drop_below_1pt']} cost < 1 accuracy point, all from layer "
            f"{s['all_below_1pt_from_layer']} on.")
  print(f'Wrote lesion_contrast.csv and lesion_contrast.png to {FLAGS.output_dir}.')


if __name__ == '__main__':
  cli.run(main)

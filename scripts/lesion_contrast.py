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
costs less than one point) and ``lesion_contrast.png`` to ``--output_dir``.
"""

from absl import flags

from highway_jax import cli
from highway_jax.analysis import lesion
from highway_jax.training import ConfigError

FLAGS = flags.FLAGS
flags.DEFINE_list('runs', None, 'name=source pairs: a highway run\'s work directory or its lesion.csv.', required=True)
flags.DEFINE_string('output_dir', None, 'Where to write the contrast CSV and figure.', required=True)
flags.DEFINE_string('split', 'train', 'Split to lesion the work directories on.')
flags.DEFINE_integer('first', 15, 'Layers [0, first) are the early ones of the mean accuracy drop.')


def main(argv):
  del argv
  pairs = [item.partition('=') for item in FLAGS.runs]
  sources = {name: source for name, _, source in pairs}
  if not pairs or len(sources) < len(pairs) or not all(name and source for name, _, source in pairs):
    raise ConfigError(f'--runs must be distinct name=source pairs (a work directory or a lesion.csv), got '
                      f'{",".join(FLAGS.runs)!r}.')
  summaries = lesion.lesion_contrast(sources, FLAGS.output_dir, split=FLAGS.split, first=FLAGS.first)
  for name, s in summaries.items():
    print(f"{name}: unlesioned loss {s['baseline_loss']:.3g} (accuracy {s['baseline_accuracy']:.2%}); of "
          f"{s['num_layers']} lesions, {s['layers_loss_below_1.1x']} raise the loss < 10%, "
          f"{s['layers_loss_below_2x']} < 2x, {s['layers_loss_below_10x']} < 10x; "
          f"{s['layers_accuracy_drop_below_1pt']} cost < 1 accuracy point, all from layer "
          f"{s['all_below_1pt_from_layer']} on.")
  print(f'Wrote lesion_contrast.csv and lesion_contrast.png to {FLAGS.output_dir}.')


if __name__ == '__main__':
  cli.run(main)

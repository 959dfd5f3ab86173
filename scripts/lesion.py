r"""Lesions each highway layer of a trained run in turn (paper Fig. 4).

    python scripts/lesion.py --workdir=runs/digits_highway

Restores the run's latest checkpoint (``--checkpoint``), sets the transform gates of one layer at a
time to 0 (pure carry) and measures loss and accuracy over the whole ``--split`` (default the training
set) in one compiled program. Writes ``lesion.csv`` and ``lesion.png`` to ``--output_dir`` (default:
the run's directory). Needs a ``highway_mlp`` or ``highway_cnn`` run with ``block='highway'``.
"""

from absl import flags

from highway_jax import cli
from highway_jax.analysis import lesion

FLAGS = flags.FLAGS
flags.DEFINE_string('workdir', None, 'Work directory of a trained highway run.', required=True)
flags.DEFINE_string('output_dir', None, 'Where to write lesion.csv/png (default: --workdir).')
flags.DEFINE_string('split', 'train', 'Split to measure on.')
flags.DEFINE_string('checkpoint', 'latest', "'latest', 'best' or a step number.")
flags.DEFINE_integer('batch_size', None, 'Evaluation batch (default: the run\'s eval_batch_size).')


def main(argv):
  del argv
  result = lesion.lesion_run(FLAGS.workdir, FLAGS.output_dir, split=FLAGS.split,
                             batch_size=FLAGS.batch_size, checkpoint=FLAGS.checkpoint)
  worst = int(result.layers[result.loss.argmax()])
  print(f'{FLAGS.split} loss {result.baseline_loss:.4g} (accuracy {result.baseline_accuracy:.2%}) '
        f'unlesioned; lesioning one of {len(result.layers)} layers: loss {result.loss.min():.4g} to '
        f'{result.loss.max():.4g} (worst: layer {worst}). Wrote lesion.csv and lesion.png to '
        f'{FLAGS.output_dir or FLAGS.workdir}.')


if __name__ == '__main__':
  cli.run(main)

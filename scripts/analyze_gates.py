r"""Transform-gate analysis of a trained highway run (paper Figs. 2–3).

    python scripts/analyze_gates.py --workdir=runs/digits_highway

Per layer: the transform bias distribution at initialisation (re-initialised from the run's config
and seed) and after training, the mean gate activity over ``--split``, the gate maps of
``--num_examples`` single examples and the class-conditional mean gate activity. Writes
``gates.csv``, ``gate_classes.csv``, ``gates.json`` and ``gate_biases.png``, ``gate_activity.png``,
``gate_examples.png``, ``gate_classes.png`` to ``--output_dir`` (default: the run's directory).
"""

from absl import flags

from highway_jax import cli
from highway_jax.analysis import gates

FLAGS = flags.FLAGS
flags.DEFINE_string('workdir', None, 'Work directory of a trained highway run.', required=True)
flags.DEFINE_string('output_dir', None, 'Where to write the CSV/JSON/PNG files (default: --workdir).')
flags.DEFINE_string('split', 'train', 'Split to measure gate activity on.')
flags.DEFINE_string('checkpoint', 'latest', "'latest', 'best' or a step number.")
flags.DEFINE_integer('num_examples', 4, 'Single-example gate maps to draw.')


def main(argv):
  del argv
  analysis = gates.analyze_gates_run(FLAGS.workdir, FLAGS.output_dir, split=FLAGS.split,
                                     num_examples=FLAGS.num_examples, checkpoint=FLAGS.checkpoint)
  for site, stats in analysis.statistics.items():
    init, trained = analysis.bias_init[site], analysis.bias_trained[site]
    activity = stats.layer_mean_activity
    print(f'{site}: {stats.num_layers} layers; mean transform bias {init.bias.mean():.3g} at init, '
          f'{trained.bias.mean():.3g} trained; mean gate activity {activity.mean():.3g} '
          f'(per layer {activity.min():.3g} to {activity.max():.3g}).')
  print('Wrote ' + ', '.join(sorted({f.rsplit('/', 1)[-1] for f in analysis.files})))


if __name__ == '__main__':
  cli.run(main)

r"""Highway vs plain nets of 200, 500 and 1000 layers on the digits, plain SGD + momentum: one figure.

    python scripts/very_deep.py --workdir=runs/very_deep --depths=200,500,1000 --steps=1000 \
      --learning_rate=0.03 --transform_bias_init=-8 --remat_from=1000

Trains ``configs/digits_depth.py:num_layers=D,block=highway|plain`` (momentum 0.9, learning rate decayed
by 0.97 per epoch) at every depth with the same seed, data order and learning rate (``--plain_learning_rate``
sets the plain nets' own), ``model.remat`` on from ``--remat_from`` layers (0: never). Finished runs in
``<workdir>/runs`` are reused. Writes ``very_deep.csv`` (full training-set loss, accuracies, step time and
memory of the compiled train step per run), ``results.json`` and ``very_deep.png``
(``highway_jax.analysis.very_deep``).
"""

import os

from absl import flags

from highway_jax import cli
from highway_jax.analysis import very_deep
from highway_jax.training import load_config_file

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

FLAGS = flags.FLAGS
flags.DEFINE_string('workdir', 'runs/very_deep', 'Output directory.')
cli.define_number_list('depths', [200, 500, 1000], 'Depths (layers, the plain first one included).', minimum=1,
                       distinct=True)
flags.DEFINE_integer('steps', None, 'Optimizer steps per run (default: the config\'s 100 epochs).')
flags.DEFINE_float('learning_rate', None, 'Learning rate of every run (default: the config\'s).')
flags.DEFINE_float('plain_learning_rate', None, 'Learning rate of the plain nets (default: --learning_rate).')
flags.DEFINE_float('transform_bias_init', None, 'Highway transform gate bias (default: the config\'s by depth).')
flags.DEFINE_integer('remat_from', 1000, 'Recompute activations in the backward pass from this depth (0: never).')
flags.DEFINE_integer('seed', 0, 'Seed of every run\'s init and data order.')


def make_config(depth, family):
  overrides = {'optimizer.learning_rate': (FLAGS.plain_learning_rate if family == 'plain' else None)
               or FLAGS.learning_rate,
               'model.transform_bias_init': FLAGS.transform_bias_init if family == 'highway' else None}
  return load_config_file(f'{REPO}/configs/digits_depth.py:num_layers={depth},block={family}',
                          {k: v for k, v in overrides.items() if v is not None})


def main(argv):
  del argv
  payload = very_deep.run_very_deep(make_config, FLAGS.workdir, depths=FLAGS.depths,
                                    steps=FLAGS.steps, seed=FLAGS.seed, remat_from=FLAGS.remat_from or None,
                                    log=print)
  for row in payload['rows']:
    loss = row.get('train_loss')
    print(f"{row['family']:8s} {row['depth']:5d} layers: "
          + ('diverged' if loss is None else f"full training-set loss {loss:.4g}, test accuracy "
             f"{row['test_accuracy']:.2%}") + f", {row['step_time_ms']:.0f} ms/step, {row['memory_mb']:.0f} MB")
  print(f'Results in {FLAGS.workdir}: very_deep.csv, results.json, very_deep.png')


if __name__ == '__main__':
  cli.run(main)

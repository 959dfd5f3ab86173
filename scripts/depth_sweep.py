r"""Plain vs highway nets at several depths, random search per depth and family (paper Fig. 1).

    python scripts/depth_sweep.py --workdir=runs/depth_sweep --trials=10 --steps=2000 \
        --learning_rate_range=3e-3,1e-1 --top_k=3

Each trial trains ``configs/digits_depth.py:num_layers=D,block=plain|highway`` (``--dataset=mnist1d``:
``configs/mnist1d_depth.py``, offline; ``--dataset=mnist``: ``configs/mnist_depth.py``, needs TFDS MNIST)
with a learning rate drawn log-uniformly from ``--learning_rate_range`` and, for highway nets, a
transform bias drawn uniformly from [−10, −1].
The score is the final full training-set loss. Finished trials in ``<workdir>/trials`` are reused.
Writes ``sweep.csv`` (every trial), ``summary.csv`` (per depth and family: best loss, mean ± std of the
``--top_k`` best finished trials, best plain / best highway), ``results.json`` (trials, best, summary),
``depth_sweep.png`` (best and top-k mean loss vs depth, and the best runs' curves) and ``best_curves.png``.
``--top_k`` only changes the summary: a rerun with another value reuses every trial.
"""

import os

from absl import flags, logging

from highway_jax import cli
from highway_jax.analysis import depth_sweep
from highway_jax.training import ConfigError, load_config_file

CONFIGS = {'digits': 'configs/digits_depth.py', 'mnist1d': 'configs/mnist1d_depth.py',
           'mnist': 'configs/mnist_depth.py'}
REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

FLAGS = flags.FLAGS
flags.DEFINE_string('workdir', None, 'Output directory (default: runs/depth_sweep_<dataset>).')
flags.DEFINE_enum('dataset', 'digits', list(CONFIGS), 'Offline digits or MNIST-1D, or TFDS MNIST.')
cli.define_number_list('depths', [10, 20, 50, 100], 'Depths (layers, the plain first one included).', minimum=1,
                       distinct=True)
flags.DEFINE_list('families', ['plain', 'highway'], 'Network families (config block).')
flags.DEFINE_integer('trials', 3, 'Random-search trials per depth and family.')
flags.DEFINE_integer('steps', None, 'Optimizer steps per trial (default: the config\'s epochs).')
flags.DEFINE_integer('top_k', 10, 'Trials per depth and family in the mean ± std of the best ones.')
flags.DEFINE_integer('seed', 0, 'Seed of the search and of every trial\'s init and data order.')
flags.DEFINE_string('data_dir', None, 'TFDS directory with MNIST prepared (--dataset=mnist).')
cli.define_number_list('learning_rate_range', [1e-3, 1e-1], 'Log-uniform learning rate range: low,high.', kind=float)
flags.DEFINE_float('decay_rate', None, 'Learning rate decay per epoch for every trial (default: the config\'s).')


def main(argv):
  del argv
  workdir = FLAGS.workdir or os.path.join('runs', f'depth_sweep_{FLAGS.dataset}')
  config_file = os.path.join(REPO, CONFIGS[FLAGS.dataset])
  if len(FLAGS.learning_rate_range) != 2:
    raise ConfigError(f'--learning_rate_range takes two numbers, low,high; got {FLAGS.learning_rate_range}.')
  low, high = FLAGS.learning_rate_range
  payload = depth_sweep.run_depth_sweep(
      lambda depth, family: load_config_file(
          f'{config_file}:num_layers={depth},block={family}',
          {'data.data_dir': FLAGS.data_dir} if FLAGS.data_dir else None),
      workdir, depths=FLAGS.depths, families=FLAGS.families,
      num_trials=FLAGS.trials, steps=FLAGS.steps, seed=FLAGS.seed, top_k=FLAGS.top_k, learning_rate_range=(low, high),
      decay_rate=FLAGS.decay_rate, log=print)
  logging.info('Wrote %s', workdir)
  print(f'full training-set loss per depth: best; mean ± std of the top {FLAGS.top_k} (k if fewer finished)')
  ratios = {}
  for row in payload['summary']:
    ratios[row['depth']] = row['best_plain_over_best_highway']
    if row['k']:
      print(f"  {row['family']:8s}{row['depth']:5d}: {row['best_train_loss']:.3g}; "
            f"{row['top_k_mean_train_loss']:.3g} ± {row['top_k_std_train_loss']:.2g}"
            + (f" (k={row['k']})" if row['k'] < FLAGS.top_k else '') + f", {row['diverged']} diverged")
  print('best plain / best highway: ' + '  '.join(f'{d}: {r:.3g}' for d, r in ratios.items() if r))
  print(f'Results in {workdir}: sweep.csv, summary.csv, results.json, depth_sweep.png, best_curves.png')


if __name__ == '__main__':
  cli.run(main)

r"""Plain stacked BiLSTM vs Highway BiLSTM at several depths: test accuracy vs depth.

    python scripts/bilstm_depth.py --workdir=runs/bilstm_depth --steps=300

Trains ``configs/mnist1d_highway_bilstm.py:num_layers=N,highway=true|false`` (offline MNIST-1D,
default) or, with ``--dataset=imdb_reviews|sst2``,
``configs/sentiment_highway_bilstm.py:dataset=…,num_layers=N,highway=…`` (TFDS; needs the data
prepared) for every depth in ``--depths``. ``--steps`` caps each run's
budget and ``--features`` the units per direction, so the study fits a CPU. Finished runs in
``<workdir>/runs`` are reused. Writes ``depth_study.csv``, ``results.json`` and
``accuracy_vs_depth.png``.
"""

import os

from absl import flags

from highway_jax import cli
from highway_jax.analysis import depth_study
from highway_jax.training import load_config_file

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
FAMILIES = {'plain BiLSTM': 'false', 'Highway BiLSTM': 'true'}
CHANCE = {'mnist1d': 0.1, 'imdb_reviews': 0.5, 'sst2': 0.5}

FLAGS = flags.FLAGS
flags.DEFINE_string('workdir', None, 'Output directory (default: runs/bilstm_depth_<dataset>).')
flags.DEFINE_enum('dataset', 'mnist1d', list(CHANCE), 'Offline MNIST-1D, or TFDS sentiment data.')
flags.DEFINE_list('depths', ['1', '2', '4', '8', '12'], 'Numbers of BiLSTM layers.')
flags.DEFINE_integer('steps', None, 'Optimizer steps per run (default: the config\'s epochs).')
flags.DEFINE_integer('features', None, 'Units per direction (default: the config\'s).')
flags.DEFINE_integer('seed', 0, 'Seed of every run.')
flags.DEFINE_string('data_dir', None, 'TFDS directory with the sentiment data prepared.')


def make_config(depth, family):
  highway = FAMILIES[family]
  if FLAGS.dataset == 'mnist1d':
    spec = f'{REPO}/configs/mnist1d_highway_bilstm.py:num_layers={depth},highway={highway}'
  else:
    spec = (f'{REPO}/configs/sentiment_highway_bilstm.py:dataset={FLAGS.dataset},num_layers={depth},'
            f'highway={highway}')
  overrides = {}
  if FLAGS.features:
    overrides['model.features'] = FLAGS.features
  if FLAGS.data_dir:
    overrides['data.data_dir'] = FLAGS.data_dir
  return load_config_file(spec, overrides)


def main(argv):
  del argv
  workdir = FLAGS.workdir or os.path.join('runs', f'bilstm_depth_{FLAGS.dataset}')
  payload = depth_study.run_depth_study(
      make_config, workdir, depths=[int(d) for d in FLAGS.depths], families=list(FAMILIES),
      steps=FLAGS.steps, seed=FLAGS.seed, chance=CHANCE[FLAGS.dataset],
      title=f'{FLAGS.dataset}: test accuracy vs depth', log=print)
  for row in payload['rows']:
    accuracy = row['test_accuracy']
    print(f"{row['family']:15s} {row['depth']:3d} layers: "
          + ('diverged' if accuracy is None else f'test accuracy {accuracy:.2%}'))
  print(f'Results in {workdir}: depth_study.csv, results.json, accuracy_vs_depth.png')


if __name__ == '__main__':
  cli.run(main)

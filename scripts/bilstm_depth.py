r"""Plain stacked BiLSTM vs Highway BiLSTM at several depths and seeds: test accuracy vs depth.

    python scripts/bilstm_depth.py --workdir=runs/bilstm_depth --steps=300 --seeds=0,1,2

Trains ``configs/mnist1d_highway_bilstm.py:num_layers=N,highway=true|false`` (offline MNIST-1D,
default) or, with ``--dataset=imdb_reviews|sst2``,
``configs/sentiment_highway_bilstm.py:dataset=…,num_layers=N,highway=…`` (TFDS; needs the data
prepared) for every depth in ``--depths``. ``--steps`` caps each run's
budget and ``--features`` the units per direction, so the study fits a CPU. Each run is evaluated
on the validation split every ``--eval_every`` steps (default: 20 times per run) and reports the test
accuracy of its best checkpoint there (early stopping as model selection; ``--patience=P`` also stops a run
after P evaluations without improvement, so a long ``--steps`` trains each run to its plateau);
``--grad_depths`` get the gradient norm per layer at initialisation. Finished runs in ``<workdir>/runs`` are reused
(``--eval_every=0 --depths=1,2,4,8,12`` reuses those of the one-seed study, evaluated only at the end).
Writes ``depth_study.csv``, ``summary.csv``, ``grad_norms.csv``, ``results.json`` and
``accuracy_vs_depth.png`` (highway_jax/analysis/depth_study.py).
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
cli.define_number_list('depths', [1, 2, 4, 8, 12, 16, 24], 'Numbers of BiLSTM layers.', minimum=1, distinct=True)
flags.DEFINE_integer('steps', None, 'Optimizer steps per run (default: the config\'s epochs).')
flags.DEFINE_integer('features', None, 'Units per direction (default: the config\'s).')
cli.define_number_list('seeds', [0], 'Seeds; one run per family, depth and seed (mean ± std over seeds).',
                       minimum=0, distinct=True)
flags.DEFINE_integer('eval_every', None, 'Steps between validation evaluations and checkpoints (default: '
                     '--steps / 20, or the config\'s without --steps; 0: only at the end).')
cli.define_number_list('grad_depths', None, 'Depths of the gradient-norm panel (default: the deepest; empty: '
                       'no panel).', minimum=1, distinct=True, allow_empty=True)
flags.DEFINE_integer('patience', 0, 'Early stopping: stop a run after this many evaluations in a row without a '
                     'better validation accuracy (0: train the whole budget).')
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
  if FLAGS.patience:
    overrides['early_stopping_patience'] = FLAGS.patience
  return load_config_file(spec, overrides)


def main(argv):
  del argv
  workdir = FLAGS.workdir or os.path.join('runs', f'bilstm_depth_{FLAGS.dataset}')
  eval_every = FLAGS.eval_every
  if eval_every is None and FLAGS.steps:
    eval_every = max(1, FLAGS.steps // 20)
  payload = depth_study.run_depth_study(
      make_config, workdir, depths=FLAGS.depths, families=list(FAMILIES),
      steps=FLAGS.steps, seeds=FLAGS.seeds, eval_every=eval_every,
      grad_depths=FLAGS.grad_depths, chance=CHANCE[FLAGS.dataset],
      title=f'{FLAGS.dataset}: test accuracy vs depth', log=print)
  for s in payload['summary']:
    print(f"{s['family']:15s} {s['depth']:3d} layers: " + (
        f"test accuracy {s['test_accuracy_mean']:.2%} ± {s['test_accuracy_std']:.2%} (n={s['n']} of "
        f"{s['runs']}, {s['plateaued']} plateaued)" if s['n'] else f"all {s['runs']} diverged"))
  print(f'Results in {workdir}: depth_study.csv, summary.csv, grad_norms.csv, results.json, accuracy_vs_depth.png')


if __name__ == '__main__':
  cli.run(main)

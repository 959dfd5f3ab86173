r"""Training curves of an LSTM and a highway network on the same data, from their metrics.jsonl.

    python scripts/loss_curves.py --workdir=runs/lstm_vs_highway --steps=600
    python scripts/loss_curves.py --runs=LSTM=runs/a,Highway=runs/b --output=curves.png

Without ``--runs`` it trains (or reuses, when finished) the default pair on offline MNIST-1D in
``<workdir>/<label>``: an LSTM (``configs/mnist1d_gru.py`` with ``model.cell=lstm``: one layer of 128
units) and a highway MLP (``configs/mnist1d_highway.py``), each for ``--steps`` steps. Writes
``loss_curves.png`` (training loss) and ``accuracy_curves.png`` (validation accuracy) to ``--output`` /
the work directory.
"""

import os

from absl import flags

from highway_jax import cli
from highway_jax.analysis import runs as runs_lib
from highway_jax.training import ConfigError, load_config_file

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DEFAULT_PAIR = (
    ('LSTM', 'configs/mnist1d_gru.py', {'model.cell': 'lstm'}),
    ('Highway MLP', 'configs/mnist1d_highway.py', None),
)

FLAGS = flags.FLAGS
flags.DEFINE_list('runs', None, 'label=workdir pairs of finished runs to plot (no training).')
flags.DEFINE_string('workdir', 'runs/lstm_vs_highway', 'Where the default pair is trained.')
flags.DEFINE_integer('steps', None, 'Optimizer steps per run of the default pair (default: config).')
flags.DEFINE_string('output', None, 'Loss figure path (default: <workdir>/loss_curves.png).')


def main(argv):
  del argv
  runs = {}
  if FLAGS.runs:
    for item in FLAGS.runs:
      label, sep, path = item.partition('=')
      if not sep or not label or not path:
        raise ConfigError(f'--runs entries must be label=workdir, got {item!r}.')
      runs[label] = path
  else:
    for label, spec, overrides in DEFAULT_PAIR:
      config = runs_lib.with_step_budget(
          load_config_file(os.path.join(REPO, spec), overrides), FLAGS.steps)
      run_dir = os.path.join(FLAGS.workdir, label.replace(' ', '_'))
      results = runs_lib.train_or_reuse(config, run_dir)
      print(f'{label}: ' + ('diverged' if results.get('diverged') else
                            f"test accuracy {results['test_accuracy']:.2%}, final training loss "
                            f"{results['train_loss']:.4g} after {results['step']} steps"))
      runs[label] = run_dir
  output = FLAGS.output or os.path.join(FLAGS.workdir, 'loss_curves.png')
  runs_lib.plot_metric_curves(runs, output, metric='loss', split='train',
                              title=' vs '.join(runs) + ': training loss')
  accuracy = os.path.join(os.path.dirname(output) or '.', 'accuracy_curves.png')
  runs_lib.plot_metric_curves(runs, accuracy, metric='accuracy', split='validation',
                              log_scale=False, title=' vs '.join(runs) + ': validation accuracy')
  print(f'Wrote {output} and {accuracy}')


if __name__ == '__main__':
  cli.run(main)

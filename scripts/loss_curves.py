r"""Training curves of an LSTM and a highway network on the same data, from their metrics.jsonl.

    python scripts/loss_curves.py --workdir=runs/lstm_vs_highway --steps=600
    python scripts/loss_curves.py --workdir=runs/lstm_vs_highway --steps=600 --seeds=0,1,2
    python scripts/loss_curves.py --runs=LSTM=runs/a,Highway=runs/b --output=curves.png

Without ``--runs`` it trains (or reuses, when finished) the default pair on offline MNIST-1D: an LSTM
(``configs/mnist1d_gru.py`` with ``model.cell=lstm``: one layer of 128 units) and a highway MLP
(``configs/mnist1d_highway.py``), each for ``--steps`` steps (evaluated on the validation split every
``--eval_every`` steps, default 20 times per run) and once per seed of ``--seeds``, seed 0 in
``<workdir>/<label>`` (``LSTM``, ``Highway_MLP``) and seed s in ``<workdir>/<label>_seed<s>``. It writes
``<workdir>/summary.csv``: per run its label, seed, work directory (relative to ``--workdir``), status
(``ok`` or ``diverged``), final training loss, validation and test accuracy and steps; then per label a
row of seed ``mean`` and one of seed ``std`` (sample std; empty with one run) over the runs that did not
diverge, and prints those as ``LSTM: test accuracy 84.8% ± 0.4% (3 seeds), ...``.

Both ways it writes ``loss_curves.png`` (training loss) and ``accuracy_curves.png`` (validation accuracy)
to ``--output`` / the work directory. With several seeds a label's curve is the mean over its seeds at
their logging steps, with a shaded band from their minimum to their maximum; diverged runs are left out of
the curves, the mean and the std.
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
DEFAULT_SEEDS = [0]

FLAGS = flags.FLAGS
flags.DEFINE_list('runs', None, 'label=workdir pairs of finished runs to plot (no training, no summary.csv).')
flags.DEFINE_string('workdir', 'runs/lstm_vs_highway', 'Where the default pair is trained and summary.csv '
                    'written.')
flags.DEFINE_integer('steps', None, 'Optimizer steps per run of the default pair (default: config).')
flags.DEFINE_integer('eval_every', None, 'Steps between validation evaluations of the default pair, the points '
                     'of the accuracy curves (default: --steps / 20, or the config\'s without --steps; 0: only '
                     'at the end).')
cli.define_number_list('seeds', DEFAULT_SEEDS, 'Seeds of the default pair (not with --runs): one run per label '
                       'and seed, seed 0 in <workdir>/<label>, seed s in <workdir>/<label>_seed<s>; with several, '
                       'the curves are the mean over seeds with a min-max band.', minimum=0, distinct=True)
flags.DEFINE_bool('runlocal', False, "The configs' :runlocal variants (a tiny net on a few hundred "
                  'examples), for tests.')
flags.DEFINE_string('output', None, 'Loss figure path (default: <workdir>/loss_curves.png); '
                    'accuracy_curves.png goes next to it.')


def train_default_pair(workdir: str, seeds: list[int]) -> dict[str, str | list[str]]:
  """Trains or reuses the default pair per seed (``runs.train_seeds``: summary.csv); returns
  ``{legend label: work directory, or those of several seeds}`` of the runs that did not diverge."""
  eval_every = FLAGS.eval_every
  if eval_every is None and FLAGS.steps:
    eval_every = max(1, FLAGS.steps // 20)
  configs = {label: runs_lib.with_step_budget(load_config_file(
      os.path.join(REPO, spec + (':runlocal' if FLAGS.runlocal else '')), overrides), FLAGS.steps,
      eval_every=eval_every) for label, spec, overrides in DEFAULT_PAIR}
  rows = runs_lib.train_seeds(configs, workdir, seeds, log=print)
  curves = {}
  for label in configs:
    finished = {r['seed']: os.path.join(workdir, r['workdir']) for r in rows
                if r['label'] == label and r.get('status') == 'ok'}
    if len(finished) > 1:
      curves[f'{label} (mean of {len(finished)} seeds, band: min–max)'] = list(finished.values())
    elif finished:  # the one seed, or the only one of several that did not diverge
      seed, run = next(iter(finished.items()))
      curves[label if len(seeds) == 1 else f'{label} (seed {seed} only)'] = run
  return curves


def main(argv):
  del argv
  runs = {}
  if FLAGS.runs:
    if FLAGS.seeds != DEFAULT_SEEDS:
      raise ConfigError('--seeds applies to the default pair only, not to --runs.')
    for item in FLAGS.runs:
      label, sep, path = item.partition('=')
      if not sep or not label or not path:
        raise ConfigError(f'--runs entries must be label=workdir, got {item!r}.')
      runs[label] = path
    names = list(runs)
  else:
    runs = train_default_pair(FLAGS.workdir, FLAGS.seeds)
    names = [label for label, _, _ in DEFAULT_PAIR]
  written = [os.path.join(FLAGS.workdir, 'summary.csv')] if not FLAGS.runs else []
  if runs:
    output = FLAGS.output or os.path.join(FLAGS.workdir, 'loss_curves.png')
    runs_lib.plot_metric_curves(runs, output, metric='loss', split='train',
                                title=' vs '.join(names) + ': training loss')
    accuracy = os.path.join(os.path.dirname(output) or '.', 'accuracy_curves.png')
    runs_lib.plot_metric_curves(runs, accuracy, metric='accuracy', split='validation',
                                log_scale=False, title=' vs '.join(names) + ': validation accuracy')
    written += [output, accuracy]
  else:
    print('No curves: every run diverged.')
  print('Wrote ' + ', '.join(written))


if __name__ == '__main__':
  cli.run(main)

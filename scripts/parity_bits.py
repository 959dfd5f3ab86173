r"""k-bit parity with the tied 1-d Grid LSTM for several k: which string lengths it learns, and when.

    python scripts/parity_bits.py --workdir=runs/parity_bits --bits=50,100,150,250 --steps=100000

Trains (or reuses, when finished) ``configs/parity_grid_lstm.py:bits=K,steps=S,model=M`` in
``<workdir>/<model>_bits<K>`` for every K in ``--bits`` (``--models=grid,mlp`` adds the same-size plain
network) and every seed in ``--seeds`` (``config.seed``: initialisation and order of the training
strings; a seed other than 0 trains in ``<workdir>/<model>_bits<K>_seed<S>``). A run counts as solved
when its final test accuracy (1,000 uniform K-bit strings) is at least ``--solved`` (0.99), a K when
every seed's grid run is. Writes ``parity_bits.csv`` (per run: model, bits, seed, steps, final test
and validation accuracy, the first evaluated step whose validation accuracy reached ``--solved``, wall
time, solved) and ``accuracy_curves.png`` (validation accuracy against the step, one line per run),
and prints the largest solved K.
"""

import itertools
import os

from absl import flags

from highway_jax import cli
from highway_jax.analysis import runs
from highway_jax.training import load_config_file
from highway_jax.training.workdir import read_metrics

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
CSV_FIELDS = ('model', 'bits', 'seed', 'steps', 'test_accuracy', 'validation_accuracy', 'first_step_solved',
              'wall_time_s', 'solved', 'run')

FLAGS = flags.FLAGS
flags.DEFINE_string('workdir', 'runs/parity_bits', 'Where the runs are trained and the results written.')
cli.define_number_list('bits', [50, 100, 150, 250], 'String lengths K.', minimum=1, distinct=True)
flags.DEFINE_list('models', ['grid'], "configs/parity_grid_lstm.py models: 'grid', 'mlp', 'lstm'.")
cli.define_number_list('seeds', [0], 'config.seed of the runs, one run per seed, model and K.', minimum=0,
                       distinct=True)
flags.DEFINE_integer('steps', 100_000, 'Optimizer steps per run (cosine schedule over them).')
flags.DEFINE_float('solved', 0.99, 'Test accuracy from which a K counts as solved.')
flags.DEFINE_bool('runlocal', False, 'A few steps of a tiny net per K (at most 8 bits), for tests.')


def main(argv):
  del argv
  rows, curves = [], {}
  seeds = FLAGS.seeds
  for model, bits, seed in itertools.product(FLAGS.models, FLAGS.bits, seeds):
    name = f'{model}_bits{bits}' + (f'_seed{seed}' if seed else '')
    run_dir = os.path.join(FLAGS.workdir, name)
    config = load_config_file(
        os.path.join(REPO, f'configs/parity_grid_lstm.py:bits={bits},steps={FLAGS.steps},model={model}'
                     + (',runlocal' if FLAGS.runlocal else '')))
    config.seed = seed
    results = runs.train_or_reuse(config, run_dir)
    validation = [r for r in read_metrics(run_dir) if r['split'] == 'validation']
    reached = [r['step'] for r in validation if r['accuracy'] >= FLAGS.solved]
    rows.append(dict(model=model, bits=bits, seed=seed, steps=results.get('step'),
                     test_accuracy=results.get('test_accuracy'),
                     validation_accuracy=results.get('validation_accuracy'),
                     first_step_solved=reached[0] if reached else None, wall_time_s=results.get('wall_time_s'),
                     solved=(results.get('test_accuracy') or 0.0) >= FLAGS.solved,
                     run=os.path.relpath(run_dir, FLAGS.workdir)))
    label = f'{model}, {bits} bits' + (f', seed {seed}' if len(seeds) > 1 else '')
    curves[label] = run_dir
    print(f"{label}: " + ('diverged' if results.get('diverged') else
                         f"test accuracy {results['test_accuracy']:.2%} after {results['step']} "
                         f"steps" + (f', validation ≥ {FLAGS.solved:.0%} from step {reached[0]}'
                                     if reached else '')))
  runs.write_csv(os.path.join(FLAGS.workdir, 'parity_bits.csv'), CSV_FIELDS, rows)
  runs.plot_metric_curves(curves, os.path.join(FLAGS.workdir, 'accuracy_curves.png'), metric='accuracy',
                          split='validation', log_scale=False, title='k-bit parity: validation accuracy')
  grid = [r for r in rows if r['model'] == 'grid']
  solved = [bits for bits in {r['bits'] for r in grid} if all(r['solved'] for r in grid if r['bits'] == bits)]
  if grid:
    print(f"Largest K solved by the grid (in every seed): {max(solved) if solved else 'none'}.")
  print(f'Results in {FLAGS.workdir}: parity_bits.csv, accuracy_curves.png')


if __name__ == '__main__':
  cli.run(main)

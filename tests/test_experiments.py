"""The experiments of highway_jax.analysis and scripts/ end to end on tiny settings.

Numbers are checked against NumPy: the lesion CSV against a forward pass with one layer's gate zeroed
over the whole training split, the gate CSV against the NumPy gates and the init bias, the best-trial
selection and trial sampling against hand-built rows.
"""

import csv
import json
import math
import os
import subprocess
import sys

import jax
import numpy as np
import pytest

from highway_jax import cli, data
from highway_jax.analysis import depth_sweep, gates, lesion, runs
from highway_jax.errors import ConfigError
from highway_jax.models import highway_mlp
from highway_jax.training import CheckpointError, load_config_file

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def config_file(name, arg='', **overrides):
  return load_config_file(os.path.join(REPO, 'configs', f'{name}.py') + f':{arg}',
                                      overrides)


def read_csv(path):
  with open(path, newline='') as f:
    return list(csv.DictReader(f))


@pytest.fixture(scope='module')
def trained_run(tmp_path_factory):
  """A tiny highway MLP on digits (depth 4: 3 stacked layers of 16 units), 6 steps."""
  workdir = str(tmp_path_factory.mktemp('digits_highway'))
  results = runs.train_or_reuse(config_file('digits_highway', 'runlocal'), workdir)
  assert results['step'] == 6
  return workdir


def numpy_forward(p, x, lesioned=None):
  """Logits and the stacked layers' gates (L, B, F) of the highway MLP in NumPy."""
  relu = lambda z: np.maximum(z, 0.0)
  h = relu(x.reshape(len(x), -1) @ p['input_layer']['kernel'] + p['input_layer']['bias'])
  layers = p['stack']['layers']
  gates = []
  for l in range(layers['H']['kernel'].shape[0]):
    transform = relu(h @ layers['H']['kernel'][l] + layers['H']['bias'][l])
    gate = 1.0 / (1.0 + np.exp(-(h @ layers['T']['kernel'][l] + layers['T']['bias'][l])))
    if l == lesioned:
      gate = np.zeros_like(gate)
    gates.append(gate)
    h = transform * gate + h * (1.0 - gate)
  return h @ p['classifier']['kernel'] + p['classifier']['bias'], np.stack(gates)


def train_split(run):
  batches = list(data.eval_batches(run.dataset, 'train', batch_size=run.dataset.num_examples['train']))
  assert len(batches) == 1
  return np.asarray(batches[0]['inputs'], np.float64), np.asarray(batches[0]['label'])


def test_lesion_run_matches_numpy(trained_run, tmp_path):
  run = runs.load_run(trained_run)
  result = lesion.lesion_run(trained_run, str(tmp_path), run=run)
  rows = read_csv(tmp_path / 'lesion.csv')
  assert [r['lesioned_layer'] for r in rows] == ['none', '0', '1', '2']
  assert (tmp_path / 'lesion.png').stat().st_size > 0

  p = jax.tree.map(lambda a: np.asarray(a, np.float64), run.params)
  x, y = train_split(run)
  for row, lesioned in zip(rows, (None, 0, 1, 2)):
    logits, _ = numpy_forward(p, x, lesioned)
    log_probs = logits - logits.max(1, keepdims=True)
    log_probs -= np.log(np.exp(log_probs).sum(1, keepdims=True))
    np.testing.assert_allclose(float(row['loss']), -log_probs[np.arange(len(y)), y].mean(),
                               rtol=1e-4)
    np.testing.assert_allclose(float(row['accuracy']), (logits.argmax(1) == y).mean(), atol=1e-9)
  assert result.num_examples == len(y) == 1293  # the training split, validation held out


def test_analyze_gates_run_matches_numpy(trained_run, tmp_path):
  run = runs.load_run(trained_run)
  analysis = gates.analyze_gates_run(trained_run, str(tmp_path), num_examples=3, run=run)
  names = {os.path.basename(f) for f in analysis.files}
  assert names == {'gates.csv', 'gate_classes.csv', 'gates.json', 'gate_biases.png',
                   'gate_activity.png', 'gate_examples.png', 'gate_classes.png'}

  p = jax.tree.map(lambda a: np.asarray(a, np.float64), run.params)
  x, y = train_split(run)
  _, gate_values = numpy_forward(p, x)                          # (3, B, 16)
  rows = read_csv(tmp_path / 'gates.csv')
  assert len(rows) == 3
  trained_bias = p['stack']['layers']['T']['bias']
  for l, row in enumerate(rows):
    assert float(row['bias_mean_init']) == -3.0 and float(row['bias_std_init']) == 0.0
    np.testing.assert_allclose(float(row['bias_mean_trained']), trained_bias[l].mean(), rtol=1e-6)
    np.testing.assert_allclose(float(row['mean_gate_activity']), gate_values[l].mean(), rtol=1e-5)
  class_rows = read_csv(tmp_path / 'gate_classes.csv')
  assert len(class_rows) == 10 * 3
  row = next(r for r in class_rows if r['class'] == '7' and r['layer'] == '1')
  np.testing.assert_allclose(float(row['mean_gate_activity']), gate_values[1][y == 7].mean(), rtol=1e-5)
  np.testing.assert_allclose(float(row['deviation_from_mean']),
                             gate_values[1][y == 7].mean() - gate_values[1].mean(), atol=1e-6)
  summary = json.loads((tmp_path / 'gates.json').read_text())['sites']['stack/layers']
  assert summary['example_labels'] == y[:3].tolist()
  np.testing.assert_allclose(analysis.statistics['stack/layers'].example_gates,
                             gate_values[:, :3].transpose(1, 0, 2), rtol=1e-5, atol=1e-6)


def test_load_run_and_lesion_errors(tmp_path):
  with pytest.raises(CheckpointError, match='not a training work directory'):
    runs.load_run(str(tmp_path))
  (tmp_path / 'config.json').write_text(config_file('digits_highway', 'runlocal').to_json())
  with pytest.raises(CheckpointError, match='has no checkpoint'):
    runs.load_run(str(tmp_path))
  plain = highway_mlp.Model(num_classes=3, num_layers=4, features=5, block='plain')
  with pytest.raises(ValueError, match='no highway stack to lesion'):
    lesion.num_lesion_layers(plain)
  assert lesion.num_lesion_layers(highway_mlp.Model(num_classes=3, num_layers=4)) == 3


def test_lesion_script_reports_a_missing_checkpoint_in_one_line(tmp_path):
  result = subprocess.run([sys.executable, os.path.join(REPO, 'scripts', 'lesion.py'),
                           f'--workdir={tmp_path}'], capture_output=True, text=True, cwd=REPO,
                          timeout=120)
  assert result.returncode == 1
  assert result.stderr.strip().splitlines()[-1].startswith('Checkpoint error:')
  assert 'not a training work directory' in result.stderr


def test_sample_trials():
  trials = depth_sweep.sample_trials((10, 20), ('plain', 'highway'), 3, seed=1)
  assert len(trials) == 12 and len({t.name for t in trials}) == 12
  assert all(1e-3 <= t.learning_rate <= 1e-1 for t in trials)
  assert all(t.transform_bias_init is None for t in trials if t.family == 'plain')
  assert all(-10 <= t.transform_bias_init <= -1 for t in trials if t.family == 'highway')
  # More trials keep the earlier ones, so their finished runs are reused.
  more = depth_sweep.sample_trials((10, 20), ('plain', 'highway'), 5, seed=1)
  assert set(trials) <= set(more)
  assert trials != depth_sweep.sample_trials((10, 20), ('plain', 'highway'), 3, seed=2)


def test_best_trials_skips_diverged_runs():
  rows = [dict(family='plain', depth=10, trial=0, train_loss=0.5),
          dict(family='plain', depth=10, trial=1, train_loss=0.1),
          dict(family='plain', depth=100, trial=0, train_loss=math.inf),
          dict(family='highway', depth=100, trial=0, train_loss=float('nan')),
          dict(family='highway', depth=100, trial=1, train_loss=0.3)]
  best = depth_sweep.best_trials(rows)
  assert best == {'plain': {10: rows[1]}, 'highway': {100: rows[4]}}


def test_summarize_trials_top_k_mean_std_and_ratio():
  rng = np.random.default_rng(3)
  plain = rng.uniform(0.5, 2.0, size=5)
  highway = rng.uniform(1e-3, 1e-2, size=4)
  rows = ([dict(family='plain', depth=10, trial=i, status='ok', train_loss=float(v)) for i, v in enumerate(plain)]
          + [dict(family='plain', depth=10, trial=5, status='diverged', train_loss=math.inf)]
          + [dict(family='highway', depth=10, trial=i, status='ok', train_loss=float(v))
             for i, v in enumerate(highway)]
          + [dict(family='plain', depth=50, trial=0, status='ok', train_loss=0.7),
             dict(family='highway', depth=50, trial=0, status='diverged', train_loss=math.inf)])
  summary = {(r['family'], r['depth']): r for r in depth_sweep.summarize_trials(rows, top_k=3)}

  def hand(losses, k):  # the k smallest, their mean and population std, written out
    top = sorted(losses)[:k]
    mean = sum(top) / len(top)
    return top[0], mean, math.sqrt(sum((x - mean) ** 2 for x in top) / len(top)), len(top)

  for key, losses, k, diverged in ((('plain', 10), plain, 3, 1), (('highway', 10), highway, 3, 0),
                                   (('plain', 50), [0.7], 1, 0)):
    row = summary[key]
    np.testing.assert_allclose([row['best_train_loss'], row['top_k_mean_train_loss'],
                                row['top_k_std_train_loss'], row['k']], hand(list(losses), k), rtol=1e-12)
    assert (row['trials'], row['diverged']) == (len(losses) + diverged, diverged)
  assert summary['plain', 10]['best_plain_over_best_highway'] == pytest.approx(plain.min() / highway.min())
  assert summary['highway', 10]['best_plain_over_best_highway'] == summary['plain', 10]['best_plain_over_best_highway']
  # Every highway trial at depth 50 diverged: no best, no ratio, k = 0.
  assert summary['highway', 50] == dict(family='highway', depth=50, trials=1, diverged=1, k=0, best_train_loss=None,
                                        top_k_mean_train_loss=None, top_k_std_train_loss=None,
                                        best_plain_over_best_highway=None)
  assert summary['plain', 50]['best_plain_over_best_highway'] is None
  with pytest.raises(ValueError, match=r'^top_k=0 must be >= 1\.$'):
    depth_sweep.summarize_trials(rows, top_k=0)


def test_with_step_budget():
  config = runs.with_step_budget(config_file('digits_depth', 'num_layers=10'), 50)
  assert (config.num_train_steps, config.schedule.warmup_steps, config.log_every_steps,
          config.eval_every_steps, config.checkpoint_every_steps) == (50, 0, 2, 0, 0)
  config = runs.with_step_budget(config_file('digits_depth', 'num_layers=10'), 50, eval_every=5)
  assert (config.num_train_steps, config.eval_every_steps, config.checkpoint_every_steps) == (50, 5, 5)
  unchanged = config_file('digits_depth', 'num_layers=10')
  assert runs.with_step_budget(unchanged, None).to_dict() == unchanged.to_dict()
  assert runs.with_step_budget(unchanged, None, eval_every=0).eval_every_steps == 0
  with pytest.raises(ValueError, match="unknown config key 'model.nope'"):
    config_file('digits_depth', 'num_layers=10', **{'model.nope': 1})


def test_depth_sweep_end_to_end_and_reuse(tmp_path, monkeypatch):
  # MNIST-1D's runlocal (configs/digits_depth.py's runlocal trains in tests/test_configs.py).
  def make_config(depth, family):
    config = config_file('mnist1d_depth', f'runlocal,block={family}')
    config.model.num_layers = depth
    return config

  workdir = str(tmp_path)
  payload = depth_sweep.run_depth_sweep(make_config, workdir, depths=(2, 3), num_trials=1, steps=2,
                                        seed=0, top_k=2, decay_rate=0.5)
  rows = read_csv(tmp_path / 'sweep.csv')
  assert [(r['family'], r['depth']) for r in rows] == [
      ('plain', '2'), ('plain', '3'), ('highway', '2'), ('highway', '3')]
  for row in rows:
    assert row['status'] == 'ok' and row['steps'] == '2'
    train_eval = json.loads((tmp_path / row['run'] / 'train_eval.json').read_text())
    assert float(row['train_loss']) == train_eval['loss'] and train_eval['split'] == 'train'
    stored = json.loads((tmp_path / row['run'] / 'config.json').read_text())
    assert stored['optimizer']['learning_rate'] == float(row['learning_rate'])
    assert stored['schedule']['decay_rate'] == 0.5 != make_config(2, 'plain').schedule.decay_rate
    if row['family'] == 'highway':
      assert stored['model']['transform_bias_init'] == float(row['transform_bias_init'])
  for family in ('plain', 'highway'):
    for depth in (2, 3):
      assert payload['best'][family][str(depth)]['train_loss'] == min(
          float(r['train_loss']) for r in rows if (r['family'], r['depth']) == (family, str(depth)))
  settings = json.loads((tmp_path / 'results.json').read_text())['settings']
  assert (settings['steps'], settings['decay_rate']) == (2, 0.5)
  # One trial each: k = 1 of top_k = 2, mean = best, std 0; the ratio from the trial rows.
  summary = read_csv(tmp_path / 'summary.csv')
  assert payload['summary'] == json.loads((tmp_path / 'results.json').read_text())['summary']
  assert [(r['family'], r['depth']) for r in summary] == [(r['family'], r['depth']) for r in rows]
  loss = {(r['family'], r['depth']): float(r['train_loss']) for r in rows}
  for row in summary:
    assert (row['trials'], row['diverged'], row['k'], float(row['top_k_std_train_loss'])) == ('1', '0', '1', 0.0)
    assert float(row['best_train_loss']) == float(row['top_k_mean_train_loss']) == loss[row['family'], row['depth']]
    assert float(row['best_plain_over_best_highway']) == pytest.approx(
        loss['plain', row['depth']] / loss['highway', row['depth']])
  for name in ('depth_sweep.png', 'best_curves.png'):
    assert (tmp_path / name).stat().st_size > 0

  # A second call reuses every finished trial (training would fail here).
  def no_training(*args, **kwargs):
    raise AssertionError('a finished trial was retrained')
  monkeypatch.setattr(runs, 'train_and_evaluate', no_training)
  again = depth_sweep.run_depth_sweep(make_config, workdir, depths=(2, 3), num_trials=1, steps=2,
                                      seed=0, top_k=5, decay_rate=0.5)
  assert again['best'] == json.loads(json.dumps(payload['best']))
  assert again['summary'] == payload['summary']
  # A different config in a finished trial's directory is an error, not a silent reuse.
  with pytest.raises(ValueError, match='finished run of a different config'):
    depth_sweep.run_depth_sweep(make_config, workdir, depths=(2,), num_trials=1, steps=3, seed=0)
  with pytest.raises(ConfigError, match=r'decay_rate=1.5 must be > 0 and <= 1'):
    depth_sweep.run_depth_sweep(make_config, workdir, depths=(2,), num_trials=1, steps=2, decay_rate=1.5)
  def cosine(depth, family):
    config = make_config(depth, family)
    config.schedule.name = 'cosine'
    return config
  with pytest.raises(ConfigError, match="decay_rate=0.5 needs an exponential schedule.*schedule.name='cosine'"):
    depth_sweep.run_depth_sweep(cosine, workdir, depths=(2,), num_trials=1, steps=2, decay_rate=0.5)


def test_scripts_error_policy_one_line_for_expected_errors_traceback_for_bugs(tmp_path):
  driver = tmp_path / 'driver.py'
  driver.write_text(
      'import sys\n'
      f'sys.path.insert(0, {os.path.join(REPO, "scripts")!r})\n'
      'from highway_jax import cli\n'
      'from highway_jax.errors import ConfigError\n'
      'def main(argv):\n'
      '  raise (ConfigError if sys.argv[-1] == "expected" else ValueError)("bad\\n  value")\n'
      'cli.run(main, argv=sys.argv[:1])\n')
  for kind in ('expected', 'bug'):
    result = subprocess.run([sys.executable, str(driver), kind], capture_output=True, text=True,
                            cwd=REPO, timeout=120)
    assert result.returncode == 1, result.stderr
    lines = result.stderr.strip().splitlines()
    if kind == 'expected':
      assert lines == ['Config error: bad value'], result.stderr
    else:
      assert 'Traceback' in result.stderr and lines[-2:] == ['ValueError: bad', '  value'], (
          result.stderr)


@pytest.mark.parametrize('kwargs, argument, expected', [
    ({}, '3,1,2', [3, 1, 2]),
    ({'kind': float}, '1e-3, 0.5', [1e-3, 0.5]),
    ({'allow_empty': True}, '', []),
    ({}, [4, 5], [4, 5]),  # a default given as numbers
    ({}, '', 'expected a non-empty comma separated list of integers'),
    ({}, '1,2.5', 'expected a non-empty comma separated list of integers'),
    ({'minimum': 1}, '2,0', 'integers, each >= 1'),
    ({'distinct': True}, '2,2', 'integers, without repeats'),
    ({'kind': float, 'minimum': 0}, '0.1,-1e-3', 'list of numbers, each >= 0'),
])
def test_number_list_flag_parses_numbers_or_says_what_it_expected(kwargs, argument, expected):
  parser = cli.NumberListParser(**kwargs)
  if isinstance(expected, str):
    with pytest.raises(ValueError, match=expected):
      parser.parse(argument)
  else:
    parsed = parser.parse(argument)
    assert parsed == expected and all(type(v) is kwargs.get('kind', int) for v in parsed)


def test_parity_bits_script_csv_follows_the_runs_and_reuses_them(tmp_path):
  command = [sys.executable, os.path.join(REPO, 'scripts', 'parity_bits.py'), f'--workdir={tmp_path}',
             '--runlocal', '--solved=0.5']

  def check_rows(expected):
    with open(tmp_path / 'parity_bits.csv', newline='', encoding='utf-8') as f:
      rows = list(csv.DictReader(f))
    assert [(r['model'], r['bits'], r['seed'], r['run']) for r in rows] == expected
    for row in rows:
      run = tmp_path / row['run']
      config = json.loads((run / 'config.json').read_text())
      assert (config['data']['parity_bits'], config['seed']) == (int(row['bits']), int(row['seed']))
      final = json.loads((run / 'results.json').read_text())
      assert float(row['test_accuracy']) == final['test_accuracy'] and int(row['steps']) == final['step'] == 4
      records = [json.loads(line) for line in (run / 'metrics.jsonl').read_text().splitlines()]
      reached = [r['step'] for r in records if r['split'] == 'validation' and r['accuracy'] >= 0.5]
      assert row['first_step_solved'] == (str(reached[0]) if reached else '')
      assert row['solved'] == str(final['test_accuracy'] >= 0.5)
    return rows

  result = subprocess.run([*command, '--bits=4,6'], capture_output=True, text=True, cwd=REPO, timeout=300)
  assert result.returncode == 0, result.stderr
  check_rows([('grid', '4', '0', 'grid_bits4'), ('grid', '6', '0', 'grid_bits6')])
  assert (tmp_path / 'accuracy_curves.png').stat().st_size > 0
  mtimes = {p: p.stat().st_mtime_ns for p in tmp_path.glob('grid_bits*/results.json')}
  # A second seed: seed 0's run is reused, seed 1 trains next to it with only the seed changed; a K is
  # solved when every seed's run is.
  again = subprocess.run([*command, '--bits=4', '--seeds=0,1'], capture_output=True, text=True, cwd=REPO,
                         timeout=300)
  assert again.returncode == 0, again.stderr
  assert {p: p.stat().st_mtime_ns for p in mtimes} == mtimes  # finished runs were reused, not retrained
  rows = check_rows([('grid', '4', '0', 'grid_bits4'), ('grid', '4', '1', 'grid_bits4_seed1')])
  configs = [json.loads((tmp_path / r['run'] / 'config.json').read_text()) for r in rows]
  assert [c.pop('seed') for c in configs] == [0, 1] and configs[0] == configs[1]
  largest = '4' if all(r['solved'] == 'True' for r in rows) else 'none'
  assert f'Largest K solved by the grid (in every seed): {largest}.' in again.stdout
  # A bad list value stops at flag parsing, in one line that names the flag and what it takes.
  bad = subprocess.run([*command, '--seeds=0,x'], capture_output=True, text=True, cwd=REPO, timeout=120)
  assert bad.returncode == 1 and 'Traceback' not in bad.stderr, bad.stderr
  assert ('FATAL Flags parsing error: flag --seeds=0,x: expected a non-empty comma separated list of integers, '
          'each >= 0, without repeats') in bad.stderr

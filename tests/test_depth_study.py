"""The depth study (highway_jax/analysis/depth_study.py) on tiny settings: seeds, selection on validation,
the summary against NumPy, gradient norms per layer against per-layer jax.grad of a hand-built loss.
"""

import csv
import json
import os
import subprocess
import sys

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from highway_jax import cli, data
from highway_jax.analysis import depth_study, runs
from highway_jax.models import rnn_classifier
from highway_jax.training import load_config_file

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
# One family keeps CI cheap: the families only name configs (plain vs highway: tests/test_configs.py).
FAMILIES, DEPTHS, SEEDS, STEPS, EVERY = ('highway',), (1, 3), (0, 1), 6, 2


def read_csv(path):
  with open(path, newline='') as f:
    return list(csv.DictReader(f))


def make_config(depth, family):
  # The study is generic in its configs; a tiny MLP stands in for the BiLSTM (trained in test_configs.py).
  config = load_config_file(os.path.join(REPO, 'configs', f'mnist1d_highway.py:runlocal,block={family}'))
  config.model.num_layers = depth
  # Selecting the highest validation loss picks an early checkpoint: the selection path is exercised.
  config.best_metric, config.best_mode = 'loss', 'max'
  return config


@pytest.fixture(scope='module')
def study(tmp_path_factory):
  workdir = str(tmp_path_factory.mktemp('study'))
  payload = depth_study.run_depth_study(make_config, workdir, depths=DEPTHS, families=FAMILIES,
                                        steps=STEPS, seeds=SEEDS, eval_every=EVERY, chance=0.1)
  return workdir, payload


def test_runs_per_seed_and_selection_on_validation(study):
  workdir, payload = study
  rows = read_csv(os.path.join(workdir, 'depth_study.csv'))
  assert [(r['family'], r['depth'], r['seed'], r['run']) for r in rows] == [
      (f, str(d), str(s), os.path.join('runs', f'{f}_depth{d}' + (f'_seed{s}' if s else '')))
      for f in FAMILIES for d in DEPTHS for s in SEEDS]
  for row in rows:
    run_dir = os.path.join(workdir, row['run'])
    assert json.loads(open(os.path.join(run_dir, 'config.json')).read())['seed'] == int(row['seed'])
    records = [json.loads(line) for line in open(os.path.join(run_dir, 'metrics.jsonl'))]
    validation = {r['step']: r for r in records if r['split'] == 'validation'}
    assert sorted(validation) == list(range(EVERY, STEPS + 1, EVERY))
    best = max(validation, key=lambda step: validation[step]['loss'])  # best_mode='max' on the loss
    assert int(row['best_step']) == best
    assert float(row['validation_accuracy']) == validation[best]['accuracy']
    test = runs.load_run(run_dir, best)
    batches = list(test.batches('test', batch_size=test.dataset.num_examples['test']))
    logits = np.asarray(test.model.apply({'params': test.params}, batches[0]['inputs'], train=False))
    assert float(row['test_accuracy']) == pytest.approx(np.mean(logits.argmax(1) == batches[0]['label']))
    results = json.loads(open(os.path.join(run_dir, 'results.json')).read())
    assert float(row['final_test_accuracy']) == results['test_accuracy'] and int(row['steps']) == STEPS
    assert row['plateaued'] == str(best <= STEPS - 2 * EVERY)
  assert any(int(r['best_step']) < STEPS for r in rows)  # the early-checkpoint path ran
  assert (os.path.getsize(os.path.join(workdir, 'accuracy_vs_depth.png')) > 0
          and len(payload['rows']) == len(rows))


def test_summary_matches_numpy_on_the_rows(study):
  workdir, _ = study
  rows = read_csv(os.path.join(workdir, 'depth_study.csv'))
  summary = read_csv(os.path.join(workdir, 'summary.csv'))
  assert [(s['family'], s['depth']) for s in summary] == [(f, str(d)) for f in FAMILIES for d in DEPTHS]
  for s in summary:
    group = [r for r in rows if (r['family'], r['depth']) == (s['family'], s['depth'])]
    assert (int(s['runs']), int(s['n'])) == (len(SEEDS), len(SEEDS))
    assert int(s['plateaued']) == sum(r['plateaued'] == 'True' for r in group)
    for key in ('test_accuracy', 'final_test_accuracy'):
      values = [float(r[key]) for r in group]
      assert float(s[f'{key}_mean']) == pytest.approx(np.mean(values), abs=1e-12)
      assert float(s[f'{key}_std']) == pytest.approx(np.std(values, ddof=1), abs=1e-12)
  # n = 1 has no spread; a diverged run counts in 'runs', not in 'n'.
  one = dict(family='f', depth=1, status='ok', plateaued=True, test_accuracy=0.5, final_test_accuracy=0.4)
  assert depth_study.summarize([one, dict(one, status='diverged')]) == [dict(
      family='f', depth=1, runs=2, n=1, plateaued=1, test_accuracy_mean=0.5, test_accuracy_std=0.0,
      final_test_accuracy_mean=0.4, final_test_accuracy_std=0.0)]


def test_early_stopped_runs_count_as_plateaued(tmp_path):
  def patient(depth, family):  # the highest validation loss: best at the first evaluation, as loss falls
    config = make_config(depth, family)
    config.early_stopping_patience = 1
    return config

  payload = depth_study.run_depth_study(patient, str(tmp_path), depths=(1,), families=FAMILIES, steps=STEPS,
                                        seeds=(0,), eval_every=EVERY, grad_depths=())
  (row,) = payload['rows']
  with open(tmp_path / row['run'] / 'results.json') as f:
    results = json.load(f)
  assert results['stopped_on_plateau'] and results['step'] == row['steps'] == 2 * EVERY < STEPS
  assert row['best_step'] == EVERY and row['plateaued'] is True


def test_grad_norms_of_the_deepest_runs_at_initialisation(study):
  workdir, _ = study
  norms = read_csv(os.path.join(workdir, 'grad_norms.csv'))
  deepest = max(DEPTHS)
  for family in FAMILIES:
    for seed in SEEDS:
      config = make_config(deepest, family)
      config.seed = seed
      run = runs.load_run(os.path.join(workdir, 'runs', f'{family}_depth{deepest}' + (f'_seed{seed}' if seed else '')))
      loader = data.train_loader(run.dataset, batch_size=config.batch_size, seed=seed)
      batch = next(loader)
      loader.close()
      expected = depth_study.layer_gradient_norms(run.model, run.init_params(), batch)
      got = [(int(r['layer']), float(r['grad_norm'])) for r in norms
             if (r['family'], r['depth'], r['seed']) == (family, str(deepest), str(seed))]
      assert [layer for layer, _ in got] == list(range(deepest - 1))  # the stacked layers after input_layer
      np.testing.assert_allclose([n for _, n in got], expected, rtol=1e-6)
      assert np.all(np.isfinite(expected)) and np.all(expected > 0)


def test_layer_gradient_norms_match_per_layer_grads_of_a_hand_built_loss():
  # Highway: layer 0 has its T and proj parameters besides the cells' (a plain stack is a subset); the
  # layout is the same for every cell, and simple_rnn compiles fastest.
  model = rnn_classifier.Model(num_classes=3, cell='simple_rnn', features=3, num_layers=3, bidirectional=True,
                               highway=True)
  inputs = jax.random.normal(jax.random.key(1), (4, 3))
  labels = jnp.array([0, 2, 1, 2])
  params = model.init(jax.random.key(0), inputs, train=False)['params']
  leaves, tree = jax.tree.flatten(params)  # every parameter random, biases too
  keys = jax.random.split(jax.random.key(2), len(leaves))
  params = jax.tree.unflatten(tree, [0.5 * jax.random.normal(k, x.shape) for k, x in zip(keys, leaves)])

  @jax.jit
  def loss_of_layers(thetas):  # the three layers' parameters put back into the model's layout
    rnn = {'layer_0': thetas[0], 'layers': jax.tree.map(lambda *parts: jnp.stack(parts), *thetas[1:])}
    logits = model.apply({'params': {**params, 'rnn': rnn}}, inputs, train=False)
    log_probs = logits - jax.scipy.special.logsumexp(logits, axis=1, keepdims=True)
    return -jnp.mean(log_probs[jnp.arange(4), labels])

  thetas = [params['rnn']['layer_0']] + [jax.tree.map(lambda a: a[l], params['rnn']['layers']) for l in range(2)]
  grads = jax.grad(loss_of_layers)(thetas)
  expected = [np.sqrt(sum(np.sum(np.asarray(g, np.float64) ** 2) for g in jax.tree.leaves(grad))) for grad in grads]
  got = depth_study.layer_gradient_norms(model, params, {'inputs': inputs, 'label': labels})
  np.testing.assert_allclose(got, expected, rtol=1e-5)
  with pytest.raises(ValueError, match="params have no 'layer_0' or 'layers' subtree"):
    depth_study.layer_gradient_norms(model, {'classifier': params['classifier']}, {'inputs': inputs, 'label': labels})


def test_stopped_run_stops_the_study_with_exit_status_75(monkeypatch, tmp_path, capsys):
  monkeypatch.setattr(runs, 'train_and_evaluate', lambda config, run_dir: {'preempted': True, 'step': 3})
  study = lambda argv: depth_study.run_depth_study(make_config, str(tmp_path), depths=(1, 2), families=FAMILIES,
                                                   steps=4)
  with pytest.raises(SystemExit) as exit_info:
    cli.run(study, argv=['bilstm_depth.py'])
  assert exit_info.value.code == cli.EXIT_PREEMPTED == 75
  assert capsys.readouterr().err == (f"Stopped: {tmp_path / 'runs' / 'highway_depth1'} stopped at step 3 with a "
                                     'checkpoint saved; rerun the same command to resume it.\n')
  assert not (tmp_path / 'depth_study.csv').exists()


def test_finished_study_is_reused_and_loss_curves_script(study, monkeypatch, tmp_path):
  workdir, payload = study

  def no_work(*args, **kwargs):
    raise AssertionError('a finished run was retrained or its best checkpoint re-evaluated')
  monkeypatch.setattr(runs, 'train_and_evaluate', no_work)
  monkeypatch.setattr(depth_study, 'evaluate_checkpoint', no_work)
  again = depth_study.run_depth_study(make_config, workdir, depths=DEPTHS, families=FAMILIES,
                                      steps=STEPS, seeds=SEEDS, eval_every=EVERY, grad_depths=())
  assert again['rows'] == payload['rows'] and again['grad_norms'] == []

  output = tmp_path / 'curves' / 'loss.png'
  result = subprocess.run(
      [sys.executable, os.path.join(REPO, 'scripts', 'loss_curves.py'),
       f'--runs=Highway MLP 1={os.path.join(workdir, "runs", "highway_depth1")},'
       f'Highway MLP 3={os.path.join(workdir, "runs", "highway_depth3")}',
       f'--output={output}'], capture_output=True, text=True, cwd=REPO, timeout=120)
  assert result.returncode == 0, result.stderr
  assert output.stat().st_size > 0 and (tmp_path / 'curves' / 'accuracy_curves.png').exists()
  mixed = subprocess.run(
      [sys.executable, os.path.join(REPO, 'scripts', 'loss_curves.py'),
       f'--runs=a={os.path.join(workdir, "runs", "highway_depth1")}', '--seeds=0,1'],
      capture_output=True, text=True, cwd=REPO, timeout=120)
  assert (mixed.returncode, mixed.stderr) == (
      1, 'Config error: --seeds applies to the default pair only, not to --runs.\n')


def test_loss_curves_script_seeds_summary_and_reuse(tmp_path):
  # The default pair's :runlocal configs for 2 steps, 2 seeds; seed 1 reuses seed 0's compiles (same programs).
  env = dict(os.environ, JAX_DISABLE_MOST_OPTIMIZATIONS='1', JAX_COMPILATION_CACHE_DIR=str(tmp_path / 'jax_cache'),
             JAX_PERSISTENT_CACHE_MIN_COMPILE_TIME_SECS='0', JAX_PERSISTENT_CACHE_MIN_ENTRY_SIZE_BYTES='-1')
  workdir = tmp_path / 'pair'
  command = [sys.executable, os.path.join(REPO, 'scripts', 'loss_curves.py'), f'--workdir={workdir}',
             '--runlocal', '--steps=2', '--seeds=0,1']
  result = subprocess.run(command, capture_output=True, text=True, cwd=REPO, env=env, timeout=300)
  assert result.returncode == 0, result.stderr
  summary = read_csv(workdir / 'summary.csv')
  labels = {'LSTM': 'LSTM', 'Highway MLP': 'Highway_MLP'}
  assert [(r['label'], r['seed'], r['workdir']) for r in summary] == [
      (label, seed, run) for label, name in labels.items()
      for seed, run in (('0', name), ('1', f'{name}_seed1'), ('mean', ''), ('std', ''))]
  keys = {'train_loss': 'train_loss', 'validation_accuracy': 'validation_accuracy',
          'test_accuracy': 'test_accuracy', 'steps': 'step'}
  for label, name in labels.items():
    rows = {r['seed']: r for r in summary if r['label'] == label}
    configs = [json.loads((workdir / run / 'config.json').read_text()) for run in (name, f'{name}_seed1')]
    assert [c.pop('seed') for c in configs] == [0, 1] and configs[0] == configs[1]  # only the seed differs
    results = [json.loads((workdir / run / 'results.json').read_text()) for run in (name, f'{name}_seed1')]
    for key, result_key in keys.items():
      values = [r[result_key] for r in results]
      assert [float(rows[s][key]) for s in '01'] == values and values[0] is not None
      assert float(rows['mean'][key]) == pytest.approx(np.mean(values), abs=1e-12)
      assert float(rows['std'][key]) == pytest.approx(np.std(values, ddof=1), abs=1e-12)
    assert rows['0']['status'] == rows['1']['status'] == 'ok' and results[0]['step'] == 2
    assert f'{label}, seed 1: test accuracy {results[1]["test_accuracy"]:.2%}' in result.stdout
    mean, std = float(rows['mean']['test_accuracy']), float(rows['std']['test_accuracy'])
    assert f'{label}: test accuracy {mean:.1%} ± {std:.1%} (2 seeds), final training loss ' in result.stdout
  for figure in ('loss_curves.png', 'accuracy_curves.png'):
    assert (workdir / figure).stat().st_size > 0

  mtimes = {p: p.stat().st_mtime_ns for p in workdir.glob('*/results.json')}
  assert len(mtimes) == 4
  again = subprocess.run(command, capture_output=True, text=True, cwd=REPO, env=env, timeout=300)
  assert again.returncode == 0, again.stderr
  assert {p: p.stat().st_mtime_ns for p in mtimes} == mtimes  # finished runs were reused, not retrained
  assert read_csv(workdir / 'summary.csv') == summary

"""Tests of highway_jax.training: optimizers, losses, config errors, the loop, checkpoints, devices."""

import errno
import json
import math
import os
import signal
import subprocess
import sys
import textwrap
import time

import jax
import jax.numpy as jnp
import ml_collections
import numpy as np
import optax
import orbax.checkpoint as ocp
import pytest

from highway_jax import data
from highway_jax.analysis import runs
from highway_jax.errors import WorkdirError
from highway_jax.training import (
  CheckpointError,
  ConfigError,
  NonFiniteLossError,
  default_config,
  evaluate_checkpoint,
  load_config_file,
  loop,
  losses,
  parse_arg,
  train_and_evaluate,
)
from highway_jax.training import workdir as workdir_lib
from highway_jax.training.defaults import validate_config
from highway_jax.training.evaluation import restore_run
from highway_jax.training.optimizers import create_learning_rate_schedule, create_optimizer
from highway_jax.training.setup import setup
from highway_jax.training.workdir import load_config, read_metrics

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def tiny_config(**overrides):
  """A 3-layer highway MLP on the offline digits (10% of train held out for validation): 6 steps, eval
  and checkpoint every 3."""
  config = default_config()
  config.data.name = 'digits'
  config.data.validation_fraction = 0.1
  config.model.name = 'highway_mlp'
  config.model.num_layers = 3
  config.model.features = 8
  config.batch_size = 32
  config.eval_batch_size = 120
  config.num_train_steps = 6
  config.optimizer.name = 'adam'
  config.optimizer.learning_rate = 1e-2
  config.log_every_steps = 2
  config.eval_every_steps = 3
  config.checkpoint_every_steps = 3
  config.async_checkpointing = False
  for key, value in overrides.items():
    node = config
    *path, last = key.split('.')
    for part in path:
      node = node[part]
    node[last] = value
  return config


def hook_train_loader(monkeypatch, at_batch, action):
  """Makes ``data.train_loader``'s iterators call ``action(batch)`` on batch number ``at_batch``."""
  real = data.train_loader
  calls = {'count': 0}

  def loader(*args, **kwargs):
    iterator = real(*args, **kwargs)
    base = type(iterator)

    class Hooked(base):
      def __next__(self):
        batch = base.__next__(self)
        calls['count'] += 1
        return action(batch) if calls['count'] == at_batch else batch

    iterator.__class__ = Hooked
    return iterator

  monkeypatch.setattr(data, 'train_loader', loader)


# ----------------------------------------------------------------------------- optimizers, losses


def test_schedules_match_closed_form():
  config = default_config()
  config.optimizer.learning_rate = 0.5
  config.schedule.warmup_steps = 10

  config.schedule.name = 'step'
  config.schedule.boundaries = (0.5, 0.75)
  schedule = create_learning_rate_schedule(config, total_steps=110)
  got = [float(schedule(t)) for t in (0, 5, 10, 59, 60, 84, 85, 109)]
  np.testing.assert_allclose(got, [0, 0.25, 0.5, 0.5, 0.05, 0.05, 0.005, 0.005], rtol=1e-6)

  config.schedule.name = 'cosine'
  config.schedule.alpha = 0.1
  schedule = create_learning_rate_schedule(config, total_steps=110)
  for t in (10, 35, 60, 110):
    s = (t - 10) / 100
    expected = 0.5 * (0.1 + 0.9 * 0.5 * (1 + math.cos(math.pi * s)))
    np.testing.assert_allclose(float(schedule(t)), expected, rtol=1e-5)

  config.schedule.name = 'exponential'
  config.schedule.decay_rate = 0.5
  config.schedule.transition_steps = 20
  schedule = create_learning_rate_schedule(config, total_steps=110)
  for t in (10, 30, 45):
    np.testing.assert_allclose(float(schedule(t)), 0.5 * 0.5 ** ((t - 10) / 20), rtol=1e-5)

  config.schedule.name = 'linear'
  with pytest.raises(ConfigError, match="config.schedule.name='linear' is not one of 'constant'"):
    create_learning_rate_schedule(config, total_steps=110)


def test_nesterov_with_weight_decay_on_kernels_only_matches_reference():
  config = default_config()
  config.optimizer.name = 'nesterov'
  config.optimizer.learning_rate = 0.1
  config.optimizer.momentum = 0.9
  config.optimizer.weight_decay = 0.01
  tx, _ = create_optimizer(config, total_steps=10)
  params = {'dense': {'kernel': jnp.array([[1.0, -2.0]]), 'bias': jnp.array([0.5])},
            'stack': {'layers': {'T': {'bias': jnp.array([[-2.0], [-2.0]])}}}}
  grads = jax.tree.map(lambda p: 0.3 * jnp.ones_like(p), params)
  state = tx.init(params)
  reference = jax.tree.map(np.asarray, params)
  velocity = jax.tree.map(np.zeros_like, reference)
  decayed = {'kernel'}
  for _ in range(2):
    updates, state = tx.update(grads, state, params)
    params = optax.apply_updates(params, updates)
    # Nesterov on g + wd·w (kernels only): v = μv + g;  w -= lr·(g + μv)
    for path in (('dense', 'kernel'), ('dense', 'bias'), ('stack', 'layers', 'T', 'bias')):
      node_w, node_v = reference, velocity
      for key in path[:-1]:
        node_w, node_v = node_w[key], node_v[key]
      w = node_w[path[-1]]
      g = 0.3 + (0.01 * w if path[-1] in decayed else 0.0)
      v = 0.9 * node_v[path[-1]] + g
      node_v[path[-1]] = v
      node_w[path[-1]] = w - 0.1 * (g + 0.9 * v)
  for got, want in zip(jax.tree.leaves(params), jax.tree.leaves(reference)):
    np.testing.assert_allclose(got, want, rtol=1e-6)


def test_metric_sums_match_numpy():
  rng = np.random.default_rng(0)
  logits = rng.normal(size=(4, 3)).astype(np.float32)
  labels = np.array([0, 2, 1, 2])
  mask = np.array([1, 1, 0, 1], np.float32)
  log_probs = logits - np.log(np.exp(logits).sum(-1, keepdims=True))
  nll = -log_probs[np.arange(4), labels]
  sums = jax.device_get(losses.metric_sums(jnp.asarray(logits), jnp.asarray(labels),
                                           jnp.asarray(mask)))
  np.testing.assert_allclose(sums['loss'], (nll * mask).sum(), rtol=1e-5)
  assert sums['correct'] == ((logits.argmax(-1) == labels) * mask).sum() and sums['count'] == 3
  # Padding may carry any label, even out of range: the sums don't read it.
  padded = jax.device_get(losses.metric_sums(jnp.asarray(logits), jnp.asarray([0, 2, 99, 2]),
                                             jnp.asarray(mask)))
  assert padded == sums

  seq_logits = rng.normal(size=(2, 3, 4)).astype(np.float32)
  seq_labels = seq_logits.argmax(-1)
  seq_labels[1, 2] = (seq_labels[1, 2] + 1) % 4  # one wrong token in the second sequence
  halves = [losses.metric_sums(jnp.asarray(seq_logits[i:i + 1]), jnp.asarray(seq_labels[i:i + 1]))
            for i in range(2)]  # two batches of one sequence, added on the host
  metrics = losses.normalize(jax.device_get(halves))
  assert metrics['accuracy'] == pytest.approx(5 / 6) and metrics['sequence_accuracy'] == 0.5
  seq_log_probs = seq_logits - np.log(np.exp(seq_logits).sum(-1, keepdims=True))
  expected = -np.take_along_axis(seq_log_probs, seq_labels[..., None], -1).mean()
  assert metrics['loss'] == pytest.approx(expected, rel=1e-5)
  np.testing.assert_allclose(losses.mean_cross_entropy(jnp.asarray(seq_logits),
                                                       jnp.asarray(seq_labels)), expected, rtol=1e-5)


# ----------------------------------------------------------------------------- config handling


def test_parse_arg():
  spec = dict(depth=10, block='highway', lr=0.1, runlocal=False)
  assert parse_arg(None, **spec).to_dict() == spec
  assert parse_arg('runlocal', **spec).runlocal is True
  got = parse_arg('depth=20,block=plain,lr=0.5,runlocal=false', **spec)
  assert (got.depth, got.block, got.lr, got.runlocal) == (20, 'plain', 0.5, False)
  with pytest.raises(ConfigError, match=r"unknown config argument 'dept'; allowed: depth, block"):
    parse_arg('dept=3', **spec)
  with pytest.raises(ConfigError, match=r"depth='x' has type str; expected int"):
    parse_arg('depth=x', **spec)
  with pytest.raises(ConfigError, match=r"block='gated' is not one of 'highway', 'plain'"):
    parse_arg('block=gated', choices={'block': ('highway', 'plain')}, **spec)


@pytest.mark.parametrize('key,value,message', [
    ('optimizer.name', 'adm', r"config.optimizer.name='adm' is not one of 'sgd', 'momentum'"),
    ('dtype', 'float16', r"config.dtype='float16' is not one of 'float32', 'bfloat16'"),
    ('batch_size', 0, r'config.batch_size=0 must be > 0'),
    ('num_train_steps', 0, r'config.num_train_steps=0 must be > 0, or -1'),
])
def test_validate_config_names_the_key(key, value, message):
  config = tiny_config()
  node = config
  *path, last = key.split('.')
  for part in path:
    node = node[part]
  node[last] = value
  with pytest.raises(ConfigError, match=message):
    validate_config(config)


def test_validate_config_unknown_key_and_wrong_type():
  config = tiny_config()
  config.optimizer.lerning_rate = 0.1
  with pytest.raises(ConfigError, match=r'unknown config key config.optimizer.lerning_rate\. Did '
                                        r'you mean config.optimizer.learning_rate\?'):
    validate_config(config)
  config = ml_collections.ConfigDict(tiny_config().to_dict(), type_safe=False)
  config.log_every_steps = 'often'
  with pytest.raises(ConfigError, match=r"config.log_every_steps='often' has type str; expected "
                                        r'int'):
    validate_config(config)


def test_train_script_reports_config_errors_in_one_line(tmp_path):
  script = os.path.join(REPO, 'scripts', 'train.py')
  config = os.path.join(REPO, 'configs', 'digits_highway.py')
  cases = [
      ([f'--config={config}:runlocal', '--config.optimizer.lerning_rate=0.1'], 2,
       'Config error: '),
      ([f'--config={config}:block=gated'], 2, "block='gated' is not one of 'highway'"),
      ([f'--config={config}:runlocal', '--config.optimizer.name=adm'], 1,
       "Config error: config.optimizer.name='adm' is not one of 'sgd', 'momentum'"),
      ([f'--config={config}:runlocal', '--config.model.depth=3'], 2,
       'Config error: config.model.depth was renamed to config.model.num_layers.'),
  ]
  for args, returncode, message in cases:
    result = subprocess.run([sys.executable, script, *args, f'--workdir={tmp_path / "run"}'],
                            capture_output=True, text=True, timeout=120, cwd=REPO)
    lines = result.stderr.strip().splitlines()
    assert result.returncode == returncode, result.stderr
    assert len(lines) == 1 and message in lines[0], result.stderr
    if returncode == 2:
      assert any(word in lines[0] for word in ('lerning_rate', 'gated', 'depth'))


def test_selection_on_test_or_a_missing_validation_split_is_one_line(tmp_path):
  with pytest.raises(ConfigError, match=r"config\.eval_split='test' with config\.best_metric='accuracy' "
                     r"would select the best checkpoint on the test set; set config\.eval_split="
                     r"'validation' or config\.best_metric=''\."):
    train_and_evaluate(tiny_config(eval_split='test'), str(tmp_path / 'run'))
  assert not os.path.exists(tmp_path / 'run')
  with pytest.raises(ConfigError, match=r"split 'validation' is not in dataset 'digits'; it has test, "
                     r'train\. Set config\.data\.validation_fraction=0\.1 to hold one out of train\.'):
    setup(tiny_config(**{'data.validation_fraction': 0.0}), workdir=None)


def test_best_checkpoint_is_chosen_on_validation_and_test_reported_at_the_end(tmp_path, monkeypatch):
  real = loop.evaluate

  def evaluate(s, state, split):  # validation says step 3 is best, whatever the test accuracy
    metrics = real(s, state, split)
    return metrics | {'accuracy': {3: 1.0, 6: 0.0}[int(state.step)]} if split == 'validation' else metrics

  monkeypatch.setattr(loop, 'evaluate', evaluate)
  workdir = str(tmp_path / 'run')
  results = train_and_evaluate(tiny_config(keep_checkpoints=1), workdir)
  assert results['best_step'] == 3 and results['validation_accuracy'] == 0.0
  assert sorted(os.listdir(os.path.join(workdir, 'checkpoints'))) == ['3', '6']  # latest + best
  assert evaluate_checkpoint(workdir, 'best')['step'] == 3
  monkeypatch.undo()
  for split in ('validation', 'test'):  # the final state, evaluated again independently
    assert evaluate_checkpoint(workdir, 'latest', split)['loss'] == pytest.approx(results[f'{split}_loss'])
  assert evaluate_checkpoint(workdir, 'latest', 'test')['accuracy'] == pytest.approx(results['test_accuracy'])


# Scripted validation accuracy per step: best at 2 (0.6), tied at 3, beaten at 4 (0.65), tied at 5, worse at 6.
SCRIPTED_ACCURACY = {1: 0.5, 2: 0.6, 3: 0.6, 4: 0.65, 5: 0.65, 6: 0.64, 7: 0.7, 8: 0.7, 9: 0.7, 10: 0.7}


def scripted_validation(monkeypatch):
  real = loop.evaluate

  def evaluate(s, state, split):
    metrics = real(s, state, split)
    return metrics | {'accuracy': SCRIPTED_ACCURACY[int(state.step)]} if split == 'validation' else metrics

  monkeypatch.setattr(loop, 'evaluate', evaluate)


def expected_stop(accuracy, patience):
  """Reference: the first step after which `patience` evaluations in a row did not beat the best before."""
  best, since = -math.inf, 0
  for step in sorted(accuracy):
    best, since = (accuracy[step], 0) if accuracy[step] > best else (best, since + 1)
    if since >= patience:
      return step
  return max(accuracy)


def early_config(**overrides):
  return tiny_config(**{'num_train_steps': 10, 'eval_every_steps': 1, 'checkpoint_every_steps': 1,
                        'early_stopping_patience': 2, **overrides})


def test_early_stopping_after_patience_evaluations_without_strict_improvement(tmp_path, monkeypatch):
  scripted_validation(monkeypatch)
  assert expected_stop(SCRIPTED_ACCURACY, 2) == 6 and expected_stop(SCRIPTED_ACCURACY, 3) == 10
  workdir = str(tmp_path / 'run')
  results = train_and_evaluate(early_config(), workdir)
  # The count is strict (the tie at 5 does not reset it); the best checkpoint is Orbax's, the latest of a tie.
  assert (results['step'], results['stopped_on_plateau'], results['best_step']) == (6, True, 5)
  assert results['validation_accuracy'] == 0.64  # the final (stopping) step's, as at a normal end
  assert sorted(os.listdir(os.path.join(workdir, 'checkpoints')), key=int) == ['5', '6']  # best, latest 2
  assert max(r['step'] for r in read_metrics(workdir)) == 6
  assert evaluate_checkpoint(workdir, 'latest')['step'] == 6
  mtime = os.path.getmtime(os.path.join(workdir, 'results.json'))
  assert train_and_evaluate(early_config(), workdir) == results  # finished: not trained again
  assert os.path.getmtime(os.path.join(workdir, 'results.json')) == mtime

  longer = train_and_evaluate(early_config(early_stopping_patience=3), str(tmp_path / 'patient'))
  assert (longer['step'], longer['stopped_on_plateau']) == (10, False)  # ran to the end
  # More patience resumes the stopped run (a change that alters the computation: asked for explicitly).
  with pytest.raises(ConfigError, match='early_stopping_patience 2 -> 3'):
    train_and_evaluate(early_config(early_stopping_patience=3), workdir)
  resumed = train_and_evaluate(early_config(early_stopping_patience=3, resume_with_changes=True), workdir)
  assert (resumed['step'], resumed['stopped_on_plateau']) == (10, False)


def test_early_stopping_resumes_its_count_from_the_checkpoint(tmp_path, monkeypatch):
  scripted_validation(monkeypatch)
  hook_train_loader(monkeypatch, at_batch=5, action=lambda batch: os.kill(os.getpid(), signal.SIGTERM) or batch)
  workdir = str(tmp_path / 'run')
  assert train_and_evaluate(early_config(), workdir) == {'preempted': True, 'step': 5}
  # Step 5 tied the best of step 4: one evaluation counted, so step 6 (worse) is the second and stops.
  results = train_and_evaluate(early_config(), workdir)
  assert (results['step'], results['stopped_on_plateau']) == (6, True)


def test_early_stopping_needs_periodic_evaluation_and_a_known_metric(tmp_path):
  with pytest.raises(ConfigError, match=r'config.early_stopping_patience=2 needs periodic evaluation'):
    validate_config(early_config(eval_every_steps=0))
  with pytest.raises(ConfigError, match=r'config.early_stopping_patience=2 needs periodic evaluation'):
    validate_config(early_config(best_metric=''))
  with pytest.raises(ConfigError, match=r"config.best_metric='sequence_accuracy' is not among the evaluation"):
    train_and_evaluate(early_config(best_metric='sequence_accuracy'), str(tmp_path / 'run'))


def test_a_config_json_from_before_a_new_key_still_resumes_and_is_reused(tmp_path):
  workdir = str(tmp_path / 'run')
  config = tiny_config(num_train_steps=3)
  results = train_and_evaluate(config, workdir)
  path = os.path.join(workdir, 'config.json')
  with open(path) as f:
    stored = json.load(f)
  del stored['early_stopping_patience']  # as written before the keys existed
  del stored['data']['in_memory']
  stored['data']['num_threads'] = 4  # the reader threads' old default: how fast, not which batches
  with open(path, 'w') as f:
    json.dump(stored, f)
  assert load_config(workdir).early_stopping_patience == 0
  assert load_config(workdir).data.in_memory is False
  assert train_and_evaluate(config, workdir) == results
  assert runs.train_or_reuse(config, workdir) == results
  with pytest.raises(ConfigError, match='holds a finished run of a different config'):
    runs.train_or_reuse(tiny_config(num_train_steps=3, early_stopping_patience=1), workdir)
  with pytest.raises(ConfigError, match='holds a finished run of a different config'):
    runs.train_or_reuse(tiny_config(num_train_steps=3, **{'data.in_memory': True}), workdir)


# ----------------------------------------------------------------------------- the training loop


def test_every_parameter_changes_after_one_step():
  config = tiny_config()
  s = setup(config, workdir=None)
  state = s.init_state()
  batch = next(data.train_loader(s.dataset, batch_size=32, seed=0))
  new_state, sums = jax.jit(loop.train_step)(state, batch, s.dropout_root)
  assert int(new_state.step) == 1 and np.isfinite(float(sums['loss']))
  changed = jax.tree.map(lambda a, b: not np.array_equal(a, b), state.params, new_state.params)
  unchanged = [jax.tree_util.keystr(p) for p, c in jax.tree_util.tree_leaves_with_path(changed)
               if not c]
  assert not unchanged


def test_train_evaluate_outputs_and_resume(tmp_path, caplog):
  workdir = str(tmp_path / 'run')
  config = tiny_config(async_checkpointing=True)
  results = train_and_evaluate(config, workdir)
  assert results['step'] == 6 and 0.0 <= results['test_accuracy'] <= 1.0
  for name in ('results.json', 'config.json', 'metrics.jsonl', 'loss.png', 'accuracy.png'):
    assert os.path.exists(os.path.join(workdir, name)), name
  assert any(f.startswith('events.out.tfevents') for f in os.listdir(workdir))
  with open(os.path.join(workdir, 'results.json')) as f:
    assert json.load(f)['test_accuracy'] == results['test_accuracy']
  records = read_metrics(workdir)
  assert [r['step'] for r in records if r['split'] == 'train'] == [2, 3, 4, 6]
  assert [r['step'] for r in records if r['split'] == 'validation'] == [3, 6]
  assert [r['step'] for r in records if r['split'] == 'test'] == [6]
  assert sorted(os.listdir(os.path.join(workdir, 'checkpoints'))) == ['3', '6']

  evaluated = evaluate_checkpoint(workdir, 'latest')
  assert evaluated['step'] == 6
  assert evaluated['accuracy'] == pytest.approx(results['test_accuracy'], abs=1e-6)
  assert evaluated['loss'] == pytest.approx(results['test_loss'], rel=1e-5)
  assert evaluate_checkpoint(workdir, 'best')['step'] in (3, 6)

  caplog.set_level('INFO')
  more = train_and_evaluate(tiny_config(num_train_steps=9, async_checkpointing=True), workdir)
  assert more['step'] == 9
  assert 'Resumed from checkpoint' in caplog.text and f'{workdir}/checkpoints/6' in caplog.text
  train_steps = [r['step'] for r in read_metrics(workdir) if r['split'] == 'train']
  assert train_steps == [2, 3, 4, 6, 8, 9]
  # keep_checkpoints=2 latest plus the best by accuracy.
  kept = sorted(int(s) for s in os.listdir(os.path.join(workdir, 'checkpoints')))
  assert kept[-2:] == [6, 9] and len(kept) <= 3

  # A change that alters the computation never resumes quietly; config.json keeps the trained config.
  with pytest.raises(ConfigError, match=r"optimizer\.learning_rate 0\.01 -> 0\.003.*another --workdir.*"
                     r"--config\.resume_with_changes=true"):
    train_and_evaluate(tiny_config(num_train_steps=9, **{'optimizer.learning_rate': 3e-3}), workdir)
  with open(os.path.join(workdir, 'config.json')) as f:
    stored = json.load(f)
  assert (stored['optimizer']['learning_rate'], stored['num_train_steps']) == (1e-2, 6)
  changed = tiny_config(num_train_steps=10, resume_with_changes=True, **{'optimizer.learning_rate': 3e-3})
  assert train_and_evaluate(changed, workdir)['step'] == 10
  with open(os.path.join(workdir, 'config_changes.jsonl')) as f:
    history = [json.loads(line) for line in f]
  assert [h['step'] for h in history] == [6, 9]
  assert history[1]['changes']['optimizer.learning_rate'] == [1e-2, 3e-3]
  assert load_config(workdir).optimizer.learning_rate == 3e-3  # what the weights were last trained with


@pytest.mark.parametrize('signum', [signal.SIGTERM, signal.SIGINT])
def test_sigterm_or_ctrl_c_saves_a_checkpoint_and_returns(tmp_path, monkeypatch, signum):
  def send_signal(batch):
    os.kill(os.getpid(), signum)
    return batch

  def previous_handler(signum, frame):
    raise AssertionError('the signal handler of the caller ran during training')

  hook_train_loader(monkeypatch, at_batch=2, action=send_signal)
  workdir = str(tmp_path / 'run')
  old = signal.signal(signum, previous_handler)
  try:
    results = train_and_evaluate(tiny_config(), workdir)
    restored = signal.getsignal(signum)
  finally:
    signal.signal(signum, old)
  assert results == {'preempted': True, 'step': 2}
  assert os.listdir(os.path.join(workdir, 'checkpoints')) == ['2']
  assert restored is previous_handler  # the caller's handler is back after training


def test_nan_loss_stops_and_keeps_the_last_good_checkpoint(tmp_path, monkeypatch):
  def poison(batch):
    return dict(batch, inputs=np.full_like(batch['inputs'], np.nan))

  hook_train_loader(monkeypatch, at_batch=5, action=poison)
  workdir = str(tmp_path / 'run')
  with pytest.raises(NonFiniteLossError) as error:
    train_and_evaluate(tiny_config(), workdir)
  message = str(error.value)
  assert 'at step 5' in message and os.path.join(workdir, 'checkpoints', '3') in message
  assert os.listdir(os.path.join(workdir, 'checkpoints')) == ['3']
  assert evaluate_checkpoint(workdir, 3)['step'] == 3


def test_incompatible_or_corrupt_checkpoint_is_a_clear_error(tmp_path):
  workdir = str(tmp_path / 'run')
  train_and_evaluate(tiny_config(num_train_steps=3), workdir)
  path = os.path.join(workdir, 'checkpoints', '3')
  with pytest.raises(CheckpointError, match=rf'Checkpoint {path} does not match the current '
                                            r'config: params/\S*kernel is shape \(8, \d+\) in the '
                                            r'checkpoint but \(16, \d+\) in the current model'):
    # resume_with_changes gets past the config check; the checkpoint itself then cannot be restored.
    train_and_evaluate(tiny_config(num_train_steps=6, resume_with_changes=True, **{'model.features': 16}),
                       workdir)

  state_dir = os.path.join(path, 'state')
  for root, _, files in os.walk(state_dir):
    for name in files:
      with open(os.path.join(root, name), 'wb') as f:
        f.write(b'garbage')
  with pytest.raises(CheckpointError, match=rf'{path}'):
    train_and_evaluate(tiny_config(num_train_steps=6), workdir)


def test_bfloat16_training_keeps_float32_params(tmp_path):
  workdir = str(tmp_path / 'run')
  results = train_and_evaluate(tiny_config(dtype='bfloat16', num_train_steps=3), workdir)
  assert np.isfinite(results['train_loss'])
  state = ocp.StandardCheckpointer().restore(os.path.join(workdir, 'checkpoints', '3', 'state'))
  assert {np.dtype(x.dtype) for x in jax.tree.leaves(state['params'])} == {np.dtype('float32')}


# ----------------------------------------------------------------------------- subprocess runs

DRIVER = textwrap.dedent('''
    import json, os, signal, sys
    import jax
    jax.config.update('jax_disable_most_optimizations', True)
    jax.config.update('jax_default_matmul_precision', 'highest')
    import ml_collections
    from absl import logging
    logging.set_verbosity('info')
    logging.set_stderrthreshold('info')
    from highway_jax import data
    from highway_jax.training import train_and_evaluate

    config = ml_collections.ConfigDict(json.loads(sys.argv[1]))
    workdir, kill_at = sys.argv[2], int(sys.argv[3])
    if kill_at:
      real, calls = data.train_loader, [0]
      def loader(*args, **kwargs):
        iterator = real(*args, **kwargs)
        base = type(iterator)
        class KillAt(base):
          def __next__(self):
            calls[0] += 1
            if calls[0] == kill_at:
              os.kill(os.getpid(), signal.SIGKILL)
            return base.__next__(self)
        iterator.__class__ = KillAt
        return iterator
      data.train_loader = loader
    results = train_and_evaluate(config, workdir)
    print('RESULTS', json.dumps(dict(results, device_count=jax.device_count())))
''')


def run_driver(tmp_path, config, workdir, kill_at=0, devices=1):
  driver = tmp_path / 'driver.py'
  driver.write_text(DRIVER)
  env = dict(os.environ)
  if devices > 1:
    env['XLA_FLAGS'] = f'{env.get("XLA_FLAGS", "")} --xla_force_host_platform_device_count={devices}'
  result = subprocess.run([sys.executable, str(driver), config.to_json(), str(workdir),
                           str(kill_at)], capture_output=True, text=True, timeout=300, env=env)
  if kill_at:
    assert result.returncode == -signal.SIGKILL, result.stderr[-3000:]
    return None, result.stderr
  assert result.returncode == 0, result.stderr[-3000:]
  line = [l for l in result.stdout.splitlines() if l.startswith('RESULTS ')][-1]
  return json.loads(line[len('RESULTS '):]), result.stderr


def final_state(workdir, step):
  """The saved train state as arrays on this process's first device (whatever it was saved from)."""
  path = os.path.join(workdir, 'checkpoints', str(step), 'state')
  checkpointer = ocp.StandardCheckpointer()
  metadata = checkpointer.metadata(path)
  metadata = getattr(metadata, 'item_metadata', metadata)
  metadata = getattr(metadata, 'tree', metadata)
  device = jax.sharding.SingleDeviceSharding(jax.devices()[0])
  target = jax.tree.map(lambda m: jax.ShapeDtypeStruct(m.shape, m.dtype, sharding=device), metadata)
  return checkpointer.restore(path, target)


SUBPROCESS_CONFIG = dict(num_train_steps=10, async_checkpointing=True,
                         **{'model.layer_dropout_rate': 0.1})


def test_sigkill_resume_is_bit_exact_and_eight_devices_match_one(tmp_path):
  """One uninterrupted 1-device run is the reference for both (one test: it is built once)."""
  config = tiny_config(**SUBPROCESS_CONFIG)
  reference, _ = run_driver(tmp_path, config, tmp_path / 'reference')
  reference_state = final_state(tmp_path / 'reference', 10)
  assert reference['device_count'] == 1

  # SIGKILL while fetching batch 8 (checkpoints every 3 steps, saved asynchronously), then rerun.
  workdir = tmp_path / 'killed'
  run_driver(tmp_path, config, workdir, kill_at=8)
  saved = [int(name) for name in os.listdir(workdir / 'checkpoints') if name.isdigit()]
  assert saved and max(saved) in (3, 6)  # 6 only if its asynchronous save finished in time
  resumed, log = run_driver(tmp_path, config, workdir)
  assert f'Resumed from checkpoint {workdir}/checkpoints/{max(saved)} ' in log
  assert resumed['test_loss'] == reference['test_loss']
  for (path, got), want in zip(jax.tree_util.tree_leaves_with_path(final_state(workdir, 10)),
                               jax.tree.leaves(reference_state)):
    np.testing.assert_array_equal(got, want, err_msg=jax.tree_util.keystr(path))

  # The same run data-parallel over 8 (simulated CPU) devices.
  workdir = tmp_path / 'eight_devices'
  results, _ = run_driver(tmp_path, config, workdir, devices=8)
  assert results['device_count'] == 8
  for key in ('test_loss', 'test_accuracy', 'train_loss', 'train_accuracy'):
    assert results[key] == pytest.approx(reference[key], rel=1e-4, abs=1e-6), key
  for got, want in zip(jax.tree.leaves(final_state(workdir, 10)), jax.tree.leaves(reference_state)):
    np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-5)


def test_digits_main_job_reaches_its_accuracy_target(tmp_path):
  """The README's main job (configs/digits_highway.py, unchanged) reaches >= 95% test accuracy."""
  config = load_config_file(os.path.join(REPO, 'configs', 'digits_highway.py'))
  config.checkpoint_every_steps = 100_000      # only the final save: checkpoints are not under test
  config.eval_every_steps = 100_000
  results = train_and_evaluate(config, str(tmp_path / 'run'))
  assert results['test_accuracy'] >= 0.95, results


def test_profile_trace_absolute_data_dir_and_evaluate_data_overrides(tmp_path, monkeypatch):
  monkeypatch.chdir(tmp_path)
  run = str(tmp_path / 'run')
  train_and_evaluate(tiny_config(profile_steps=2, **{'data.data_dir': 'tfds'}), run)
  traces = list((tmp_path / 'run' / 'profile').rglob('*.xplane.pb'))
  assert traces and all(t.stat().st_size > 0 for t in traces), traces
  stored = json.loads((tmp_path / 'run' / 'config.json').read_text())
  assert stored['data']['data_dir'] == str(tmp_path / 'tfds')  # evaluable from anywhere
  s, _, step = restore_run(run, data_overrides={'data_dir': '/moved'})
  assert s.config.data.data_dir == '/moved' and step == 6
  result = subprocess.run(  # the script's flag, from another directory
      [sys.executable, os.path.join(REPO, 'scripts', 'evaluate.py'), f'--workdir={run}', '--json',
       f'--config.data.data_dir={tmp_path / "moved"}'], capture_output=True, text=True, timeout=120,
      cwd=tmp_path / 'run')
  assert result.returncode == 0 and json.loads(result.stdout)['step'] == 6, result.stderr


@pytest.mark.parametrize('fault, cause', [
    ('file', 'it is a file'),
    ('below_file', 'a part of the path is a file'),
    (errno.EACCES, 'permission denied'),
    (errno.EROFS, 'the filesystem is read-only'),
    (errno.ENOSPC, 'no space left on the device'),
])
def test_workdir_faults_are_one_line(tmp_path, monkeypatch, fault, cause):
  (tmp_path / 'afile').write_text('x')
  workdir = {'file': tmp_path / 'afile', 'below_file': tmp_path / 'afile' / 'run'}.get(fault, tmp_path / 'run')
  if isinstance(fault, int):  # as root nothing is read-only: the OS error is injected at the write
    def failing_open(path, *args, **kwargs):
      raise OSError(fault, os.strerror(fault), path)
    monkeypatch.setattr(workdir_lib, 'open', failing_open, raising=False)
  with pytest.raises(WorkdirError) as error:
    workdir_lib.prepare(str(workdir))
  message = str(error.value)
  assert '\n' not in message and f'--workdir={workdir}' in message and cause in message
  assert 'pass a writable directory with --workdir=DIR' in message


def test_workdir_that_is_a_file_stops_the_script_in_one_line(tmp_path):
  (tmp_path / 'afile').write_text('x')
  result = subprocess.run(
      [sys.executable, os.path.join(REPO, 'scripts', 'train.py'),
       f'--config={os.path.join(REPO, "configs", "digits_highway.py")}:runlocal',
       f'--workdir={tmp_path / "afile"}'], capture_output=True, text=True, timeout=120, cwd=REPO)
  assert result.returncode == 1
  assert result.stderr.strip().splitlines() == [
      f'Work directory error: cannot use --workdir={tmp_path / "afile"}: it is a file '
      f'({tmp_path / "afile"}); pass a writable directory with --workdir=DIR.']


@pytest.mark.parametrize('moment', ['start-up-0.3', 'start-up-2', 'training', 'twice'])
def test_ctrl_c_is_one_line_and_never_a_traceback(tmp_path, moment):
  """Ctrl-C while starting exits (130); in training it saves and exits 75; a second one exits at once."""
  process = subprocess.Popen(
      [sys.executable, os.path.join(REPO, 'scripts', 'train.py'),
       f'--config={os.path.join(REPO, "configs", "digits_highway.py")}:runlocal',
       '--config.num_train_steps=5000', '--config.log_every_steps=1', f'--workdir={tmp_path / "run"}'],
      stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=REPO)
  if moment.startswith('start-up'):
    time.sleep(float(moment.split('-')[-1]))
  else:
    for line in process.stderr:  # the first progress line: the loop is running
      if 'steps/s' in line:
        break
  process.send_signal(signal.SIGINT)
  if moment == 'twice':
    time.sleep(0.05)
    process.send_signal(signal.SIGINT)
  out, err = process.communicate(timeout=300)
  ours = [line for line in err.splitlines() if line[:1] not in 'IW' or not line[1:5].isdigit()]
  assert 'Traceback' not in err and 'Fatal Python error' not in err, err
  if moment.startswith('start-up'):  # while importing, or (under load) later in start-up
    assert process.returncode == 130 and len(ours) == 1 and ours[0].startswith('Interrupted'), err
  elif moment == 'training':
    assert process.returncode == 75 and ours == [
        'Interrupted: saving a checkpoint at the next step, then exiting (Ctrl-C again exits at once).']
    assert 'checkpoint saved' in out and os.listdir(tmp_path / 'run' / 'checkpoints')
  else:
    assert process.returncode == 130 and ours[-1] == 'Interrupted again: exiting now without saving.'

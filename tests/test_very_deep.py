"""The very deep nets' analysis (issue 10 item 2, ``scripts/very_deep.py``) at tiny depths: its files and
columns against independent references, the cost of the train step, remat, a diverged run, reuse."""

import csv
import json

import numpy as np
import pytest
from flax.traverse_util import flatten_dict
from helpers import load_config

from highway_jax.analysis import runs, very_deep
from highway_jax.training.workdir import read_metrics

FEATURES, INPUTS, CLASSES = 8, 64, 10  # digits_depth.py:runlocal on the 8x8 digits


def make_config(depth, family):
  config = load_config('digits_depth', f'runlocal,block={family}')[0]
  config.model.num_layers = depth
  if family == 'plain':
    config.optimizer.learning_rate = 1e6  # diverges: a row and a curve marked as such
  return config


@pytest.fixture(scope='module')
def study(tmp_path_factory):
  workdir = tmp_path_factory.mktemp('very_deep')
  return workdir, very_deep.run_very_deep(make_config, str(workdir), depths=(2, 3), steps=4, remat_from=3)


def highway_train_loss(params, batches):
  """Mean cross-entropy of the digits highway MLP over ``batches`` in NumPy."""
  p = {k: np.asarray(v, np.float64) for k, v in flatten_dict(params, sep='/').items()}
  total = count = 0.0
  for batch in batches:
    x = np.asarray(batch['inputs'], np.float64).reshape(len(batch['label']), -1)
    x = np.maximum(x @ p['input_layer/kernel'] + p['input_layer/bias'], 0)
    for layer in range(p['stack/layers/H/kernel'].shape[0]):
      h = np.maximum(x @ p['stack/layers/H/kernel'][layer] + p['stack/layers/H/bias'][layer], 0)
      t = 1 / (1 + np.exp(-(x @ p['stack/layers/T/kernel'][layer] + p['stack/layers/T/bias'][layer])))
      x = h * t + x * (1 - t)
    logits = x @ p['classifier/kernel'] + p['classifier/bias']
    shifted = logits - logits.max(-1, keepdims=True)
    nll = np.log(np.exp(shifted).sum(-1)) - shifted[np.arange(len(logits)), batch['label']]
    total += float((nll * batch['mask']).sum())
    count += float(batch['mask'].sum())
  return total / count


def test_very_deep_files_rows_and_cost(study):
  workdir, payload = study
  with open(workdir / 'very_deep.csv', newline='') as f:
    reader = csv.DictReader(f)
    assert tuple(reader.fieldnames) == very_deep.CSV_FIELDS
    rows = list(reader)
  assert [(r['family'], r['depth'], r['status'], r['remat']) for r in rows] == [
      ('highway', '2', 'ok', 'False'), ('plain', '2', 'diverged', 'False'),
      ('highway', '3', 'ok', 'True'), ('plain', '3', 'diverged', 'True')]
  assert json.loads((workdir / 'results.json').read_text())['settings']['remat_from'] == 3
  assert (workdir / 'very_deep.png').stat().st_size > 0
  for row in rows:
    depth, run = int(row['depth']), workdir / row['run']
    per_layer = 2 * (FEATURES**2 + FEATURES) if row['family'] == 'highway' else FEATURES**2 + FEATURES
    num_params = INPUTS * FEATURES + FEATURES + (depth - 1) * per_layer + FEATURES * CLASSES + CLASSES
    assert int(row['num_params']) == num_params
    # The state alone (parameters and momentum, float32) is a lower bound of the step's memory.
    assert float(row['memory_mb']) >= 2 * 4 * num_params / 2**20 and float(row['step_time_ms']) > 0
    stored = json.loads((run / 'config.json').read_text())
    assert stored['model'].get('remat', False) == (depth >= 3)
    if row['status'] == 'diverged':
      assert row['train_loss'] == row['test_accuracy'] == '' and (run / 'diverged.json').exists()
      continue
    loaded = runs.load_run(str(run))
    assert float(row['train_loss']) == pytest.approx(highway_train_loss(loaded.params, loaded.batches('train')),
                                                     rel=1e-4)
    logged = [r['loss'] for r in read_metrics(run) if r['split'] == 'train']
    assert float(row['last_logged_train_loss']) == logged[-1] and row['steps'] == '4'
    assert 0 <= float(row['train_accuracy']) <= 1 and 0 <= float(row['test_accuracy']) <= 1


def test_very_deep_reuses_finished_runs(study, monkeypatch):
  workdir, payload = study

  def no_work(*args, **kwargs):
    raise AssertionError('a finished run was retrained or re-measured')
  monkeypatch.setattr(runs, 'train_and_evaluate', no_work)
  monkeypatch.setattr(very_deep, 'train_step_cost', no_work)
  again = very_deep.run_very_deep(make_config, str(workdir), depths=(2, 3), steps=4, remat_from=3)
  assert again == json.loads(json.dumps(payload))

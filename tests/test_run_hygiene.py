"""Run hygiene (issue 12, item 7): a resumed run's metrics.jsonl has no duplicate rows, rerunning a finished
run writes nothing, config floats are finite, and the offline-TFDS message names every offline config."""

import glob
import json
import math
import os
import pathlib
import re
import shutil

import pytest
from helpers import CONFIG_DIR, load_config

from highway_jax import data
from highway_jax.data import tfds_sources
from highway_jax.training import ConfigError, default_config, train_and_evaluate
from highway_jax.training.defaults import validate_config


@pytest.fixture(scope='module')
def finished_run(tmp_path_factory):
  """A finished 6-step run (checkpoints and evaluations at steps 3 and 6), trained once per module."""
  workdir = str(tmp_path_factory.mktemp('finished') / 'run')
  train_and_evaluate(load_config('digits_highway', 'runlocal')[0], workdir)
  return workdir


def files(workdir):
  return {str(path.relative_to(workdir)): path.read_bytes() for path in pathlib.Path(workdir).rglob('*')
          if path.is_file()}


def test_rerunning_a_finished_run_writes_nothing(finished_run, tmp_path, caplog):
  workdir = str(tmp_path / 'run')
  shutil.copytree(finished_run, workdir)
  before = files(workdir)
  caplog.set_level('INFO')
  results = train_and_evaluate(load_config('digits_highway', 'runlocal')[0], workdir)
  assert f'{workdir} already finished at step 6; results in {workdir}/results.json' in caplog.text
  assert files(workdir) == before  # results.json byte-identical, no new events file
  assert results == json.loads(before['results.json'])


def test_resume_drops_the_metrics_it_logs_again(finished_run, tmp_path):
  # A run killed after logging step 6 but before its checkpoint 6 was saved: it resumes from step 3.
  workdir = str(tmp_path / 'run')
  shutil.copytree(finished_run, workdir)
  shutil.rmtree(os.path.join(workdir, 'checkpoints', '6'))
  os.remove(os.path.join(workdir, 'results.json'))
  train_and_evaluate(load_config('digits_highway', 'runlocal')[0], workdir)
  with open(os.path.join(finished_run, 'metrics.jsonl')) as f:
    uninterrupted = f.read()
  with open(os.path.join(workdir, 'metrics.jsonl')) as f:
    assert f.read() == uninterrupted  # once each (split, step), bit-exactly equal


@pytest.mark.parametrize('key,value', [('optimizer.learning_rate', math.nan),
                                       ('optimizer.learning_rate', math.inf),
                                       ('optimizer.momentum', math.nan), ('num_epochs', -math.inf),
                                       ('schedule.boundaries', (0.5, math.nan))])
def test_config_floats_must_be_finite(key, value):
  config = default_config()
  section, _, leaf = key.rpartition('.')
  (config[section] if section else config)[leaf] = value
  key += '[1]' if isinstance(value, tuple) else ''
  with pytest.raises(ConfigError, match=re.escape(f'config.{key}=') + r'-?(nan|inf) must be a finite number\.$'):
    validate_config(config)


def test_data_floats_must_be_finite():
  with pytest.raises(ConfigError, match=r'^config\.data\.test_fraction=nan must be a finite number\.$'):
    data.load({'name': 'digits', 'test_fraction': math.nan})


def test_offline_tfds_message_names_every_offline_config():
  # The message lists OFFLINE_CONFIGS (tests/test_data.py::test_offline_tfds_fails_fast_with_guidance).
  offline = set()
  for path in glob.glob(f'{CONFIG_DIR}/*.py'):
    name = os.path.splitext(os.path.basename(path))[0]
    if load_config(name)[0].data.name not in tfds_sources.TFDS_DATASETS:
      offline.add(f'configs/{name}.py')
  assert set(tfds_sources.OFFLINE_CONFIGS) == offline

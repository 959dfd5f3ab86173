"""Every shipped config loads, validates, and its ``runlocal`` variant trains, checkpoints and resumes.

TFDS configs run under ``tfds.testing.mock_data`` (random examples with the real shapes).
"""

import contextlib
import glob
import json
import os

import pytest
import tensorflow_datasets as tfds
from helpers import CONFIG_DIR, load_config

from highway_jax.training import ConfigError, parse_arg, train_and_evaluate
from highway_jax.training.defaults import validate_config

# The configs this file covers, with the runlocal argument strings to train (the Grid LSTM configs
# have their own tests).
TRAINED = {
    'digits_highway': ['runlocal'],
    'digits_depth': ['runlocal,block=plain'],
    'mnist_depth': ['runlocal'],
    'mnist_highway': ['runlocal'],
    'cifar_highway': ['runlocal'],
    'cifar100_highway': ['runlocal'],
    'sentiment_highway_bilstm': ['runlocal', 'runlocal,dataset=sst2,highway=false'],
    'mnist1d_depth': ['runlocal'],
    'mnist1d_gru': ['runlocal'],
    'mnist1d_highway': ['runlocal'],
    'mnist1d_highway_bilstm': ['runlocal'],
    'mnist1d_rhn': ['runlocal'],
}
OFFLINE = ('digits', 'mnist1d')


def test_every_config_file_is_covered():
  shipped = {os.path.splitext(os.path.basename(p))[0] for p in glob.glob(f'{CONFIG_DIR}/*.py')}
  assert set(TRAINED) <= shipped
  # The Grid LSTM configs are trained in tests/test_grid_models.py.
  assert not {name for name in shipped - set(TRAINED) if 'grid_lstm' not in name}


@pytest.mark.parametrize('name', sorted(TRAINED))
def test_config_default_validates_and_documents_its_command(name):
  config, module = load_config(name)
  validate_config(config)
  assert f'python scripts/train.py --config=configs/{name}.py' in module.__doc__


def test_config_arguments():
  config, _ = load_config('mnist_depth', 'num_layers=100,block=plain')
  assert (config.model.num_layers, config.model.block, config.model.features) == (100, 'plain', 71)
  config, _ = load_config('digits_depth', 'num_layers=50')
  assert (config.model.num_layers, config.model.features, config.model.transform_bias_init) == (
      50, 50, -3.0)
  biases = [load_config('digits_depth', f'num_layers={n}')[0].model.transform_bias_init
            for n in (10, 11, 20, 100, 1000)]
  assert biases == [-1.0, -2.0, -2.0, -4.0, -4.0]
  config, _ = load_config('mnist1d_rhn', 'recurrence_depth=5')
  assert config.model.recurrence_depth == 5
  config, _ = load_config('sentiment_highway_bilstm', 'dataset=sst2,num_layers=10,highway=false')
  assert (config.data.name, config.model.num_layers, config.model.highway) == (
      'glue/sst2', 10, False)
  config, _ = load_config('mnist_highway', 'width=32')
  assert config.model.features == (32, 32, 32)
  with pytest.raises(ConfigError, match=r"config argument block='residual' is not one of 'highway', 'plain'"):
    load_config('mnist_depth', 'block=residual')
  with pytest.raises(ConfigError, match=r"^unknown config argument 'depth'; allowed: num_layers, block"):
    load_config('digits_depth', 'depth=50')


def test_parse_arg_errors_are_one_line_naming_the_argument():
  spec = dict(num_layers=10, block='highway', lr=0.1, runlocal=False)
  assert parse_arg('runlocal,lr=1', **spec).to_dict() == dict(spec, runlocal=True, lr=1.0)
  cases = [
      ('nonsense', r"^unknown config argument 'nonsense'; allowed: num_layers, block, lr, runlocal\.$"),
      ('num_layers=x', r"^config argument num_layers='x' has type str; expected int\.$"),
      ('num_layers', r"^config argument num_layers='true' has type str; expected int\.$"),
      ('runlocal=maybe', r"^config argument runlocal='maybe' has type str; expected bool\.$"),
  ]
  for arg, message in cases:
    with pytest.raises(ConfigError, match=message):
      parse_arg(arg, **spec)


def test_cifar_configs_follow_the_authors_recipe():
  for name, dataset in (('cifar_highway', 'cifar10'), ('cifar100_highway', 'cifar100')):
    config, _ = load_config(name)
    assert config.data.name == dataset and config.data.augment and config.data.augment_padding == 8
    assert config.batch_size == 100 and config.optimizer.name == 'nesterov'
    assert (config.optimizer.learning_rate, config.optimizer.momentum,
            config.optimizer.weight_decay) == (0.025, 0.9, 1e-3)
    assert config.schedule.name == 'step' and config.model.transform_bias_init == -2.0
    assert tuple(config.model.features) == (32, 80, 128)
    assert tuple(config.model.num_highway_layers) == (4, 5, 5)


@pytest.mark.parametrize('name,arg', [(n, a) for n in sorted(TRAINED) for a in TRAINED[n]])
def test_runlocal_trains_checkpoints_and_resumes(name, arg, tmp_path):
  config, _ = load_config(name, arg)
  mock = (contextlib.nullcontext() if config.data.name in OFFLINE
          else tfds.testing.mock_data(num_examples=24))
  workdir = str(tmp_path / 'run')
  first_steps = config.num_train_steps
  with mock:
    results = train_and_evaluate(config, workdir)
    assert results['step'] == first_steps and 0.0 <= results['test_accuracy'] <= 1.0
    assert str(first_steps) in os.listdir(os.path.join(workdir, 'checkpoints'))
    first_records = train_records(workdir)
    config.num_train_steps = first_steps + config.checkpoint_every_steps
    resumed = train_and_evaluate(config, workdir)
  assert resumed['step'] == config.num_train_steps
  # Resumed, not restarted: the second run logged only steps after the first run's last.
  new_steps = train_records(workdir)[len(first_records):]
  assert new_steps and min(new_steps) > first_steps and new_steps[-1] == config.num_train_steps
  assert str(config.num_train_steps) in os.listdir(os.path.join(workdir, 'checkpoints'))


def train_records(workdir):
  """The steps of the 'train' lines of metrics.jsonl, in file order (duplicates kept)."""
  with open(os.path.join(workdir, 'metrics.jsonl')) as f:
    records = [json.loads(line) for line in f if line.strip()]
  return [r['step'] for r in records if r['split'] == 'train']

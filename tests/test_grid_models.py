"""Grid LSTM task models (highway_jax.models.grid) and the Grid LSTM configs.

The model heads are checked against NumPy references on tiny cases; the grid cores themselves are
checked against the paper's equations in test_grid_lstm.py. Every Grid LSTM config loads, validates,
documents its command, and its ``runlocal`` variant builds its model and trains a few steps.
"""

import contextlib
import math

import jax
import jax.numpy as jnp
import ml_collections
import numpy as np
import pytest
import tensorflow_datasets as tfds
from helpers import load_config, randomize, toy_dataset

from highway_jax import data, models
from highway_jax.grid_lstm import GridLSTM2D, GridLSTM3D
from highway_jax.models import grid as grid_models
from highway_jax.recurrent import LSTM
from highway_jax.training import ConfigError, loop
from highway_jax.training.defaults import validate_config

ATOL = 2e-5


def build(dataset, **fields):
  return models.get_model(ml_collections.ConfigDict(dict(name='grid_lstm', **fields)), dataset)


def sigmoid(x):
  return 1.0 / (1.0 + np.exp(-x))


def np_params(variables):
  return jax.tree.map(lambda a: np.asarray(a, np.float64), variables['params'])


# ----------------------------------------------------------------------------- model heads


@pytest.mark.parametrize('tied', [True, False])
def test_1d_model_matches_numpy(tied):
  """Projection, `num_layers` LSTM blocks along depth (m_0 = 0), classifier: the paper's parity net."""
  x = np.asarray(jax.random.bernoulli(jax.random.key(1), 0.5, (4, 6)), np.float32)
  ds = toy_dataset(x, np.zeros(4, np.int32), num_classes=2)
  model = build(ds, core='1d', features=3, num_layers=3, tied=tied)
  variables = randomize(model.init(jax.random.key(0), x, train=False))
  logits = np.asarray(model.apply(variables, x, train=False))

  p = np_params(variables)
  h = x @ p['grid']['proj']['kernel'] + p['grid']['proj']['bias']
  m = np.zeros_like(h)
  block = p['grid']['layers']['block']['dim_0']
  for layer in range(3):
    kernel, bias = ((block['kernel'], block['bias']) if tied else
                    (block['kernel'][layer], block['bias'][layer]))
    z = h @ kernel + bias
    i, f, g, o = np.split(z, 4, axis=-1)
    m = sigmoid(f) * m + sigmoid(i) * np.tanh(g)
    h = sigmoid(o) * np.tanh(m)
  expected = h @ p['classifier']['kernel'] + p['classifier']['bias']
  np.testing.assert_allclose(logits, expected, atol=ATOL)


def test_1d_plain_baseline_is_a_tanh_network_with_matched_parameters():
  x = np.asarray(jax.random.bernoulli(jax.random.key(1), 0.5, (3, 5)), np.float32)
  ds = toy_dataset(x, np.zeros(3, np.int32), num_classes=2)
  plain = build(ds, core='1d', features=4, num_layers=2, tied=True, non_lstm_dims=(0,))
  variables = randomize(plain.init(jax.random.key(0), x, train=False))
  p = np_params(variables)
  h = x @ p['grid']['proj']['kernel'] + p['grid']['proj']['bias']
  layer = p['grid']['layers']['block']['dim_0']
  for _ in range(2):
    h = np.tanh(h @ layer['kernel'] + layer['bias'])
  expected = h @ p['classifier']['kernel'] + p['classifier']['bias']
  np.testing.assert_allclose(np.asarray(plain.apply(variables, x, train=False)), expected,
                             atol=ATOL)
  # A plain block of width 2F has as many weights as an LSTM block of width F: (2F)² = 4F².
  def block_kernel(**fields):
    shapes = jax.eval_shape(lambda: build(ds, core='1d', num_layers=2, tied=True, **fields).init(
        jax.random.key(0), x, train=False))
    return shapes['params']['grid']['layers']['block']['dim_0']['kernel'].shape
  assert block_kernel(features=4) == (4, 16) and block_kernel(features=8, non_lstm_dims=(0,)) == (8, 8)


@pytest.mark.parametrize('core', ['2d', 'lstm'])
def test_sequence_targets_read_the_last_positions_of_one_hot_tokens(core):
  tokens = np.asarray(jax.random.randint(jax.random.key(1), (3, 7), 0, 5), np.int32)
  labels = np.zeros((3, 2), np.int32)
  ds = toy_dataset(tokens, labels, num_classes=4, vocab_size=5)
  model = build(ds, core=core, features=3, num_layers=2)
  variables = randomize(model.init(jax.random.key(0), tokens, train=False))
  logits = model.apply(variables, tokens, train=False)
  assert logits.shape == (3, 2, 4)

  one_hot = np.eye(5, dtype=np.float32)[tokens]
  if core == '2d':
    outputs, _ = GridLSTM2D(features=3, depth=2).apply({'params': variables['params']['grid']},
                                                       one_hot)
  else:
    outputs, _ = LSTM(features=3, num_layers=2).apply({'params': variables['params']['rnn']},
                                                      one_hot)
  p = np_params(variables)
  expected = np.asarray(outputs)[:, -2:] @ p['classifier']['kernel'] + p['classifier']['bias']
  np.testing.assert_allclose(np.asarray(logits), expected, atol=ATOL)


def test_2d_pooling_follows_lengths():
  x = np.asarray(jax.random.normal(jax.random.key(1), (3, 5)), np.float32)
  lengths = np.array([5, 2, 1], np.int32)
  ds = toy_dataset(x, np.zeros(3, np.int32), num_classes=3, lengths=lengths)
  poolings = ('last', 'mean', 'max')
  heads = {p: build(ds, core='2d', features=4, num_layers=2, priority_dims=(1,), pooling=p)
           for p in poolings}
  variables = randomize(heads['last'].init(jax.random.key(0), x, train=False, lengths=lengths))

  net = GridLSTM2D(features=4, depth=2, priority_dims=(1,))
  outputs, _ = net.apply({'params': variables['params']['grid']}, x[..., None],
                          seq_lengths=lengths)
  outputs = np.asarray(outputs, np.float64)
  p = np_params(variables)
  pooled = {
      'last': np.stack([outputs[b, lengths[b] - 1] for b in range(3)]),
      'mean': np.stack([outputs[b, :lengths[b]].mean(axis=0) for b in range(3)]),
      'max': np.stack([outputs[b, :lengths[b]].max(axis=0) for b in range(3)]),
  }
  for pooling in poolings:
    logits = np.asarray(heads[pooling].apply(variables, x, train=False, lengths=lengths))
    expected = pooled[pooling] @ p['classifier']['kernel'] + p['classifier']['bias']
    np.testing.assert_allclose(logits, expected, atol=ATOL, err_msg=pooling)


def test_image_patches_match_a_loop():
  images = np.arange(2 * 4 * 6 * 3, dtype=np.float32).reshape(2, 4, 6, 3)
  patches = np.asarray(grid_models.image_patches(jnp.asarray(images), 2))
  assert patches.shape == (2, 2, 3, 12)
  for r in range(2):
    for c in range(3):
      np.testing.assert_array_equal(patches[:, r, c],
                                    images[:, 2 * r:2 * r + 2, 2 * c:2 * c + 2].reshape(2, 12))


def test_3d_model_pools_the_grid_over_patches():
  images = np.asarray(jax.random.normal(jax.random.key(1), (2, 4, 4)), np.float32)
  ds = toy_dataset(images, np.zeros(2, np.int32), num_classes=3)
  fields = dict(core='3d', features=2, num_layers=1, patch_size=2)
  variables = randomize(build(ds, pooling='last', **fields).init(jax.random.key(0), images,
                                                                 train=False))
  grid_params = variables['params']['grid']

  patches = grid_models.image_patches(jnp.asarray(images)[..., None], 2)          # (2, 2, 2, 4)
  top = np.asarray(GridLSTM3D(features=2, depth=1).apply({'params': grid_params}, patches),
                   np.float64)                                                    # (2, 2, 2, 2)
  pooled = {'last': top[:, -1, -1], 'mean': top.mean(axis=(1, 2)), 'flatten': top.reshape(2, -1)}
  for pooling, vectors in pooled.items():
    kernel = np.asarray(jax.random.normal(jax.random.key(2), (vectors.shape[-1], 3)), np.float32)
    params = {'grid': grid_params, 'classifier': {'kernel': kernel, 'bias': np.ones(3, np.float32)}}
    logits = build(ds, pooling=pooling, **fields).apply({'params': params}, images, train=False)
    np.testing.assert_allclose(np.asarray(logits), vectors @ kernel + 1.0, atol=ATOL,
                               err_msg=pooling)


def test_head_dropout_is_active_only_in_training():
  x = np.ones((2, 6), np.float32)
  ds = toy_dataset(x, np.zeros(2, np.int32), num_classes=3)
  model = build(ds, core='1d', features=4, num_layers=1, head_dropout_rate=0.5)
  variables = model.init(jax.random.key(0), x, train=False)
  evaluation = model.apply(variables, x, train=False)
  trained = model.apply(variables, x, train=True, rngs={'dropout': jax.random.key(3)})
  assert not np.allclose(trained, evaluation)


# ----------------------------------------------------------------------------- config errors


@pytest.mark.parametrize('fields,dataset,match', [
    (dict(core='4d'), 'parity', r"config.model.core='4d' is not one of '1d', '2d', '3d', 'lstm'\."),
    (dict(core='2d', non_lstm_dims=(2,)), 'parity',
     r'config.model.non_lstm_dims=\(2,\) must hold at most 2 distinct dimensions of '
     r"config.model.core='2d': 0 = time, 1 = depth"),
    (dict(core='3d', priority_dims=(0, 1, 2)), 'image',
     r'config.model.priority_dims=\(0, 1, 2\) must hold at most 2 distinct dimensions'),
    (dict(core='lstm', tied=True), 'parity',
     r"config.model.tied=True has no meaning for config.model.core='lstm'; leave it at False\."),
    (dict(core='2d', patch_size=2), 'parity',
     r"config.model.patch_size=2 has no meaning for config.model.core='2d'; leave it at 1\."),
    (dict(core='1d'), 'addition',
     r"config.model.core='1d' needs fixed-size inputs and one label per example; got token ids "
     r'of shape \(9,\) and 4 labels each\.'),
    (dict(core='3d'), 'parity', r"config.model.core='3d' needs fixed-size images"),
    (dict(core='1d', lengths=True), 'parity',
     r"core='1d' needs fixed-size inputs .*; got inputs of shape \(5,\) with lengths\."),
    (dict(core='3d', patch_size=3), 'image',
     r'images \(H, W\[, C\]\) with sides divisible by config.model.patch_size=3, and one label per '
     r'example; got inputs of shape \(4, 4, 1\)\.'),
    (dict(core='2d', pooling='flatten'), 'parity',
     r"config.model.pooling='flatten' is not one of 'last', 'mean', 'max'\."),
    (dict(core='2d', featurs=3), 'parity', r'unknown config key config.model.featurs\. Did you mean '
                                           r'config.model.features\?'),
])
def test_config_errors_name_the_field(fields, dataset, match):
  """Errors of single fields come from ``get_model``, of combinations from the first call."""
  lengths = dict(lengths=np.ones(2, np.int32)) if fields.pop('lengths', False) else {}
  datasets = {
      'parity': toy_dataset(np.zeros((2, 5), np.float32), np.zeros(2, np.int32), 2),
      'addition': toy_dataset(np.zeros((2, 9), np.int32), np.zeros((2, 4), np.int32), 10,
                              vocab_size=13),
      'image': toy_dataset(np.zeros((2, 4, 4, 1), np.float32), np.zeros(2, np.int32), 10),
  }
  ds = datasets[dataset]
  with pytest.raises(ConfigError, match=match) as error:
    model = build(ds, **fields)
    model.init(jax.random.key(0), np.zeros((2,) + ds.input_shape, ds.input_dtype), train=False,
               **lengths)
  assert '\n' not in str(error.value)


# ----------------------------------------------------------------------------- configs


GRID_CONFIGS = ('parity_grid_lstm', 'addition_grid_lstm', 'mnist1d_grid_lstm', 'digits_grid_lstm3d',
                'mnist_grid_lstm3d')


@pytest.mark.parametrize('name', GRID_CONFIGS)
def test_grid_config_validates_and_documents_its_command(name):
  config, module = load_config(name)
  validate_config(config)
  assert config.model.name == 'grid_lstm'
  assert f'python scripts/train.py --config=configs/{name}.py' in module.__doc__


def test_parity_baselines_have_about_the_grid_parameter_count():
  counts = {}
  for model in ('grid', 'mlp', 'lstm'):
    config, _ = load_config('parity_grid_lstm', f'model={model},bits=50')
    ds = toy_dataset(np.zeros((2, 50), np.float32), np.zeros(2, np.int32), 2)
    net = models.get_model(config.model, ds)
    shapes = jax.eval_shape(lambda n=net: n.init(jax.random.key(0), jnp.zeros((1, 50)), train=False))
    counts[model] = sum(math.prod(x.shape) for x in jax.tree.leaves(shapes['params']))
  for model in ('mlp', 'lstm'):
    assert abs(counts[model] / counts['grid'] - 1.0) < 0.1, counts


@pytest.mark.parametrize('name', GRID_CONFIGS)
def test_runlocal_builds_and_trains_two_steps(name):
  config, _ = load_config(name, 'runlocal')
  mock = (tfds.testing.mock_data(num_examples=16) if config.data.name == 'mnist'
          else contextlib.nullcontext())
  with mock:
    setup = loop.setup(config, workdir=None)
    batch = next(data.train_loader(setup.dataset, batch_size=config.batch_size, seed=0))
  state = setup.init_state()
  step = jax.jit(loop.train_step)
  new_state, sums = step(state, batch, setup.dropout_root)
  new_state, sums = step(new_state, batch, setup.dropout_root)
  assert int(new_state.step) == 2 and np.isfinite(float(sums['loss']))
  changed = jax.tree.map(lambda a, b: not np.array_equal(a, b), state.params, new_state.params)
  assert all(jax.tree.leaves(changed))
  if setup.dataset.label_shape:
    assert 'sequence_correct' in sums

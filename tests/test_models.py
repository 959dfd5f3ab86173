"""Tests of highway_jax.models: outputs against NumPy references, parameter counts, config errors."""

import math

import jax
import jax.numpy as jnp
import ml_collections
import numpy as np
import pytest
from helpers import randomize, toy_dataset

from highway_jax import models, recurrent
from highway_jax.errors import ConfigError
from highway_jax.models import highway_cnn, highway_mlp, rnn_classifier


def model_config(name, **fields):
  return ml_collections.ConfigDict(dict(name=name, **fields))


def param_count(model, *args, **kwargs):
  shapes = jax.eval_shape(lambda: model.init(jax.random.key(0), *args, **kwargs))
  return sum(math.prod(x.shape) for x in jax.tree.leaves(shapes['params']))


def relu(x):
  return np.maximum(x, 0.0)


def sigmoid(x):
  return 1.0 / (1.0 + np.exp(-x))


@pytest.mark.parametrize('block', ['highway', 'plain', 'residual'])
def test_highway_mlp_matches_numpy(block):
  model = highway_mlp.Model(num_classes=3, num_layers=4, features=5, block=block)
  x = np.asarray(jax.random.normal(jax.random.key(1), (2, 2, 3)), np.float32)
  initial = model.init(jax.random.key(0), x, train=False)
  if block == 'highway':
    np.testing.assert_array_equal(initial['params']['stack']['layers']['T']['bias'], -2.0)
  variables = randomize(initial)
  logits = np.asarray(model.apply(variables, x, train=False))

  p = jax.tree.map(np.asarray, variables['params'])
  h = relu(x.reshape(2, 6) @ p['input_layer']['kernel'] + p['input_layer']['bias'])
  layers = p['stack']['layers']
  for l in range(3):  # num_layers − 1 stacked layers
    transform = relu(h @ layers['H']['kernel'][l] + layers['H']['bias'][l])
    if block == 'highway':
      gate = sigmoid(h @ layers['T']['kernel'][l] + layers['T']['bias'][l])
      h = transform * gate + h * (1.0 - gate)
    elif block == 'plain':
      h = transform
    else:
      h = transform + h
  expected = h @ p['classifier']['kernel'] + p['classifier']['bias']
  np.testing.assert_allclose(logits, expected, rtol=1e-5, atol=1e-5)


def test_depth_experiment_widths_give_about_5000_params_per_layer():
  x = jnp.zeros((1, 784))
  per_layer = {}
  for block, width in (('highway', 50), ('plain', 71)):
    counts = [param_count(highway_mlp.Model(num_classes=10, num_layers=d, features=width, block=block),
                          x, train=False) for d in (10, 20)]
    per_layer[block] = (counts[1] - counts[0]) / 10
  assert per_layer == {'highway': 2 * (50 * 50 + 50), 'plain': 71 * 71 + 71}


def test_highway_mlp_project_and_none():
  x = jnp.zeros((2, 6))
  project = highway_mlp.Model(num_classes=3, num_layers=2, features=5, first_layer='project')
  params = jax.eval_shape(lambda: project.init(jax.random.key(0), x, train=False))['params']
  assert 'input_layer' not in params and params['stack']['proj']['kernel'].shape == (6, 5)
  assert params['stack']['layers']['H']['kernel'].shape == (2, 5, 5)
  ds = toy_dataset(np.zeros((4, 6), np.float32), np.zeros((4,), np.int32), 3)
  model = models.get_model(model_config('highway_mlp', first_layer='none', features=5), ds)
  with pytest.raises(ConfigError, match="config.model.first_layer='none' needs inputs of "
                                        r'config.model.features=5 values.*flatten to 6'):
    model.init(jax.random.key(0), x, train=False)


def _conv_same(x, kernel, bias):
  """'SAME' 2-D convolution (cross-correlation) of NHWC x with an HWIO kernel, in loops."""
  b, height, width, _ = x.shape
  kh, kw, _, out = kernel.shape
  padded = np.pad(x, ((0, 0), (kh // 2, kh // 2), (kw // 2, kw // 2), (0, 0)))
  y = np.zeros((b, height, width, out), np.float64)
  for i in range(height):
    for j in range(width):
      patch = padded[:, i:i + kh, j:j + kw, :]
      y[:, i, j, :] = np.einsum('bhwc,hwco->bo', patch, kernel)
  return y + bias


def _max_pool_2x2(x):
  b, height, width, c = x.shape
  x = x[:, :height // 2 * 2, :width // 2 * 2]
  return x.reshape(b, height // 2, 2, width // 2, 2, c).max(axis=(2, 4))


@pytest.mark.parametrize('head', ['dense', 'conv_avgpool'])
def test_highway_cnn_matches_numpy(head):
  model = highway_cnn.Model(num_classes=3, features=(2, 3), num_highway_layers=(1, 1),
                            pool_after=(True, False), head=head)
  x = np.asarray(jax.random.normal(jax.random.key(1), (2, 4, 4, 1)), np.float32)
  variables = randomize(model.init(jax.random.key(0), x, train=False))
  logits = np.asarray(model.apply(variables, x, train=False))

  p = jax.tree.map(np.asarray, variables['params'])
  h = x
  for s in range(2):
    conv = p[f'transition_{s}']
    h = relu(_conv_same(h, conv['kernel'], conv['bias']))
    layer = p[f'stage_{s}']['layers']
    transform = relu(_conv_same(h, layer['H']['kernel'][0], layer['H']['bias'][0]))
    gate = sigmoid(_conv_same(h, layer['T']['kernel'][0], layer['T']['bias'][0]))
    h = transform * gate + h * (1.0 - gate)
    if s == 0:
      h = _max_pool_2x2(h)
  if head == 'dense':
    expected = h.reshape(2, -1) @ p['head']['kernel'] + p['head']['bias']
  else:
    expected = (h @ p['head']['kernel'][0, 0] + p['head']['bias']).mean(axis=(1, 2))
  np.testing.assert_allclose(logits, expected, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize('width,expected', [
    # plain conv, 8 highway conv layers (H and T), dense softmax on the 3x3 map
    (16, (9 * 16 + 16) + 8 * 2 * (9 * 16 * 16 + 16) + (9 * 16 * 10 + 10)),
    (32, (9 * 32 + 32) + 8 * 2 * (9 * 32 * 32 + 32) + (9 * 32 * 10 + 10)),
])
def test_mnist_conv_highway_parameter_count(width, expected):
  model = highway_cnn.Model(num_classes=10, features=(width,) * 3, num_highway_layers=(3, 3, 2),
                            pool_after=(True, True, True), head='dense')
  assert param_count(model, jnp.zeros((1, 28, 28, 1)), train=False) == expected
  assert round(expected / 1000) == {16: 39, 32: 151}[width]  # the paper's 39K and 151K


def test_cifar_recipe_parameter_count():
  model = highway_cnn.Model(num_classes=10)  # the defaults are the authors' recipe
  conv = lambda c_in, c_out, k=3: k * k * c_in * c_out + c_out
  expected = (conv(3, 32) + 4 * 2 * conv(32, 32) + conv(32, 80) + 5 * 2 * conv(80, 80)
              + conv(80, 128) + 5 * 2 * conv(128, 128) + conv(128, 10, k=1))
  assert param_count(model, jnp.zeros((1, 32, 32, 3)), train=False) == expected
  assert 2.2e6 < expected < 2.3e6


def test_highway_cnn_config_errors():
  ds = toy_dataset(np.zeros((2, 8, 8, 3), np.float32), np.zeros((2,), np.int32), 10)
  x = jnp.zeros((2, 8, 8, 3))
  model = models.get_model(model_config('highway_cnn', first_layer='none'), ds)
  with pytest.raises(ConfigError, match=r"config.model.first_layer='none' but stage 0 changes the "
                                        r"width from 3 to 32; use first_layer 'plain' or 'project'"):
    model.init(jax.random.key(0), x, train=False)
  model = models.get_model(model_config('highway_cnn', num_highway_layers=(1, 1)), ds)
  with pytest.raises(ConfigError, match=r'config.model.features, config.model.num_highway_layers '
                                        r'\(each >= 0\) and config.model.pool_after need one entry'):
    model.init(jax.random.key(0), x, train=False)
  model = models.get_model(model_config('highway_cnn', pool_after=(True,) * 4, features=(4,) * 4,
                                        num_highway_layers=(1,) * 4), ds)
  with pytest.raises(ConfigError, match=r"'highway_cnn' needs images \(H, W\[, C\]\) of at least "
                                        r'2\^4 pixels a side .*; got inputs \(8, 8, 3\)'):
    model.init(jax.random.key(0), x, train=False)
  tokens = toy_dataset(np.zeros((2, 6), np.int32), np.zeros((2,), np.int32), 3, vocab_size=9)
  with pytest.raises(ConfigError, match=r"config.model.name='highway_cnn' needs real-valued inputs"):
    models.get_model(model_config('highway_cnn'), tokens)
  with pytest.raises(ConfigError, match=r'config.model.features\[1\]=0 must be >= 1'):
    models.get_model(model_config('highway_cnn', features=(4, 0, 4)), ds)


def _tokens(lengths, time, vocab, seed):
  tokens = np.asarray(jax.random.randint(jax.random.key(seed), (len(lengths), time), 2, vocab))
  return np.where(np.arange(time)[None] < np.asarray(lengths)[:, None], tokens, 0).astype(np.int32)


def test_rnn_classifier_pooling_matches_reference_and_ignores_padding():
  lengths = np.array([5, 2, 3], np.int32)
  tokens = _tokens(lengths, 6, 11, seed=1)
  noisy = np.where(tokens == 0, 7, tokens).astype(np.int32)  # other ids in the padding
  poolings = ('last', 'mean', 'max')
  make = lambda pooling: rnn_classifier.Model(
      num_classes=2, vocab_size=11, features=3, embedding_features=4, num_layers=2,
      bidirectional=True, highway=True, pooling=pooling)
  variables = randomize(jax.jit(lambda: make('last').init(jax.random.key(0), tokens, train=False,
                                                          lengths=lengths))())
  rnn = recurrent.LSTM(features=3, num_layers=2, bidirectional=True, highway=True)
  both = np.concatenate([tokens, noisy])
  both_lengths = np.concatenate([lengths, lengths])

  @jax.jit
  def run(variables):
    logits = {p: make(p).apply(variables, both, train=False, lengths=both_lengths)
              for p in poolings}
    embedded = variables['params']['embed']['embedding'][tokens]
    outputs, _ = rnn.apply({'params': variables['params']['rnn']}, embedded, seq_lengths=lengths)
    return logits, outputs

  both_logits, outputs = jax.tree.map(np.asarray, run(variables))
  logits = {k: v[:3] for k, v in both_logits.items()}
  noisy_logits = {k: v[3:] for k, v in both_logits.items()}
  p = jax.tree.map(np.asarray, variables['params'])
  pooled = {
      'last': np.stack([np.concatenate([outputs[b, n - 1, :3], outputs[b, 0, 3:]])
                        for b, n in enumerate(lengths)]),
      'mean': np.stack([outputs[b, :n].mean(axis=0) for b, n in enumerate(lengths)]),
      'max': np.stack([outputs[b, :n].max(axis=0) for b, n in enumerate(lengths)]),
  }
  for pooling in poolings:
    np.testing.assert_allclose(noisy_logits[pooling], logits[pooling], rtol=1e-6, atol=1e-6)
    expected = pooled[pooling] @ p['classifier']['kernel'] + p['classifier']['bias']
    np.testing.assert_allclose(logits[pooling], expected, rtol=1e-5, atol=1e-6)


def test_rnn_classifier_sequence_targets_and_real_inputs():
  ds = toy_dataset(np.zeros((2, 7), np.float32), np.zeros((2, 3), np.int32), 5)
  model = models.get_model(model_config('rnn_classifier', cell='gru', features=4), ds)
  x = np.asarray(jax.random.normal(jax.random.key(2), (2, 7)), np.float32)
  variables = randomize(model.init(jax.random.key(0), x, train=False))
  logits = model.apply(variables, x, train=False)
  assert logits.shape == (2, 3, 5)
  # The logits of the last 3 steps are the classifier applied to the GRU outputs there.
  outputs, _ = recurrent.GRU(features=4).apply({'params': variables['params']['rnn']}, x[..., None])
  kernel, bias = variables['params']['classifier']['kernel'], variables['params']['classifier']['bias']
  np.testing.assert_allclose(logits, np.asarray(outputs)[:, -3:] @ kernel + bias, rtol=1e-5,
                             atol=1e-6)


def test_rnn_classifier_rhn_uses_recurrence_depth():
  ds = toy_dataset(np.zeros((2, 5, 1), np.float32), np.zeros((2,), np.int32), 3)
  model = models.get_model(model_config('rnn_classifier', cell='rhn', features=4,
                                        recurrence_depth=3), ds)
  params = jax.eval_shape(lambda: model.init(jax.random.key(0), jnp.zeros((2, 5, 1)),
                                             train=False))['params']
  assert params['rnn']['layer_0']['forward']['layers']['T']['kernel'].shape == (3, 4, 4)


def test_get_model_errors_name_the_key_and_allowed_values():
  ds = toy_dataset(np.zeros((2, 6), np.float32), np.zeros((2,), np.int32), 3)
  with pytest.raises(ConfigError, match=r"config.model.name='resnet' is not one of 'highway_mlp'"):
    models.get_model(model_config('resnet'), ds)
  with pytest.raises(ConfigError, match=r'unknown config key config.model.num_layer\. Did you mean '
                                        r'config.model.num_layers\? Known keys: activation, block'):
    models.get_model(model_config('highway_mlp', num_layer=3), ds)
  with pytest.raises(ConfigError, match=r"config.model.num_layers='3' has type str; expected int\."):
    models.get_model(model_config('highway_mlp', num_layers='3'), ds)
  with pytest.raises(ConfigError, match=r'config.model.num_layers=0 must be >= 1\.'):
    models.get_model(model_config('highway_mlp', num_layers=0), ds)
  with pytest.raises(ConfigError, match=r'config.model.layer_dropout_rate=1.0 must be >= 0 and < 1\.'):
    models.get_model(model_config('highway_mlp', layer_dropout_rate=1.0), ds)
  with pytest.raises(ConfigError, match=r"config.model.block='gated' is not one of 'highway'"):
    models.get_model(model_config('highway_mlp', block='gated'), ds)
  with pytest.raises(ConfigError, match=r"config.model.activation='tanhh'"):
    models.get_model(model_config('highway_mlp', activation='tanhh'), ds)
  tokens = toy_dataset(np.zeros((2, 6), np.int32), np.zeros((2,), np.int32), 3, vocab_size=9)
  with pytest.raises(ConfigError, match="'highway_mlp' needs real-valued inputs"):
    models.get_model(model_config('highway_mlp'), tokens)
  targets = toy_dataset(np.zeros((2, 6), np.int32), np.zeros((2, 7), np.int32), 3, vocab_size=9)
  with pytest.raises(ConfigError, match=r"dataset 'toy' has labels of shape \(7,\) for inputs of "
                                        r'shape \(6,\); sequence targets'):
    models.get_model(model_config('rnn_classifier'), targets)


@pytest.mark.parametrize('name,old,new', [
    ('highway_mlp', 'depth', 'num_layers'), ('highway_mlp', 'dim_match', 'first_layer'),
    ('highway_mlp', 'dropout_rate', 'layer_dropout_rate'),
    ('highway_cnn', 'dim_match', 'first_layer'), ('highway_cnn', 'dropout_rate', 'head_dropout_rate'),
    ('rnn_classifier', 'rhn_depth', 'recurrence_depth'),
    ('rnn_classifier', 'dropout_rate', 'layer_dropout_rate'),
    ('rnn_classifier', 'output_dropout_rate', 'head_dropout_rate'),
    ('grid_lstm', 'kind', 'core'), ('grid_lstm', 'depth', 'num_layers'),
    ('grid_lstm', 'output_dropout_rate', 'head_dropout_rate'),
])
def test_old_config_keys_name_their_new_name(name, old, new):
  ds = toy_dataset(np.zeros((2, 8, 8, 1), np.float32), np.zeros((2,), np.int32), 3)
  with pytest.raises(ConfigError) as error:
    models.get_model(model_config(name, **{old: 1}), ds)
  assert str(error.value) == f'config.model.{old} was renamed to config.model.{new}.'


def test_bfloat16_computes_in_bf16_with_float32_params():
  ds = toy_dataset(np.zeros((2, 6), np.float32), np.zeros((2,), np.int32), 3)
  model = models.get_model(model_config('highway_mlp', num_layers=3, features=4), ds,
                           dtype='bfloat16')
  x = jnp.ones((2, 6))
  variables = model.init(jax.random.key(0), x, train=False)
  assert {v.dtype for v in jax.tree.leaves(variables)} == {jnp.dtype(jnp.float32)}
  assert model.apply(variables, x, train=False).dtype == jnp.bfloat16


def _numpy_highway_mlp(p, x, lesioned=()):
  """The highway MLP in NumPy, with the transform gate of the stacked layers in ``lesioned`` at 0."""
  h = relu(x.reshape(len(x), -1) @ p['input_layer']['kernel'] + p['input_layer']['bias'])
  layers = p['stack']['layers']
  for l in range(layers['H']['kernel'].shape[0]):
    transform = relu(h @ layers['H']['kernel'][l] + layers['H']['bias'][l])
    gate = sigmoid(h @ layers['T']['kernel'][l] + layers['T']['bias'][l])
    if l in lesioned:
      gate = np.zeros_like(gate)
    h = transform * gate + h * (1.0 - gate)
  return h @ p['classifier']['kernel'] + p['classifier']['bias']


@pytest.mark.parametrize('layer', [0, 2])
def test_highway_mlp_lesion_forces_that_layers_gate_to_zero(layer):
  model = highway_mlp.Model(num_classes=3, num_layers=4, features=5)
  x = np.asarray(jax.random.normal(jax.random.key(1), (4, 6)), np.float32)
  variables = randomize(model.init(jax.random.key(0), x, train=False))
  p = jax.tree.map(np.asarray, variables['params'])
  assert model.num_lesion_layers == 3
  expected = _numpy_highway_mlp(p, x, lesioned=(layer,))
  by_index = model.apply(variables, x, train=False, lesion=layer)
  by_mask = model.apply(variables, x, train=False, lesion=np.arange(3) == layer)
  np.testing.assert_allclose(by_index, expected, rtol=1e-5, atol=1e-6)
  np.testing.assert_allclose(by_mask, expected, rtol=1e-5, atol=1e-6)
  # Lesioning changes the output (the gate was open), and no lesion is the plain forward pass.
  assert np.abs(expected - _numpy_highway_mlp(p, x)).max() > 1e-3
  np.testing.assert_allclose(model.apply(variables, x, train=False, lesion=None),
                             _numpy_highway_mlp(p, x), rtol=1e-5, atol=1e-6)
  with pytest.raises(ValueError, match=r'lesion mask must have shape \(3,\)'):
    model.apply(variables, x, train=False, lesion=np.zeros(4, bool))


def test_highway_mlp_without_stacked_layers_cannot_be_lesioned():
  model = highway_mlp.Model(num_classes=3, num_layers=1, features=5)
  x = jnp.ones((2, 6))
  variables = model.init(jax.random.key(0), x, train=False)
  assert model.num_lesion_layers == 0
  with pytest.raises(ValueError, match=r'lesion index must be in \[0, 0\), got 0'):
    model.apply(variables, x, train=False, lesion=0)


def test_highway_cnn_lesion_mask_spans_every_stage():
  model = highway_cnn.Model(num_classes=3, features=(2, 3), num_highway_layers=(1, 2),
                            pool_after=(True, False), head='dense')
  x = np.asarray(jax.random.normal(jax.random.key(1), (2, 4, 4, 1)), np.float32)
  variables = randomize(model.init(jax.random.key(0), x, train=False))
  p = jax.tree.map(np.asarray, variables['params'])
  assert model.num_lesion_layers == 3

  def reference(lesioned):
    h, index = x, 0
    for s in range(2):
      conv = p[f'transition_{s}']
      h = relu(_conv_same(h, conv['kernel'], conv['bias']))
      layer = p[f'stage_{s}']['layers']
      for l in range(layer['H']['kernel'].shape[0]):
        transform = relu(_conv_same(h, layer['H']['kernel'][l], layer['H']['bias'][l]))
        gate = sigmoid(_conv_same(h, layer['T']['kernel'][l], layer['T']['bias'][l]))
        if index in lesioned:
          gate = np.zeros_like(gate)
        h = transform * gate + h * (1.0 - gate)
        index += 1
      if s == 0:
        h = _max_pool_2x2(h)
    return h.reshape(2, -1) @ p['head']['kernel'] + p['head']['bias']

  for lesioned in (0, 2):  # stage 0's only layer; stage 1's second layer
    np.testing.assert_allclose(model.apply(variables, x, train=False, lesion=lesioned),
                               reference({lesioned}), rtol=1e-5, atol=1e-5)
  both = np.array([True, False, True])
  np.testing.assert_allclose(model.apply(variables, x, train=False, lesion=both),
                             reference({0, 2}), rtol=1e-5, atol=1e-5)

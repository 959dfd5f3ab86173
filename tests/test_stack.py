"""HighwayStack against applying its layers one at a time with the sliced parameters."""

import re

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from flax import linen as nn
from reference import randomize

from highway_jax.highway import Highway, HighwayConv, Plain
from highway_jax.stack import HighwayStack, default_unroll

L, D = 4, 6
X = np.random.RandomState(0).normal(size=(3, 9)).astype(np.float32)


def layer_by_layer(layer, params, x, lesioned=()):
  """Reference: the input projection, then each layer applied with its slice of the stacked params."""
  if 'proj' in params:
    x = x @ params['proj']['kernel'] + params['proj']['bias']
  gates = []
  for l in range(L):
    p_l = jax.tree.map(lambda a: a[l], params['layers'])
    x, state = layer.apply({'params': p_l}, x, lesion=l in lesioned, mutable=['intermediates'])
    gates.append(state['intermediates']['transform_gate'][0])
  return x, np.stack(gates)


@pytest.fixture(scope='module')
def stack_and_params():
  stack = HighwayStack(num_layers=L, features=D, activation=nn.tanh, transform_bias_init=-1.0)
  params = randomize(stack.init(jax.random.key(0), X)['params'])
  return stack, params


def test_parameter_layout(stack_and_params):
  stack, _ = stack_and_params
  p = stack.init(jax.random.key(0), X)['params']
  shapes = jax.tree.map(jnp.shape, p)
  assert shapes == {
      'proj': {'kernel': (9, D), 'bias': (D,)},
      'layers': {'H': {'kernel': (L, D, D), 'bias': (L, D)},
                 'T': {'kernel': (L, D, D), 'bias': (L, D)}},
  }
  np.testing.assert_array_equal(p['layers']['T']['bias'], -1.0)
  # split_rngs={'params': True}: every layer starts with different weights.
  assert not np.allclose(p['layers']['H']['kernel'][0], p['layers']['H']['kernel'][1])


def test_equals_layer_by_layer_with_gates(stack_and_params):
  stack, params = stack_and_params
  y, state = stack.apply({'params': params}, X, mutable=['intermediates'])
  ref, ref_gates = layer_by_layer(Highway(features=D, activation=nn.tanh), params, X)
  np.testing.assert_allclose(y, ref, rtol=1e-5, atol=1e-6)
  gates = state['intermediates']['layers']['transform_gate'][0]
  assert gates.shape == (L, 3, D)
  np.testing.assert_allclose(gates, ref_gates, rtol=1e-5, atol=1e-6)


def test_lesion_any_layer_with_one_program(stack_and_params):
  stack, params = stack_and_params
  apply = jax.jit(lambda lesion: stack.apply({'params': params}, X, lesion=lesion))
  layer = Highway(features=D, activation=nn.tanh)
  for l in range(L):
    y = apply(jnp.arange(L) == l)
    ref, _ = layer_by_layer(layer, params, X, lesioned=(l,))
    np.testing.assert_allclose(y, ref, rtol=1e-5, atol=1e-6)
  assert apply._cache_size() == 1
  # A layer index and a multi-layer mask give the same as the explicit masks (up to float32 rounding:
  # the index is applied op by op, the mask through the jitted program, which XLA may fuse differently).
  np.testing.assert_allclose(stack.apply({'params': params}, X, lesion=2), apply(jnp.arange(L) == 2),
                             rtol=1e-5, atol=1e-6)
  mask = jnp.array([True, False, True, False])
  ref, _ = layer_by_layer(layer, params, X, lesioned=(0, 2))
  np.testing.assert_allclose(apply(mask), ref, rtol=1e-5, atol=1e-6)


def test_lesioning_every_layer_leaves_the_projection(stack_and_params):
  stack, params = stack_and_params
  y = stack.apply({'params': params}, X, lesion=jnp.ones(L, bool))
  np.testing.assert_allclose(y, X @ params['proj']['kernel'] + params['proj']['bias'],
                             rtol=1e-5, atol=1e-6)


def test_remat_gives_the_same_values_and_gradients(stack_and_params):
  stack, params = stack_and_params
  rematted = stack.clone(remat=True)

  def loss(module, p):
    return jnp.sum(module.apply({'params': p}, X) ** 2)

  np.testing.assert_allclose(loss(rematted, params), loss(stack, params), rtol=1e-6)
  g1, g2 = jax.grad(loss, 1)(stack, params), jax.grad(loss, 1)(rematted, params)
  jax.tree.map(lambda a, b: np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6), g1, g2)


def test_dropout_masks_differ_per_layer():
  # Plain layers with H = identity: each layer only applies its dropout mask (kept units scaled by 2).
  # Shared masks would keep ~1/2 of the units after two layers, independent masks ~1/4.
  width = 2000
  stack = HighwayStack(num_layers=2, features=width, block='plain', activation=lambda z: z,
                       dropout_rate=0.5)
  x = jnp.ones((1, width))
  params = stack.init(jax.random.key(0), x)['params']
  params = {'layers': {'H': {'kernel': jnp.broadcast_to(jnp.eye(width), (2, width, width)),
                             'bias': jnp.zeros((2, width))}}}
  y = stack.apply({'params': params}, x, deterministic=False, rngs={'dropout': jax.random.key(1)})
  kept = float(jnp.mean(y != 0))
  assert 0.2 < kept < 0.3, kept
  np.testing.assert_allclose(y[y != 0], 4.0, rtol=1e-6)
  # Deterministic mode is the identity here.
  np.testing.assert_allclose(stack.apply({'params': params}, x), x)


def test_plain_stack_without_projection():
  stack = HighwayStack(num_layers=L, features=9, block='plain')
  params = randomize(stack.init(jax.random.key(0), X)['params'])
  assert 'proj' not in params and 'T' not in params['layers']
  ref = X
  for l in range(L):
    ref = Plain(features=9).apply({'params': jax.tree.map(lambda a: a[l], params['layers'])}, ref)
  np.testing.assert_allclose(stack.apply({'params': params}, X), ref, rtol=1e-5, atol=1e-6)


def test_conv_stack_equals_layer_by_layer():
  xi = np.random.RandomState(2).normal(size=(2, 4, 4, 3)).astype(np.float32)
  stack = HighwayStack(num_layers=3, features=3, kind='conv', kernel_size=(3, 3))
  params = randomize(stack.init(jax.random.key(0), xi)['params'])
  assert params['layers']['T']['kernel'].shape == (3, 3, 3, 3, 3)
  ref = xi
  for l in range(3):
    ref = HighwayConv(features=3).apply({'params': jax.tree.map(lambda a: a[l], params['layers'])},
                                        ref)
  np.testing.assert_allclose(stack.apply({'params': params}, xi), ref, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize('kernel_size', [(3, 3), (2, 3)])  # (2, 3): 'SAME' pads unevenly
def test_conv_stack_gradients_every_unroll(kernel_size):
  # Outputs and gradients (parameters and input) of every unroll against jax.grad of a Python loop of
  # lax convolutions; on CPU the stack's convs compute their gradients by their own rule (highway.py).
  xi = np.random.RandomState(3).normal(size=(2, 5, 6, 3)).astype(np.float32)
  params = randomize(jax.eval_shape(HighwayStack(num_layers=3, features=3, kind='conv', kernel_size=kernel_size).init,
                                    jax.random.key(0), xi)['params'])

  def reference(p, x):
    for l in range(3):
      affine = lambda name: jax.lax.conv_general_dilated(
          x, p['layers'][name]['kernel'][l], (1, 1), 'SAME',
          dimension_numbers=('NHWC', 'HWIO', 'NHWC')) + p['layers'][name]['bias'][l]
      t = jax.nn.sigmoid(affine('T'))
      x = jax.nn.relu(affine('H')) * t + x * (1 - t)
    return x

  loss = lambda apply: lambda p, x: jnp.sum(jnp.sin(apply(p, x)))
  want = jax.grad(loss(reference), argnums=(0, 1))(params, xi)
  first = None
  for unroll in (None, 1, 2, 3):
    stack = HighwayStack(num_layers=3, features=3, kind='conv', kernel_size=kernel_size, unroll=unroll)
    apply = lambda p, x, m=stack: m.apply({'params': p}, x)
    np.testing.assert_allclose(apply(params, xi), reference(params, xi), rtol=1e-5, atol=1e-6)
    got = jax.jit(jax.grad(loss(apply), argnums=(0, 1)))(params, xi)
    for (path, a), b in zip(jax.tree_util.tree_leaves_with_path(got), jax.tree.leaves(want)):
      assert np.max(np.abs(a - b)) <= 1e-5 * np.max(np.abs(b)), (unroll, jax.tree_util.keystr(path))
    first = first or got  # the unroll settings agree with each other more closely still
    jax.tree.map(lambda a, b: np.testing.assert_allclose(a, b, rtol=1e-6, atol=1e-6), got, first)


def test_default_unroll_bounds_conv_stacks_on_cpu():
  assert default_unroll('dense', 100) == 1
  expected = (5, 8) if jax.default_backend() == 'cpu' else (1, 1)
  assert (default_unroll('conv', 5), default_unroll('conv', 100)) == expected


def test_looped_conv_stack_gradients_are_canonical_convs():
  # XLA's CPU backend runs only NHWC x HWIO convolutions fast and rewrites others into that form only
  # outside loops; JAX's own conv gradients inside the scan's while body ran ~30x slower.
  if jax.default_backend() != 'cpu':
    pytest.skip('a CPU-backend property')
  xi = jnp.ones((2, 4, 4, 3))
  stack = HighwayStack(num_layers=3, features=3, kind='conv', unroll=1)
  params = jax.eval_shape(stack.init, jax.random.key(0), xi)['params']
  hlo = jax.jit(jax.grad(lambda p: jnp.sum(stack.apply({'params': p}, xi)))).lower(params).compile().as_text()
  labels = re.findall(r'dim_labels=([^,\s]+)', hlo)
  assert 'while' in hlo and len(labels) == 6 and set(labels) == {'b01f_01io->b01f'}, labels


@pytest.mark.parametrize('kwargs, call, match', [
    (dict(num_layers=0), {}, r'num_layers must be an integer >= 1, got 0'),
    (dict(block='gated'), {}, r"block='gated' is not one of 'highway', 'plain', 'residual'"),
    (dict(kind='recurrent'), {}, r"kind='recurrent' is not one of 'dense', 'conv'"),
    (dict(dropout_rate=1.5), {}, r'dropout_rate must be in \[0, 1\), got 1.5'),
    (dict(dropout_rate=-0.5, block='plain'), {}, r'dropout_rate must be in \[0, 1\), got -0.5'),
    ({}, dict(lesion=jnp.zeros(3, bool)), r'lesion mask must have shape \(4,\).*got \(3,\)'),
    ({}, dict(lesion=7), r'lesion index must be in \[0, 4\), got 7'),
    ({}, dict(lesion=1.5), r'lesion must be None, a layer index or a boolean mask'),
])
def test_errors(kwargs, call, match):
  stack = HighwayStack(**{'num_layers': L, 'features': D, **kwargs})
  with pytest.raises(ValueError, match=match):
    stack.init(jax.random.key(0), X, **call)


def test_wrong_input_width_for_params(stack_and_params):
  stack, params = stack_and_params
  with pytest.raises(ValueError, match=r'input feature size .* is 5, but the parameters expect 9'):
    stack.apply({'params': params}, np.ones((3, 5), np.float32))

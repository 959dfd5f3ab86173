"""Highway, Plain and Residual layers against NumPy references of the paper's equations."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from flax import linen as nn
from jax.test_util import check_grads
from reference import conv_same, dense, np_sigmoid, randomize, relu

from highway_jax.highway import Highway, HighwayConv, Plain, PlainConv, Residual, ResidualConv


def init(layer, x, seed=0):
  return layer.init(jax.random.key(seed), x)['params']


X = np.random.RandomState(0).normal(size=(3, 5)).astype(np.float32)


class TestDenseHighway:

  def test_coupled_matches_equation(self):
    layer = Highway()
    p = randomize(init(layer, X))
    y, state = layer.apply({'params': p}, X, mutable=['intermediates'])
    h = relu(dense(p['H'], X))
    t = np_sigmoid(dense(p['T'], X))
    np.testing.assert_allclose(y, h * t + X * (1 - t), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(state['intermediates']['transform_gate'][0], t, rtol=1e-5, atol=1e-6)

  def test_independent_carry_matches_equation(self):
    layer = Highway(carry='independent', activation=nn.tanh)
    p = randomize(init(layer, X))
    assert set(p) == {'H', 'T', 'C'}
    y, state = layer.apply({'params': p}, X, mutable=['intermediates'])
    h = np.tanh(dense(p['H'], X))
    t, c = np_sigmoid(dense(p['T'], X)), np_sigmoid(dense(p['C'], X))
    np.testing.assert_allclose(y, h * t + X * c, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(state['intermediates']['carry_gate'][0], c, rtol=1e-5, atol=1e-6)

  def test_parameter_names_and_bias_init(self):
    p = init(Highway(features=5, transform_bias_init=-3.0), X)
    assert set(p) == {'H', 'T'}
    assert p['T']['kernel'].shape == (5, 5)
    np.testing.assert_array_equal(p['T']['bias'], -3.0 * np.ones(5))
    p = init(Highway(carry='independent', carry_bias_init=1.5), X)
    np.testing.assert_array_equal(p['C']['bias'], 1.5 * np.ones(5))

  def test_strongly_closed_gate_carries_input(self):
    layer = Highway(transform_bias_init=-50.0)
    p = init(layer, X)
    np.testing.assert_allclose(layer.apply({'params': p}, X), X, atol=1e-6)

  def test_strongly_open_gate_gives_plain_transform(self):
    layer = Highway(transform_bias_init=50.0)
    p = init(layer, X)
    np.testing.assert_allclose(layer.apply({'params': p}, X), relu(dense(p['H'], X)),
                               rtol=1e-5, atol=1e-6)

  @pytest.mark.parametrize('carry', ['coupled', 'independent'])
  def test_lesion_forces_transform_gate_to_zero(self, carry):
    layer = Highway(carry=carry)
    p = randomize(init(layer, X))
    apply = jax.jit(lambda les: layer.apply({'params': p}, X, lesion=les))
    expected = X if carry == 'coupled' else X * np_sigmoid(dense(p['C'], X))
    np.testing.assert_allclose(apply(jnp.array(True)), expected, rtol=1e-5, atol=1e-6)
    h, t = relu(dense(p['H'], X)), np_sigmoid(dense(p['T'], X))
    c = 1 - t if carry == 'coupled' else np_sigmoid(dense(p['C'], X))
    np.testing.assert_allclose(apply(jnp.array(False)), h * t + X * c, rtol=1e-5, atol=1e-6)

  def test_backward_pass_matches_paper(self):
    """jax.vjp of Highway.apply against the paper's backward equations, written out in NumPy.

    With y = H·T + x·(1 − T), H = tanh(x W_H + b_H), T = σ(x W_T + b_T):
    ∂y/∂H = T, ∂y/∂T = H − x, and the carry path passes (1 − T)·dy straight to x.
    """
    layer = Highway(activation=nn.tanh)
    p = randomize(init(layer, X), seed=2)
    dy = np.random.RandomState(3).normal(size=X.shape)
    _, vjp = jax.vjp(lambda p, x: layer.apply({'params': p}, x), p, jnp.asarray(X))
    dp, dx = vjp(jnp.asarray(dy, jnp.float32))

    x = X.astype(np.float64)
    h, t = np.tanh(dense(p['H'], x)), np_sigmoid(dense(p['T'], x))
    da_h = dy * t * (1 - h ** 2)              # dH = T·dy, through tanh
    da_t = dy * (h - x) * t * (1 - t)         # dT = (H − x)·dy, through σ
    expected = {
        'H': {'kernel': x.T @ da_h, 'bias': da_h.sum(0)},
        'T': {'kernel': x.T @ da_t, 'bias': da_t.sum(0)},
    }
    expected_dx = dy * (1 - t) + da_h @ np.asarray(p['H']['kernel']).T + da_t @ np.asarray(p['T']['kernel']).T
    jax.tree.map(lambda a, b: np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-5), dp, expected)
    np.testing.assert_allclose(dx, expected_dx, rtol=1e-4, atol=1e-5)

  def test_gradients(self):
    layer = Highway(activation=nn.tanh, carry='independent')
    p = randomize(init(layer, X))
    check_grads(lambda p, x: layer.apply({'params': p}, x), (p, jnp.asarray(X)), order=1,
                modes=['rev'], atol=1e-2, rtol=1e-2)

  def test_project_widens(self):
    layer = Highway(features=7)
    p = randomize(init(layer, X))
    y = layer.apply({'params': p}, X)
    h, t = relu(dense(p['H'], X)), np_sigmoid(dense(p['T'], X))
    np.testing.assert_allclose(y, h * t + dense(p['proj'], X) * (1 - t), rtol=1e-5, atol=1e-6)

  def test_pad_widens_with_zeros(self):
    layer = Highway(features=7, dim_match='pad')
    p = randomize(init(layer, X))
    assert 'proj' not in p
    y = layer.apply({'params': p}, X)
    h, t = relu(dense(p['H'], X)), np_sigmoid(dense(p['T'], X))
    padded = np.concatenate([X, np.zeros((3, 2))], axis=1)
    np.testing.assert_allclose(y, h * t + padded * (1 - t), rtol=1e-5, atol=1e-6)

  def test_plain_and_residual(self):
    p = randomize(init(Plain(), X))
    np.testing.assert_allclose(Plain().apply({'params': p}, X), relu(dense(p['H'], X)),
                               rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(Residual().apply({'params': p}, X), relu(dense(p['H'], X)) + X,
                               rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(Residual().apply({'params': p}, X, lesion=True), X)
    np.testing.assert_allclose(Plain().apply({'params': p}, X, lesion=True), X)
    # A widening plain layer owns no projection: the paper's plain layers are just H.
    assert set(init(Plain(features=9), X)) == {'H'}

  def test_dropout_acts_on_transform_branch_only(self):
    layer = Highway(dropout_rate=0.5, transform_bias_init=-50.0)
    p = init(layer, X)
    y = layer.apply({'params': p}, X, deterministic=False, rngs={'dropout': jax.random.key(3)})
    np.testing.assert_allclose(y, X, atol=1e-6)  # T ≈ 0: the carry path has no dropout


class TestConvHighway:
  XI = np.random.RandomState(1).normal(size=(2, 5, 6, 3)).astype(np.float32)

  def test_matches_equation(self):
    layer = HighwayConv(kernel_size=(3, 3))
    p = randomize(init(layer, self.XI))
    assert p['H']['kernel'].shape == (3, 3, 3, 3) and p['T']['kernel'].shape == (3, 3, 3, 3)
    y = layer.apply({'params': p}, self.XI)
    h, t = relu(conv_same(p['H'], self.XI)), np_sigmoid(conv_same(p['T'], self.XI))
    np.testing.assert_allclose(y, h * t + self.XI * (1 - t), rtol=1e-4, atol=1e-5)

  def test_subsample_matches_strided_carry(self):
    layer = HighwayConv(features=4, strides=2, dim_match='subsample')
    p = randomize(init(layer, self.XI))
    y = layer.apply({'params': p}, self.XI)
    h, t = relu(conv_same(p['H'], self.XI, 2)), np_sigmoid(conv_same(p['T'], self.XI, 2))
    carried = np.pad(self.XI[:, ::2, ::2, :], [(0, 0)] * 3 + [(0, 1)])
    assert y.shape == (2, 3, 3, 4)
    np.testing.assert_allclose(y, h * t + carried * (1 - t), rtol=1e-4, atol=1e-5)

  def test_project_is_strided_1x1_conv(self):
    layer = HighwayConv(features=4, strides=2)
    p = randomize(init(layer, self.XI))
    assert p['proj']['kernel'].shape == (1, 1, 3, 4)
    y = layer.apply({'params': p}, self.XI)
    h, t = relu(conv_same(p['H'], self.XI, 2)), np_sigmoid(conv_same(p['T'], self.XI, 2))
    carried = conv_same(p['proj'], self.XI, 2)
    np.testing.assert_allclose(y, h * t + carried * (1 - t), rtol=1e-4, atol=1e-5)

  def test_lesion_and_baselines(self):
    layer = HighwayConv()
    p = randomize(init(layer, self.XI))
    np.testing.assert_allclose(layer.apply({'params': p}, self.XI, lesion=True), self.XI)
    h = relu(conv_same(p['H'], self.XI))
    np.testing.assert_allclose(PlainConv().apply({'params': p}, self.XI), h, rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(ResidualConv().apply({'params': p}, self.XI), h + self.XI,
                               rtol=1e-4, atol=1e-5)


class TestErrors:

  @pytest.mark.parametrize('kwargs, match', [
      (dict(carry='both'), r"carry='both' is not one of 'coupled', 'independent'"),
      (dict(dim_match='crop'), r"dim_match='crop' is not one of"),
      (dict(dim_match='subsample'), r"dim_match='subsample' is not one of 'project', 'pad', None"),
      (dict(features=3, dim_match='pad'), r'input width 5 is wider than features 3'),
      (dict(features=3, dim_match=None), r'input width 5 != features 3'),
      (dict(dropout_rate=1.0), r'dropout_rate must be in \[0, 1\), got 1.0'),
      (dict(dropout_rate=-0.1), r'dropout_rate must be in \[0, 1\), got -0.1'),
  ])
  def test_bad_arguments(self, kwargs, match):
    with pytest.raises(ValueError, match=match):
      Highway(**kwargs).init(jax.random.key(0), X)

  def test_conv_rank(self):
    with pytest.raises(ValueError, match=r'NHWC input of rank 4, got shape \(3, 5\)'):
      HighwayConv().init(jax.random.key(0), X)

  def test_wrong_input_width_for_params(self):
    p = init(Highway(), X)
    with pytest.raises(ValueError, match=r'input feature size .* is 6, but the parameters expect 5'):
      Highway().apply({'params': p}, np.ones((3, 6), np.float32))

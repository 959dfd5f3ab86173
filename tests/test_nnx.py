"""Every public module under Flax NNX through ``flax.nnx.bridge.ToNNX``, and an NNX model that trains."""

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest
from flax import nnx

import highway_jax as hj

RNG = np.random.default_rng(0)


def rand(*shape):
  return jnp.asarray(RNG.standard_normal(shape), jnp.float32)


SEQ, LENGTHS = rand(2, 5, 3), jnp.array([5, 2])
CASES = {  # name -> (module, call arguments, call keyword arguments)
    'Highway': (hj.Highway(features=4), (rand(2, 3),), {}),     # 3 -> 4: with the projection
    'Plain': (hj.Plain(features=4), (rand(2, 4),), {}),
    'Residual': (hj.Residual(features=4), (rand(2, 4),), {}),
    'HighwayConv': (hj.HighwayConv(features=4), (rand(1, 4, 4, 4),), {}),
    'PlainConv': (hj.PlainConv(features=4), (rand(1, 4, 4, 4),), {}),
    'ResidualConv': (hj.ResidualConv(features=4), (rand(1, 4, 4, 4),), {}),
    'HighwayStack': (hj.HighwayStack(num_layers=3, features=4), (rand(2, 3),), {}),
    'LSTMCell': (hj.LSTMCell(4, peepholes=True), ((rand(2, 4), rand(2, 4)), rand(2, 3)), {}),
    'GRUCell': (hj.GRUCell(4, reset_after=False), (rand(2, 4), rand(2, 3)), {}),
    'SimpleRNNCell': (hj.SimpleRNNCell(4), (rand(2, 4), rand(2, 3)), {}),
    'RHNCell': (hj.RHNCell(4, depth=2), (rand(2, 4), rand(2, 3)), {}),
    'LSTM': (hj.LSTM(4, num_layers=2, bidirectional=True), (SEQ,), {'seq_lengths': LENGTHS}),
    'GRU': (hj.GRU(4, num_layers=2), (SEQ,), {'seq_lengths': LENGTHS}),
    'SimpleRNN': (hj.SimpleRNN(4, bidirectional=True), (SEQ,), {}),
    'RHN': (hj.RHN(4, depth=2, highway=True), (SEQ,), {'seq_lengths': LENGTHS}),
    'Recurrent': (hj.Recurrent(4, bidirectional=True, cell=hj.GRUCell), (SEQ,), {'seq_lengths': LENGTHS}),
    'GridLSTMBlock': (hj.GridLSTMBlock(4, num_dims=2),
                      ((rand(2, 4), rand(2, 4)), (rand(2, 4), rand(2, 4))), {}),
    'GridLSTM1D': (hj.GridLSTM1D(4, depth=2), (rand(2, 3),), {}),
    'GridLSTM2D': (hj.GridLSTM2D(4, depth=2), (SEQ,), {'seq_lengths': LENGTHS}),
    'GridLSTM3D': (hj.GridLSTM3D(4, depth=1), (rand(1, 3, 3, 2),), {}),
}


BASES = {'RecurrentCell', 'SequenceLayer'}  # abstract: covered through the cells and layers above


def test_every_public_module_is_covered():
  modules = {name for name in hj.__all__ if isinstance(getattr(hj, name), type)}
  assert modules == set(CASES) | BASES


def randomised(tree, seed):
  """The same tree with every leaf random (biases too), so equal outputs mean equal parameters."""
  rng = np.random.default_rng(seed)
  return jax.tree.map(lambda a: jnp.asarray(0.5 * rng.standard_normal(a.shape), a.dtype), tree)


@pytest.mark.parametrize('name', CASES)
def test_module_under_to_nnx_matches_linen(name):
  """Lazy init through the bridge (under nnx.eval_shape: shapes only, as when restoring weights; the
  training test below initialises for real), random parameters loaded, outputs equal Linen's apply."""
  module, args, kwargs = CASES[name]
  # The init key goes to the call: an nnx.Rngs held by the model would be abstract after eval_shape.
  model = nnx.eval_shape(
      lambda: nnx.bridge.ToNNX(module).lazy_init(*args, rngs=jax.random.key(0), **kwargs))
  state = nnx.state(model, nnx.Param)
  linen_params = jax.eval_shape(module.init, jax.random.key(0), *args, **kwargs)['params']
  assert jax.tree.map(jnp.shape, nnx.to_pure_dict(state)) == jax.tree.map(jnp.shape, dict(linen_params))
  params = randomised(nnx.to_pure_dict(state), seed=1)
  nnx.replace_by_pure_dict(state, params)
  nnx.update(model, state)
  got = nnx.jit(lambda model, args, kwargs: model(*args, **kwargs))(model, args, kwargs)
  want = jax.jit(module.apply)({'params': params}, *args, **kwargs)
  assert jax.tree.structure(got) == jax.tree.structure(want)
  jax.tree.map(lambda g, w: np.testing.assert_allclose(g, w, rtol=1e-6, atol=1e-6), got, want)


class Tagger(nnx.Module):
  """A per-step regressor in NNX around two Linen modules: a BiLSTM, a highway stack, a linear head."""

  def __init__(self, rngs: nnx.Rngs):
    self.lstm = nnx.bridge.ToNNX(hj.LSTM(8, bidirectional=True), rngs=rngs)
    self.stack = nnx.bridge.ToNNX(hj.HighwayStack(num_layers=2, features=16), rngs=rngs)
    self.head = nnx.Linear(16, 1, rngs=rngs)

  def __call__(self, x, lengths):
    y, _ = self.lstm(x, seq_lengths=lengths)
    return self.head(self.stack(y))[..., 0]


def test_nnx_model_with_bridged_modules_trains_and_matches_linen():
  x, lengths = rand(4, 6, 3), jnp.array([6, 4, 3, 1])
  mask = jnp.arange(6)[None, :] < lengths[:, None]
  target = jnp.where(mask, jnp.cumsum(x[..., 0], axis=1), 0.0)   # needs memory of earlier steps
  model = Tagger(nnx.Rngs(0))
  nnx.bridge.lazy_init(model, x, lengths)
  optimizer = nnx.Optimizer(model, optax.adam(1e-2), wrt=nnx.Param)

  @nnx.jit
  def train_step(model, optimizer):
    loss_fn = lambda model: jnp.sum(jnp.where(mask, model(x, lengths) - target, 0.0) ** 2) / mask.sum()
    loss, grads = nnx.value_and_grad(loss_fn)(model)
    optimizer.update(model, grads)
    return loss

  losses = [float(train_step(model, optimizer)) for _ in range(20)]
  assert losses[-1] < 0.7 * losses[0], losses

  # The trained NNX model computes the Linen modules' function with its parameters.
  lstm_params = nnx.to_pure_dict(nnx.state(model.lstm, nnx.Param))
  stack_params = nnx.to_pure_dict(nnx.state(model.stack, nnx.Param))
  y, _ = hj.LSTM(8, bidirectional=True).apply({'params': lstm_params}, x, seq_lengths=lengths)
  y = hj.HighwayStack(num_layers=2, features=16).apply({'params': stack_params}, y)
  want = y @ model.head.kernel[...] + model.head.bias[...]
  np.testing.assert_allclose(model(x, lengths), want[..., 0], rtol=1e-5, atol=1e-6)

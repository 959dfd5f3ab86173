"""Recurrent cells against the reference steps of tests/reference.py (values and gradients)."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from flax import linen as nn
from jax.test_util import check_grads
from reference import gate, randomize, ref_gru_step, ref_lstm_step, ref_rhn_step, ref_simple_step

from highway_jax.cells import GRUCell, LSTMCell, RHNCell, SimpleRNNCell

B, F, H = 3, 4, 5


# name -> (cell factory(features), reference step(params, carry, x))
CELLS = {
    'lstm': (lambda f: LSTMCell(f), ref_lstm_step),
    'lstm_peepholes': (lambda f: LSTMCell(f, peepholes=True),
                       lambda p, c, x: ref_lstm_step(p, c, x, peepholes=True)),
    'gru_reset_after': (lambda f: GRUCell(f), ref_gru_step),
    'gru_reset_before': (lambda f: GRUCell(f, reset_after=False),
                         lambda p, c, x: ref_gru_step(p, c, x, reset_after=False)),
    'simple_rnn': (lambda f: SimpleRNNCell(f), ref_simple_step),
    'simple_rnn_relu': (lambda f: SimpleRNNCell(f, activation=nn.relu),
                        lambda p, c, x: ref_simple_step(p, c, x, activation=jax.nn.relu)),
    'rhn': (lambda f: RHNCell(f, depth=3), ref_rhn_step),
}


def setup_cell(name, in_features=F, batch_shape=(B,), seed=0):
  """A cell with random params (from shapes only, initialising costs compile time), carry and input."""
  factory, ref = CELLS[name]
  cell = factory(H)
  x = randomize(np.zeros((*batch_shape, in_features)), seed, scale=1.0)
  carry = randomize(cell.initialize_carry(jax.random.key(0), x.shape), seed + 1, scale=1.0)
  shapes = jax.eval_shape(lambda: cell.init(jax.random.key(0), carry, x)['params'])
  params = randomize(shapes, seed + 2)
  return cell, ref, params, carry, x


@pytest.mark.parametrize('name', list(CELLS))
def test_cell_step_and_gradients_match_reference(name):
  cell, ref, params, carry, x = setup_cell(name)
  ours_step = lambda p, c, x: cell.apply({'params': p}, c, x)

  def loss(step):
    def f(p, c, x):
      new_c, y = step(p, c, x)
      # Weight every output differently so that swapped entries cannot cancel.
      w = jnp.linspace(0.5, 1.5, y.size).reshape(y.shape)
      return jnp.sum(w * y) + sum(jnp.sum(jnp.sin(l)) for l in jax.tree.leaves(new_c))
    return jax.grad(f, argnums=(0, 1, 2))

  run = jax.jit(lambda *a: [(step(*a), loss(step)(*a)) for step in (ours_step, ref)])
  ours, theirs = run(params, carry, x)
  # (new_carry, y) and the gradients wrt (params, carry, x)
  jax.tree.map(lambda a, b: np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6), ours, theirs)


@pytest.mark.parametrize('name', ['lstm_peepholes', 'gru_reset_before', 'rhn'])
def test_cell_check_grads(name):
  cell, _, params, carry, x = setup_cell(name, in_features=2, batch_shape=(2,), seed=1)
  check_grads(jax.jit(lambda p, c, x: cell.apply({'params': p}, c, x)), (params, carry, x), order=1,
              modes=('rev',), atol=1e-2, rtol=1e-2)


def test_parameter_layouts_and_initialisation():
  x = jnp.ones((B, F))
  key = jax.random.key(0)

  def init(cell):
    return cell.init(key, cell.initialize_carry(key, x.shape), x)['params']

  shapes = lambda p: jax.tree.map(jnp.shape, p)
  lstm = init(LSTMCell(H, peepholes=True, forget_bias_init=1.5))
  assert shapes(lstm) == {
      'input': {'kernel': (F, 4 * H)},
      'recurrent': {'kernel': (H, 4 * H), 'bias': (4 * H,)},
      'peephole': {'i': (H,), 'f': (H,), 'o': (H,)},
  }
  # Fused order i, f, g, o: only the forget slice of the bias starts at forget_bias_init.
  np.testing.assert_array_equal(lstm['recurrent']['bias'],
                                np.r_[np.zeros(H), np.full(H, 1.5), np.zeros(2 * H)])
  # Each recurrent gate block is an independent orthogonal matrix.
  for k in range(4):
    u = np.asarray(gate(lstm['recurrent']['kernel'], k, H))
    np.testing.assert_allclose(u.T @ u, np.eye(H), atol=1e-5)
  assert 'peephole' not in init(LSTMCell(H))

  gru = init(GRUCell(H))
  assert shapes(gru) == {'input': {'kernel': (F, 3 * H), 'bias': (3 * H,)},
                         'recurrent': {'kernel': (H, 3 * H), 'bias': (3 * H,)}}
  simple = init(SimpleRNNCell(H))
  assert shapes(simple) == {'input': {'kernel': (F, H), 'bias': (H,)},
                            'recurrent': {'kernel': (H, H), 'bias': (H,)}}
  rhn = init(RHNCell(H, depth=3, transform_bias_init=-3.0))
  assert shapes(rhn) == {'input': {'kernel': (F, 2 * H)},
                         'layers': {'H': {'kernel': (3, H, H), 'bias': (3, H)},
                                    'T': {'kernel': (3, H, H), 'bias': (3, H)}}}
  np.testing.assert_array_equal(rhn['layers']['T']['bias'], np.full((3, H), -3.0))
  np.testing.assert_array_equal(rhn['layers']['H']['bias'], np.zeros((3, H)))
  # nn.scan splits the init key per micro-layer: the layers' kernels differ.
  assert not np.allclose(rhn['layers']['H']['kernel'][0], rhn['layers']['H']['kernel'][1])


def test_initialize_carry_and_extra_batch_axes():
  """Cells accept any leading batch axes, and carries match Flax's convention."""
  shape = (2, 3, F)
  assert jax.tree.map(jnp.shape, LSTMCell(H).initialize_carry(jax.random.key(0), shape)) == ((2, 3, H),) * 2
  for cell in (GRUCell(H), SimpleRNNCell(H), RHNCell(H, depth=2)):
    assert cell.initialize_carry(jax.random.key(0), shape).shape == (2, 3, H)
    assert cell.num_feature_axes == 1
  cell, ref, params, carry, x = setup_cell('lstm_peepholes', batch_shape=(2, 3))
  (_, y), (_, ref_y) = cell.apply({'params': params}, carry, x), ref(params, carry, x)
  np.testing.assert_allclose(y, ref_y, rtol=1e-5, atol=1e-6)


def test_rhn_depth_one_in_float64_numpy():
  """At depth 1, s' = tanh(W_H x + R_H s + b_H)·t + s·(1 − t), t = σ(W_T x + R_T s + b_T), in NumPy."""
  cell = RHNCell(H, depth=1)
  s, x = randomize(np.zeros((B, H)), 1, scale=1.0), randomize(np.zeros((B, F)), 2, scale=1.0)
  p = randomize(jax.eval_shape(lambda: cell.init(jax.random.key(0), s, x)['params']), 3)
  np64 = lambda a: np.asarray(a, np.float64)
  W, s64, x64 = np64(p['input']['kernel']), np64(s), np64(x)
  RH, bH = np64(p['layers']['H']['kernel'][0]), np64(p['layers']['H']['bias'][0])
  RT, bT = np64(p['layers']['T']['kernel'][0]), np64(p['layers']['T']['bias'][0])
  h = np.tanh(x64 @ W[:, :H] + s64 @ RH + bH)
  t = 1 / (1 + np.exp(-(x64 @ W[:, H:] + s64 @ RT + bT)))
  new_s, y = cell.apply({'params': p}, s, x)
  np.testing.assert_allclose(new_s, h * t + s64 * (1 - t), rtol=1e-5, atol=1e-6)
  np.testing.assert_array_equal(new_s, y)


def test_cells_run_inside_flax_rnn_against_reference_loop():
  """nn.RNN(our cell) over a sequence equals a Python loop of the reference step."""
  T = 4
  for name in ('lstm_peepholes', 'gru_reset_before', 'rhn'):
    cell, ref, params, _, _ = setup_cell(name)
    xs = randomize(np.zeros((B, T, F)), 5, scale=1.0)
    ys = nn.RNN(cell).apply({'params': {'cell': params}}, xs)
    carry = cell.initialize_carry(jax.random.key(0), (B, F))
    for t in range(T):
      carry, y = ref(params, carry, xs[:, t])
      np.testing.assert_allclose(ys[:, t], y, rtol=1e-5, atol=1e-6)


def test_bad_inputs_raise_value_errors():
  cell = LSTMCell(H)
  x = jnp.ones((B, F))
  carry = cell.initialize_carry(jax.random.key(0), x.shape)
  variables = cell.init(jax.random.key(1), carry, x)
  with pytest.raises(ValueError, match=r"inputs has 6 features .* expect 4"):
    cell.apply(variables, carry, jnp.ones((B, 6)))
  with pytest.raises(ValueError, match=r"carry arrays must have shape .*\(3, 5\).* got \(3, 7\)"):
    cell.apply(variables, (jnp.ones((B, 7)), jnp.ones((B, 7))), x)
  with pytest.raises(ValueError, match=r"depth must be >= 1, got 0"):
    RHNCell(H, depth=0).init(jax.random.key(0), jnp.zeros((B, H)), x)
  with pytest.raises(ValueError, match=r"features must be >= 1, got 0"):
    GRUCell(0).init(jax.random.key(0), jnp.zeros((B, 0)), x)

"""The chunked backward (``backward_chunk=K``, ``recurrent.chunked_backward_scan``) against the plain scan.

The plain ``lax.scan`` differentiated by JAX is the reference: outputs, final carries and the gradients
w.r.t. every parameter (biases and peepholes too, all random), the inputs and the initial carries must
agree to 1e-5 relative, with masking, both directions, two stacked layers, hoisting, unrolling and a
chunk that does not divide the sequence length.
"""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from reference import randomize

from highway_jax import recurrent
from highway_jax.recurrent import GRU, LSTM, RHN, SimpleRNN

B, T, F, H = 3, 6, 4, 5
LENGTHS = jnp.array([6, 2, 0])

CELLS = {'lstm': (LSTM, {}), 'lstm peepholes': (LSTM, {'peepholes': True}), 'gru': (GRU, {}),
         'rnn': (SimpleRNN, {})}


def _outputs_and_grads(layer, params, x, carry):
  """Outputs, final carry and the gradients of a loss with random weights on every output."""
  def loss(params, x, carry):
    y, final = layer.apply({'params': params}, x, seq_lengths=LENGTHS, initial_carry=carry)
    weights = randomize((y, final), seed=7, scale=1.0)
    return sum(jnp.sum(a * w) for a, w in zip(jax.tree.leaves((y, final)), jax.tree.leaves(weights))), (y, final)

  grads, out = jax.jit(jax.grad(loss, argnums=(0, 1, 2), has_aux=True))(params, x, carry)
  return out, grads


def _assert_close(got, want):
  for g, w in zip(jax.tree.leaves(got), jax.tree.leaves(want), strict=True):
    assert g.shape == w.shape
    assert float(jnp.max(jnp.abs(g - w))) <= 1e-5 * float(jnp.max(jnp.abs(w))) + 1e-7


def _case(name, num_layers):
  cls, kwargs = CELLS[name]
  layer = lambda **o: cls(H, num_layers=num_layers, bidirectional=True, **kwargs, **o)
  x = randomize(np.zeros((B, T, F)), seed=0, scale=1.0)
  (_, carry), variables = jax.eval_shape(lambda: layer().init_with_output(jax.random.key(0), x))
  return layer, randomize(variables['params'], seed=1), x, randomize(carry, seed=2, scale=1.0)


@pytest.mark.parametrize('name', list(CELLS))
@pytest.mark.parametrize('num_layers, options', [
    (2, {'backward_chunk': 4}), (1, {'backward_chunk': T, 'unroll': 2, 'hoist_input_projection': True})],
    ids=['2 layers, K=4 (runs as 3)', 'K=T, unroll=2, hoisted'])
def test_chunked_backward_matches_plain_scan(name, num_layers, options):
  layer, params, x, carry = _case(name, num_layers)
  want = _outputs_and_grads(layer(backward_chunk=0, unroll=1, hoist_input_projection=False), params, x, carry)
  got = _outputs_and_grads(layer(**options), params, x, carry)
  _assert_close(got, want)


def _uses_chunked_backward(layer, x):
  params = jax.eval_shape(lambda: layer.init(jax.random.key(0), x))
  return 'custom_vjp' in str(jax.make_jaxpr(lambda p: layer.apply(p, x))(params))


def test_chunked_backward_only_where_the_step_is_pointwise_of_one_matmul():
  x = jnp.ones((B, T, F))
  for layer in (LSTM(H, backward_chunk=2), GRU(H, backward_chunk=2), SimpleRNN(H, backward_chunk=2)):
    assert _uses_chunked_backward(layer, x), layer
  # Per-gate weights, the v3 GRU (r·h enters the matmul) and RHN keep JAX's own scan gradient.
  for layer in (LSTM(H, backward_chunk=2, fuse_gates=False), GRU(H, backward_chunk=2, reset_after=False),
                RHN(H, depth=2, backward_chunk=2), LSTM(H, backward_chunk=0)):
    assert not _uses_chunked_backward(layer, x), layer


def test_cpu_default_chunked_backward_only_from_its_minimum_size():
  # Tests run on CPU: BACKEND_DEFAULTS['cpu'] turns the LSTM's chunked backward on from 256 features.
  minimum = recurrent.BACKEND_DEFAULTS['cpu']['backward_chunk_min_features']
  assert jax.default_backend() == 'cpu' and minimum > 1
  x = jnp.ones((2, 3, 4))
  assert _uses_chunked_backward(LSTM(minimum), x) and not _uses_chunked_backward(LSTM(minimum - 1), x)
  assert _uses_chunked_backward(LSTM(minimum - 1, backward_chunk=5), x)  # an explicit K always applies
  assert not _uses_chunked_backward(GRU(minimum), x)  # the default is the LSTM's only


@pytest.mark.parametrize('options', [{'backward_chunk': -1}, {'unroll': 0}])
def test_bad_speed_options_raise(options):
  with pytest.raises(ValueError, match='unroll must be >= 1 and backward_chunk >= 0'):
    LSTM(H, **options).init(jax.random.key(0), jnp.ones((B, T, F)))

"""Sequence layers against a per-sequence loop of the reference cell steps of tests/reference.py.

The reference runs each sequence of the batch alone on its valid part (``x[b, :len_b]``), the backward
direction on the reversed valid part, and stacks layers with explicitly sliced parameters, so masking,
bidirectionality, stacking and the highway connection are all checked against independent code.
"""

import functools

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from flax import linen as nn
from jax.test_util import check_grads
from reference import (
  randomize,
  ref_gru_step,
  ref_lstm_step,
  ref_rhn_step,
  ref_simple_step,
  ref_toy_step,
  sigmoid,
)

from highway_jax.cells import GRUCell, LSTMCell, RecurrentCell, SimpleRNNCell
from highway_jax.recurrent import GRU, LSTM, RHN, Recurrent, SimpleRNN

B, T, F, H = 3, 5, 4, 3
LENGTHS = np.array([5, 2, 4])

assert_close = functools.partial(np.testing.assert_allclose, rtol=2e-5, atol=2e-6)


def tree_close(a, b):
  jax.tree.map(assert_close, a, b)


def ref_direction(step, p, xs, carry):
  """Runs one unpadded sequence xs (time, in) from carry (batch axis 1); returns (ys, final carry).

  A plain lax.scan over exactly the valid steps: it compiles much faster than an unrolled Python loop.
  """
  if xs.shape[0] == 0:
    return jnp.zeros((0, H)), carry

  def body(carry, x):
    carry, y = step(p, carry, x[None])
    return carry, y[0]

  carry, ys = jax.lax.scan(body, carry, xs)
  return ys, carry


def layer_params(params, l):
  return params['layer_0'] if l == 0 else jax.tree.map(lambda a: a[l - 1], params['layers'])


def ref_sequence_layer(step, params, x, lengths, *, num_layers, bidirectional, highway,
                       initial_carry=None, lstm=False):
  """Reference for the whole sequence layer: outputs (B, T, D·H) and the final carry structure."""
  outputs, finals = [], [[] for _ in range(num_layers)]
  for b in range(x.shape[0]):
    length = int(lengths[b])
    seq = x[b, :length]
    for l in range(num_layers):
      p = layer_params(params, l)
      if initial_carry is None:
        init = None
      else:
        layer_carry = initial_carry if num_layers == 1 else initial_carry[l]
        init = jax.tree.map(lambda a: a[b:b + 1], layer_carry)
      zeros = lambda: (jnp.zeros((1, H)),) * 2 if lstm else jnp.zeros((1, H))
      c_f = zeros() if init is None else (init[0] if bidirectional else init)
      y, c_f = ref_direction(step, p['forward'], seq, c_f)
      final = c_f
      if bidirectional:
        c_b = zeros() if init is None else init[1]
        y_b, c_b = ref_direction(step, p['backward'], seq[::-1], c_b)
        y = jnp.concatenate([y, y_b[::-1]], axis=-1)
        final = (c_f, c_b)
      if highway:
        t = sigmoid(seq @ p['T']['kernel'] + p['T']['bias'])
        carried = seq @ p['proj']['kernel'] + p['proj']['bias'] if 'proj' in p else seq
        y = y * t + carried * (1.0 - t)
      finals[l].append(final)
      seq = y
    outputs.append(jnp.pad(seq, ((0, x.shape[1] - length), (0, 0))))
  cat = lambda per_example: jax.tree.map(lambda *a: jnp.concatenate(a), *per_example)
  finals = [cat(f) for f in finals]
  return jnp.stack(outputs), (finals[0] if num_layers == 1 else tuple(finals))


class ToyCell(RecurrentCell):
  """A new cell through the protocol, three methods: h' = tanh(W x + U h + b)."""

  def make_params(self, in_features):
    return {'W': self.param('W', self.kernel_init, (in_features, self.features), self.param_dtype),
            'U': self.param('U', self.recurrent_kernel_init, (self.features,) * 2, self.param_dtype),
            'b': self.param('b', self.bias_init, (self.features,), self.param_dtype)}

  def project_input(self, weights, x):
    return x @ weights['W'] + weights['b']

  def step(self, weights, h, projected):
    h = jnp.tanh(projected + h @ weights['U'])
    return h, h


# name -> (layer factory(**kwargs), reference step); LSTM carries are (c, h)
KINDS = {
    'toy': (lambda **kw: Recurrent(H, cell=ToyCell, **kw), ref_toy_step),
    'lstm': (lambda **kw: LSTM(H, **kw), ref_lstm_step),
    'lstm_peepholes': (lambda **kw: LSTM(H, peepholes=True, **kw),
                       lambda p, c, x: ref_lstm_step(p, c, x, peepholes=True)),
    'gru_reset_after': (lambda **kw: GRU(H, **kw), ref_gru_step),
    'gru_reset_before': (lambda **kw: GRU(H, reset_after=False, **kw),
                         lambda p, c, x: ref_gru_step(p, c, x, reset_after=False)),
    'simple_rnn': (lambda **kw: SimpleRNN(H, **kw), ref_simple_step),
    'rhn': (lambda **kw: RHN(H, depth=2, **kw), ref_rhn_step),
}


def make_inputs(seed=0, pad_value=None):
  x = randomize(np.zeros((B, T, F)), seed, scale=1.0)
  if pad_value is not None:  # garbage at padded positions must not leak anywhere
    mask = np.arange(T)[None, :, None] < LENGTHS[:, None, None]
    x = jnp.where(mask, x, pad_value)
  return x


def random_params(layer, x, seed=0):
  """Random parameters in the layer's layout (from shapes only: initialising would cost compile time)."""
  shapes = jax.eval_shape(lambda: layer.init(jax.random.key(0), x)['params'])
  return randomize(jax.tree.map(lambda s: np.zeros(s.shape), shapes), seed)


def random_initial_carry(layer, seed):
  _, carry = jax.eval_shape(lambda: layer.init_with_output(jax.random.key(0), make_inputs()))[0]
  return randomize(jax.tree.map(lambda s: np.zeros(s.shape), carry), seed, scale=1.0)


CONFIGS = [
    # (kind, num_layers, bidirectional, highway, masked, initial carry)
    ('lstm', 1, False, False, False, False),
    ('lstm_peepholes', 2, True, False, True, True),
    ('gru_reset_after', 1, True, False, True, False),
    ('gru_reset_before', 2, False, False, True, True),
    ('simple_rnn', 3, False, False, True, False),
    ('rhn', 2, False, False, True, True),
    ('lstm', 2, True, True, True, False),
    ('gru_reset_after', 2, False, True, True, True),
    # A cell added through the protocol gets stacking, both directions, masking and highway.
    ('toy', 2, True, True, True, True),
]


@pytest.mark.parametrize('kind,num_layers,bidirectional,highway,masked,with_carry', CONFIGS)
def test_layer_matches_reference(kind, num_layers, bidirectional, highway, masked, with_carry):
  factory, step = KINDS[kind]
  kw = dict(num_layers=num_layers, bidirectional=bidirectional, highway=highway)
  # Every speed option computes the same function.
  variants = [factory(hoist_input_projection=False, fuse_gates=True, **kw),
              factory(hoist_input_projection=True, unroll=2, fuse_gates=False, **kw)]
  x = make_inputs(pad_value=7.0 if masked else None)
  lengths = jnp.asarray(LENGTHS) if masked else None
  params = random_params(variants[0], x, 2)
  carry0 = random_initial_carry(variants[0], 3) if with_carry else None

  def loss(apply):
    def f(p, x, c0):
      y, c = apply(p, x, c0)
      w = jnp.linspace(0.5, 1.5, y.size).reshape(y.shape)
      return jnp.sum(w * y) + sum(jnp.sum(jnp.sin(l)) for l in jax.tree.leaves(c)), (y, c)
    return jax.grad(f, argnums=(0, 1, 2), has_aux=True)

  @jax.jit
  def run(p, x, c0, lengths):
    ours = [loss(lambda p, x, c0, v=v: v.apply({'params': p}, x, seq_lengths=lengths,
                                                 initial_carry=c0))(p, x, c0) for v in variants]
    ref_lengths = LENGTHS if masked else np.full(B, T)
    theirs = loss(lambda p, x, c0: ref_sequence_layer(
        step, p, x, ref_lengths, initial_carry=c0, lstm=kind.startswith('lstm'), **kw))(p, x, c0)
    return ours, theirs

  ours, (ref_grads, (ref_y, ref_c)) = run(params, x, carry0, lengths)
  for grads, (y, c) in ours:
    assert y.shape == (B, T, H * (2 if bidirectional else 1))
    assert_close(y, ref_y)
    tree_close(c, ref_c)
    tree_close(grads, ref_grads)
    if masked:  # exactly zero, not just close
      pad = np.arange(T)[None, :] >= LENGTHS[:, None]
      assert np.all(np.asarray(y)[pad] == 0.0)


def test_masked_batch_equals_each_sequence_alone():
  layer = LSTM(H, num_layers=2, bidirectional=True, highway=True, peepholes=True)
  x = make_inputs(seed=4, pad_value=-3.0)
  params = random_params(layer, x, 1)
  apply = jax.jit(lambda x, l: layer.apply({'params': params}, x, seq_lengths=l))
  y, carry = apply(x, jnp.asarray(LENGTHS))
  for b, length in enumerate(LENGTHS):
    y_b, carry_b = jax.jit(lambda x: layer.apply({'params': params}, x))(x[b:b + 1, :length])
    assert_close(y[b, :length], y_b[0])
    assert np.all(np.asarray(y[b, length:]) == 0.0)
    tree_close(jax.tree.map(lambda a: a[b:b + 1], carry), carry_b)


def flip_valid(x, lengths):
  """Reverse each sequence's valid part, leaving the padding at the end."""
  out = np.array(x)
  for b, length in enumerate(lengths):
    out[b, :length] = out[b, :length][::-1]
  return jnp.asarray(out)


def test_bidirectional_is_forward_plus_flipped_backward():
  kw = dict(reset_after=False)
  bi, uni = GRU(H, bidirectional=True, **kw), GRU(H, **kw)
  x = make_inputs(seed=5, pad_value=2.0)
  lengths = jnp.asarray(LENGTHS)
  params = random_params(bi, x, 1)
  one = lambda d: {'layer_0': {'forward': params['layer_0'][d]}}
  run = jax.jit(lambda layer, p, x: layer.apply({'params': p}, x, seq_lengths=lengths), static_argnums=0)
  y, (c_f, c_b) = run(bi, params, x)
  y_f, c_f1 = run(uni, one('forward'), x)
  y_b, c_b1 = run(uni, one('backward'), flip_valid(x, LENGTHS))
  assert_close(y, jnp.concatenate([y_f, flip_valid(y_b, LENGTHS)], axis=-1))
  assert_close(c_f, c_f1)
  assert_close(c_b, c_b1)


def test_flax_rnn_and_bidirectional_with_our_cells_agree_with_our_layers():
  x = make_inputs(seed=6)
  lengths = jnp.asarray(LENGTHS)
  valid = np.arange(T)[None, :] < LENGTHS[:, None]
  lstm = LSTM(H, peepholes=True)
  flax_lstm = nn.RNN(LSTMCell(H, peepholes=True), return_carry=True)
  bi_layers = {'gru': (GRU(H, bidirectional=True), GRUCell), 'simple': (SimpleRNN(H, bidirectional=True),
                                                                        SimpleRNNCell)}
  params = {'lstm': random_params(lstm, x, 1)}
  params.update({k: random_params(layer, x, 3)['layer_0'] for k, (layer, _) in bi_layers.items()})

  @jax.jit
  def run(params):
    pairs = {'lstm': (lstm.apply({'params': params['lstm']}, x, seq_lengths=lengths),
                      flax_lstm.apply({'params': {'cell': params['lstm']['layer_0']['forward']}}, x,
                                      seq_lengths=lengths)[::-1])}
    for k, (layer, cell_type) in bi_layers.items():
      p = params[k]
      flax_bi = nn.Bidirectional(nn.RNN(cell_type(H)), nn.RNN(cell_type(H)), return_carry=True)
      flax_vars = {'params': {'forward_rnn': {'cell': p['forward']}, 'backward_rnn': {'cell': p['backward']}}}
      pairs[k] = (layer.apply({'params': {'layer_0': p}}, x, seq_lengths=lengths),
                  flax_bi.apply(flax_vars, x, seq_lengths=lengths)[::-1])
    return pairs

  for (y, carry), (flax_y, flax_carry) in run(params).values():
    # nn.RNN leaves padded outputs unspecified; compare the valid ones.
    assert_close(np.asarray(y)[valid], np.asarray(flax_y)[valid])
    tree_close(carry, flax_carry)


def test_stacked_layers_equal_layer_by_layer():
  kw = dict(bidirectional=True, highway=True, transform_bias_init=-1.0)
  stacked, single = LSTM(H, num_layers=3, **kw), LSTM(H, num_layers=1, **kw)
  x = make_inputs(seed=7)
  lengths = jnp.asarray(LENGTHS)
  params = random_params(stacked, x, 1)
  # Layers after the first are one nn.scan: every leaf has a leading num_layers - 1 axis.
  assert params['layers']['forward']['input']['kernel'].shape == (2, 2 * H, 4 * H)
  assert params['layers']['T']['kernel'].shape == (2, 2 * H, 2 * H)
  assert 'proj' in params['layer_0'] and 'proj' not in params['layers']

  @jax.jit
  def run(params):
    h, carries = x, []
    for l in range(3):
      h, carry = single.apply({'params': {'layer_0': layer_params(params, l)}}, h, seq_lengths=lengths)
      carries.append(carry)
    return stacked.apply({'params': params}, x, seq_lengths=lengths), (h, tuple(carries))

  (y, carries), (y_ref, carries_ref) = run(params)
  assert_close(y, y_ref)
  tree_close(carries, carries_ref)


def test_final_carry_structure():
  x = jnp.ones((2, 3, F))
  shapes = lambda layer: jax.tree.map(
      jnp.shape, jax.eval_shape(lambda: layer.init_with_output(jax.random.key(0), x))[0][1])
  s = (2, H)
  assert shapes(LSTM(H)) == (s, s)
  assert shapes(GRU(H)) == s
  assert shapes(LSTM(H, bidirectional=True)) == ((s, s), (s, s))
  assert shapes(GRU(H, num_layers=2, bidirectional=True)) == ((s, s), (s, s))
  assert shapes(LSTM(H, num_layers=2, bidirectional=True)) == (((s, s), (s, s)), ((s, s), (s, s)))
  assert shapes(RHN(H, num_layers=3, depth=2)) == (s, s, s)


def test_highway_gate_limits_and_initialisation():
  layer = LSTM(H, bidirectional=True, highway=True, transform_bias_init=-1.5)
  plain = LSTM(H, bidirectional=True)
  x = make_inputs(seed=8)
  params = jax.jit(layer.init)(jax.random.key(0), x)['params']
  np.testing.assert_array_equal(params['layer_0']['T']['bias'], np.full(2 * H, -1.5))
  params = randomize(params, 1)
  apply = jax.jit(lambda p: layer.apply({'params': p}, x)[0])
  params['layer_0']['T']['bias'] = jnp.full(2 * H, -50.0)  # T = 0: the layer carries (projected) x
  proj = params['layer_0']['proj']
  assert_close(apply(params), x @ proj['kernel'] + proj['bias'])
  params['layer_0']['T']['bias'] = jnp.full(2 * H, 50.0)  # T = 1: the plain BiLSTM
  rnn_only = {k: v for k, v in params['layer_0'].items() if k in ('forward', 'backward')}
  assert_close(apply(params), jax.jit(plain.apply)({'params': {'layer_0': rnn_only}}, x)[0])


def test_zero_length_sequence_returns_initial_carry():
  layer = GRU(H, bidirectional=True)
  x = make_inputs(seed=9)
  params = random_params(layer, x, 0)
  carry0 = random_initial_carry(layer, 1)
  y, carry = layer.apply({'params': params}, x, seq_lengths=jnp.array([0, 5, 1]), initial_carry=carry0)
  assert np.all(np.asarray(y[0]) == 0.0)
  tree_close(jax.tree.map(lambda a: a[0], carry), jax.tree.map(lambda a: a[0], carry0))


def test_dropout_only_between_layers():
  x = make_inputs(seed=10)
  one, two = LSTM(H, dropout_rate=0.5), LSTM(H, num_layers=2, dropout_rate=0.5)
  p1, p2 = random_params(one, x, 0), random_params(two, x, 1)

  @jax.jit
  def run(k1, k2):
    drop = lambda layer, p, k: layer.apply({'params': p}, x, deterministic=False, rngs={'dropout': k})[0]
    return dict(
        one_dropped=drop(one, p1, k1), one_det=one.apply({'params': p1}, x)[0],
        two_det=two.apply({'params': p2}, x)[0],
        two_plain=LSTM(H, num_layers=2).apply({'params': p2}, x)[0],
        two_a=drop(two, p2, k1), two_b=drop(two, p2, k2))

  out = run(jax.random.key(1), jax.random.key(2))
  # A single layer has nothing between layers to drop; deterministic=True drops nothing.
  assert_close(out['one_dropped'], out['one_det'])
  assert_close(out['two_det'], out['two_plain'])
  assert not np.allclose(out['two_a'], out['two_det'])
  assert not np.allclose(out['two_a'], out['two_b'])


def test_check_grads_tiny_masked_bidirectional():
  layer = LSTM(2, bidirectional=True, peepholes=True)
  x = randomize(np.zeros((2, 3, 2)), 0, scale=1.0)
  params = random_params(layer, x, 2)
  lengths = jnp.array([3, 2])
  f = jax.jit(lambda p, x: layer.apply({'params': p}, x, seq_lengths=lengths))
  check_grads(f, (params, x), order=1, modes=('rev',), atol=1e-2, rtol=1e-2)


def test_bad_inputs_raise_value_errors():
  layer = LSTM(H)
  x = make_inputs()
  variables = {'params': random_params(layer, x)}
  with pytest.raises(ValueError, match=r'inputs must have shape \(batch, time, features\).*\(5, 4\)'):
    layer.apply(variables, x[0])
  with pytest.raises(ValueError, match=r'inputs has 6 features .* expect 4'):
    layer.apply(variables, jnp.ones((B, T, 6)))
  with pytest.raises(ValueError, match=r'num_layers must be >= 1, got 0'):
    LSTM(H, num_layers=0).init(jax.random.key(0), x)
  with pytest.raises(ValueError, match=r'seq_lengths must have shape \(batch,\) = \(3,\), got \(3, 1\)'):
    layer.apply(variables, x, seq_lengths=jnp.ones((B, 1), jnp.int32))
  with pytest.raises(ValueError, match=r'seq_lengths must lie in \[0, time\] = \[0, 5\], got .* to 6'):
    layer.apply(variables, x, seq_lengths=jnp.array([1, 6, 2]))
  with pytest.raises(ValueError, match=r'seq_lengths must lie in \[0, time\].*got values from -1'):
    layer.apply(variables, x, seq_lengths=jnp.array([1, -1, 2]))
  with pytest.raises(ValueError, match=r'seq_lengths must be integers, got dtype float32'):
    layer.apply(variables, x, seq_lengths=jnp.array([1.0, 2.0, 3.0]))
  with pytest.raises(ValueError, match=r'initial_carry must be the layer carry'):
    layer.apply(variables, x, initial_carry=jnp.zeros((B, H)))
  with pytest.raises(ValueError, match=r'initial_carry must be a tuple of 2 layer carries'):
    LSTM(H, num_layers=2).init(jax.random.key(0), x, initial_carry=(jnp.zeros((B, H)),) * 2)
  with pytest.raises(ValueError, match=r'dropout_rate must be in \[0, 1\), got 1.0'):
    LSTM(H, dropout_rate=1.0).init(jax.random.key(0), x)
  with pytest.raises(ValueError, match=r'depth must be >= 1, got 0'):
    RHN(H, depth=0).init(jax.random.key(0), x)


@pytest.mark.parametrize('dtype', [jnp.int32, jnp.bool_])
@pytest.mark.parametrize('layer', [LSTM(H), GRU(H, bidirectional=True), Recurrent(H, cell=SimpleRNNCell),
                                   nn.RNN(LSTMCell(H))])
def test_int_or_bool_inputs_raise(layer, dtype):
  """Integer or boolean inputs are a forgotten cast (or embedding): one line naming inputs, not a silent cast."""
  x = jnp.ones((B, T, F), dtype)
  with pytest.raises(ValueError, match=rf'^inputs must have a float dtype, got {jnp.dtype(dtype)}; cast them'):
    layer.init(jax.random.key(0), x)


def test_toy_cell_runs_in_flax_rnn_and_recurrent_takes_any_cell():
  """The protocol also gives a new cell __call__/initialize_carry (nn.RNN), and Recurrent(cell=LSTMCell)
  is LSTM with the same parameters."""
  x = make_inputs(seed=11)
  cell = ToyCell(H)
  params = randomize(jax.eval_shape(lambda: nn.RNN(cell).init(jax.random.key(0), x))['params'], 2)
  ys = nn.RNN(cell).apply({'params': params}, x)
  ref_ys, _ = ref_direction(ref_toy_step, params["cell"], x[0], jnp.zeros((1, H)))
  assert_close(ys[0], ref_ys)
  generic = Recurrent(H, 2, cell=LSTMCell, cell_options={'peepholes': True})
  lstm = LSTM(H, 2, peepholes=True)
  p = random_params(lstm, x, 3)
  assert jax.tree.map(jnp.shape, random_params(generic, x, 3)) == jax.tree.map(jnp.shape, p)
  tree_close(generic.apply({'params': p}, x), lstm.apply({'params': p}, x))


@pytest.mark.parametrize('kind', ['lstm', 'gru_reset_after', 'simple_rnn', 'rhn', 'toy'])
def test_padding_is_inert(kind):
  """NaN or Inf at padded steps changes neither outputs, final carries nor parameter gradients, uni- and
  bidirectional, with highway connections."""
  factory, _ = KINDS[kind]
  layers = [factory(), factory(num_layers=2, bidirectional=True, highway=True)]
  clean = make_inputs(seed=12)
  padded = np.arange(T)[None, :, None] >= LENGTHS[:, None, None]
  lengths = jnp.asarray(LENGTHS)

  def loss(layer):
    def f(p, x):
      y, c = layer.apply({'params': p}, x, seq_lengths=lengths)
      return jnp.sum(jnp.sin(y)) + sum(jnp.sum(l) for l in jax.tree.leaves(c)), (y, c)
    return jax.grad(f, has_aux=True)

  @jax.jit
  def run(params):
    return [[loss(layer)(p, jnp.where(padded, bad, clean)) for bad in (clean, jnp.nan, jnp.inf)]
            for layer, p in zip(layers, params)]

  for (ref, *dirty) in run([random_params(layer, clean, 4) for layer in layers]):
    assert all(np.all(np.isfinite(l)) for l in jax.tree.leaves(ref))
    for result in dirty:
      tree_close(result, ref)


def test_out_of_range_lengths_under_jit_are_clamped():
  """Traced lengths cannot be range-checked: above time acts as time, negative as 0 (documented)."""
  layer = GRU(H, bidirectional=True)
  x = make_inputs(seed=13)
  params = random_params(layer, x, 5)
  apply = jax.jit(lambda lengths: layer.apply({'params': params}, x, seq_lengths=lengths))
  tree_close(apply(jnp.array([9, -2, 4])), apply(jnp.array([T, 0, 4])))

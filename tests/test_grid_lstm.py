"""Grid LSTM: block and grids against NumPy references written from the paper's equations."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from jax.test_util import check_grads
from reference import as_float64, np_block, np_grid1d, np_grid2d, np_grid3d, np_lstm, randomize

from highway_jax.grid_lstm import GridLSTM1D, GridLSTM2D, GridLSTM3D, GridLSTMBlock
from highway_jax.recurrent import LSTM

ATOL = 2e-5


# ---------------------------------------------------------------------------------------------
# NumPy references


# ---------------------------------------------------------------------------------------------
# The block

BLOCK_CASES = [
    # num_dims, lstm_dims, priority_dims, tied, output_form
    (1, None, (), False, 'standard'),
    (1, (), (), False, 'standard'),
    (2, None, (), False, 'standard'),
    (2, None, (1,), False, 'paper'),
    (2, (0,), (1,), False, 'standard'),
    (3, None, (), False, 'paper'),
    (3, None, (2,), False, 'standard'),
    (3, (0, 2), (2, 0), False, 'standard'),
    (3, (1,), (), True, 'standard'),
    (3, (0, 1), (1,), True, 'paper'),
]


@pytest.mark.parametrize('num_dims,lstm_dims,priority_dims,tied,output_form', BLOCK_CASES)
def test_block_matches_numpy_reference(num_dims, lstm_dims, priority_dims, tied, output_form):
  F, B = 3, 2
  lstm = tuple(range(num_dims)) if lstm_dims is None else lstm_dims
  block = GridLSTMBlock(features=F, num_dims=num_dims, lstm_dims=lstm_dims,
                        priority_dims=priority_dims, tied=tied, output_form=output_form)
  rng = np.random.default_rng(num_dims)
  hidden = tuple(jnp.asarray(rng.normal(size=(B, F)), jnp.float32) for _ in range(num_dims))
  memory = tuple(jnp.asarray(rng.normal(size=(B, F)), jnp.float32) if i in lstm else None
                 for i in range(num_dims))
  variables = randomize(block.init(jax.random.key(0), hidden, memory), seed=1)
  new_h, new_m = block.apply(variables, hidden, memory)
  ref_h, ref_m = np_block(as_float64(variables['params']), as_float64(list(hidden)), as_float64(list(memory)),
                          lstm=lstm, priority=priority_dims, tied=tied, output_form=output_form)
  for i in range(num_dims):
    np.testing.assert_allclose(new_h[i], ref_h[i], atol=ATOL)
    if i in lstm:
      np.testing.assert_allclose(new_m[i], ref_m[i], atol=ATOL)
    else:
      assert new_m[i] is None


def test_block_parameter_layout_and_init():
  F = 4
  block = GridLSTMBlock(features=F, num_dims=3, lstm_dims=(0, 2))
  h = (jnp.ones((2, F)),) * 3
  params = block.init(jax.random.key(0), h, (h[0], None, h[0]))['params']
  shapes = jax.tree_util.tree_map(jnp.shape, params)
  assert shapes == {'dim_0': {'kernel': (3 * F, 4 * F), 'bias': (4 * F,)},
                    'dim_1': {'kernel': (3 * F, F), 'bias': (F,)},
                    'dim_2': {'kernel': (3 * F, 4 * F), 'bias': (4 * F,)}}
  # Gate order i, f, g, o: only the forget slice starts at forget_bias_init.
  expected = np.zeros(4 * F)
  expected[F:2 * F] = 1.0
  np.testing.assert_array_equal(params['dim_0']['bias'], expected)
  np.testing.assert_array_equal(params['dim_1']['bias'], np.zeros(F))

  tied = GridLSTMBlock(features=F, num_dims=3, lstm_dims=(0, 2), tied=True)
  tied_params = tied.init(jax.random.key(0), h, (h[0], None, h[0]))['params']
  assert jax.tree_util.tree_map(jnp.shape, tied_params) == {
      'lstm': {'kernel': (3 * F, 4 * F), 'bias': (4 * F,)},
      'non_lstm': {'kernel': (3 * F, F), 'bias': (F,)}}


def test_block_gradients():
  F = 2
  block = GridLSTMBlock(features=F, num_dims=3, lstm_dims=(0, 2), priority_dims=(2,))
  rng = np.random.default_rng(0)
  hidden = tuple(jnp.asarray(rng.normal(size=(2, F)), jnp.float32) for _ in range(3))
  memory = (jnp.asarray(rng.normal(size=(2, F)), jnp.float32), None,
            jnp.asarray(rng.normal(size=(2, F)), jnp.float32))
  params = randomize(block.init(jax.random.key(0), hidden, memory), seed=2)['params']

  def f(params, hidden, memory):
    new_h, new_m = block.apply({'params': params}, hidden, memory)
    return sum(jnp.sum(jnp.sin(x)) for x in jax.tree_util.tree_leaves((new_h, new_m)))

  check_grads(f, (params, hidden, memory), order=1, modes=('rev',), atol=1e-2, rtol=1e-2)


# ---------------------------------------------------------------------------------------------
# Grids


@pytest.mark.parametrize('tied', [False, True])
def test_grid1d_matches_reference(tied):
  depth, F = 3, 4
  model = GridLSTM1D(features=F, depth=depth, tied=tied, output_form='paper')
  x = jnp.asarray(np.random.default_rng(0).normal(size=(2, 5)), jnp.float32)
  variables = randomize(model.init(jax.random.key(0), x), seed=3)
  ref = np_grid1d(as_float64(variables['params']), np.asarray(x, np.float64), depth=depth, tied=tied,
                  output_form='paper')
  np.testing.assert_allclose(model.apply(variables, x), ref, atol=ATOL)


@pytest.mark.parametrize('tied,lstm_dims,priority_dims', [
    (False, None, ()),
    (True, None, (1,)),
    (False, (0,), (1,)),
    (False, (1,), ()),
])
def test_grid2d_matches_reference(tied, lstm_dims, priority_dims):
  depth, F, B, T = 2, 3, 3, 4
  lstm = (0, 1) if lstm_dims is None else lstm_dims
  model = GridLSTM2D(features=F, depth=depth, tied=tied, lstm_dims=lstm_dims,
                     priority_dims=priority_dims)
  x = jnp.asarray(np.random.default_rng(1).normal(size=(B, T, 2)), jnp.float32)
  lengths = np.array([4, 2, 0])
  variables = randomize(model.init(jax.random.key(0), x), seed=4)
  outputs, (memory, hidden) = model.apply(variables, x, seq_lengths=jnp.asarray(lengths))
  ref_out, (ref_m, ref_h) = np_grid2d(as_float64(variables['params']), np.asarray(x, np.float64),
                                      lengths, depth=depth, tied=tied, lstm=lstm,
                                      priority=priority_dims)
  np.testing.assert_allclose(outputs, ref_out, atol=ATOL)
  np.testing.assert_allclose(hidden, ref_h, atol=ATOL)
  if 0 in lstm:
    np.testing.assert_allclose(memory, ref_m, atol=ATOL)
  else:
    assert memory is None


def test_grid2d_masking_contract():
  """Under jit (traced lengths): each padded sequence equals itself run alone; padding is zero."""
  depth, F, T = 2, 3, 5
  model = GridLSTM2D(features=F, depth=depth)
  x = jnp.asarray(np.random.default_rng(2).normal(size=(3, T, 2)), jnp.float32)
  lengths = jnp.array([5, 3, 1])
  variables = randomize(model.init(jax.random.key(0), x), seed=5)
  apply = jax.jit(lambda x, lengths: model.apply(variables, x, seq_lengths=lengths))
  outputs, (memory, hidden) = apply(x, lengths)
  for b, n in enumerate(np.asarray(lengths)):
    alone, (alone_m, alone_h) = model.apply(variables, x[b:b + 1, :n])
    np.testing.assert_allclose(outputs[b, :n], alone[0], atol=1e-6)
    assert np.all(np.asarray(outputs[b, n:]) == 0.0)
    np.testing.assert_allclose(hidden[:, b], alone_h[:, 0], atol=1e-6)
    np.testing.assert_allclose(memory[:, b], alone_m[:, 0], atol=1e-6)


def test_grid2d_padding_is_inert_and_traced_lengths_are_clamped():
  """NaN or Inf at padded steps changes neither outputs nor parameter gradients; under jit, lengths
  out of [0, T] are clamped (documented) instead of checked."""
  model = GridLSTM2D(features=3, depth=2, priority_dims=(1,))
  x = jnp.asarray(np.random.default_rng(8).normal(size=(3, 5, 2)), jnp.float32)
  lengths = jnp.array([5, 3, 0])
  padded = np.arange(5)[None, :, None] >= np.asarray(lengths)[:, None, None]
  params = randomize(model.init(jax.random.key(0), x), seed=10)['params']

  def loss(p, x, lengths):
    outputs, (memory, hidden) = model.apply({'params': p}, x, seq_lengths=lengths)
    return jnp.sum(jnp.sin(outputs)) + jnp.sum(memory * hidden), outputs

  run = jax.jit(jax.grad(loss, has_aux=True))
  ref = run(params, x, lengths)
  assert all(np.all(np.isfinite(l)) for l in jax.tree.leaves(ref))
  close = lambda a, b: np.testing.assert_allclose(a, b, atol=1e-6)
  for bad in (jnp.nan, jnp.inf):
    jax.tree.map(close, run(params, jnp.where(padded, bad, x), lengths), ref)
  jax.tree.map(close, run(params, x, jnp.array([9, 3, -4])), ref)


def test_grid2d_initial_carry_continues_a_sequence():
  model = GridLSTM2D(features=3, depth=2, tied=True)
  x = jnp.asarray(np.random.default_rng(3).normal(size=(2, 6, 2)), jnp.float32)
  variables = model.init(jax.random.key(0), x)
  whole, _ = model.apply(variables, x)
  first, carry = model.apply(variables, x[:, :4])
  second, _ = model.apply(variables, x[:, 4:], initial_carry=carry)
  np.testing.assert_allclose(jnp.concatenate([first, second], axis=1), whole, atol=1e-6)


def test_grid2d_gradients():
  model = GridLSTM2D(features=2, depth=2, priority_dims=(1,))
  x = jnp.asarray(np.random.default_rng(4).normal(size=(2, 3, 2)), jnp.float32)
  lengths = jnp.array([3, 2])
  params = randomize(model.init(jax.random.key(0), x), seed=6)['params']

  def f(params, x):
    outputs, (memory, hidden) = model.apply({'params': params}, x, seq_lengths=lengths)
    return jnp.sum(jnp.sin(outputs)) + jnp.sum(memory * hidden)

  check_grads(f, (params, x), order=1, modes=('rev',), atol=1e-2, rtol=1e-2)


@pytest.mark.parametrize('tied,lstm_dims,priority_dims,output_form', [
    (False, None, (), 'standard'),
    (True, (0, 2), (2,), 'paper'),
])
def test_grid3d_matches_loop_reference(tied, lstm_dims, priority_dims, output_form):
  depth, F, B, R, C = 2, 3, 2, 3, 4
  lstm = (0, 1, 2) if lstm_dims is None else lstm_dims
  model = GridLSTM3D(features=F, depth=depth, tied=tied, lstm_dims=lstm_dims,
                     priority_dims=priority_dims, output_form=output_form)
  x = jnp.asarray(np.random.default_rng(5).normal(size=(B, R, C, 2)), jnp.float32)
  variables = randomize(model.init(jax.random.key(0), x), seed=7)
  outputs = model.apply(variables, x)
  assert outputs.shape == (B, R, C, F)
  ref = np_grid3d(as_float64(variables['params']), np.asarray(x, np.float64), depth=depth, tied=tied,
                  lstm=lstm, priority=priority_dims, output_form=output_form)
  np.testing.assert_allclose(outputs, ref, atol=ATOL)


def test_grid3d_shapes_and_param_layout():
  model = GridLSTM3D(features=5, depth=4)
  x = jnp.ones((2, 7, 3, 6))
  shapes = jax.eval_shape(model.init, jax.random.key(0), x)
  assert jax.eval_shape(model.apply, shapes, x).shape == (2, 7, 3, 5)
  block = jax.tree_util.tree_map(lambda a: a.shape, shapes['params']['layers']['block'])
  assert block == {f'dim_{i}': {'kernel': (4, 15, 20), 'bias': (4, 20)} for i in range(3)}
  assert shapes['params']['proj']['kernel'].shape == (6, 5)


def _count(model, x):
  shapes = jax.eval_shape(model.init, jax.random.key(0), x)
  return sum(int(np.prod(a.shape)) for a in jax.tree_util.tree_leaves(shapes))


@pytest.mark.parametrize('grid,x_shape', [
    (GridLSTM1D, (2, 5)), (GridLSTM2D, (2, 3, 5)), (GridLSTM3D, (2, 3, 3, 5))])
def test_tying_by_parameter_count(grid, x_shape):
  x = jnp.ones(x_shape)
  F, n = 4, grid.num_dims
  proj = 5 * F + F
  block = n * (n * F * 4 * F + 4 * F)
  assert _count(grid(features=F, depth=1, tied=True), x) == proj + block
  assert _count(grid(features=F, depth=10, tied=True), x) == proj + block
  assert _count(grid(features=F, depth=1, tied=False), x) == proj + block
  assert _count(grid(features=F, depth=10, tied=False), x) == proj + 10 * block


def test_untied_layers_start_different_and_tied_layers_share():
  x = jnp.ones((2, 5))
  untied = GridLSTM1D(features=4, depth=3).init(jax.random.key(0), x)
  kernels = untied['params']['layers']['block']['dim_0']['kernel']
  assert not np.allclose(kernels[0], kernels[1])
  # Tied: equal to an untied grid whose layers all hold the tied weights.
  tied_model = GridLSTM1D(features=4, depth=3, tied=True)
  tied = randomize(tied_model.init(jax.random.key(0), x), seed=8)
  copied = {'params': {
      'proj': tied['params']['proj'],
      'layers': jax.tree_util.tree_map(lambda a: jnp.stack([a] * 3), tied['params']['layers'])}}
  np.testing.assert_allclose(tied_model.apply(tied, x),
                             GridLSTM1D(features=4, depth=3).apply(copied, x), atol=1e-6)


# ---------------------------------------------------------------------------------------------
# 2-d grid of depth 1 with a non-LSTM identity depth dimension == a plain LSTM over time


def _lstm_as_grid(features, d_in, input_kernel, recurrent_kernel, bias):
  """Grid params reproducing LSTM(input_kernel, recurrent_kernel, bias); needs d_in <= features.

  proj embeds x as [x; 0]; time (dim 0, LSTM) reads H = [h_time; [x; 0]] with kernel rows
  [U; W; 0]; depth (dim 1, non-LSTM identity, priority) copies the new time hidden vector.
  """
  F = features
  proj = np.zeros((d_in, F))
  proj[:, :d_in] = np.eye(d_in)
  time_kernel = np.zeros((2 * F, 4 * F))
  time_kernel[:F] = recurrent_kernel
  time_kernel[F:F + d_in] = input_kernel
  depth_kernel = np.zeros((2 * F, F))
  depth_kernel[:F] = np.eye(F)
  as_layer = lambda a: jnp.asarray(a, jnp.float32)[None]   # untied: leading depth axis of 1
  return {'params': {
      'proj': {'kernel': jnp.asarray(proj, jnp.float32), 'bias': jnp.zeros(F)},
      'layers': {'block': {
          'dim_0': {'kernel': as_layer(time_kernel), 'bias': as_layer(bias)},
          'dim_1': {'kernel': as_layer(depth_kernel), 'bias': as_layer(np.zeros(F))}}}}}


def _reduced_grid(features):
  return GridLSTM2D(features=features, depth=1, lstm_dims=(0,), priority_dims=(1,),
                    activation=lambda z: z)


def test_grid2d_depth1_identity_depth_is_plain_lstm_reference():
  F, d_in, B, T = 4, 3, 2, 5
  rng = np.random.default_rng(6)
  W, U, b = rng.normal(size=(d_in, 4 * F)), rng.normal(size=(F, 4 * F)), rng.normal(size=4 * F)
  x = rng.normal(size=(B, T, d_in))
  lengths = np.array([5, 3])
  outputs, (memory, hidden) = _reduced_grid(F).apply(
      _lstm_as_grid(F, d_in, W, U, b), jnp.asarray(x, jnp.float32),
      seq_lengths=jnp.asarray(lengths))
  ref_out, (ref_c, ref_h) = np_lstm(x, lengths, W, U, b)
  np.testing.assert_allclose(outputs, ref_out, atol=ATOL)
  np.testing.assert_allclose(memory[0], ref_c, atol=ATOL)
  np.testing.assert_allclose(hidden[0], ref_h, atol=ATOL)


def _leaf_by_suffix(params, suffix):
  flat = {'/'.join(str(getattr(k, 'key', k)) for k in path): leaf
          for path, leaf in jax.tree_util.tree_leaves_with_path(params)}
  hits = [leaf for path, leaf in flat.items() if path.endswith(suffix)]
  assert len(hits) == 1, (suffix, list(flat))
  return hits[0]


def test_grid2d_depth1_identity_depth_is_recurrent_lstm():
  F, d_in, B, T = 4, 3, 2, 5
  rng = np.random.default_rng(7)
  x = jnp.asarray(rng.normal(size=(B, T, d_in)), jnp.float32)
  lengths = jnp.array([5, 2])
  lstm = LSTM(features=F)
  lstm_vars = randomize(lstm.init(jax.random.key(0), x), seed=9)
  W = _leaf_by_suffix(lstm_vars, 'input/kernel')
  U = _leaf_by_suffix(lstm_vars, 'recurrent/kernel')
  b = _leaf_by_suffix(lstm_vars, 'recurrent/bias')
  lstm_out, (c, h) = lstm.apply(lstm_vars, x, seq_lengths=lengths)
  outputs, (memory, hidden) = _reduced_grid(F).apply(
      _lstm_as_grid(F, d_in, np.asarray(W), np.asarray(U), np.asarray(b)), x, seq_lengths=lengths)
  np.testing.assert_allclose(outputs, lstm_out, atol=ATOL)
  np.testing.assert_allclose(memory[0], c, atol=ATOL)
  np.testing.assert_allclose(hidden[0], h, atol=ATOL)


# ---------------------------------------------------------------------------------------------
# Bad arguments


@pytest.mark.parametrize('kwargs,match', [
    (dict(lstm_dims=(2,)), r'lstm_dims .*\[0, 2\).*\(2,\)'),
    (dict(lstm_dims=(0, 0)), r'lstm_dims must not repeat'),
    (dict(lstm_dims=1), r'lstm_dims must be a sequence'),
    (dict(priority_dims=(-1,)), r'priority_dims .*\[0, 2\).*\(-1,\)'),
    (dict(priority_dims=(0, 1)), r'priority_dims must leave at least one'),
    (dict(priority_dims=(1, 1)), r'priority_dims must not repeat'),
    (dict(output_form='tanh'), r"output_form must be one of \['standard', 'paper'\], got 'tanh'"),
    (dict(features=0), r'features must be an integer >= 1, got 0'),
    (dict(num_dims=0), r'num_dims must be an integer >= 1, got 0'),
])
def test_block_bad_arguments(kwargs, match):
  kwargs = {'features': 3, 'num_dims': 2, **kwargs}
  with pytest.raises(ValueError, match=match):
    GridLSTMBlock(**kwargs)


@pytest.mark.parametrize('grid,kwargs,match', [
    (GridLSTM1D, dict(priority_dims=(0,)), r'priority_dims must leave at least one of the 1'),
    (GridLSTM2D, dict(lstm_dims=(0, 2)), r'lstm_dims .*\[0, 2\)'),
    (GridLSTM3D, dict(priority_dims=(3,)), r'priority_dims .*\[0, 3\)'),
    (GridLSTM2D, dict(depth=0), r'depth must be an integer >= 1, got 0'),
])
def test_grid_bad_arguments(grid, kwargs, match):
  kwargs = {'features': 3, 'depth': 2, **kwargs}
  with pytest.raises(ValueError, match=match):
    grid(**kwargs)


def test_bad_call_arguments():
  block = GridLSTMBlock(features=3, num_dims=2, lstm_dims=(0,))
  h = jnp.ones((2, 3))
  with pytest.raises(ValueError, match=r'memory\[1\] must be None'):
    block.init(jax.random.key(0), (h, h), (h, h))
  with pytest.raises(ValueError, match=r'hidden must be a sequence of num_dims=2'):
    block.init(jax.random.key(0), (h,), (h, None))
  with pytest.raises(ValueError, match=r'hidden\[1\] must have shape \(2, 3\).*got \(2, 4\)'):
    block.init(jax.random.key(0), (h, jnp.ones((2, 4))), (h, None))

  model = GridLSTM2D(features=3, depth=1)
  x = jnp.ones((2, 4, 3))
  with pytest.raises(ValueError, match=r'seq_lengths must have shape \(batch,\) = \(2,\), got \(3,\)'):
    model.init(jax.random.key(0), x, seq_lengths=jnp.array([1, 2, 3]))
  with pytest.raises(ValueError, match=r'seq_lengths must lie in \[0, time\] = \[0, 4\], got .* 1 to 5'):
    model.init(jax.random.key(0), x, seq_lengths=jnp.array([1, 5]))
  with pytest.raises(ValueError, match=r'inputs must have shape \(batch, time, features_in\)'):
    model.init(jax.random.key(0), jnp.ones((2, 3)))
  for grid, shape in ((GridLSTM1D, (2, 3)), (GridLSTM2D, (2, 4, 3)), (GridLSTM3D, (2, 2, 2, 3))):
    with pytest.raises(ValueError, match=r'inputs must have a float dtype, got int32; cast them'):
      grid(features=3, depth=1).init(jax.random.key(0), jnp.ones(shape, jnp.int32))
  variables = model.init(jax.random.key(0), x)
  with pytest.raises(ValueError, match=r'initial_carry hidden must have shape .*\(1, 2, 3\)'):
    model.apply(variables, x, initial_carry=(jnp.zeros((1, 2, 3)), jnp.zeros((2, 3))))

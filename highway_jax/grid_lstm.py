"""Grid LSTM (Kalchbrenner, Danihelka & Graves 2015, arXiv 1507.01526).

The N-dimensional block
-----------------------
A block receives N hidden vectors ``h_1 … h_N`` and N memory vectors ``m_1 … m_N``, one per
dimension of the grid, and concatenates the hidden vectors::

    H = [h_1; …; h_N]                                     (N·features,)

Each LSTM dimension i has its own weights and its own memory; memories are never summed across
dimensions (the difference from multidimensional LSTM)::

    [i; f; g; o] = W_i H + b_i                            gates in PyTorch order i, f, g, o
    i, f, o = σ(·),  g = tanh(·)
    m'_i = f·m_i + i·g
    h'_i = o·tanh(m'_i)        output_form='standard' (the default; TensorFlow's and LSTMCell's form)
    h'_i = tanh(o·m'_i)        output_form='paper'    (the form written in the paper)

Options of the paper:

* Non-LSTM dimensions (those not in ``lstm_dims``) carry no memory: ``h'_i = α(V_i H + b_i)`` with
  ``α = activation`` (tanh by default; the paper's equation has no bias, ours starts at zero).
* Priority dimensions (``priority_dims``) are computed after the others and read their new hidden
  vectors: with one priority dimension p, ``H' = [h'_1; …; h_p; …; h'_N]`` (the new hidden vectors
  of every other dimension, the old one of p) and ``(h'_p, m'_p) = LSTM_p(H', m_p)``. With several
  priority dimensions they are computed one after the other in the order listed, each reading the
  new hidden vectors of every dimension computed before it.
* ``tied=True`` on the block shares one set of transform weights among its dimensions (one ``lstm``
  transform for every LSTM dimension, one ``non_lstm`` transform for every non-LSTM dimension).
  This is the working version of TensorFlow 1 ``grid_rnn``'s ``tied`` flag, which was inverted there.

Block parameters (``F = features``, ``N = num_dims``)::

    untied:  dim_{i}/kernel  (N·F, 4·F)  dim_{i}/bias (4·F,)   LSTM dimension i
             dim_{i}/kernel  (N·F, F)    dim_{i}/bias (F,)     non-LSTM dimension i
    tied:    lstm/kernel     (N·F, 4·F)  lstm/bias    (4·F,)   if any dimension is LSTM
             non_lstm/kernel (N·F, F)    non_lstm/bias (F,)    if any dimension is non-LSTM

The fused gate axis is ordered i, f, g, o as in ``LSTMCell`` (PyTorch's order); the rows of a kernel
follow the order of H (dimension 0's hidden vector first). The forget-gate slice ``bias[F:2F]``
starts at ``forget_bias_init`` (1.0) and every other bias at 0. ``LSTMCell`` splits the same
matrix into ``input/kernel`` and ``recurrent/kernel``: for a 2-d block over (time, depth) the rows
``[0:F]`` of ``dim_0/kernel`` play the role of the recurrent kernel and rows ``[F:2F]`` the input kernel.

Grids
-----
Grids apply one block at every point; the hidden and memory vectors of dimension i flow to the neighbouring point
along axis i. Every grid first projects its input (a Dense ``proj``, with bias) into the depth hidden vector of the
first layer; the first layer's depth memory, and the vectors entering the grid along every other axis, are zero. The
output is the depth hidden vector of the last layer. Depth runs through ``nn.scan`` (``tied=True``: one set of block
weights for every layer, broadcast; ``tied=False``: every leaf stacked along a leading ``depth`` axis); time runs
through the sequence layers' runner ``highway_jax.recurrent.scan_cell`` (the block is the cell), space through a
wavefront ``jax.lax.scan``. Dimension numbering (used by ``lstm_dims`` and ``priority_dims``):

* ``GridLSTM1D``: 0 = depth. Input ``(..., d_in)`` -> output ``(..., features)``. With an LSTM depth
  dimension this is a gated feed-forward net like a highway net (the paper's 1-LSTM for parity).
* ``GridLSTM2D``: 0 = time, 1 = depth. Input ``(batch, time, d_in)`` -> ``(outputs, final_carry)``,
  outputs ``(batch, time, features)``. Replaces a stacked LSTM. ``seq_lengths`` (right padding) follows the contract
  of the sequence layers in ``recurrent.py``: outputs at ``t >= seq_lengths[b]`` are exactly zero, ``final_carry`` is
  the time carry at each sequence's last valid step, padded inputs are replaced by zeros before any computation, and
  traced out-of-range lengths are clamped. ``final_carry = (memory, hidden)`` (the order of ``LSTMCell``'s
  ``(c, h)``), each ``(depth, batch, features)``, one row per layer; ``memory`` is ``None`` when time is non-LSTM.
* ``GridLSTM3D``: 0 = rows, 1 = columns, 2 = depth. Input NHWC ``(batch, rows, columns, d_in)``
  (pixels or patch vectors) -> outputs ``(batch, rows, columns, features)``. The grid is swept from the top-left
  corner: point (r, c) reads rows-vectors from (r−1, c) and columns-vectors from (r, c−1). Inside a layer the points
  of one anti-diagonal r + c = k do not depend on each other, so a layer is a ``lax.scan`` of rows + columns − 1
  wavefront steps, each a batch of ``rows`` blocks (points off the grid are computed and masked to zero).

Grid parameters: ``proj/kernel (d_in, F)``, ``proj/bias (F,)``, and ``layers/block/...`` with the block
layout above (``num_dims`` = 1, 2 or 3), with a leading ``(depth,)`` axis on every leaf when untied.

Example::

    import jax, jax.numpy as jnp
    from highway_jax.grid_lstm import GridLSTMBlock, GridLSTM1D, GridLSTM2D, GridLSTM3D

    block = GridLSTMBlock(features=8, num_dims=2, priority_dims=(1,))
    h, m = (jnp.ones((4, 8)), jnp.ones((4, 8))), (jnp.zeros((4, 8)), jnp.zeros((4, 8)))
    variables = block.init(jax.random.key(0), h, m)
    (h_time, h_depth), (m_time, m_depth) = block.apply(variables, h, m)

    parity_net = GridLSTM1D(features=64, depth=10, tied=True)          # (batch, bits) -> (batch, 64)
    stacked = GridLSTM2D(features=32, depth=3)                         # replaces a 3-layer LSTM
    x = jnp.ones((4, 12, 5))
    variables = stacked.init(jax.random.key(1), x)
    outputs, (memory, hidden) = stacked.apply(variables, x, seq_lengths=jnp.array([12, 7, 3, 0]))
    images = GridLSTM3D(features=16, depth=2)                          # (B, R, C, d) -> (B, R, C, 16)
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterator, Sequence
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
from flax import linen as nn

from highway_jax import gating
from highway_jax.gating import OUTPUT_FORMS
from highway_jax.recurrent import scan_cell

Array = jax.Array
Initializer = Callable[..., Array]

__all__ = ['GridLSTMBlock', 'GridLSTM1D', 'GridLSTM2D', 'GridLSTM3D', 'OUTPUT_FORMS']


def _is_int(value: Any) -> bool:
  return isinstance(value, (int, np.integer)) and not isinstance(value, bool)


def _raise_first(problems: Iterator[str]) -> None:
  problem = next(problems, None)
  if problem:
    raise ValueError(problem + '.')


def _check_options(module: nn.Module, **positive: Any) -> None:
  """The dataclass fields of a block or grid: ``positive`` integers, output form and dimensions."""

  def problems():
    for name, value in positive.items():
      if not _is_int(value) or value < 1:
        yield f'{name} must be an integer >= 1, got {value!r}'
    if module.output_form not in OUTPUT_FORMS:
      yield f'output_form must be one of {list(OUTPUT_FORMS)}, got {module.output_form!r}'
    num_dims, lstm_dims, priority_dims = module.num_dims, module.lstm_dims, module.priority_dims
    if not _is_int(num_dims) or num_dims < 1:
      yield f'num_dims must be an integer >= 1, got {num_dims!r}'
      return
    for name, dims in (('lstm_dims', () if lstm_dims is None else lstm_dims), ('priority_dims', priority_dims)):
      if _is_int(dims) or not isinstance(dims, Sequence):
        yield f'{name} must be a sequence of dimension indices in [0, {num_dims}), got {dims!r}'
      elif not all(_is_int(d) and 0 <= d < num_dims for d in dims):
        yield f'{name} must hold dimension indices in [0, {num_dims}) (num_dims={num_dims}), got {tuple(dims)!r}'
      elif len(set(dims)) != len(dims):
        yield f'{name} must not repeat a dimension, got {tuple(dims)!r}'
    if len(priority_dims) >= num_dims:
      yield (f'priority_dims must leave at least one of the {num_dims} dimensions non-priority '
             f'(at most {num_dims - 1} priority dimensions), got {tuple(priority_dims)!r}')

  _raise_first(problems())


def _lstm_dims(module: nn.Module) -> tuple[int, ...]:
  """The LSTM dimensions of a block or grid (checked by ``_check_options``): all when ``lstm_dims=None``."""
  return tuple(range(module.num_dims)) if module.lstm_dims is None else tuple(module.lstm_dims)


class GridLSTMBlock(nn.Module):
  """One N-dimensional Grid LSTM block (see the module docstring for equations and parameters).

  Attributes:
    features: size F of every hidden and memory vector.
    num_dims: N, the number of dimensions.
    lstm_dims: the LSTM dimensions; ``None`` means all. The others are non-LSTM dimensions.
    priority_dims: dimensions computed after the others, in this order.
    tied: share one transform among the LSTM dimensions (and one among the non-LSTM dimensions).
    activation: α of the non-LSTM dimensions.
    output_form: ``'standard'`` (h' = o·tanh(m'), default) or ``'paper'`` (h' = tanh(o·m')).
    forget_bias_init: initial forget-gate bias.

  ``__call__(hidden, memory) -> (new_hidden, new_memory)``: ``hidden`` is a sequence of N arrays of
  shape ``(..., F)``; ``memory`` a sequence of N entries, an array ``(..., F)`` for each LSTM
  dimension and ``None`` for each non-LSTM dimension. The outputs are tuples with the same layout.
  """

  features: int
  num_dims: int
  lstm_dims: Sequence[int] | None = None
  priority_dims: Sequence[int] = ()
  tied: bool = False
  activation: Callable[[Array], Array] = nn.tanh
  output_form: str = 'standard'
  forget_bias_init: float = 1.0
  kernel_init: Initializer = nn.initializers.lecun_normal()
  dtype: Any = None
  param_dtype: Any = jnp.float32

  def __post_init__(self):
    _check_options(self, features=self.features)
    super().__post_init__()

  def _input_problems(self, hidden, memory, lstm) -> Iterator[str]:
    n = self.num_dims
    if not isinstance(hidden, (tuple, list)) or len(hidden) != n:
      yield (f'hidden must be a sequence of num_dims={n} arrays, got {type(hidden).__name__} of length '
             f'{len(hidden) if isinstance(hidden, (tuple, list)) else "?"}')
      return
    if not isinstance(memory, (tuple, list)) or len(memory) != n:
      yield (f'memory must be a sequence of num_dims={n} entries (an array for each LSTM dimension, '
             f'None for each non-LSTM dimension), got {memory!r:.80}')
      return
    shape = jnp.shape(hidden[0])
    for i in range(n):
      if jnp.shape(hidden[i]) != shape or shape[-1:] != (self.features,):
        yield (f'hidden[{i}] must have shape {shape[:-1] + (self.features,)} (features={self.features}, '
               f'the same for every dimension), got {jnp.shape(hidden[i])}')
      if i in lstm and (memory[i] is None or jnp.shape(memory[i]) != jnp.shape(hidden[i])):
        yield (f'memory[{i}] (an LSTM dimension) must be an array of shape {jnp.shape(hidden[i])}, '
               f'got {None if memory[i] is None else jnp.shape(memory[i])}')
      if i not in lstm and memory[i] is not None:
        yield (f'memory[{i}] must be None: dimension {i} is not in lstm_dims={lstm} and carries no '
               f'memory; got an array of shape {jnp.shape(memory[i])}')

  @nn.compact
  def __call__(self, hidden: Sequence[Array], memory: Sequence[Array | None]
               ) -> tuple[tuple[Array, ...], tuple[Array | None, ...]]:
    lstm, priority = _lstm_dims(self), self.priority_dims
    _raise_first(self._input_problems(hidden, memory, lstm))

    dense = dict(use_bias=True, kernel_init=self.kernel_init, dtype=self.dtype, param_dtype=self.param_dtype)
    transforms = {}
    for i in range(self.num_dims):
      # Created up front in dimension order, so parameter names do not depend on priority order.
      name = ('lstm' if i in lstm else 'non_lstm') if self.tied else f'dim_{i}'
      if name not in transforms:
        bias_init = (gating.lstm_bias_init(nn.initializers.zeros, self.forget_bias_init) if i in lstm
                     else nn.initializers.zeros)
        transforms[name] = nn.Dense((4 if i in lstm else 1) * self.features, bias_init=bias_init, name=name, **dense)
      transforms[i] = transforms[name]

    def transform(i, hidden_now):
      z = transforms[i](jnp.concatenate(hidden_now, axis=-1))
      if i not in lstm:
        return self.activation(z), None
      new_memory, new_hidden = gating.lstm_update(*jnp.split(z, 4, axis=-1), memory[i], output_form=self.output_form)
      return new_hidden, new_memory

    new_hidden, new_memory = list(hidden), list(memory)
    # Non-priority dimensions all read the incoming H.
    for i in range(self.num_dims):
      if i not in priority:
        new_hidden[i], new_memory[i] = transform(i, list(hidden))
    # Each priority dimension reads the new hidden vectors of the dimensions already computed.
    for p in priority:
      reads = list(new_hidden)
      reads[p] = hidden[p]
      new_hidden[p], new_memory[p] = transform(p, reads)
    return tuple(new_hidden), tuple(new_memory)


def _block_kwargs(grid: nn.Module) -> dict[str, Any]:
  """The grid's fields that configure its block: the block's fields but ``num_dims`` and ``tied``."""
  return {f.name: getattr(grid, f.name) for f in dataclasses.fields(GridLSTMBlock)
          if f.name not in ('num_dims', 'tied', 'parent', 'name')}


def _scan_over_depth(body: type[nn.Module], tied: bool, depth: int, in_axes: Any) -> Any:
  """nn.scan over layers: params broadcast (tied) or stacked on axis 0 (untied)."""
  params = (dict(variable_broadcast='params', split_rngs={'params': False}) if tied else
            dict(variable_axes={'params': 0}, split_rngs={'params': True}))
  return nn.scan(body, in_axes=in_axes, length=depth, **params)


def _check_rank(inputs: Array, axes: str) -> None:
  if jnp.ndim(inputs) != axes.count(',') + 1:
    raise ValueError(f'inputs must have shape ({axes}), got shape {jnp.shape(inputs)}.')


class _GridCommon(nn.Module):
  """Attributes shared by the three grids.

  Attributes:
    features: width F of every hidden and memory vector.
    depth: number of layers (blocks along the depth dimension).
    tied: one set of block weights for every layer (``nn.scan`` with broadcast params).
    lstm_dims: ``None`` (all dimensions LSTM), or a subset of the grid's dimensions.
    priority_dims: dimensions computed after the others, e.g. depth after time.
    activation, output_form, forget_bias_init, kernel_init, dtype, param_dtype: as in the block.
  """

  features: int
  depth: int
  tied: bool = False
  lstm_dims: Sequence[int] | None = None
  priority_dims: Sequence[int] = ()
  activation: Callable[[Array], Array] = nn.tanh
  output_form: str = 'standard'
  forget_bias_init: float = 1.0
  kernel_init: Initializer = nn.initializers.lecun_normal()
  dtype: Any = None
  param_dtype: Any = jnp.float32

  num_dims = 0  # overridden by each grid (a class constant, not a dataclass field)

  def __post_init__(self):
    _check_options(self, features=self.features, depth=self.depth)
    super().__post_init__()

  def _project(self, inputs: Array) -> Array:
    gating.check_float_inputs(inputs)
    return nn.Dense(self.features, kernel_init=self.kernel_init, dtype=self.dtype,
                    param_dtype=self.param_dtype, name='proj')(inputs)


class _Depth1DLayer(nn.Module):
  """One layer of the 1-d grid: one block applied to the depth vectors."""

  block_kwargs: dict[str, Any]

  @nn.compact
  def __call__(self, carry, _):
    hidden, memory = carry
    (hidden,), (memory,) = GridLSTMBlock(num_dims=1, name='block', **self.block_kwargs)((hidden,), (memory,))
    return (hidden, memory), None


class GridLSTM1D(_GridCommon):
  """1-d Grid LSTM along depth (dimension 0): a gated feed-forward net like a highway net.

  Attributes as ``_GridCommon``; ``lstm_dims=()`` gives a plain net ``h' = α(V h + b)``, and
  ``priority_dims`` must be ``()`` (a 1-d block has nothing to prioritise).
  ``__call__(inputs (..., d_in)) -> (..., features)``: the top layer's hidden vector.
  """

  num_dims = 1

  @nn.compact
  def __call__(self, inputs: Array) -> Array:
    hidden = self._project(inputs)
    memory = jnp.zeros_like(hidden) if 0 in _lstm_dims(self) else None
    layers = _scan_over_depth(_Depth1DLayer, self.tied, self.depth, in_axes=0)
    (hidden, _), _ = layers(block_kwargs=_block_kwargs(self), name='layers')((hidden, memory), None)
    return hidden


def _block_params(module: nn.Module, num_dims: int, dtype: Any, block_kwargs: dict[str, Any]) -> Any:
  """Declares the block's parameters on ``module`` as one pytree param named 'block'.

  The block is then applied as a pure function inside ``jax.lax.scan``; its parameter tree is
  exactly ``GridLSTMBlock``'s, so the layout is the block's.
  """
  block = GridLSTMBlock(num_dims=num_dims, parent=None, **block_kwargs)
  lstm = _lstm_dims(block)

  def init(rng):
    h = jnp.zeros((1, block_kwargs['features']), dtype)
    hidden = (h,) * num_dims
    memory = tuple(h if i in lstm else None for i in range(num_dims))
    return block.init(rng, hidden, memory)['params']

  return block, module.param('block', init)


class _BlockAlongTime:
  """The 2-d block as a cell of ``scan_cell``: carry ``(m_time, h_time)``; the input and the output of
  a step are the depth vectors ``(h_depth, m_depth)`` entering from below and leaving upward."""

  def __init__(self, block: GridLSTMBlock):
    self.block = block

  def project_input(self, params: Any, x: Any) -> Any:
    return x

  def step(self, params: Any, carry: Any, x: Any) -> tuple[Any, Any]:
    (time_memory, time_hidden), (depth_hidden, depth_memory) = carry, x
    (time_hidden, depth_hidden), (time_memory, depth_memory) = self.block.apply(
        {'params': params}, (time_hidden, depth_hidden), (time_memory, depth_memory))
    return (time_memory, time_hidden), (depth_hidden, depth_memory)


class _Depth2DLayer(nn.Module):
  """One layer of the 2-d grid: the block run over time by ``scan_cell`` (masking included)."""

  block_kwargs: dict[str, Any]

  @nn.compact
  def __call__(self, carry, initial_time_carry, mask):
    depth_hidden, depth_memory = carry                       # (T, B, F) each, time-major
    block, params = _block_params(self, 2, depth_hidden.dtype, self.block_kwargs)
    return scan_cell(_BlockAlongTime(block), params, carry, initial_time_carry, mask)  # (up, final time carry)


class GridLSTM2D(_GridCommon):
  """2-d Grid LSTM over time (dimension 0) × depth (dimension 1); replaces a stacked LSTM.

  Attributes as ``_GridCommon``; e.g. ``priority_dims=(1,)`` computes depth after time, reading the new time hidden
  vector.
  ``__call__(inputs (B, T, d_in), *, seq_lengths=None (B,) int, initial_carry=None)``
  ``-> (outputs (B, T, F), final_carry)``; ``initial_carry`` and ``final_carry`` are ``(memory, hidden)``, each
  ``(depth, B, F)`` (``memory`` is ``None`` if time is non-LSTM).
  With ``seq_lengths`` (right padding, values in [0, T]): outputs at ``t >= seq_lengths[b]`` are exactly zero and
  ``final_carry`` is the time carry after each sequence's last valid step.
  """

  num_dims = 2

  @nn.compact
  def __call__(self, inputs: Array, *, seq_lengths: Array | None = None,
               initial_carry: tuple[Array | None, Array] | None = None) -> tuple[Array, tuple[Array | None, Array]]:
    _check_rank(inputs, 'batch, time, features_in')
    batch, steps, _ = inputs.shape
    lstm = _lstm_dims(self)
    mask = gating.sequence_mask(seq_lengths, batch, steps)    # (T, B, 1) or None
    # Time-major; padded inputs are zeros before the projection reads them.
    depth_hidden = self._project(gating.mask_padding(jnp.swapaxes(inputs, 0, 1), mask))
    depth_memory = jnp.zeros_like(depth_hidden) if 1 in lstm else None
    zeros = jnp.zeros((self.depth, batch, self.features), depth_hidden.dtype)
    if initial_carry is None:
      initial_carry = (zeros if 0 in lstm else None, zeros)
    else:
      _raise_first(_carry_problems(initial_carry, zeros.shape, 0 in lstm))

    layers = _scan_over_depth(_Depth2DLayer, self.tied, self.depth, in_axes=(0, nn.broadcast))
    (top_hidden, _), final_carry = layers(block_kwargs=_block_kwargs(self), name='layers')(
        (depth_hidden, depth_memory), initial_carry, mask)
    return jnp.swapaxes(top_hidden, 0, 1), final_carry


def _carry_problems(initial_carry: Any, shape: tuple[int, ...], time_is_lstm: bool) -> Iterator[str]:
  if not isinstance(initial_carry, (tuple, list)) or len(initial_carry) != 2:
    yield (f'initial_carry must be a pair (memory, hidden) of arrays of shape {shape}, got '
           f'{type(initial_carry).__name__}')
    return
  memory, hidden = initial_carry
  if jnp.shape(hidden) != shape:
    yield f'initial_carry hidden must have shape (depth, batch, features) = {shape}, got {jnp.shape(hidden)}'
  if time_is_lstm and (memory is None or jnp.shape(memory) != shape):
    yield (f'initial_carry memory must have shape (depth, batch, features) = {shape}, '
           f'got {None if memory is None else jnp.shape(memory)}')
  if not time_is_lstm and memory is not None:
    yield ('initial_carry memory must be None: the time dimension (0) is not in lstm_dims and carries '
           'no memory')


class _Depth3DLayer(nn.Module):
  """One layer of the 3-d grid: a wavefront lax.scan over the anti-diagonals of the image.

  Not ``scan_cell``: a wavefront step is a batch of ``rows`` blocks with two carries (the edges leaving the previous
  diagonal along rows and along columns, shifted by one row), not one carry per sequence with right padding.
  """

  block_kwargs: dict[str, Any]

  @nn.compact
  def __call__(self, carry, _):
    depth_hidden, depth_memory = carry                        # (B, R, C, F) each
    block, params = _block_params(self, 3, depth_hidden.dtype, self.block_kwargs)
    lstm = _lstm_dims(block)
    batch, rows, cols, features = depth_hidden.shape
    diagonals = rows + cols - 1

    # Skewed layout: row r of diagonal k holds point (r, k - r).
    r = np.arange(rows)[:, None]
    c_skew = np.arange(diagonals)[None, :] - r                    # (R, K)
    on_grid = (c_skew >= 0) & (c_skew < cols)
    c_clip = np.clip(c_skew, 0, cols - 1)

    def skew(x):
      if x is None:
        return None
      x = x[:, r, c_clip]                                         # (B, R, K, F)
      x = jnp.where(on_grid[None, :, :, None], x, 0)
      return jnp.moveaxis(x, 2, 0)                                # (K, B, R, F)

    def step(edge, xs):
      # edge: hidden/memory leaving the previous diagonal along rows and along columns, (B, R, F).
      (row_h, row_m), (col_h, col_m) = edge
      h_depth, m_depth, ok = xs
      shift_down = lambda x: None if x is None else jnp.pad(x, ((0, 0), (1, 0), (0, 0)))[:, :-1]
      hidden = (shift_down(row_h), col_h, h_depth)                # from (r-1, c), (r, c-1), below
      memory = (shift_down(row_m), col_m, m_depth)
      new_hidden, new_memory = block.apply({'params': params}, hidden, memory)
      ok = ok[None, :, None]
      zero = lambda tree: jax.tree_util.tree_map(lambda a: jnp.where(ok, a, 0), tree)
      new_hidden, new_memory = zero(new_hidden), zero(new_memory)
      new_edge = ((new_hidden[0], new_memory[0]), (new_hidden[1], new_memory[1]))
      return new_edge, (new_hidden[2], new_memory[2])

    zeros = jnp.zeros((batch, rows, features), depth_hidden.dtype)
    edge = ((zeros, zeros if 0 in lstm else None), (zeros, zeros if 1 in lstm else None))
    _, (up_hidden, up_memory) = jax.lax.scan(
        step, edge, (skew(depth_hidden), skew(depth_memory), jnp.asarray(on_grid.T)))

    def unskew(y):
      if y is None:
        return None
      y = jnp.moveaxis(y, 0, 2)                                   # (B, R, K, F)
      return y[:, r, r + np.arange(cols)[None, :]]                # (B, R, C, F)

    return (unskew(up_hidden), unskew(up_memory)), None


class GridLSTM3D(_GridCommon):
  """3-d Grid LSTM over rows (dim 0) × columns (dim 1) × depth (dim 2), for images.

  Attributes as ``_GridCommon``; e.g. ``priority_dims=(2,)`` computes depth after rows and columns.
  ``__call__(inputs (B, R, C, d_in)) -> (B, R, C, F)``: the top layer's depth hidden vectors.
  """

  num_dims = 3

  @nn.compact
  def __call__(self, inputs: Array) -> Array:
    _check_rank(inputs, 'batch, rows, columns, features_in')
    depth_hidden = self._project(inputs)
    depth_memory = jnp.zeros_like(depth_hidden) if 2 in _lstm_dims(self) else None
    layers = _scan_over_depth(_Depth3DLayer, self.tied, self.depth, in_axes=0)
    (top_hidden, _), _ = layers(block_kwargs=_block_kwargs(self), name='layers')((depth_hidden, depth_memory), None)
    return top_hidden

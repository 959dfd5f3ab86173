r"""Sequence layers ``LSTM``, ``GRU``, ``SimpleRNN``, ``RHN`` and ``Recurrent(cell=...)``; the time runner.

A layer runs the matching cell of ``highway_jax.cells`` over time, like PyTorch's ``nn.LSTM`` (but batch-major):
``layer(inputs, *, seq_lengths=None, initial_carry=None, deterministic=True)`` with inputs ``(batch, time, in)``
returns ``(outputs, final_carry)``, outputs ``(batch, time, D·features)`` where ``D = 2 if bidirectional else 1``.

Stacking. Layer 1 maps ``in -> D·features``; layers 2..num_layers map ``D·features -> D·features`` and
are one ``nn.scan`` over layers (parameters stacked on a leading ``num_layers − 1`` axis, ``split_rngs``
for ``params`` and ``dropout``), so compile time does not grow with depth. ``dropout_rate`` drops the
input of every layer after the first (PyTorch: the outputs of every layer but the last).

Highway (Bi)LSTM (``highway=True``, seed "Highway BiLSTM Networks"): every layer becomes a highway layer
whose transform is the (Bi)RNN::

    y = RNN(x)·T(x) + x'·(1 − T(x)),   T(x) = σ(W_T x + b_T),   b_T = transform_bias_init (< 0: carry x)

where ``x'`` is ``x`` itself when its width is ``D·features`` and a linear projection ``proj`` otherwise
(the first layer, when ``in != D·features``).

Parameters (each ``<cell params>`` is exactly the layout of the cell in ``highway_jax.cells``)::

    layer_0/forward/<cell params>     layer_0/backward/<cell params>   (backward: bidirectional only)
    layer_0/T/{kernel (in, D·features), bias (D·features,)}           (highway only)
    layer_0/proj/{kernel (in, D·features), bias (D·features,)}       (highway and in != D·features)
    layers/...   the same tree for layers 2..num_layers, every leaf with a leading num_layers − 1 axis

Masking (``seq_lengths``, shape ``(batch,)``, ints in ``[0, time]``, right padding): outputs at padded
positions ``t >= seq_lengths[b]`` are exactly zero (``flax.linen.RNN`` leaves them unspecified), the final
carry is the carry after each sequence's last valid step, and the backward direction starts at each
sequence's own last valid step. A length of 0 gives zero outputs and returns the initial carry. Padding is
inert: inputs at padded steps are replaced by zeros before any computation, so NaN or Inf there changes
neither outputs nor gradients. Lengths are range-checked when concrete; under ``jit`` they cannot be, and
are clamped: lengths above ``time`` act as ``time``, negative ones as 0.

``final_carry`` (and ``initial_carry``, default zeros) per layer is the cell's carry (``(c, h)`` for LSTM,
``h`` for GRU, SimpleRNN and RHN) or, when bidirectional, the pair ``(forward_carry, backward_carry)``, like
``flax.linen.Bidirectional``. With ``num_layers == 1`` it is that per-layer carry; with ``num_layers > 1``
it is a tuple with one per-layer carry for each layer, first layer first (``final_carry[-1]`` is the top
layer). Example: ``LSTM(8, num_layers=2, bidirectional=True)`` returns
``(((c_f, h_f), (c_b, h_b)), ((c_f, h_f), (c_b, h_b)))``, every array ``(batch, 8)``.

Any cell. ``Recurrent(features, ..., cell=MyCell, cell_options={...})`` runs any ``highway_jax.cells.RecurrentCell``
subclass with all of the above (``LSTM`` and the others are thin subclasses that name their cell). The time loop of
one direction is the public ``scan_cell``, which ``GridLSTM2D`` uses too.

Speed. The time loop is one ``jax.lax.scan`` (time-major inside) whose body is a pure ``jax.numpy`` function of weight
arrays prepared once before the loop. ``fuse_gates`` (default True) does one
``(batch, features) @ (features, G·features)`` recurrent matmul per step and splits its sum with the input projection
into the G gates (LSTM, GRU with ``reset_after``); ``fuse_gates=False`` uses per-gate weight arrays split before the
loop (G smaller matmuls per step). Fused measured 8–10% faster on CPU (``python -m benchmarks.levers``,
docs/performance.md). ``hoist_input_projection`` computes the input projections ``W x + b`` of all time steps as one
matmul before the loop. ``unroll`` is passed to ``jax.lax.scan``. ``backward_chunk=K >= 1`` replaces JAX's gradient
of the loop by ``chunked_backward_scan``'s, which computes the weight gradients once per chunk of K steps (one
``(K·batch)``-row matmul each) instead of once per step, for cells whose step is pointwise in ``(W x + b, h U)``
(LSTM, fused GRU with ``reset_after``, SimpleRNN; others keep JAX's gradient); 0 keeps JAX's. Being a
``jax.custom_vjp``, it supports reverse-mode differentiation only (``jax.jvp``/``jacfwd`` need 0). ``None`` picks the
backend's default (``BACKEND_DEFAULTS``, set from ``python -m benchmarks.levers --quick``; on CPU: no hoisting,
``unroll=1`` (2 for SimpleRNN), ``backward_chunk=5`` for LSTMs of 256 features or more and 0 otherwise; on
GPU: hoisting, ``unroll=2``). All options
compute the same function.

Constructor: ``features, num_layers, bidirectional, dropout_rate, highway, transform_bias_init`` and the
cell options (``peepholes, forget_bias_init`` for LSTM, ``reset_after`` for GRU, ``activation`` for
SimpleRNN) may be positional; ``hoist_input_projection, unroll, backward_chunk, fuse_gates, kernel_init,
recurrent_kernel_init, bias_init, dtype, param_dtype`` (and RHN's required ``depth``) are keyword-only. ``dtype`` is the
computation dtype (outputs have it); carries keep the dtype of the initial carry (``param_dtype``).

Example::

    import jax, jax.numpy as jnp
    from highway_jax.recurrent import LSTM

    layer = LSTM(features=16, num_layers=3, bidirectional=True, highway=True, dropout_rate=0.1)
    x = jnp.ones((4, 20, 8))                               # (batch, time, in)
    lengths = jnp.array([20, 15, 3, 1])
    variables = layer.init(jax.random.key(0), x, seq_lengths=lengths)
    y, carry = layer.apply(variables, x, seq_lengths=lengths, deterministic=False,
                           rngs={'dropout': jax.random.key(1)})
    # y: (4, 20, 32), zero where t >= lengths[b];  carry[-1][0] == (c, h) of the top forward LSTM
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping
from typing import Any

import flax.linen as nn
import jax
import jax.numpy as jnp
from flax.core import FrozenDict
from flax.linen import initializers
from flax.typing import Array, Dtype, Initializer

from highway_jax import cells, gating

__all__ = ['scan_cell', 'SequenceLayer', 'Recurrent', 'LSTM', 'GRU', 'SimpleRNN', 'RHN']

Carry = Any


# Per-backend defaults of the speed options (None in a layer's constructor): set from the decision table of
# ``python -m benchmarks.levers --quick`` run on that backend; a backend not listed gets 'other'. A value may
# be a dict by cell class name, 'other' for the rest. CPU: the chunked backward wins for the LSTM (0.86x)
# and loses for the GRU (1.1x), whose default step already runs at ~80% of the matmul peak. Fused gates
# measured faster on CPU, and one large matmul suits GPU/TPU.
BACKEND_DEFAULTS = {
    # SimpleRNN: unroll=2 at 0.78x and 0.85x of unroll=1 (2 threads; its step is short enough for the loop's
    # overhead to show); the GRU gained at most 5%, the LSTM lost. The LSTM's chunked backward (K=5) against
    # JAX's gradient, one layer (python -m benchmarks.levers --chunk-sizes, 2026-12-01): at 256 features 0.83x
    # with one thread, 1.00x with two; at 128 0.99-1.07x; at 16-64 1.10-1.51x (the per-chunk matmuls cost more
    # than they save). So it is the default from 256 features on ('backward_chunk_min_features'; below, 0).
    'cpu': {'fuse_gates': True, 'hoist_input_projection': False, 'unroll': {'SimpleRNNCell': 2, 'other': 1},
            'backward_chunk': {'LSTMCell': 5, 'other': 0}, 'backward_chunk_min_features': 256},
    # An H200 (2026-12-01): unroll=2 at 0.78x of unroll=1 for the LSTM, GRU and simple RNN alike (launch-bound
    # steps); the chunked backward was not measured there.
    'gpu': {'fuse_gates': True, 'hoist_input_projection': True, 'unroll': 2, 'backward_chunk': 0,
            'backward_chunk_min_features': 0},
    'other': {'fuse_gates': True, 'hoist_input_projection': True, 'unroll': 1, 'backward_chunk': 0,
              'backward_chunk_min_features': 0},
}


def backend_default(option: str, cell: type | None = None) -> Any:
  """This backend's default for a speed option of ``SequenceLayer`` and the cell class ``cell``
  (``BACKEND_DEFAULTS``)."""
  value = BACKEND_DEFAULTS.get(jax.default_backend(), BACKEND_DEFAULTS['other'])[option]
  return value.get(getattr(cell, '__name__', None), value['other']) if isinstance(value, dict) else value


def scan_cell(cell: Any, weights: Any, x: Any, carry: Carry, mask: Array | None = None, *,
              reverse: bool = False, hoist: bool = False, unroll: int = 1,
              backward_chunk: int = 0) -> tuple[Any, Carry]:
  """Runs ``cell.step`` over time; returns ``(outputs, final_carry)``.

  Args:
    cell: anything with the protocol methods ``project_input(weights, x)`` and
      ``step(weights, carry, projected) -> (new_carry, y)`` (a ``highway_jax.cells.RecurrentCell``).
    weights: the cell's prepared weights (``cell.prepare(x, fused)[1]``).
    x: time-major inputs ``(time, batch, in)``, or a pytree of such arrays (``None`` leaves allowed).
    carry: the initial carry; the final carry keeps its dtypes.
    mask: ``(time, batch, 1)`` bool, true at valid steps (``gating.sequence_mask``), or ``None``.
      Padded inputs are replaced by zeros before any computation (NaN there reaches no gradient); a padded
      step keeps the old carry and outputs zeros. Scanning in reverse from the end therefore holds the
      initial carry until each sequence's last valid step.
    reverse: scan from the last step to the first (outputs stay in input order).
    hoist: compute ``project_input`` for all steps as one batched op before the loop.
    unroll: passed to ``jax.lax.scan``.
    backward_chunk: ``K >= 1``: when ``cell.recurrent_kernel(weights)`` is not None, the gradient of
      the loop is ``chunked_backward_scan``'s (chunks of K steps; the same function); 0: JAX's own.
  """
  x = gating.mask_padding(x, mask)
  kernel = cell.recurrent_kernel(weights) if backward_chunk else None
  if kernel is not None:
    return chunked_backward_scan(cell, weights, kernel, x, carry, mask, reverse=reverse, hoist=hoist,
                                 unroll=unroll, chunk=backward_chunk)
  xs = cell.project_input(weights, x) if hoist else x

  def body(carry, step_inputs):
    inputs, m = step_inputs
    return _masked(cell.step, weights, carry, m, inputs if hoist else cell.project_input(weights, inputs))

  final_carry, ys = jax.lax.scan(body, carry, (xs, mask), reverse=reverse, unroll=unroll)
  return ys, final_carry


def _masked(step: Callable, weights: Any, carry: Carry, m: Array | None, *args) -> tuple[Carry, Any]:
  """``step(weights, carry, *args)`` with the new carry cast to the old one's dtypes; at padded steps
  (``m`` false) the old carry and zero outputs."""
  new_carry, y = step(weights, carry, *args)
  new_carry = jax.tree.map(lambda new, old: new.astype(old.dtype), new_carry, carry)
  if m is not None:
    new_carry = jax.tree.map(lambda new, old: jnp.where(m, new, old), new_carry, carry)
    y = gating.mask_padding(y, m)
  return new_carry, y


def chunked_backward_scan(cell: Any, weights: Any, kernel: Array, x: Array, carry: Carry, mask: Array | None,
                          *, reverse: bool, hoist: bool, unroll: int, chunk: int) -> tuple[Array, Carry]:
  r"""``scan_cell``'s loop for a cell whose step is ``pointwise(weights, carry, W x + b, h U)``, with a
  ``jax.custom_vjp`` that takes the weight gradients out of the per-step backward.

  JAX differentiates ``lax.scan`` by accumulating every loop-invariant weight's gradient inside the
  backward loop, ``dU += h_{t-1}ᵀ δ_t`` contracting over the batch only. Here the backward loop keeps
  only what is sequential (per step: autodiff of ``pointwise`` from its saved residuals, giving
  ``δ^x_t = ∂L/∂(W x_t + b)``, ``δ^r_t = ∂L/∂(h_{t-1} U)`` and the carry's gradient, to which
  ``δ^r_t Uᵀ`` is added); per chunk of K steps (K·batch rows) it then does one matmul each for
  ``dU += H_{t-1}ᵀ Δ^r``, and ``dW, db, dx`` from the input projection's own gradient on the chunk. The
  forward pass is the usual loop (input projection inside unless ``hoist``) that also stacks
  ``h_{t-1}`` and the residuals of ``pointwise``. ``chunk`` is rounded down to a divisor of the length.
  """
  time = x.shape[0]
  chunk = max(k for k in range(1, min(chunk, time) + 1) if time % k == 0)
  hidden = lambda c: jax.tree.leaves(c)[-1]
  # Differentiate pointwise only w.r.t. the weights it reads (peepholes, GRU's b_hn): the backward loop
  # then carries no zero gradients of the kernels.
  leaves, treedef = jax.tree.flatten(weights)
  probe = jax.make_jaxpr(lambda w: cell.pointwise(jax.tree.unflatten(treedef, w), carry,
                                                  cell.project_input(weights, x[0]), hidden(carry) @ kernel))(leaves)
  read = {id(v) for eqn in probe.jaxpr.eqns for v in eqn.invars} | {id(v) for v in probe.jaxpr.outvars}
  used = [id(v) in read for v in probe.jaxpr.invars]
  select = lambda w: [a for a, u in zip(jax.tree.leaves(w), used) if u]

  def merge(selected, rest):  # the weights tree: selected leaves where used, those of rest elsewhere
    selected = iter(selected)
    return jax.tree.unflatten(treedef, [next(selected) if u else a for a, u in zip(jax.tree.leaves(rest), used)])

  def forward(weights, kernel, x, carry, mask):
    xs = cell.project_input(weights, x) if hoist else x

    def body(carry, step_inputs):
      inputs, m = step_inputs
      projected = inputs if hoist else cell.project_input(weights, inputs)
      h = hidden(carry)
      out, pointwise_vjp = jax.vjp(lambda w, c, p, r: _masked(cell.pointwise, merge(w, weights), c, m, p, r),
                                   select(weights), carry, projected, h @ kernel)
      return out[0], (out[1], h, pointwise_vjp)

    final, (ys, hs, vjps) = jax.lax.scan(body, carry, (xs, mask), reverse=reverse, unroll=unroll)
    return (ys, final), (hs, vjps)

  def backward(residuals, cotangents):
    weights, kernel, x, hs, vjps = residuals
    d_ys, d_final = cotangents

    def chunk_body(acc, chunk_inputs):
      d_carry, d_selected, d_weights, d_kernel = acc
      x_k, hs_k, vjps_k, d_ys_k = chunk_inputs

      def step_body(acc, step_inputs):
        d_carry, d_selected = acc
        pointwise_vjp, d_y = step_inputs
        d_w, d_carry, d_p, d_r = pointwise_vjp((d_carry, d_y))
        *rest, d_h = jax.tree.leaves(d_carry)
        d_carry = jax.tree.unflatten(jax.tree.structure(d_carry), [*rest, d_h + d_r @ kernel.T])
        return (d_carry, _add(d_selected, d_w)), (d_p, d_r)

      (d_carry, d_selected), (d_ps, d_rs) = jax.lax.scan(step_body, (d_carry, d_selected), (vjps_k, d_ys_k),
                                                         reverse=not reverse, unroll=unroll)
      d_kernel = d_kernel + jnp.einsum('kbh,kbg->hg', hs_k, d_rs).astype(d_kernel.dtype)
      d_w, d_x = jax.vjp(cell.project_input, weights, x_k)[1](d_ps)
      return (d_carry, d_selected, _add(d_weights, d_w), d_kernel), d_x

    by_chunk = lambda a: a.reshape(time // chunk, chunk, *a.shape[1:])
    zeros = jax.tree.map(jnp.zeros_like, weights)
    acc = (d_final, select(zeros), zeros, jnp.zeros_like(kernel))
    (d_carry, d_selected, d_weights, d_kernel), d_x = jax.lax.scan(
        chunk_body, acc, jax.tree.map(by_chunk, (x, hs, vjps, d_ys)), reverse=not reverse)
    return _add(d_weights, merge(d_selected, zeros)), d_kernel, d_x.reshape(x.shape), d_carry, None

  def forward_with_residuals(weights, kernel, x, carry, mask):
    out, (hs, vjps) = forward(weights, kernel, x, carry, mask)
    return out, (weights, kernel, x, hs, vjps)

  run = jax.custom_vjp(lambda *args: forward(*args)[0])
  run.defvjp(forward_with_residuals, backward)
  return run(weights, kernel, x, carry, mask)


def _add(a: Any, b: Any) -> Any:
  return jax.tree.map(jnp.add, a, b)


class _Layer(nn.Module):
  """One (bi)directional recurrent layer on time-major inputs, with optional highway connection.

  ``__call__(x (time, batch, in), initial_carry, mask (time, batch, 1) | None) -> (y, final_carry)``.
  The signature fits ``nn.scan`` over layers: ``x``/``y`` is the scan carry, the carries are scanned.
  """

  cell_type: type
  cell_kwargs: FrozenDict
  bidirectional: bool
  highway: bool
  transform_bias_init: float
  dropout_rate: float
  deterministic: bool
  hoist: bool
  unroll: int
  backward_chunk: int
  fuse_gates: bool
  kernel_init: Initializer
  dtype: Dtype | None
  param_dtype: Dtype

  @nn.compact
  def __call__(self, x: Array, initial_carry: Carry, mask: Array | None) -> tuple[Array, Carry]:
    if self.dropout_rate > 0.0:
      x = nn.Dropout(self.dropout_rate)(x, deterministic=self.deterministic)
    directions = ('forward', 'backward') if self.bidirectional else ('forward',)
    carries = initial_carry if self.bidirectional else (initial_carry,)
    outputs, finals = [], []
    for direction, carry in zip(directions, carries):
      cell = self.cell_type(**self.cell_kwargs, name=direction)
      x_c, weights = cell.prepare(x, fused=self.fuse_gates)
      y, final = scan_cell(cell, weights, x_c, carry, mask, reverse=direction == 'backward',
                           hoist=self.hoist, unroll=self.unroll, backward_chunk=self.backward_chunk)
      outputs.append(y)
      finals.append(final)
    y = outputs[0] if len(outputs) == 1 else jnp.concatenate(outputs, axis=-1)
    if self.highway:
      width = y.shape[-1]
      dense = lambda name, **kw: nn.Dense(width, kernel_init=self.kernel_init, dtype=self.dtype,
                                          param_dtype=self.param_dtype, name=name, **kw)
      t = jax.nn.sigmoid(dense('T', bias_init=initializers.constant(self.transform_bias_init))(x))
      carried = x if x.shape[-1] == width else dense('proj')(x)
      y = gating.mask_padding(gating.highway_combine(h=y, t=t, x=carried), mask)
    return y.astype(x_c.dtype), (tuple(finals) if self.bidirectional else finals[0])


class SequenceLayer(nn.Module):
  """Stacked, bidirectional, highway, masked layers of one cell type; see the module docstring.

  A subclass names its cell with ``cell_spec() -> (cell_class, options)``: the options are passed to the
  cell together with ``features, kernel_init, recurrent_kernel_init, bias_init, dtype, param_dtype``.
  Attributes: those of the module docstring's "Constructor" paragraph.
  """

  features: int
  num_layers: int = 1
  bidirectional: bool = False
  dropout_rate: float = 0.0
  highway: bool = False
  transform_bias_init: float = -2.0
  _: dataclasses.KW_ONLY
  hoist_input_projection: bool | None = None
  unroll: int | None = None
  backward_chunk: int | None = None
  fuse_gates: bool | None = None
  kernel_init: Initializer = cells.default_kernel_init
  recurrent_kernel_init: Initializer = cells.default_recurrent_kernel_init
  bias_init: Initializer = initializers.zeros_init()
  dtype: Dtype | None = None
  param_dtype: Dtype = jnp.float32

  @nn.compact
  def __call__(self, inputs: Array, *, seq_lengths: Array | None = None, initial_carry: Carry = None,
               deterministic: bool = True) -> tuple[Array, Carry]:
    """Runs the layers over ``inputs`` (batch, time, in); see the module docstring.

    Returns ``(outputs (batch, time, D·features), final_carry)``.
    """
    inputs = jnp.asarray(inputs)
    if inputs.ndim != 3 or inputs.shape[1] == 0:
      raise ValueError(f'inputs must have shape (batch, time, features) with time >= 1, got shape {inputs.shape}.')
    if self.num_layers < 1:
      raise ValueError(f'num_layers must be >= 1, got {self.num_layers}.')
    gating.check_dropout_rate(self.dropout_rate)
    cell_type, cell_kwargs = self.cell_spec()
    speed = {name: backend_default(name, cell_type) if getattr(self, name) is None else getattr(self, name)
             for name in ('fuse_gates', 'hoist_input_projection', 'unroll', 'backward_chunk')}
    if self.backward_chunk is None and self.features < backend_default('backward_chunk_min_features'):
      speed['backward_chunk'] = 0  # the default chunked backward only pays from this size on
    if speed['unroll'] < 1 or speed['backward_chunk'] < 0:
      raise ValueError(f'unroll must be >= 1 and backward_chunk >= 0 (0: JAX\'s own scan gradient), got '
                       f'{speed["unroll"]} and {speed["backward_chunk"]}.')
    batch, time, in_features = inputs.shape
    mask = gating.sequence_mask(seq_lengths, batch, time)

    cell_kwargs = dict(cell_kwargs, features=self.features, kernel_init=self.kernel_init,
                       recurrent_kernel_init=self.recurrent_kernel_init, bias_init=self.bias_init,
                       dtype=self.dtype, param_dtype=self.param_dtype)
    # An unbound cell (parent=None) only to build zeros; it owns no parameters.
    one = cell_type(**cell_kwargs, parent=None).initialize_carry(jax.random.key(0), (batch, in_features))
    carries = self._per_layer_carries(initial_carry, (one, one) if self.bidirectional else one)
    layer_kwargs = dict(
        cell_type=cell_type, cell_kwargs=FrozenDict(cell_kwargs), bidirectional=self.bidirectional,
        highway=self.highway, transform_bias_init=self.transform_bias_init, deterministic=deterministic,
        hoist=speed['hoist_input_projection'], unroll=speed['unroll'], backward_chunk=speed['backward_chunk'],
        fuse_gates=speed['fuse_gates'], kernel_init=self.kernel_init,
        dtype=self.dtype, param_dtype=self.param_dtype)

    # Time-major (lax.scan walks the leading axis); padded inputs zeroed before the highway gate reads them.
    x = gating.mask_padding(jnp.swapaxes(inputs, 0, 1), mask)
    x, first_carry = _Layer(dropout_rate=0.0, name='layer_0', **layer_kwargs)(x, carries[0], mask)
    finals = [first_carry]
    if self.num_layers > 1:
      stack = nn.scan(_Layer, variable_axes={'params': 0}, split_rngs={'params': True, 'dropout': True},
                      in_axes=(0, nn.broadcast), length=self.num_layers - 1)(
          dropout_rate=self.dropout_rate, name='layers', **layer_kwargs)
      stacked = jax.tree.map(lambda *a: jnp.stack(a), *carries[1:])
      x, rest = stack(x, stacked, mask)
      finals += [jax.tree.map(lambda a, i=i: a[i], rest) for i in range(self.num_layers - 1)]
    return jnp.swapaxes(x, 0, 1), (finals[0] if self.num_layers == 1 else tuple(finals))

  def _per_layer_carries(self, initial_carry: Carry, default: Carry) -> list[Carry]:
    if initial_carry is None:
      return [default] * self.num_layers
    per_layer = [initial_carry] if self.num_layers == 1 else initial_carry
    expected = jax.tree.map(lambda a: a.shape, default)
    try:
      shapes = [jax.tree.map(lambda a, _: jnp.shape(a), carry, default) for carry in per_layer]
    except (ValueError, TypeError):
      shapes = None
    if not isinstance(per_layer, (tuple, list)) or shapes != [expected] * self.num_layers:
      described = 'the layer carry' if self.num_layers == 1 else f'a tuple of {self.num_layers} layer carries'
      raise ValueError(f'initial_carry must be {described}, each with shapes {expected}; got '
                       f'{jax.tree.map(jnp.shape, initial_carry)}.')
    return [jax.tree.map(lambda a, d: jnp.asarray(a, d.dtype), c, default) for c in per_layer]


class Recurrent(SequenceLayer):
  """Sequence layers of any ``highway_jax.cells.RecurrentCell`` subclass: ``cell`` (the class) and
  ``cell_options`` (its own fields, e.g. ``{'depth': 2}``), both keyword-only.

  ``Recurrent(8, cell=LSTMCell, cell_options={'peepholes': True})`` computes what ``LSTM(8, peepholes=True)``
  does, with the same parameters.
  """

  cell: type = dataclasses.field(kw_only=True)
  cell_options: Mapping[str, Any] = dataclasses.field(default=FrozenDict(), kw_only=True)

  @nn.nowrap
  def cell_spec(self) -> tuple[type, dict]:
    return self.cell, dict(self.cell_options)


class LSTM(SequenceLayer):
  """LSTM layers (``highway_jax.cells.LSTMCell``): ``SequenceLayer``'s attributes, then ``peepholes,
  forget_bias_init``."""

  peepholes: bool = False
  forget_bias_init: float = 1.0

  @nn.nowrap
  def cell_spec(self) -> tuple[type, dict]:
    return cells.LSTMCell, dict(peepholes=self.peepholes, forget_bias_init=self.forget_bias_init)


class GRU(SequenceLayer):
  """GRU layers (``highway_jax.cells.GRUCell``, ``reset_after`` picks the convention)."""

  reset_after: bool = True

  @nn.nowrap
  def cell_spec(self) -> tuple[type, dict]:
    return cells.GRUCell, dict(reset_after=self.reset_after)


class SimpleRNN(SequenceLayer):
  """Elman RNN layers (``highway_jax.cells.SimpleRNNCell``)."""

  activation: Callable[[Array], Array] = nn.tanh

  @nn.nowrap
  def cell_spec(self) -> tuple[type, dict]:
    return cells.SimpleRNNCell, dict(activation=self.activation)


class RHN(SequenceLayer):
  """Recurrent Highway Network layers (``highway_jax.cells.RHNCell``); ``depth`` is required.

  ``transform_bias_init`` initialises the micro-layers' ``T`` biases and, with ``highway=True``, the
  between-layer gate ``T`` as well. Inside the time loop the ``depth`` micro-layers are unrolled over
  per-micro-layer weight slices (compile time grows with ``depth``, which is at most ~10 in practice).
  """

  depth: int = dataclasses.field(kw_only=True)

  @nn.nowrap
  def cell_spec(self) -> tuple[type, dict]:
    return cells.RHNCell, dict(depth=self.depth, transform_bias_init=self.transform_bias_init)

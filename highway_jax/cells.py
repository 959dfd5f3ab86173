r"""Recurrent cells: LSTM (with optional peepholes), GRU (both reset conventions), simple RNN and RHN.

Every cell is a ``flax.linen.RNNCellBase``: ``cell(carry, x) -> (new_carry, y)`` for one time step, with
``initialize_carry(rng, input_shape)`` and ``num_feature_axes == 1``, so it also runs inside
``flax.linen.RNN`` and ``flax.linen.Bidirectional``. ``x`` has shape ``(*batch, in)``; every carry array
and ``y`` have shape ``(*batch, features)``. For whole sequences use the layers of
``highway_jax.recurrent``, which keep the parameters in exactly the layouts below but run a faster scan.
For them each cell also has three pure-jnp building blocks: ``_split_params(params)`` turns the fused
layout into separate per-gate arrays once, outside the time loop (slicing a fused gate block inside a
scan body is slow on CPU); ``_project_input(weights, x)`` is the time-parallel part, with every bias that
can be folded into it; ``_step(weights, carry, projected) -> (new_carry, y)`` is the sequential part.

Parameter layouts (part of the API). Kernels are ``(in, out)`` like ``flax.linen.Dense``; where gates are
fused along the last axis, each gate block is initialised independently (``kernel_init`` for input
kernels, ``recurrent_kernel_init``, orthogonal by default, for recurrent kernels).

``LSTMCell`` (carry ``(c, h)``), gates fused in PyTorch's order i, f, g, o::

    input/kernel      (in, 4·features)
    recurrent/kernel  (features, 4·features)
    recurrent/bias    (4·features)          f slice initialised to forget_bias_init, the rest bias_init
    peephole/i, peephole/f, peephole/o  (features,)   only with peepholes=True (initialised to zero)

    i = σ(W_i x + U_i h + b_i + p_i·c)      f = σ(W_f x + U_f h + b_f + p_f·c)
    g = tanh(W_g x + U_g h + b_g)           c' = f·c + i·g
    o = σ(W_o x + U_o h + b_o + p_o·c')     h' = o·tanh(c')            (y = h')

Porting PyTorch weights: ``input/kernel = weight_ih.T``, ``recurrent/kernel = weight_hh.T``,
``recurrent/bias = bias_ih + bias_hh``.

``GRUCell`` (carry ``h``), gates fused in PyTorch's order r, z, n::

    input/kernel (in, 3·features)      input/bias (3·features)
    recurrent/kernel (features, 3·features)   recurrent/bias (3·features)

    r = σ(W_r x + b_ir + U_r h + b_hr)      z = σ(W_z x + b_iz + U_z h + b_hz)
    reset_after=True  (cuDNN, PyTorch, Keras, Flax):  n = tanh(W_n x + b_in + r·(U_n h + b_hn))
    reset_after=False (Cho et al. 2014, v3):          n = tanh(W_n x + b_in + U_n (r·h) + b_hn)
    h' = (1 − z)·n + z·h                                                   (y = h')

``SimpleRNNCell`` (carry ``h``)::

    input/kernel (in, features)   input/bias (features)   recurrent/kernel (features, features)
    recurrent/bias (features)
    h' = activation(W x + b_x + U h + b_h)                                 (y = h')

``RHNCell`` (Recurrent Highway Network, Zilly et al. 2017; carry ``s``), ``depth`` micro-layers per
time step run with ``nn.scan``; the input enters only at the first micro-layer; coupled carry::

    input/kernel  (in, 2·features)          fused [W_H | W_T], no bias
    layers/H/kernel (depth, features, features)   layers/H/bias (depth, features)          bias_init
    layers/T/kernel (depth, features, features)   layers/T/bias (depth, features)   transform_bias_init

    s_0 = s;  for l = 1..depth:
      h_l = tanh(W_H x·[l=1] + R_Hl s_{l−1} + b_Hl),  t_l = σ(W_T x·[l=1] + R_Tl s_{l−1} + b_Tl)
      s_l = h_l·t_l + s_{l−1}·(1 − t_l)
    s' = s_depth                                                           (y = s')

Example::

    import jax, jax.numpy as jnp, flax.linen as nn
    from highway_jax.cells import LSTMCell

    cell = LSTMCell(features=8, peepholes=True)
    x = jnp.ones((4, 3))                                   # (batch, in)
    carry = cell.initialize_carry(jax.random.key(0), x.shape)
    variables = cell.init(jax.random.key(1), carry, x)
    (c, h), y = cell.apply(variables, carry, x)            # c, h, y: (4, 8)
    ys = nn.RNN(cell).apply({'params': {'cell': variables['params']}},
                            jnp.ones((4, 10, 3)))          # (4, 10, 8)
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import flax.linen as nn
import jax
import jax.numpy as jnp
from flax.linen import initializers
from flax.linen.dtypes import promote_dtype
from flax.typing import Array, Dtype, Initializer, PRNGKey

__all__ = ['LSTMCell', 'GRUCell', 'SimpleRNNCell', 'RHNCell']

default_kernel_init = initializers.lecun_normal()
default_recurrent_kernel_init = initializers.orthogonal()


def _per_gate(init: Initializer, num_gates: int) -> Initializer:
  """Initialise a fused (..., num_gates·n) array as num_gates independent (..., n) blocks."""

  def init_fn(key, shape, dtype=jnp.float32):
    *lead, fused = shape
    keys = jax.random.split(key, num_gates)
    # At least float32 while initialising: the orthogonal init's QR has no bfloat16 kernel.
    init_dtype = jnp.promote_types(dtype, jnp.float32)
    blocks = [init(k, (*lead, fused // num_gates), init_dtype) for k in keys]
    return jnp.concatenate(blocks, axis=-1).astype(dtype)

  return init_fn


def _lstm_bias_init(bias_init: Initializer, forget_bias_init: float) -> Initializer:
  def init_fn(key, shape, dtype=jnp.float32):
    n = shape[-1] // 4
    k_i, k_g, k_o = jax.random.split(key, 3)
    forget = jnp.full((n,), forget_bias_init, dtype)
    return jnp.concatenate(
        [bias_init(k_i, (n,), dtype), forget, bias_init(k_g, (n,), dtype), bias_init(k_o, (n,), dtype)]
    )

  return init_fn


class _Affine(nn.Module):
  """Parameters of one affine map, named like ``flax.linen.Dense``: kernel (in, features), bias (features,).

  Returns the arrays instead of applying them, so that callers can pre-split fused gates. ``argument``
  names the call argument whose last axis is ``in``, for the error raised when it does not fit the params.
  """

  features: int
  use_bias: bool
  kernel_init: Initializer
  bias_init: Initializer
  param_dtype: Dtype
  argument: str

  @nn.compact
  def __call__(self, in_features: int) -> tuple[Array, Array | None]:
    if self.has_variable('params', 'kernel'):
      expected = self.get_variable('params', 'kernel').shape[-2]
      if expected != in_features:
        raise ValueError(
            f'{self.argument} has {in_features} features on its last axis, but the parameters '
            f"'{self.name}/kernel' expect {expected}."
        )
    kernel = self.param('kernel', self.kernel_init, (in_features, self.features), self.param_dtype)
    bias = self.param('bias', self.bias_init, (self.features,), self.param_dtype) if self.use_bias else None
    return kernel, bias


class _Peepholes(nn.Module):
  """Diagonal peephole weights ``i``, ``f``, ``o``, each (features,)."""

  features: int
  peephole_init: Initializer
  param_dtype: Dtype

  @nn.compact
  def __call__(self) -> dict[str, Array]:
    return {g: self.param(g, self.peephole_init, (self.features,), self.param_dtype) for g in ('i', 'f', 'o')}


def _check_step_args(cell: nn.Module, carry: Any, inputs: Array) -> None:
  if inputs.ndim < 1:
    raise ValueError(f'inputs must have shape (*batch, in), got a scalar of shape {inputs.shape}.')
  for leaf in jax.tree.leaves(carry):
    if leaf.shape[-1:] != (cell.features,) or leaf.shape[:-1] != inputs.shape[:-1]:
      raise ValueError(
          f'carry arrays must have shape (*batch, features) = {(*inputs.shape[:-1], cell.features)} '
          f'for inputs of shape {inputs.shape}, got {leaf.shape}.'
      )


def _check_features(cell: nn.Module) -> None:
  if cell.features < 1:
    raise ValueError(f'features must be >= 1, got {cell.features}.')


def _promote(inputs: Array, params: Any, dtype: Dtype | None) -> tuple[Array, Any]:
  leaves, treedef = jax.tree.flatten(params)
  inputs, *leaves = promote_dtype(inputs, *leaves, dtype=dtype)
  return inputs, jax.tree.unflatten(treedef, leaves)


def _split(a: Array, n: int) -> tuple[Array, ...]:
  return tuple(jnp.split(a, n, axis=-1))


class LSTMCell(nn.RNNCellBase):
  """LSTM cell with an optional peephole connection; see the module docstring for equations and layout.

  Attributes:
    features: hidden size.
    peepholes: add diagonal peephole weights ``peephole/{i,f,o}``.
    forget_bias_init: initial value of the forget-gate slice of ``recurrent/bias``.
    kernel_init, recurrent_kernel_init, bias_init, peephole_init: initialisers (per gate block).
    dtype: computation dtype (default: inferred from inputs and params).
    param_dtype: parameter dtype.
    carry_init: initialiser of the carry in ``initialize_carry``.
  """

  features: int
  peepholes: bool = False
  forget_bias_init: float = 1.0
  kernel_init: Initializer = default_kernel_init
  recurrent_kernel_init: Initializer = default_recurrent_kernel_init
  bias_init: Initializer = initializers.zeros_init()
  peephole_init: Initializer = initializers.zeros_init()
  dtype: Dtype | None = None
  param_dtype: Dtype = jnp.float32
  carry_init: Initializer = initializers.zeros_init()

  @nn.compact
  def __call__(self, carry: tuple[Array, Array], inputs: Array) -> tuple[tuple[Array, Array], Array]:
    _check_features(self)
    _check_step_args(self, carry, inputs)
    params = self._make_params(inputs.shape[-1])
    inputs, params = _promote(inputs, params, self.dtype)
    weights = self._split_params(params)
    return self._step(weights, carry, self._project_input(weights, inputs))

  def _make_params(self, in_features: int) -> dict:
    f = self.features
    kernel, _ = _Affine(4 * f, False, _per_gate(self.kernel_init, 4), self.bias_init,
                        self.param_dtype, 'inputs', name='input')(in_features)
    rkernel, rbias = _Affine(4 * f, True, _per_gate(self.recurrent_kernel_init, 4),
                             _lstm_bias_init(self.bias_init, self.forget_bias_init),
                             self.param_dtype, 'carry', name='recurrent')(f)
    params = {'input': {'kernel': kernel}, 'recurrent': {'kernel': rkernel, 'bias': rbias}}
    if self.peepholes:
      params['peephole'] = _Peepholes(f, self.peephole_init, self.param_dtype, name='peephole')()
    return params

  @nn.nowrap
  def _split_params(self, params: dict, fused: bool = False) -> dict:
    # fused: one (in, 4H) input and one (H, 4H) recurrent matmul per step, split after the sum;
    # otherwise per-gate arrays split once here, so the time loop never slices a fused block.
    n = 1 if fused else 4
    weights = {
        'input': _split(params['input']['kernel'], n),
        'bias': _split(params['recurrent']['bias'], n),
        'recurrent': _split(params['recurrent']['kernel'], n),
    }
    if self.peepholes:
      weights['peephole'] = tuple(params['peephole'][g] for g in ('i', 'f', 'o'))
    return weights

  @nn.nowrap
  def _project_input(self, weights: dict, x: Array) -> tuple[Array, ...]:
    return tuple(x @ w + b for w, b in zip(weights['input'], weights['bias']))

  @nn.nowrap
  def _step(self, weights: dict, carry: tuple[Array, Array], projected: tuple[Array, ...]):
    c, h = carry
    if len(projected) == 1:  # fused gates
      a_i, a_f, a_g, a_o = _split(projected[0] + h @ weights['recurrent'][0], 4)
    else:
      (x_i, x_f, x_g, x_o), (u_i, u_f, u_g, u_o) = projected, weights['recurrent']
      a_i, a_f, a_g, a_o = x_i + h @ u_i, x_f + h @ u_f, x_g + h @ u_g, x_o + h @ u_o
    if self.peepholes:
      p_i, p_f, p_o = weights['peephole']
      a_i, a_f = a_i + p_i * c, a_f + p_f * c
    new_c = jax.nn.sigmoid(a_f) * c + jax.nn.sigmoid(a_i) * jnp.tanh(a_g)
    if self.peepholes:
      a_o = a_o + p_o * new_c
    new_h = jax.nn.sigmoid(a_o) * jnp.tanh(new_c)
    return (new_c, new_h), new_h

  @nn.nowrap
  def initialize_carry(self, rng: PRNGKey, input_shape: tuple[int, ...]) -> tuple[Array, Array]:
    shape = (*input_shape[:-1], self.features)
    key_c, key_h = jax.random.split(rng)
    return self.carry_init(key_c, shape, self.param_dtype), self.carry_init(key_h, shape, self.param_dtype)

  @property
  def num_feature_axes(self) -> int:
    return 1


class GRUCell(nn.RNNCellBase):
  """GRU cell with both reset conventions; see the module docstring for equations and layout.

  Attributes:
    features: hidden size.
    reset_after: True for n = tanh(W_n x + b_in + r·(U_n h + b_hn)) (cuDNN/PyTorch), False for
      n = tanh(W_n x + b_in + U_n (r·h) + b_hn) (Cho et al. 2014 v3).
    kernel_init, recurrent_kernel_init, bias_init: initialisers (per gate block).
    dtype, param_dtype, carry_init: as in ``LSTMCell``.
  """

  features: int
  reset_after: bool = True
  kernel_init: Initializer = default_kernel_init
  recurrent_kernel_init: Initializer = default_recurrent_kernel_init
  bias_init: Initializer = initializers.zeros_init()
  dtype: Dtype | None = None
  param_dtype: Dtype = jnp.float32
  carry_init: Initializer = initializers.zeros_init()

  @nn.compact
  def __call__(self, carry: Array, inputs: Array) -> tuple[Array, Array]:
    _check_features(self)
    _check_step_args(self, carry, inputs)
    params = self._make_params(inputs.shape[-1])
    inputs, params = _promote(inputs, params, self.dtype)
    weights = self._split_params(params)
    return self._step(weights, carry, self._project_input(weights, inputs))

  def _make_params(self, in_features: int) -> dict:
    f = self.features
    kernel, bias = _Affine(3 * f, True, _per_gate(self.kernel_init, 3), self.bias_init,
                           self.param_dtype, 'inputs', name='input')(in_features)
    rkernel, rbias = _Affine(3 * f, True, _per_gate(self.recurrent_kernel_init, 3), self.bias_init,
                             self.param_dtype, 'carry', name='recurrent')(f)
    return {'input': {'kernel': kernel, 'bias': bias}, 'recurrent': {'kernel': rkernel, 'bias': rbias}}

  @nn.nowrap
  def _split_params(self, params: dict, fused: bool = False) -> dict:
    if fused and self.reset_after:
      # One (in, 3H) and one (H, 3H) matmul per step; b_hn stays apart (it sits inside r·(...)).
      b_i, b_h = params['input']['bias'], params['recurrent']['bias']
      n = b_h.shape[-1] // 3
      return {
          'input': (params['input']['kernel'],),
          'bias': (b_i + jnp.concatenate([b_h[:2 * n], jnp.zeros_like(b_h[2 * n:])]),),
          'recurrent': (params['recurrent']['kernel'],),
          'candidate_bias': b_h[2 * n:],
      }
    b_ir, b_iz, b_in = _split(params['input']['bias'], 3)
    b_hr, b_hz, b_hn = _split(params['recurrent']['bias'], 3)
    if self.reset_after:
      # b_hn sits inside r·(...), so it cannot join the input projection.
      folded, b_step = (b_ir + b_hr, b_iz + b_hz, b_in), b_hn
    else:
      folded, b_step = (b_ir + b_hr, b_iz + b_hz, b_in + b_hn), None
    return {
        'input': _split(params['input']['kernel'], 3),
        'bias': folded,
        'recurrent': _split(params['recurrent']['kernel'], 3),
        'candidate_bias': b_step,
    }

  @nn.nowrap
  def _project_input(self, weights: dict, x: Array) -> tuple[Array, ...]:
    return tuple(x @ w + b for w, b in zip(weights['input'], weights['bias']))

  @nn.nowrap
  def _step(self, weights: dict, h: Array, projected: tuple[Array, ...]) -> tuple[Array, Array]:
    if len(projected) == 1:  # fused gates (reset_after only)
      (x_r, x_z, x_n), (h_r, h_z, h_n) = (_split(projected[0], 3),
                                          _split(h @ weights['recurrent'][0], 3))
      r, z = jax.nn.sigmoid(x_r + h_r), jax.nn.sigmoid(x_z + h_z)
      n = jnp.tanh(x_n + r * (h_n + weights['candidate_bias']))
      new_h = (1.0 - z) * n + z * h
      return new_h, new_h
    x_r, x_z, x_n = projected
    u_r, u_z, u_n = weights['recurrent']
    r = jax.nn.sigmoid(x_r + h @ u_r)
    z = jax.nn.sigmoid(x_z + h @ u_z)
    if self.reset_after:
      n = jnp.tanh(x_n + r * (h @ u_n + weights['candidate_bias']))
    else:
      n = jnp.tanh(x_n + (r * h) @ u_n)
    new_h = (1.0 - z) * n + z * h
    return new_h, new_h

  @nn.nowrap
  def initialize_carry(self, rng: PRNGKey, input_shape: tuple[int, ...]) -> Array:
    return self.carry_init(rng, (*input_shape[:-1], self.features), self.param_dtype)

  @property
  def num_feature_axes(self) -> int:
    return 1


class SimpleRNNCell(nn.RNNCellBase):
  """Elman RNN cell h' = activation(W x + b_x + U h + b_h); see the module docstring for the layout.

  Attributes:
    features: hidden size.
    activation: the nonlinearity (default tanh).
    kernel_init, recurrent_kernel_init, bias_init, dtype, param_dtype, carry_init: as in ``LSTMCell``.
  """

  features: int
  activation: Callable[[Array], Array] = nn.tanh
  kernel_init: Initializer = default_kernel_init
  recurrent_kernel_init: Initializer = default_recurrent_kernel_init
  bias_init: Initializer = initializers.zeros_init()
  dtype: Dtype | None = None
  param_dtype: Dtype = jnp.float32
  carry_init: Initializer = initializers.zeros_init()

  @nn.compact
  def __call__(self, carry: Array, inputs: Array) -> tuple[Array, Array]:
    _check_features(self)
    _check_step_args(self, carry, inputs)
    params = self._make_params(inputs.shape[-1])
    inputs, params = _promote(inputs, params, self.dtype)
    weights = self._split_params(params)
    return self._step(weights, carry, self._project_input(weights, inputs))

  def _make_params(self, in_features: int) -> dict:
    f = self.features
    kernel, bias = _Affine(f, True, _per_gate(self.kernel_init, 1), self.bias_init,
                           self.param_dtype, 'inputs', name='input')(in_features)
    rkernel, rbias = _Affine(f, True, _per_gate(self.recurrent_kernel_init, 1), self.bias_init,
                             self.param_dtype, 'carry', name='recurrent')(f)
    return {'input': {'kernel': kernel, 'bias': bias}, 'recurrent': {'kernel': rkernel, 'bias': rbias}}

  @nn.nowrap
  def _split_params(self, params: dict, fused: bool = False) -> dict:
    del fused  # one gate block: nothing to split
    return {
        'input': params['input']['kernel'],
        'bias': params['input']['bias'] + params['recurrent']['bias'],
        'recurrent': params['recurrent']['kernel'],
    }

  @nn.nowrap
  def _project_input(self, weights: dict, x: Array) -> Array:
    return x @ weights['input'] + weights['bias']

  @nn.nowrap
  def _step(self, weights: dict, h: Array, projected: Array) -> tuple[Array, Array]:
    new_h = self.activation(projected + h @ weights['recurrent'])
    return new_h, new_h

  @nn.nowrap
  def initialize_carry(self, rng: PRNGKey, input_shape: tuple[int, ...]) -> Array:
    return self.carry_init(rng, (*input_shape[:-1], self.features), self.param_dtype)

  @property
  def num_feature_axes(self) -> int:
    return 1


class _RHNMicroLayer(nn.Module):
  """One RHN micro-layer: a coupled highway layer on the state, plus the input at the first one."""

  features: int
  transform_bias_init: float
  recurrent_kernel_init: Initializer
  bias_init: Initializer
  param_dtype: Dtype
  dtype: Dtype | None

  @nn.compact
  def __call__(self, s: Array, is_first: Array, input_terms: tuple[Array, Array]) -> tuple[Array, None]:
    f = self.features
    recurrent_init = _per_gate(self.recurrent_kernel_init, 1)
    r_h, b_h = _Affine(f, True, recurrent_init, self.bias_init, self.param_dtype, 'carry', name='H')(f)
    r_t, b_t = _Affine(f, True, recurrent_init, initializers.constant(self.transform_bias_init),
                       self.param_dtype, 'carry', name='T')(f)
    _, (r_h, b_h, r_t, b_t) = _promote(s, (r_h, b_h, r_t, b_t), self.dtype)
    wx_h, wx_t = input_terms
    # The input only enters at the first micro-layer; a 0/1 factor keeps one program for all layers.
    first = is_first.astype(wx_h.dtype)
    h = jnp.tanh(s @ r_h + b_h + first * wx_h)
    t = jax.nn.sigmoid(s @ r_t + b_t + first * wx_t)
    return (h * t + s * (1.0 - t)).astype(s.dtype), None


class RHNCell(nn.RNNCellBase):
  """Recurrent Highway Network cell (Zilly et al. 2017); see the module docstring for equations/layout.

  The ``depth`` micro-layers are one ``nn.scan`` over a micro-layer module (params stacked on a leading
  ``depth`` axis under ``layers``), so compile time does not grow with depth.

  Attributes:
    features: state size.
    depth: number of micro-layers per time step (the recurrence depth L), >= 1.
    transform_bias_init: initial value of every ``layers/T/bias`` (paper: −2 on PTB, −4 on enwik8).
    kernel_init, recurrent_kernel_init, bias_init, dtype, param_dtype, carry_init: as in ``LSTMCell``.
  """

  features: int
  depth: int
  transform_bias_init: float = -2.0
  kernel_init: Initializer = default_kernel_init
  recurrent_kernel_init: Initializer = default_recurrent_kernel_init
  bias_init: Initializer = initializers.zeros_init()
  dtype: Dtype | None = None
  param_dtype: Dtype = jnp.float32
  carry_init: Initializer = initializers.zeros_init()

  @nn.compact
  def __call__(self, carry: Array, inputs: Array) -> tuple[Array, Array]:
    _check_features(self)
    if self.depth < 1:
      raise ValueError(f'depth must be >= 1, got {self.depth}.')
    _check_step_args(self, carry, inputs)
    kernel, _ = _Affine(2 * self.features, False, _per_gate(self.kernel_init, 2), self.bias_init,
                        self.param_dtype, 'inputs', name='input')(inputs.shape[-1])
    inputs, kernel = promote_dtype(inputs, kernel, dtype=self.dtype)
    micro_layers = nn.scan(
        _RHNMicroLayer,
        variable_axes={'params': 0},
        split_rngs={'params': True},
        in_axes=(0, nn.broadcast),
        length=self.depth,
    )(self.features, self.transform_bias_init, self.recurrent_kernel_init, self.bias_init,
      self.param_dtype, self.dtype, name='layers')
    s, _ = micro_layers(carry, jnp.arange(self.depth) == 0, _split(inputs @ kernel, 2))
    return s, s

  @nn.nowrap
  def _split_params(self, params: dict, fused: bool = False) -> dict:
    del fused  # the micro-layers are split per layer and per H/T block
    layers = params['layers']
    w_h, w_t = _split(params['input']['kernel'], 2)
    # Per-micro-layer slices taken once here, so the time loop never indexes the stacked arrays.
    micro = tuple(
        (layers['H']['kernel'][l], layers['H']['bias'][l], layers['T']['kernel'][l], layers['T']['bias'][l])
        for l in range(self.depth)
    )
    return {'input': (w_h, w_t), 'micro': micro}

  @nn.nowrap
  def _project_input(self, weights: dict, x: Array) -> tuple[Array, Array]:
    (w_h, w_t), (_, b_h, _, b_t) = weights['input'], weights['micro'][0]
    return x @ w_h + b_h, x @ w_t + b_t

  @nn.nowrap
  def _step(self, weights: dict, s: Array, projected: tuple[Array, Array]) -> tuple[Array, Array]:
    for l, (r_h, b_h, r_t, b_t) in enumerate(weights['micro']):
      if l == 0:  # input and first biases come in through `projected`
        a_h, a_t = projected[0] + s @ r_h, projected[1] + s @ r_t
      else:
        a_h, a_t = s @ r_h + b_h, s @ r_t + b_t
      t = jax.nn.sigmoid(a_t)
      s = jnp.tanh(a_h) * t + s * (1.0 - t)
    return s, s

  @nn.nowrap
  def initialize_carry(self, rng: PRNGKey, input_shape: tuple[int, ...]) -> Array:
    return self.carry_init(rng, (*input_shape[:-1], self.features), self.param_dtype)

  @property
  def num_feature_axes(self) -> int:
    return 1

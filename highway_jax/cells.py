r"""Recurrent cells: LSTM (with optional peepholes), GRU (both reset conventions), simple RNN and RHN.

Every cell is a ``flax.linen.RNNCellBase``: ``cell(carry, x) -> (new_carry, y)`` for one time step, with
``initialize_carry(rng, input_shape)`` and ``num_feature_axes == 1``, so it also runs inside
``flax.linen.RNN`` and ``flax.linen.Bidirectional``. ``x`` has shape ``(*batch, in)``; every carry array
and ``y`` have shape ``(*batch, features)``. For whole sequences use the layers of
``highway_jax.recurrent``, which keep the parameters in exactly the layouts below but run a faster scan.

The cell protocol (``RecurrentCell``). A cell is three methods; ``__call__``, ``initialize_carry``,
``num_feature_axes`` and the sequence layers (stacking, bidirectionality, masking, highway connections,
``highway_jax.recurrent.Recurrent(cell=...)``) are written once on top of them:

* ``make_params(in_features) -> params``: creates (or reads) the parameters with ``self.param`` or
  submodules, in the layout users port weights by;
* ``project_input(weights, x) -> projected``: the time-parallel part, with every bias that can be
  folded into it (the sequence layers may compute it for all steps at once, before the time loop);
* ``step(weights, carry, projected) -> (new_carry, y)``: the sequential part, pure ``jax.numpy``.

Optionally ``split_params(params, fused) -> weights`` rearranges the parameters once, outside the time loop (default:
unchanged; slicing a fused gate block inside a scan body is slow on CPU), and the class attribute ``num_carry_arrays``
(2 for the LSTM's ``(c, h)``) shapes ``initialize_carry``. A cell whose step is
``pointwise(weights, carry, projected, h @ U)`` (``h`` the carry's last array) says so with
``recurrent_kernel(weights) -> U`` (default None) and that ``pointwise``; the sequence layers can then
compute ``U``'s gradient over many steps at once (``backward_chunk``). ``docs/adding_a_cell.md`` walks
through a new cell.

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
time step; the input enters only at the first micro-layer; coupled carry::

    input/kernel  (in, 2·features)          fused [W_H | W_T], no bias
    layers/H/kernel (depth, features, features)   layers/H/bias (depth, features)          bias_init
    layers/T/kernel (depth, features, features)   layers/T/bias (depth, features)   transform_bias_init

    s_0 = s;  for l = 1..depth:
      h_l = tanh(W_H x·[l=1] + R_Hl s_{l−1} + b_Hl),  t_l = σ(W_T x·[l=1] + R_Tl s_{l−1} + b_Tl)
      s_l = s_{l−1} + t_l·(h_l − s_{l−1})        (= h_l·t_l + s_{l−1}·(1 − t_l))
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

import dataclasses
from collections.abc import Callable
from typing import Any

import flax.linen as nn
import jax
import jax.numpy as jnp
from flax.linen import initializers
from flax.linen.dtypes import promote_dtype
from flax.typing import Array, Dtype, Initializer, PRNGKey

from highway_jax import gating

__all__ = ['RecurrentCell', 'LSTMCell', 'GRUCell', 'SimpleRNNCell', 'RHNCell']

default_kernel_init = initializers.lecun_normal()
default_recurrent_kernel_init = initializers.orthogonal()


class _Affine(nn.Module):
  """Parameters of one affine map, named like ``flax.linen.Dense``: kernel (in, features), bias (features,).

  Returns ``{'kernel', 'bias'}`` (no bias unless ``use_bias``) instead of applying them, so that callers can
  pre-split fused gates. ``argument`` names the call argument whose last axis is ``in``, for the error raised
  when it does not fit the params.
  """

  features: int
  use_bias: bool
  kernel_init: Initializer
  bias_init: Initializer
  param_dtype: Dtype
  argument: str

  @nn.compact
  def __call__(self, in_features: int) -> dict[str, Array]:
    if self.has_variable('params', 'kernel'):
      expected = self.get_variable('params', 'kernel').shape[-2]
      if expected != in_features:
        raise ValueError(f'{self.argument} has {in_features} features on its last axis, but the parameters '
                         f"'{self.name}/kernel' expect {expected}.")
    params = {'kernel': self.param('kernel', self.kernel_init, (in_features, self.features), self.param_dtype)}
    if self.use_bias:
      params['bias'] = self.param('bias', self.bias_init, (self.features,), self.param_dtype)
    return params


class _Peepholes(nn.Module):
  """Diagonal peephole weights ``i``, ``f``, ``o``, each (features,)."""

  features: int
  peephole_init: Initializer
  param_dtype: Dtype

  @nn.compact
  def __call__(self) -> dict[str, Array]:
    return {g: self.param(g, self.peephole_init, (self.features,), self.param_dtype) for g in 'ifo'}


def _split(a: Array, n: int) -> tuple[Array, ...]:
  return tuple(jnp.split(a, n, axis=-1))


class RecurrentCell(nn.RNNCellBase):
  """Base of every cell, written on top of the protocol methods (see the module docstring).

  Attributes: ``features`` (hidden size); keyword-only ``kernel_init, recurrent_kernel_init, bias_init``
  (per gate block for fused gates), ``dtype`` (computation dtype, default: inferred from inputs and
  params), ``param_dtype``, ``carry_init`` (the carry of ``initialize_carry``).
  """

  features: int
  _: dataclasses.KW_ONLY
  kernel_init: Initializer = default_kernel_init
  recurrent_kernel_init: Initializer = default_recurrent_kernel_init
  bias_init: Initializer = initializers.zeros_init()
  dtype: Dtype | None = None
  param_dtype: Dtype = jnp.float32
  carry_init: Initializer = initializers.zeros_init()

  num_carry_arrays = 1  # a class constant: 2 makes the carry a tuple (the LSTM's (c, h))

  def split_params(self, params: Any, fused: bool = False) -> Any:
    """Rearranges ``params`` once, outside the time loop (``fused``: keep fused gate blocks together)."""
    del fused
    return params

  def recurrent_kernel(self, weights: Any) -> Array | None:
    """``U`` when ``step`` is ``pointwise(weights, carry, projected, h @ U)`` with ``h`` the carry's last array
    (the sequence layers can then batch ``U``'s gradient over time), else None."""
    del weights
    return None

  @nn.compact
  def prepare(self, inputs: Array, fused: bool = False) -> tuple[Array, Any]:
    """Makes the parameters and promotes them with ``inputs`` to ``dtype``; returns ``(inputs, weights)``
    with ``weights = split_params(params, fused)``."""
    if self.features < 1:
      raise ValueError(f'features must be >= 1, got {self.features}.')
    gating.check_float_inputs(inputs)
    params = self.make_params(inputs.shape[-1])
    leaves, treedef = jax.tree.flatten(params)
    inputs, *leaves = promote_dtype(inputs, *leaves, dtype=self.dtype)
    return inputs, self.split_params(jax.tree.unflatten(treedef, leaves), fused)

  def __call__(self, carry: Any, inputs: Array) -> tuple[Any, Array]:
    """One time step: ``(carry, inputs (*batch, in)) -> (new_carry, y)``."""
    expected = (*inputs.shape[:-1], self.features)
    for leaf in jax.tree.leaves(carry):
      if inputs.ndim < 1 or leaf.shape != expected:
        raise ValueError(f'carry arrays must have shape (*batch, features) = {expected} for inputs of shape '
                         f'{inputs.shape} (*batch, in), got {leaf.shape}.')
    inputs, weights = self.prepare(inputs)
    return self.step(weights, carry, self.project_input(weights, inputs))

  @nn.nowrap
  def initialize_carry(self, rng: PRNGKey, input_shape: tuple[int, ...]) -> Any:
    shape = (*input_shape[:-1], self.features)
    if self.num_carry_arrays == 1:
      return self.carry_init(rng, shape, self.param_dtype)
    return tuple(self.carry_init(k, shape, self.param_dtype) for k in jax.random.split(rng, self.num_carry_arrays))

  @property
  def num_feature_axes(self) -> int:
    return 1


class LSTMCell(RecurrentCell):
  """LSTM cell with an optional peephole connection; see the module docstring for equations and layout.

  Attributes: ``features, peepholes`` (diagonal peephole weights ``peephole/{i,f,o}``), ``forget_bias_init`` (initial
  forget slice of ``recurrent/bias``), keyword-only ``peephole_init`` and the options of ``RecurrentCell``.
  """

  peepholes: bool = False
  forget_bias_init: float = 1.0
  peephole_init: Initializer = dataclasses.field(default=initializers.zeros_init(), kw_only=True)

  num_carry_arrays = 2

  def make_params(self, in_features: int) -> dict:
    f = self.features
    params = {'input': _Affine(4 * f, False, gating.per_gate_init(self.kernel_init, 4), self.bias_init,
                               self.param_dtype, 'inputs', name='input')(in_features),
              'recurrent': _Affine(4 * f, True, gating.per_gate_init(self.recurrent_kernel_init, 4),
                                   gating.lstm_bias_init(self.bias_init, self.forget_bias_init),
                                   self.param_dtype, 'carry', name='recurrent')(f)}
    if self.peepholes:
      params['peephole'] = _Peepholes(f, self.peephole_init, self.param_dtype, name='peephole')()
    return params

  @nn.nowrap
  def split_params(self, params: dict, fused: bool = False) -> dict:
    # fused: one (in, 4H) input and one (H, 4H) recurrent matmul per step, split after the sum;
    # otherwise per-gate arrays split once here, so the time loop never slices a fused block.
    n = 1 if fused else 4
    weights = {'input': _split(params['input']['kernel'], n), 'bias': _split(params['recurrent']['bias'], n),
               'recurrent': _split(params['recurrent']['kernel'], n)}
    if self.peepholes:
      weights['peephole'] = tuple(params['peephole'][g] for g in 'ifo')
    return weights

  @nn.nowrap
  def project_input(self, weights: dict, x: Array) -> tuple[Array, ...]:
    return tuple(x @ w + b for w, b in zip(weights['input'], weights['bias']))

  @nn.nowrap
  def recurrent_kernel(self, weights: dict) -> Array | None:
    return weights['recurrent'][0] if len(weights['recurrent']) == 1 else None

  @nn.nowrap
  def pointwise(self, weights: dict, carry: tuple[Array, Array], projected: tuple[Array], recurrent: Array):
    new_c, new_h = gating.lstm_update(*_split(projected[0] + recurrent, 4), carry[0], weights.get('peephole'))
    return (new_c, new_h), new_h

  @nn.nowrap
  def step(self, weights: dict, carry: tuple[Array, Array], projected: tuple[Array, ...]):
    c, h = carry
    if len(projected) == 1:  # fused gates
      return self.pointwise(weights, carry, projected, h @ weights['recurrent'][0])
    a = tuple(x_k + h @ u_k for x_k, u_k in zip(projected, weights['recurrent']))
    new_c, new_h = gating.lstm_update(*a, c, weights.get('peephole'))
    return (new_c, new_h), new_h


class GRUCell(RecurrentCell):
  """GRU cell with both reset conventions; see the module docstring for equations and layout.

  Attributes: ``features, reset_after`` (True: n = tanh(W_n x + b_in + r·(U_n h + b_hn)), cuDNN/PyTorch;
  False: n = tanh(W_n x + b_in + U_n (r·h) + b_hn), Cho et al. 2014 v3) and the options of ``RecurrentCell``.
  """

  reset_after: bool = True

  def make_params(self, in_features: int) -> dict:
    f = self.features
    return {'input': _Affine(3 * f, True, gating.per_gate_init(self.kernel_init, 3), self.bias_init,
                             self.param_dtype, 'inputs', name='input')(in_features),
            'recurrent': _Affine(3 * f, True, gating.per_gate_init(self.recurrent_kernel_init, 3),
                                 self.bias_init, self.param_dtype, 'carry', name='recurrent')(f)}

  @nn.nowrap
  def split_params(self, params: dict, fused: bool = False) -> dict:
    b_ir, b_iz, b_in = _split(params['input']['bias'], 3)
    b_hr, b_hz, b_hn = _split(params['recurrent']['bias'], 3)
    # With reset_after, b_hn sits inside r·(...), so it cannot join the input projection.
    folded = (b_ir + b_hr, b_iz + b_hz, b_in if self.reset_after else b_in + b_hn)
    weights = {'input': _split(params['input']['kernel'], 3), 'bias': folded,
               'recurrent': _split(params['recurrent']['kernel'], 3),
               'candidate_bias': b_hn if self.reset_after else None}
    if fused and self.reset_after:  # one (in, 3H) and one (H, 3H) matmul per step
      weights.update(input=(params['input']['kernel'],), bias=(jnp.concatenate(folded),),
                     recurrent=(params['recurrent']['kernel'],))
    return weights

  @nn.nowrap
  def project_input(self, weights: dict, x: Array) -> tuple[Array, ...]:
    return tuple(x @ w + b for w, b in zip(weights['input'], weights['bias']))

  @nn.nowrap
  def recurrent_kernel(self, weights: dict) -> Array | None:
    return weights['recurrent'][0] if len(weights['recurrent']) == 1 else None

  @nn.nowrap
  def pointwise(self, weights: dict, h: Array, projected: tuple[Array], recurrent: Array) -> tuple[Array, Array]:
    return self._update(weights, h, _split(projected[0], 3), _split(recurrent, 3))  # fused, reset_after

  @nn.nowrap
  def step(self, weights: dict, h: Array, projected: tuple[Array, ...]) -> tuple[Array, Array]:
    if len(projected) == 1:  # fused gates (reset_after only)
      return self.pointwise(weights, h, projected, h @ weights['recurrent'][0])
    u_r, u_z, u_n = weights['recurrent']
    return self._update(weights, h, projected, (h @ u_r, h @ u_z, h @ u_n if self.reset_after else None))

  @nn.nowrap
  def _update(self, weights: dict, h: Array, projected: tuple[Array, ...], recurrent: tuple[Array, ...]):
    (x_r, x_z, x_n), (h_r, h_z, h_n) = projected, recurrent
    r, z = jax.nn.sigmoid(x_r + h_r), jax.nn.sigmoid(x_z + h_z)
    if self.reset_after:
      n = jnp.tanh(x_n + r * (h_n + weights['candidate_bias']))
    else:
      n = jnp.tanh(x_n + (r * h) @ weights['recurrent'][2])
    new_h = (1.0 - z) * n + z * h
    return new_h, new_h


class SimpleRNNCell(RecurrentCell):
  """Elman RNN cell h' = activation(W x + b_x + U h + b_h); see the module docstring for the layout.

  Attributes: ``features, activation`` (default tanh) and the options of ``RecurrentCell``.
  """

  activation: Callable[[Array], Array] = nn.tanh

  def make_params(self, in_features: int) -> dict:
    f = self.features
    return {'input': _Affine(f, True, gating.per_gate_init(self.kernel_init, 1), self.bias_init,
                             self.param_dtype, 'inputs', name='input')(in_features),
            'recurrent': _Affine(f, True, gating.per_gate_init(self.recurrent_kernel_init, 1), self.bias_init,
                                 self.param_dtype, 'carry', name='recurrent')(f)}

  @nn.nowrap
  def split_params(self, params: dict, fused: bool = False) -> dict:
    return {'input': params['input']['kernel'], 'recurrent': params['recurrent']['kernel'],
            'bias': params['input']['bias'] + params['recurrent']['bias']}

  @nn.nowrap
  def project_input(self, weights: dict, x: Array) -> Array:
    return x @ weights['input'] + weights['bias']

  @nn.nowrap
  def recurrent_kernel(self, weights: dict) -> Array:
    return weights['recurrent']

  @nn.nowrap
  def pointwise(self, weights: dict, h: Array, projected: Array, recurrent: Array) -> tuple[Array, Array]:
    new_h = self.activation(projected + recurrent)
    return new_h, new_h

  @nn.nowrap
  def step(self, weights: dict, h: Array, projected: Array) -> tuple[Array, Array]:
    return self.pointwise(weights, h, projected, h @ weights['recurrent'])


class _RHNParams(nn.Module):
  """The parameters of one RHN micro-layer (``H`` and ``T``); scanned over depth to stack them."""

  features: int
  transform_bias_init: float
  recurrent_kernel_init: Initializer
  bias_init: Initializer
  param_dtype: Dtype

  @nn.compact
  def __call__(self, carry: None, _) -> tuple[None, dict]:
    f, init = self.features, gating.per_gate_init(self.recurrent_kernel_init, 1)
    return carry, {'H': _Affine(f, True, init, self.bias_init, self.param_dtype, 'carry', name='H')(f),
                   'T': _Affine(f, True, init, initializers.constant(self.transform_bias_init), self.param_dtype,
                                'carry', name='T')(f)}


class RHNCell(RecurrentCell):
  """Recurrent Highway Network cell (Zilly et al. 2017); see the module docstring for equations/layout.

  The micro-layers' parameters are made by one ``nn.scan`` (stacked on a leading ``depth`` axis under
  ``layers``, a different init key per micro-layer); ``step`` unrolls the ``depth`` micro-layers over
  per-micro-layer slices taken once in ``split_params`` (``depth`` is at most ~10 in practice).

  Attributes: ``features``, ``depth`` (micro-layers per time step, the recurrence depth L, >= 1),
  ``transform_bias_init`` (every ``layers/T/bias``; paper: −2 on PTB, −4 on enwik8) and the options of
  ``RecurrentCell``.
  """

  depth: int
  transform_bias_init: float = -2.0

  def make_params(self, in_features: int) -> dict:
    if self.depth < 1:
      raise ValueError(f'depth must be >= 1, got {self.depth}.')
    input_params = _Affine(2 * self.features, False, gating.per_gate_init(self.kernel_init, 2), self.bias_init,
                           self.param_dtype, 'inputs', name='input')(in_features)
    _, layers = nn.scan(_RHNParams, variable_axes={'params': 0}, split_rngs={'params': True}, length=self.depth)(
        self.features, self.transform_bias_init, self.recurrent_kernel_init, self.bias_init, self.param_dtype,
        name='layers')(None, None)
    return {'input': input_params, 'layers': layers}

  @nn.nowrap
  def split_params(self, params: dict, fused: bool = False) -> dict:
    layers = params['layers']
    micro = tuple((layers['H']['kernel'][l], layers['H']['bias'][l], layers['T']['kernel'][l],
                   layers['T']['bias'][l]) for l in range(self.depth))
    return {'input': _split(params['input']['kernel'], 2), 'micro': micro}

  @nn.nowrap
  def project_input(self, weights: dict, x: Array) -> tuple[Array, Array]:
    (w_h, w_t), (_, b_h, _, b_t) = weights['input'], weights['micro'][0]
    return x @ w_h + b_h, x @ w_t + b_t

  @nn.nowrap
  def step(self, weights: dict, s: Array, projected: tuple[Array, Array]) -> tuple[Array, Array]:
    for l, (r_h, b_h, r_t, b_t) in enumerate(weights['micro']):
      # The input (and the first biases) enter only at the first micro-layer, through `projected`.
      a_h, a_t = (projected[0], projected[1]) if l == 0 else (b_h, b_t)
      s = gating.highway_combine(h=jnp.tanh(a_h + s @ r_h), t=jax.nn.sigmoid(a_t + s @ r_t), x=s)
    return s, s

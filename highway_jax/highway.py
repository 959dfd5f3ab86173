"""Highway layers (Srivastava, Greff & Schmidhuber 2015) and their plain/residual baselines.

A highway layer gates between a transform of its input and the input itself:

    y = H(x) · T(x) + x · C(x)

* ``H(x) = activation(W_H x + b_H)`` is the plain transform (a Dense or a Conv).
* ``T(x) = σ(W_T x + b_T)`` is the transform gate. ``b_T`` starts negative
  (``transform_bias_init``, the paper uses −1…−3 for 10…30 layers) so that a fresh layer mostly carries its input.
* ``C(x)`` is the carry gate. ``carry='coupled'`` (the paper's choice) sets C = 1 − T,
  so ``y = H·T + x·(1 − T)``. ``carry='independent'`` gives C its own weights:
  ``C(x) = σ(W_C x + b_C)`` with ``b_C`` initialised to ``carry_bias_init``.

T = 0 gives ``y = x`` (pure carry) and T = 1 gives ``y = H(x)`` (a plain layer).

Parameters (their names are part of the API, so that gate biases can be found and analysed):

    H/kernel  (d_in, features)  [conv: (*kernel_size, d_in, features)]    H/bias (features,)
    T/kernel  (d_in, features)                                            T/bias (features,)
    C/kernel, C/bias           only with carry='independent'
    proj/kernel, proj/bias     only with dim_match='project' and d_in != features

Shapes: dense layers take ``(..., d_in)`` and return ``(..., features)``; conv layers take
NHWC ``(batch, height, width, d_in)`` and return ``(batch, height', width', features)``.

Dimension matching. x, H and T must have the same shape. When ``d_in != features`` (or a conv
layer is strided) the carry path needs a version of x with the output's shape:

* ``dim_match='project'``: a linear projection ``proj`` (1×1 strided conv for conv layers), the paper's
  choice;
* ``'pad'``: zero-pad the feature axis (an error if the input is wider);
* ``'subsample'`` (conv only): take every ``stride``-th pixel and zero-pad the channels, as in
  ResNet's option A;
* ``None``: no matching; any mismatch is a ``ValueError`` that states both widths.

H and T always read the unmatched input x.

Gate activations are sown as ``intermediates['transform_gate']`` (after lesioning, i.e. the gate
actually used), and with ``carry='independent'`` also ``intermediates['carry_gate']``. Read them with
``model.apply(variables, x, mutable=['intermediates'])``. (They can't be sown as ``'T'``: Flax reserves
a submodule's name in every collection, and ``T`` is the gate's parameter submodule.)

Lesioning: ``__call__(x, lesion=True)`` forces T = 0 for this layer, so the layer reduces to its carry
path (``y = x`` for coupled gates). ``lesion`` may be a traced boolean, so lesioning inside ``jit`` or
inside ``nn.scan`` needs no recompilation. For the gate-free baselines ``lesion=True`` drops H:
``Plain`` and ``Residual`` then both return the (matched) input.

Example::

    import jax, jax.numpy as jnp
    import highway_jax as hj

    layer = hj.Highway(features=50, transform_bias_init=-2.0)
    x = jnp.ones((4, 50))
    variables = layer.init(jax.random.key(0), x)
    y, state = layer.apply(variables, x, mutable=['intermediates'])
    gates = state['intermediates']['transform_gate'][0]          # (4, 50), T(x) of this batch
    y_lesioned = layer.apply(variables, x, lesion=True)   # == x
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Sequence
from typing import Any

import jax
import jax.numpy as jnp
from flax import linen as nn
from jax import lax

from highway_jax import gating
from highway_jax.errors import choice_error

Array = jax.Array
Initializer = Callable[..., Array]

CARRY_MODES = ('coupled', 'independent')
DENSE_DIM_MATCH = ('project', 'pad', None)
CONV_DIM_MATCH = ('project', 'pad', 'subsample', None)
NHWC = ('NHWC', 'HWIO', 'NHWC')


@functools.partial(jax.custom_vjp, nondiff_argnums=(2, 3))
def _conv_nhwc(x: Array, kernel: Array, pads: tuple[tuple[int, int], ...], precision: Any) -> Array:
  """Stride-1 NHWC × HWIO convolution whose two gradients are NHWC × HWIO convolutions as well.

  XLA's CPU backend runs a convolution on its fast (Eigen) path only in this canonical layout, and rewrites
  others into it only in the entry computation, not inside a ``while`` body; JAX's own gradients of a
  convolution are not canonical, so a scanned conv stack's backward pass ran about 30× slower than an
  unrolled one (``python -m benchmarks.conv_unroll``). Here the transposes are explicit.
  """
  return lax.conv_general_dilated(x, kernel, (1, 1), pads, dimension_numbers=NHWC, precision=precision)


def _conv_nhwc_bwd(pads, precision, res, dy):
  x, kernel = res
  # dx: the flipped kernel with its in/out swapped, padded k − 1 − pad; dkernel: batch and channels swapped.
  back_pads = [(k - 1 - lo, k - 1 - hi) for k, (lo, hi) in zip(kernel.shape, pads)]
  dx = lax.conv_general_dilated(dy, jnp.flip(kernel, (0, 1)).transpose(0, 1, 3, 2), (1, 1), back_pads,
                                dimension_numbers=NHWC, precision=precision)
  dkernel = lax.conv_general_dilated(x.transpose(3, 1, 2, 0), dy.transpose(1, 2, 0, 3), (1, 1), pads,
                                     dimension_numbers=NHWC, precision=precision)
  return dx, dkernel.transpose(1, 2, 0, 3)


_conv_nhwc.defvjp(lambda x, kernel, pads, precision: (_conv_nhwc(x, kernel, pads, precision), (x, kernel)),
                  _conv_nhwc_bwd)


def _cpu_conv(x, kernel, window_strides, padding, *, precision=None, **_):
  """``nn.Conv``'s ``conv_general_dilated`` for stride-1 NHWC convs on CPU: ``_conv_nhwc``."""
  pads = lax.padtype_to_pads(x.shape[1:3], kernel.shape[:2], window_strides, padding)
  return _conv_nhwc(x, kernel, tuple(pads), precision)


class _Dense(nn.Module):
  """A dense layer: the fields of every layer, H/T/C/proj as Dense maps and the highway output.

  The other layers change one piece: ``_Conv`` the maps (convolutions), ``Plain`` and ``Residual`` (and
  their conv versions) the output ``_output``.
  """

  features: int | None = None
  activation: Callable[[Array], Array] = nn.relu
  transform_bias_init: float = -2.0
  carry: str = 'coupled'
  carry_bias_init: float = 2.0
  dim_match: str | None = 'project'
  dropout_rate: float = 0.0
  kernel_init: Initializer = nn.initializers.lecun_normal()
  bias_init: Initializer = nn.initializers.zeros_init()
  dtype: Any = None
  param_dtype: Any = jnp.float32
  precision: Any = None

  DIM_MATCH = DENSE_DIM_MATCH
  RANK = None  # any rank >= 1

  def _strides(self) -> tuple[int, ...]:
    return ()

  def _map(self, x: Array, features: int, name: str, bias_init: Initializer | None = None,
           strides: tuple[int, ...] | None = None) -> Array:
    """The affine map ``name`` (Dense here, Conv in ``_Conv``); ``strides`` only for conv layers."""
    return nn.Dense(features, kernel_init=self.kernel_init, bias_init=bias_init or self.bias_init,
                    dtype=self.dtype, param_dtype=self.param_dtype, precision=self.precision, name=name)(x)

  def _check(self, x: Array) -> None:
    for name, value, allowed in (('carry', self.carry, CARRY_MODES), ('dim_match', self.dim_match, self.DIM_MATCH)):
      if value not in allowed:
        raise choice_error(name, value, allowed)
    gating.check_dropout_rate(self.dropout_rate)
    kernel = None if self.is_initializing() else self.variables.get('params', {}).get('H', {}).get('kernel')

    def problems():
      if self.features is not None and self.features < 1:
        yield f'features must be a positive integer, got {self.features}'
      if self.RANK == 4 and x.ndim != 4:
        yield f'{type(self).__name__} expects NHWC input of rank 4, got shape {x.shape} (rank {x.ndim})'
      if x.ndim < 1:
        yield f'{type(self).__name__} expects input of rank >= 1, got a scalar'
      if kernel is not None and kernel.shape[-2] != x.shape[-1]:
        yield (f'{type(self).__name__}: input feature size (last axis of x) is {x.shape[-1]}, but the '
               f'parameters expect {kernel.shape[-2]} (H/kernel has shape {kernel.shape})')

    problem = next(problems(), None)
    if problem:
      raise ValueError(problem + '.')

  def _match(self, x: Array, features: int) -> Array:
    """Returns x with the output's shape for the carry path (see 'Dimension matching')."""
    strides, d_in = self._strides(), x.shape[-1]
    strided = any(s != 1 for s in strides)
    if d_in == features and not strided:
      return x
    if self.dim_match == 'project':
      return self._map(x, features, 'proj', strides=strides)

    def problems():
      if self.dim_match is None:
        what = f'input width {d_in} != features {features}' if d_in != features else (
            f'strides {strides} change the spatial size')
        yield (f"{what}, and dim_match=None does not match dimensions; use dim_match='project' or 'pad'"
               + (" or 'subsample'" if 'subsample' in self.DIM_MATCH else ''))
      if d_in > features:
        yield (f'dim_match={self.dim_match!r} zero-pads the feature axis, but the input width {d_in} is '
               f"wider than features {features}; use dim_match='project'")
      if self.dim_match == 'pad' and strided:
        yield f"dim_match='pad' cannot match strides {strides}; use dim_match='subsample' or 'project'"

    problem = next(problems(), None)
    if problem:
      raise ValueError(f'{type(self).__name__}: {problem}.')
    if self.dim_match == 'subsample':  # strided spatial subsampling (ResNet's option A), then pad
      x = x[:, ::strides[0], ::strides[1], :]
    return jnp.pad(x, [(0, 0)] * (x.ndim - 1) + [(0, features - d_in)])

  @nn.compact
  def __call__(self, x: Array, lesion: bool | Array = False, deterministic: bool = True) -> Array:
    """Applies the layer.

    Args:
      x: ``(..., d_in)`` for dense layers, ``(batch, height, width, d_in)`` for conv layers.
      lesion: if true (a Python or traced boolean), T is forced to 0 (H is dropped for the
        gate-free baselines), leaving only the carry path.
      deterministic: disables dropout on H when true.

    Returns:
      ``(..., features)``.
    """
    self._check(x)
    features = x.shape[-1] if self.features is None else self.features
    h = self.activation(self._map(x, features, 'H', strides=self._strides()))
    if self.dropout_rate > 0.0:
      h = nn.Dropout(self.dropout_rate)(h, deterministic=deterministic)
    return self._output(x, h, features, lesion)

  def _output(self, x: Array, h: Array, features: int, lesion: bool | Array) -> Array:
    """Highway: ``y = H·T + x·C`` (C = 1 − T when coupled), T forced to 0 by ``lesion``."""
    carried = self._match(x, features)
    gate = lambda name, bias: nn.sigmoid(self._map(x, features, name, nn.initializers.constant(bias), self._strides()))
    t = gate('T', self.transform_bias_init)
    t = jnp.where(jnp.asarray(lesion, bool), jnp.zeros_like(t), t)
    self.sow('intermediates', 'transform_gate', t)
    if self.carry == 'coupled':
      return gating.highway_combine(h=h, t=t, x=carried)
    c = gate('C', self.carry_bias_init)
    self.sow('intermediates', 'carry_gate', c)
    return gating.highway_combine(h=h, t=t, x=carried, c=c)


def _plain_output(self, x: Array, h: Array, features: int, lesion: bool | Array) -> Array:
  """Plain: ``y = H(x)``; lesioned, the (matched) input. Owns no ``proj`` unless it can be lesioned."""
  if lesion is False and (x.shape[-1] != features or any(s != 1 for s in self._strides())):
    return h
  return jnp.where(jnp.asarray(lesion, bool), self._match(x, features).astype(h.dtype), h)


def _residual_output(self, x: Array, h: Array, features: int, lesion: bool | Array) -> Array:
  """Residual: ``y = H(x) + x``; lesioned, the (matched) input."""
  return self._match(x, features) + jnp.where(jnp.asarray(lesion, bool), jnp.zeros_like(h), h)


class _Conv(_Dense):
  """NHWC convolutions with 'SAME' padding instead of dense maps: ``kernel_size`` and ``strides`` (int or
  per axis) for H, T and C; ``proj`` is a strided 1×1 conv."""

  kernel_size: Sequence[int] = (3, 3)
  strides: int | Sequence[int] = 1

  DIM_MATCH = CONV_DIM_MATCH
  RANK = 4

  def _strides(self) -> tuple[int, ...]:
    return (self.strides,) * len(self.kernel_size) if isinstance(self.strides, int) else tuple(self.strides)

  def _map(self, x, features, name, bias_init=None, strides=None):
    kernel_size = tuple(self.kernel_size) if name != 'proj' else (1,) * len(strides)
    fast = jax.default_backend() == 'cpu' and all(s == 1 for s in strides)
    return nn.Conv(features, kernel_size, strides=strides, padding='SAME', kernel_init=self.kernel_init,
                   bias_init=bias_init or self.bias_init, dtype=self.dtype, param_dtype=self.param_dtype,
                   precision=self.precision, conv_general_dilated=_cpu_conv if fast else None, name=name)(x)


class Highway(_Dense):
  """Dense highway layer: y = H(x)·T(x) + x·C(x); see the module docstring."""


class Plain(_Dense):
  """Dense plain layer y = H(x), the baseline of the paper's depth experiment."""

  _output = _plain_output


class Residual(_Dense):
  """Dense residual layer y = H(x) + x: the highway layer with its gates removed."""

  _output = _residual_output


class HighwayConv(_Conv):
  """Convolutional highway layer, NHWC, with 'SAME' padding and the same kernel for H and T.

  ``HighwayConv(features=None, kernel_size=(3, 3), strides=1, ...)``; everything else as :class:`Highway`.
  """


class PlainConv(_Conv):
  """Convolutional plain layer y = H(x)."""

  _output = _plain_output


class ResidualConv(_Conv):
  """Convolutional residual layer y = H(x) + x."""

  _output = _residual_output


BLOCKS = {('highway', 'dense'): Highway, ('plain', 'dense'): Plain, ('residual', 'dense'): Residual,
          ('highway', 'conv'): HighwayConv, ('plain', 'conv'): PlainConv, ('residual', 'conv'): ResidualConv}

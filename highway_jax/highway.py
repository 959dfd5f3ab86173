"""Highway layers (Srivastava, Greff & Schmidhuber 2015) and their plain/residual baselines.

A highway layer gates between a transform of its input and the input itself:

    y = H(x) · T(x) + x · C(x)

* ``H(x) = activation(W_H x + b_H)`` is the plain transform (a Dense or a Conv).
* ``T(x) = σ(W_T x + b_T)`` is the transform gate. ``b_T`` starts negative
  (``transform_bias_init``, the paper uses −1…−3 for 10…30 layers) so that a fresh
  layer mostly carries its input.
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

from collections.abc import Callable, Sequence
from typing import Any

import jax
import jax.numpy as jnp
from flax import linen as nn

Array = jax.Array
Initializer = Callable[..., Array]

CARRY_MODES = ('coupled', 'independent')
DENSE_DIM_MATCH = ('project', 'pad', None)
CONV_DIM_MATCH = ('project', 'pad', 'subsample', None)


def _check_choice(name: str, value: Any, allowed: Sequence[Any]) -> None:
  if value not in allowed:
    raise ValueError(f'{name} must be one of {list(allowed)}, got {value!r}.')


def _pad_features(x: Array, features: int) -> Array:
  pad = [(0, 0)] * (x.ndim - 1) + [(0, features - x.shape[-1])]
  return jnp.pad(x, pad)


class _GatedBase(nn.Module):
  """Fields shared by every layer in this file; see the module docstring."""

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

  # Overridden by the subclasses.
  _block = 'highway'
  _is_conv = False

  def _features(self, x: Array) -> int:
    return x.shape[-1] if self.features is None else self.features

  def _linear(self, features: int, name: str, bias_init: Initializer | None = None,
              kernel_size: Sequence[int] | None = None, strides: Any = None) -> nn.Module:
    common = dict(
        features=features,
        kernel_init=self.kernel_init,
        bias_init=self.bias_init if bias_init is None else bias_init,
        dtype=self.dtype,
        param_dtype=self.param_dtype,
        precision=self.precision,
        name=name,
    )
    if self._is_conv:
      return nn.Conv(kernel_size=tuple(kernel_size), strides=strides, padding='SAME', **common)
    return nn.Dense(**common)

  def _validate(self, x: Array) -> None:
    _check_choice('carry', self.carry, CARRY_MODES)
    _check_choice('dim_match', self.dim_match, CONV_DIM_MATCH if self._is_conv else DENSE_DIM_MATCH)
    if self.features is not None and self.features < 1:
      raise ValueError(f'features must be a positive integer, got {self.features}.')
    if self._is_conv and x.ndim != 4:
      raise ValueError(
          f'{type(self).__name__} expects NHWC input of rank 4, got shape {x.shape} (rank {x.ndim}).')
    if not self._is_conv and x.ndim < 1:
      raise ValueError(f'{type(self).__name__} expects input of rank >= 1, got a scalar.')

  def _check_against_params(self, x: Array) -> None:
    """With existing parameters, the input width must be the one they were made for."""
    if self.is_initializing():
      return
    kernel = self.variables.get('params', {}).get('H', {}).get('kernel')
    if kernel is not None and kernel.shape[-2] != x.shape[-1]:
      raise ValueError(
          f'{type(self).__name__}: input feature size (last axis of x) is {x.shape[-1]}, but the '
          f'parameters expect {kernel.shape[-2]} (H/kernel has shape {kernel.shape}).')

  def _match(self, x: Array, features: int, strides: tuple[int, ...]) -> Array:
    """Returns x with the output's shape for the carry path (see 'Dimension matching')."""
    d_in = x.shape[-1]
    strided = any(s != 1 for s in strides)
    if d_in == features and not strided:
      return x
    what = f'input width {d_in} != features {features}' if d_in != features else (
        f'strides {strides} change the spatial size')
    if self.dim_match is None:
      raise ValueError(
          f'{type(self).__name__}: {what}, and dim_match=None does not match dimensions; '
          "use dim_match='project' or 'pad'" + (" or 'subsample'" if self._is_conv else '') + '.')
    if self.dim_match == 'project':
      proj = self._linear(features, 'proj', kernel_size=(1,) * len(strides), strides=strides)
      return proj(x)
    if d_in > features:
      raise ValueError(
          f"{type(self).__name__}: dim_match={self.dim_match!r} zero-pads the feature axis, but the "
          f'input width {d_in} is wider than features {features}; use dim_match=\'project\'.')
    if self.dim_match == 'pad':
      if strided:
        raise ValueError(
            f"{type(self).__name__}: dim_match='pad' cannot match strides {strides}; "
            "use dim_match='subsample' or 'project'.")
      return _pad_features(x, features)
    # 'subsample': strided spatial subsampling, then zero-pad the channels.
    x = x[:, ::strides[0], ::strides[1], :]
    return _pad_features(x, features)

  def _strides(self) -> tuple[int, ...]:
    return ()

  def _branch(self, x: Array, features: int, name: str, bias_init: Initializer | None = None):
    if self._is_conv:
      return self._linear(features, name, bias_init, kernel_size=self.kernel_size,
                          strides=self._strides())(x)
    return self._linear(features, name, bias_init)(x)

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
    self._validate(x)
    self._check_against_params(x)
    features = self._features(x)
    shape_kept = x.shape[-1] == features and all(s == 1 for s in self._strides())
    if self._block == 'plain' and not shape_kept and lesion is False:
      carried = None  # A plain layer needs its carry path only to be lesioned.
    else:
      carried = self._match(x, features, self._strides())
    h = self.activation(self._branch(x, features, 'H'))
    if self.dropout_rate > 0.0:
      h = nn.Dropout(self.dropout_rate)(h, deterministic=deterministic)
    if carried is None:
      return h
    lesion = jnp.asarray(lesion, dtype=bool)
    if self._block == 'plain':
      return jnp.where(lesion, carried.astype(h.dtype), h)
    if self._block == 'residual':
      return carried + jnp.where(lesion, jnp.zeros_like(h), h)
    t = nn.sigmoid(self._branch(
        x, features, 'T', bias_init=nn.initializers.constant(self.transform_bias_init)))
    t = jnp.where(lesion, jnp.zeros_like(t), t)
    self.sow('intermediates', 'transform_gate', t)
    if self.carry == 'coupled':
      # Written as x + T·(H − x): one fewer multiply, and exactly x when T = 0.
      return carried + t * (h - carried)
    c = nn.sigmoid(self._branch(
        x, features, 'C', bias_init=nn.initializers.constant(self.carry_bias_init)))
    self.sow('intermediates', 'carry_gate', c)
    return h * t + carried * c


class Highway(_GatedBase):
  """Dense highway layer: y = H(x)·T(x) + x·C(x); see the module docstring."""


class Plain(_GatedBase):
  """Dense plain layer y = H(x), the baseline of the paper's depth experiment."""

  _block = 'plain'


class Residual(_GatedBase):
  """Dense residual layer y = H(x) + x: the highway layer with its gates removed."""

  _block = 'residual'


class _ConvBase(_GatedBase):
  kernel_size: Sequence[int] = (3, 3)
  strides: int | Sequence[int] = 1
  _is_conv = True

  def _strides(self) -> tuple[int, ...]:
    if isinstance(self.strides, int):
      return (self.strides,) * len(self.kernel_size)
    return tuple(self.strides)


class HighwayConv(_ConvBase):
  """Convolutional highway layer, NHWC, with 'SAME' padding and the same kernel for H and T.

  ``HighwayConv(features=None, kernel_size=(3, 3), strides=1, ...)``; everything else as
  :class:`Highway`.
  """


class PlainConv(_ConvBase):
  """Convolutional plain layer y = H(x)."""

  _block = 'plain'


class ResidualConv(_ConvBase):
  """Convolutional residual layer y = H(x) + x."""

  _block = 'residual'


BLOCKS = {
    ('highway', 'dense'): Highway,
    ('plain', 'dense'): Plain,
    ('residual', 'dense'): Residual,
    ('highway', 'conv'): HighwayConv,
    ('plain', 'conv'): PlainConv,
    ('residual', 'conv'): ResidualConv,
}

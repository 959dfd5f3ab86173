"""Deep stacks of identical highway, plain or residual layers, scanned over depth.

``HighwayStack`` applies ``num_layers`` copies of one block (:mod:`highway_jax.highway`),

    x_0 = proj(x)  (only when the input width differs from ``features``)
    x_l = block_l(x_{l-1}),   l = 1 … num_layers

with the layers run by ``nn.scan``: one layer is traced and compiled once, whatever the depth, and its
parameters are stacked on a leading axis of length ``num_layers``. ``remat=True`` wraps the layer in
``nn.remat`` inside the scan, so the backward pass recomputes each layer's activations instead of
keeping them: memory for activations then grows with one layer instead of all.

Parameters (block ``'highway'``, ``kind='dense'``)::

    proj/kernel   (d_in, features)   proj/bias (features,)     only when d_in != features
    layers/H/kernel (num_layers, features, features)   layers/H/bias (num_layers, features)
    layers/T/kernel (num_layers, features, features)   layers/T/bias (num_layers, features)

Conv stacks (``kind='conv'``, NHWC) have ``(num_layers, kh, kw, features, features)`` kernels and a 1×1
``proj``. ``'plain'`` and ``'residual'`` blocks have no ``T``.

Intermediates: the transform gates of every layer, stacked along the layer axis, are sown as
``intermediates['layers']['transform_gate'] == (gates,)`` with ``gates.shape == (num_layers, *x_0.shape)``.

Lesioning: ``lesion`` is ``None``, a layer index, or a boolean mask of shape ``(num_layers,)``. The mask
is a scanned input, so lesioning any layer (or set of layers) reuses one compiled program.

Dropout (``dropout_rate``) acts on each layer's H branch; the dropout RNG is split per layer, so masks
differ between layers.

Example::

    import jax, jax.numpy as jnp
    import highway_jax as hj

    stack = hj.HighwayStack(num_layers=50, features=50, activation=jax.nn.tanh,
                            transform_bias_init=-2.0)
    x = jnp.ones((8, 784))
    variables = stack.init(jax.random.key(0), x)
    y = stack.apply(variables, x)                                    # (8, 50)
    y, state = stack.apply(variables, x, mutable=['intermediates'])
    gates = state['intermediates']['layers']['transform_gate'][0]                 # (50, 8, 50)
    y_without_layer_3 = stack.apply(variables, x, lesion=3)
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import jax
import jax.numpy as jnp
from flax import linen as nn

from highway_jax.errors import choice_error
from highway_jax.highway import BLOCKS, CARRY_MODES

Array = jax.Array


def default_unroll(kind: str, num_layers: int) -> int:
  """``HighwayStack``'s scan unroll when ``unroll=None``: ``min(num_layers, 8)`` for conv stacks on CPU, else 1.

  One loop body keeps compile time independent of depth. On CPU a looped conv stack's step is slower than an
  unrolled one even with the canonical conv gradients of ``highway_jax.highway`` (``cifar_highway``'s model at
  batch 8: 1.09× of full unroll at 10 layers, 1.14× at 19), while full unroll compiles in time linear in depth
  (38 s at 100 layers against 4.3 s looped). Eight layers per iteration step within the noise of full unroll at
  10–50 layers and 0.72× of it at 100, and compile in at most 13 s at any depth
  (``python -m benchmarks.conv_unroll --quick``, docs/performance.md).
  """
  return min(num_layers, 8) if kind == 'conv' and jax.default_backend() == 'cpu' else 1


def lesion_mask(lesion: None | int | Array | Sequence[bool], num_layers: int) -> Array:
  """Turns a ``lesion`` argument into a boolean mask of shape ``(num_layers,)``.

  ``None`` lesions nothing; an integer (Python or traced) lesions that layer; a boolean array of shape
  ``(num_layers,)`` is used as is.
  """
  if lesion is None:
    return jnp.zeros((num_layers,), dtype=bool)
  lesion = jnp.asarray(lesion)
  index = lesion.ndim == 0 and jnp.issubdtype(lesion.dtype, jnp.integer)

  def problems():
    if lesion.ndim == 0 and not index:
      yield (f'lesion must be None, a layer index or a boolean mask of shape ({num_layers},); '
             f'got a scalar of dtype {lesion.dtype}')
    if index and not isinstance(lesion, jax.core.Tracer) and not 0 <= int(lesion) < num_layers:
      yield f'lesion index must be in [0, {num_layers}), got {int(lesion)}'
    if lesion.ndim > 0 and lesion.shape != (num_layers,):
      yield f'lesion mask must have shape ({num_layers},) (one entry per layer), got {lesion.shape}'

  problem = next(problems(), None)
  if problem:
    raise ValueError(problem + '.')
  return jnp.arange(num_layers) == lesion if index else lesion.astype(bool)


class HighwayStack(nn.Module):
  """``num_layers`` identical highway/plain/residual layers scanned over depth.

  See the module docstring for the equation, parameter layout, intermediates and lesioning.

  Attributes:
    num_layers: number of stacked layers (>= 1).
    features: width of every layer (channels for conv stacks).
    block: ``'highway'``, ``'plain'`` or ``'residual'``.
    kind: ``'dense'`` or ``'conv'`` (NHWC, 'SAME' padding, ``kernel_size``).
    activation: nonlinearity of H.
    transform_bias_init: initial transform-gate bias b_T (highway only).
    carry: ``'coupled'`` (C = 1 − T) or ``'independent'``.
    carry_bias_init: initial carry-gate bias (independent carry only).
    kernel_size: conv kernel size.
    dropout_rate: dropout on each layer's H branch.
    remat: recompute each layer's activations in the backward pass (``nn.remat`` inside the scan).
    unroll: layers per scan iteration (``nn.scan``'s ``unroll``). ``None`` (default): ``default_unroll``,
      1 (one loop body, compile time independent of depth) except for conv stacks on CPU (8 layers per
      iteration, so compile time stays bounded while the step stays within the noise of full unroll).
  """

  num_layers: int
  features: int
  block: str = 'highway'
  kind: str = 'dense'
  activation: Callable[[Array], Array] = nn.relu
  transform_bias_init: float = -2.0
  carry: str = 'coupled'
  carry_bias_init: float = 2.0
  kernel_size: Sequence[int] = (3, 3)
  dropout_rate: float = 0.0
  remat: bool = False
  unroll: int | None = None
  kernel_init: Callable[..., Array] = nn.initializers.lecun_normal()
  dtype: Any = None
  param_dtype: Any = jnp.float32
  precision: Any = None

  @nn.compact
  def __call__(self, x: Array, *, lesion: None | int | Array = None, deterministic: bool = True) -> Array:
    """Applies the stack.

    Args:
      x: ``(..., d_in)`` for dense stacks, ``(batch, height, width, d_in)`` for conv stacks.
      lesion: ``None``, a layer index, or a boolean mask of shape ``(num_layers,)``.
      deterministic: disables dropout when true.

    Returns:
      ``(..., features)``.
    """
    for name, value, allowed in (('block', self.block, ('highway', 'plain', 'residual')),
                                 ('kind', self.kind, ('dense', 'conv')), ('carry', self.carry, CARRY_MODES)):
      if value not in allowed:
        raise choice_error(name, value, allowed)
    params = {} if self.is_initializing() else self.variables.get('params', {})
    proj_kernel = params.get('proj', {}).get('kernel')
    expected = self.features if proj_kernel is None else proj_kernel.shape[-2]

    def problems():
      for name in ('num_layers', 'features'):
        if not isinstance(getattr(self, name), int) or getattr(self, name) < 1:
          yield f'{name} must be an integer >= 1, got {getattr(self, name)!r}'
      if self.kind == 'conv' and x.ndim != 4:
        yield f'HighwayStack(kind=conv) expects NHWC input of rank 4, got shape {x.shape}'
      if not self.is_initializing() and x.shape[-1] != expected:
        yield (f'HighwayStack: input feature size (last axis of x) is {x.shape[-1]}, but the parameters '
               f'expect {expected}')

    problem = next(problems(), None)
    if problem:
      raise ValueError(problem + '.')
    layer_cls = BLOCKS[(self.block, self.kind)]
    mask = lesion_mask(lesion, self.num_layers)
    if x.shape[-1] != self.features:
      common = dict(kernel_init=self.kernel_init, dtype=self.dtype, param_dtype=self.param_dtype,
                    precision=self.precision, name='proj')
      x = (nn.Conv(self.features, (1, 1), **common) if self.kind == 'conv' else nn.Dense(self.features, **common))(x)
    if self.remat:
      # Argument 3 (counting self) is `deterministic`, a Python bool.
      layer_cls = nn.remat(layer_cls, prevent_cse=False, static_argnums=(3,))
    kwargs = dict(kernel_size=tuple(self.kernel_size)) if self.kind == 'conv' else {}
    layer = layer_cls(features=self.features, activation=self.activation, dim_match=None,
                      transform_bias_init=self.transform_bias_init, carry=self.carry,
                      carry_bias_init=self.carry_bias_init, dropout_rate=self.dropout_rate,
                      kernel_init=self.kernel_init, dtype=self.dtype, param_dtype=self.param_dtype,
                      precision=self.precision, name='layers', **kwargs)
    scan = nn.scan(lambda module, carry, lesion_l: (module(carry, lesion_l, deterministic), None),
                   variable_axes={'params': 0, 'intermediates': 0}, split_rngs={'params': True, 'dropout': True},
                   length=self.num_layers,
                   unroll=default_unroll(self.kind, self.num_layers) if self.unroll is None else self.unroll)
    return scan(layer, x, mask)[0]

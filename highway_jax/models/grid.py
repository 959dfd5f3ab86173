"""Grid LSTM task models (Kalchbrenner et al. 2015), and the stacked LSTM they are compared with.

One ``Model`` with a ``core``; every core reads the inputs the same way and ends in the same softmax
classifier, so a comparison changes only the core network::

    x        = inputs                        real-valued, or one-hot(tokens) of width vocab_size
                                             (then the core's first input kernel is the embedding)
    '1d'     h = GridLSTM1D(flatten(x))                      (B, F)      the paper's parity net
    '2d'     h = GridLSTM2D(x; lengths)                      (B, T, F)   time × depth, for sequences
    '3d'     h = GridLSTM3D(patches(x))                      (B, R, C, F) rows × columns × depth
    'lstm'   h = LSTM(x; lengths), L stacked layers          (B, T, F)   the stacked-LSTM baseline
    logits   = Dense(dropout(pool(h)))                       (B, num_classes) or (B, T_out, num_classes)

Grid options (``highway_jax.grid_lstm``): ``features`` F, ``num_layers`` L (the grid layer's ``depth``), ``tied`` (one
set of block weights for every layer), ``non_lstm_dims`` (dimensions computing ``h' = α(V H + b)`` without memory,
``α = activation``), ``priority_dims``, ``output_form`` and ``forget_bias_init``. Dimension numbers: '1d' 0 = depth;
'2d' 0 = time, 1 = depth; '3d' 0 = rows, 1 = columns, 2 = depth. A '1d' grid with ``non_lstm_dims=(0,)`` is a plain
tanh network ``h_l = tanh(V h_{l−1} + b)`` (tied or not): the plain baseline of the parity experiment. A field the
core doesn't use (e.g. ``tied`` for ``'lstm'``) must stay at its default.

Inputs, per example: '1d' flattens anything. '2d' and 'lstm' read ``(T,)`` as ``(T, 1)``, ``(T, F)``
as is, and an image ``(H, W, C)`` as ``H`` time steps of ``W·C`` values (row by row). '3d' takes
``(H, W)`` or ``(H, W, C)`` images cut into non-overlapping ``patch_size × patch_size`` patches,
``(H/p, W/p, p·p·C)`` (the grid then runs over patches, as in the paper's MNIST model).

Pooling (``pooling``) for one label per example: '2d'/'lstm' ``'last'`` (the output at ``t = length − 1``), ``'mean'``
or ``'max'`` (over the valid steps; ``models.shared``); '3d' ``'last'`` (the bottom-right point, which has seen the
whole image through the row and column memories), ``'mean'`` (over all points) or ``'flatten'`` (every point's vector,
concatenated); '1d' ``'last'`` (the top of the depth path). Sequence targets (``dataset.label_shape == (T_out,)``, the
algorithmic tasks): '2d'/'lstm' only, no pooling, the outputs of the last ``T_out`` steps go through the classifier
(the labels belong to the last ``T_out`` input positions). ``head_dropout_rate`` is the dropout before the classifier.

Parameters::

    grid/proj/{kernel (d_in, F), bias (F,)}, grid/layers/block/...     cores '1d', '2d', '3d'
                                     (layout in highway_jax.grid_lstm; d_in = vocab_size for tokens)
    rnn/...                          core 'lstm' (layout in highway_jax.recurrent)
    classifier/kernel (F or R·C·F, num_classes), classifier/bias (num_classes,)

``__call__(inputs, *, train, lengths=None) -> logits`` (B, num_classes) or (B, T_out, num_classes).

Example (15-digit addition, 2-d Grid LSTM vs stacked LSTM)::

    grid = Model(num_classes=10, vocab_size=13, output_length=16, core='2d', features=64, num_layers=3)
    lstm = Model(num_classes=10, vocab_size=13, output_length=16, core='lstm', features=64, num_layers=3)
    tokens = jnp.zeros((8, 48), jnp.int32)
    variables = grid.init(jax.random.key(0), tokens, train=False)
    grid.apply(variables, tokens, train=False).shape            # (8, 16, 10)
"""

from __future__ import annotations

import dataclasses
from typing import Any, Literal

import jax
import jax.numpy as jnp
from flax import linen as nn

from highway_jax import grid_lstm, recurrent
from highway_jax.errors import ConfigError, choice_error
from highway_jax.gating import OUTPUT_FORMS
from highway_jax.models import shared

RENAMED = {'kind': 'core', 'depth': 'num_layers', 'output_dropout_rate': 'head_dropout_rate'}
DIM_NAMES = {'1d': ('depth',), '2d': ('time', 'depth'), '3d': ('rows', 'columns', 'depth')}
POOLINGS = {'1d': ('last',), '2d': ('last', 'mean', 'max'), 'lstm': ('last', 'mean', 'max'),
            '3d': ('last', 'mean', 'flatten')}
UNUSED = {'1d': ('patch_size',), '2d': ('patch_size',), '3d': (),
          'lstm': ('tied', 'non_lstm_dims', 'priority_dims', 'activation', 'output_form', 'patch_size')}


def image_patches(images: jax.Array, patch_size: int) -> jax.Array:
  """Non-overlapping ``p × p`` patches: ``(B, H, W, C)`` -> ``(B, H/p, W/p, p·p·C)``.

  Patch (i, j) holds the pixels ``[i·p:(i+1)·p, j·p:(j+1)·p]`` in row-major order (row, then column, then channel).
  """
  batch, height, width, channels = images.shape
  p = patch_size
  x = images.reshape(batch, height // p, p, width // p, p, channels)
  x = x.transpose(0, 1, 3, 2, 4, 5)
  return x.reshape(batch, height // p, width // p, p * p * channels)


class Model(nn.Module):
  """Input encoding, Grid LSTM (or stacked LSTM) core, pooling, softmax classifier."""

  num_classes: int
  vocab_size: int | None = None
  output_length: int | None = None
  core: Literal['1d', '2d', '3d', 'lstm'] = '2d'
  features: shared.Size = 64
  num_layers: shared.Size = 2
  tied: bool = False
  non_lstm_dims: tuple[int, ...] = ()
  priority_dims: tuple[int, ...] = ()
  activation: shared.Activation = 'tanh'
  output_form: Literal[OUTPUT_FORMS] = 'standard'
  forget_bias_init: float = 1.0
  patch_size: shared.Size = 1
  pooling: Literal['last', 'mean', 'max', 'flatten'] = 'last'
  head_dropout_rate: shared.Rate = 0.0
  dtype: Any = None

  def _check(self, inputs, lengths) -> None:
    """Combinations no single field can check: fields the core ignores, dimensions, inputs."""
    defaults = {f.name: f.default for f in dataclasses.fields(self)}
    for key in UNUSED[self.core]:
      if getattr(self, key) != defaults[key]:
        raise ConfigError(f'config.model.{key}={getattr(self, key)!r} has no meaning for '
                          f'config.model.core={self.core!r}; leave it at {defaults[key]!r}.')
    names = DIM_NAMES.get(self.core, ())
    for key, most in (('non_lstm_dims', len(names)), ('priority_dims', len(names) - 1)):
      dims = getattr(self, key)
      if self.core != 'lstm' and (len(set(dims)) != len(dims) or len(dims) > most
                                  or not set(dims) <= set(range(len(names)))):
        raise ConfigError(
            f'config.model.{key}={dims!r} must hold at most {most} distinct dimensions of '
            f'config.model.core={self.core!r}: ' + ', '.join(f'{d} = {n}' for d, n in enumerate(names)))
    if self.pooling not in POOLINGS[self.core]:
      raise choice_error('config.model.pooling', self.pooling, POOLINGS[self.core])
    shape, p = inputs.shape[1:], self.patch_size
    one_label = lengths is None and self.output_length is None
    readable = {'1d': one_label, '2d': len(shape) >= 1, 'lstm': len(shape) >= 1,
                '3d': one_label and self.vocab_size is None and len(shape) in (2, 3)
                and shape[0] % p == 0 and shape[1] % p == 0}[self.core]
    if not readable:
      needs = {'1d': 'fixed-size inputs and one label per example',
               '3d': 'fixed-size images (H, W[, C]) with sides divisible by config.model.patch_size='
                     f'{p}, and one label per example'}.get(self.core, 'sequence inputs (T, ...)')
      raise ConfigError(
          f'config.model.core={self.core!r} needs {needs}; got {"token ids" if self.vocab_size else "inputs"} of '
          f'shape {shape}{"" if lengths is None else " with lengths"}'
          f'{"" if self.output_length is None else f" and {self.output_length} labels each"}.')

  def _grid(self, cls: type) -> nn.Module:
    lstm_dims = tuple(d for d in range(len(DIM_NAMES[self.core])) if d not in self.non_lstm_dims)
    return cls(features=self.features, depth=self.num_layers, tied=self.tied, lstm_dims=lstm_dims,
               priority_dims=self.priority_dims, activation=shared.ACTIVATIONS[self.activation],
               output_form=self.output_form, forget_bias_init=self.forget_bias_init, dtype=self.dtype, name='grid')

  @nn.compact
  def __call__(self, inputs, *, train: bool, lengths=None):
    self._check(inputs, lengths)
    dtype = self.dtype or jnp.float32
    x = inputs.astype(dtype) if self.vocab_size is None else jax.nn.one_hot(inputs, self.vocab_size, dtype=dtype)
    batch = x.shape[0]
    if self.core == '1d':
      pooled = self._grid(grid_lstm.GridLSTM1D)(x.reshape(batch, -1))
    elif self.core == '3d':
      images = x if x.ndim == 4 else x[..., None]
      h = self._grid(grid_lstm.GridLSTM3D)(image_patches(images, self.patch_size))
      pooled = {'last': lambda: h[:, -1, -1], 'mean': lambda: jnp.mean(h, axis=(1, 2)),
                'flatten': lambda: h.reshape(batch, -1)}[self.pooling]()
    else:
      x = shared.as_sequence(x)
      if self.core == '2d':
        h, _ = self._grid(grid_lstm.GridLSTM2D)(x, seq_lengths=lengths)
      else:
        h, _ = recurrent.LSTM(features=self.features, num_layers=self.num_layers, dtype=self.dtype, name='rnn',
                              forget_bias_init=self.forget_bias_init)(x, seq_lengths=lengths)
      pooled = (h[:, -self.output_length:] if self.output_length is not None
                else shared.pool_over_time(h, lengths, self.pooling))
    pooled = nn.Dropout(self.head_dropout_rate)(pooled, deterministic=not train)
    return nn.Dense(self.num_classes, dtype=self.dtype, name='classifier')(pooled)

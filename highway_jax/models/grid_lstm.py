"""Grid LSTM task models (Kalchbrenner et al. 2015), and the stacked LSTM they are compared with.

One ``Model`` with a ``kind``; every kind reads the inputs the same way and ends in the same softmax
classifier, so a comparison changes only the core network::

    x        = inputs                        real-valued, or one-hot(tokens) of width vocab_size
                                             (then the core's first input kernel is the embedding)
    '1d'     h = GridLSTM1D(flatten(x))                      (B, F)      the paper's parity net
    '2d'     h = GridLSTM2D(x; lengths)                      (B, T, F)   time × depth, for sequences
    '3d'     h = GridLSTM3D(patches(x))                      (B, R, C, F) rows × columns × depth
    'lstm'   h = LSTM(x; lengths), ``depth`` stacked layers  (B, T, F)   the stacked-LSTM baseline
    logits   = Dense(dropout(pool(h)))                       (B, num_classes) or (B, T_out, num_classes)

Grid options (``highway_jax.grid_lstm``): ``features`` F, ``depth`` (layers), ``tied`` (one set of
block weights for every layer), ``non_lstm_dims`` (dimensions computing ``h' = α(V H + b)`` without
memory, ``α = activation``), ``priority_dims``, ``output_form`` and ``forget_bias_init``. Dimension
numbers: '1d' 0 = depth; '2d' 0 = time, 1 = depth; '3d' 0 = rows, 1 = columns, 2 = depth. A '1d'
grid with ``non_lstm_dims=(0,)`` is a plain tanh network ``h_l = tanh(V h_{l−1} + b)`` (tied or not):
the plain baseline of the parity experiment.

Inputs, per example: '1d' flattens anything. '2d' and 'lstm' read ``(T,)`` as ``(T, 1)``, ``(T, F)``
as is, and an image ``(H, W, C)`` as ``H`` time steps of ``W·C`` values (row by row). '3d' takes
``(H, W)`` or ``(H, W, C)`` images cut into non-overlapping ``patch_size × patch_size`` patches,
``(H/p, W/p, p·p·C)`` (the grid then runs over patches, as in the paper's MNIST model).

Pooling (``pooling``) for one label per example: '2d'/'lstm' ``'last'`` (the output at
``t = length − 1``) or ``'mean'`` (over the valid steps); '3d' ``'last'`` (the bottom-right point,
which has seen the whole image through the row and column memories), ``'mean'`` (over all points)
or ``'flatten'`` (every point's vector, concatenated); '1d' ``'last'`` (the top of the depth path).
Sequence targets (``dataset.label_shape == (T_out,)``, the algorithmic tasks): '2d'/'lstm' only, no
pooling, the outputs of the last ``T_out`` steps go through the classifier (the labels belong to the
last ``T_out`` input positions).

Parameters::

    grid/proj/{kernel (d_in, F), bias (F,)}, grid/layers/block/...     kinds '1d', '2d', '3d'
                                     (layout in highway_jax.grid_lstm; d_in = vocab_size for tokens)
    rnn/...                          kind 'lstm' (layout in highway_jax.recurrent)
    classifier/kernel (F or R·C·F, num_classes), classifier/bias (num_classes,)

``__call__(inputs, *, train, lengths=None) -> logits`` (B, num_classes) or (B, T_out, num_classes).

Example (15-digit addition, 2-d Grid LSTM vs stacked LSTM)::

    grid = Model(num_classes=10, vocab_size=13, output_length=16, kind='2d', features=64, depth=3)
    lstm = Model(num_classes=10, vocab_size=13, output_length=16, kind='lstm', features=64, depth=3)
    tokens = jnp.zeros((8, 48), jnp.int32)
    variables = grid.init(jax.random.key(0), tokens, train=False)
    grid.apply(variables, tokens, train=False).shape            # (8, 16, 10)
"""

from __future__ import annotations

from typing import Any

import jax
import jax.numpy as jnp
from flax import linen as nn

from highway_jax import grid_lstm, recurrent
from highway_jax.models.fields import activation, check_choice, model_fields, resolve_dtype
from highway_jax.errors import ConfigError

DEFAULTS = dict(
    kind='2d',
    features=64,
    depth=2,
    tied=False,
    non_lstm_dims=(),
    priority_dims=(),
    activation='tanh',
    output_form='standard',
    forget_bias_init=1.0,
    patch_size=1,
    pooling='last',
    output_dropout_rate=0.0,
)
KINDS = ('1d', '2d', '3d', 'lstm')
GRID_DIMS = {'1d': 1, '2d': 2, '3d': 3}
POOLINGS = {'1d': ('last',), '2d': ('last', 'mean'), 'lstm': ('last', 'mean'),
            '3d': ('last', 'mean', 'flatten')}


def image_patches(images: jax.Array, patch_size: int) -> jax.Array:
  """Non-overlapping ``p × p`` patches: ``(B, H, W, C)`` -> ``(B, H/p, W/p, p·p·C)``.

  Patch (i, j) holds the pixels ``[i·p:(i+1)·p, j·p:(j+1)·p]`` in row-major order (row, then
  column, then channel).
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
  kind: str = '2d'
  features: int = 64
  depth: int = 2
  tied: bool = False
  non_lstm_dims: tuple[int, ...] = ()
  priority_dims: tuple[int, ...] = ()
  activation: str = 'tanh'
  output_form: str = 'standard'
  forget_bias_init: float = 1.0
  patch_size: int = 1
  pooling: str = 'last'
  output_dropout_rate: float = 0.0
  dtype: Any = None

  def _grid_kwargs(self) -> dict[str, Any]:
    num_dims = GRID_DIMS[self.kind]
    lstm_dims = tuple(d for d in range(num_dims) if d not in self.non_lstm_dims)
    return dict(features=self.features, depth=self.depth, tied=self.tied, lstm_dims=lstm_dims,
                priority_dims=tuple(self.priority_dims),
                activation=activation('activation', self.activation),
                output_form=self.output_form, forget_bias_init=self.forget_bias_init,
                dtype=self.dtype, name='grid')

  def _encode(self, inputs: jax.Array) -> jax.Array:
    dtype = self.dtype or jnp.float32
    if self.vocab_size is not None:
      return jax.nn.one_hot(inputs, self.vocab_size, dtype=dtype)
    return inputs.astype(dtype)

  def _sequence(self, x: jax.Array) -> jax.Array:
    """(B, T) -> (B, T, 1); (B, T, F) as is; (B, T, ...) -> (B, T, prod(...))."""
    if x.ndim == 2:
      return x[..., None]
    return x.reshape(x.shape[0], x.shape[1], -1)

  @nn.compact
  def __call__(self, inputs, *, train: bool, lengths=None):
    x = self._encode(inputs)
    batch = x.shape[0]
    if self.kind == '1d':
      pooled = grid_lstm.GridLSTM1D(**self._grid_kwargs())(x.reshape(batch, -1))
    elif self.kind == '3d':
      images = x if x.ndim == 4 else x[..., None]
      h = grid_lstm.GridLSTM3D(**self._grid_kwargs())(image_patches(images, self.patch_size))
      if self.pooling == 'last':
        pooled = h[:, -1, -1]
      elif self.pooling == 'mean':
        pooled = jnp.mean(h, axis=(1, 2))
      else:  # flatten
        pooled = h.reshape(batch, -1)
    else:
      x = self._sequence(x)
      time = x.shape[1]
      if self.kind == '2d':
        h, _ = grid_lstm.GridLSTM2D(**self._grid_kwargs())(x, seq_lengths=lengths)
      else:
        h, _ = recurrent.LSTM(features=self.features, num_layers=self.depth,
                              forget_bias_init=self.forget_bias_init, dtype=self.dtype,
                              name='rnn')(x, seq_lengths=lengths)
      if self.output_length is not None:
        pooled = h[:, time - self.output_length:]
      elif self.pooling == 'last':
        last = time - 1 if lengths is None else jnp.clip(lengths - 1, 0, time - 1)
        pooled = h[jnp.arange(batch), last]
      else:  # mean over the valid steps; padded outputs are exactly zero
        count = time if lengths is None else jnp.maximum(lengths, 1)[:, None].astype(h.dtype)
        pooled = jnp.sum(h, axis=1) / count
    pooled = nn.Dropout(self.output_dropout_rate)(pooled, deterministic=not train)
    return nn.Dense(self.num_classes, dtype=self.dtype, name='classifier')(pooled)


def _check_dims(fields: dict[str, Any]) -> None:
  kind = fields['kind']
  if kind == 'lstm':
    for key, default in (('tied', False), ('non_lstm_dims', ()), ('priority_dims', ()),
                         ('output_form', 'standard'), ('patch_size', 1)):
      if fields[key] != default:
        raise ConfigError(
            f"config.model.{key}={fields[key]!r} has no meaning for config.model.kind='lstm' "
            f'(the stacked LSTM baseline); leave it at {default!r}.')
    return
  num_dims = GRID_DIMS[kind]
  non_lstm = fields['non_lstm_dims']
  if (len(set(non_lstm)) != len(non_lstm) or
      not all(isinstance(d, int) and not isinstance(d, bool) and 0 <= d < num_dims
              for d in non_lstm)):
    raise ConfigError(
        f'config.model.non_lstm_dims={non_lstm!r} must hold distinct dimension indices in '
        f'[0, {num_dims}) for config.model.kind={kind!r} ({_dim_names(kind)}).')
  lstm_dims = tuple(d for d in range(num_dims) if d not in non_lstm)
  try:
    grid_lstm.check_grid_dims(num_dims, lstm_dims, fields['priority_dims'])
  except ValueError as e:
    raise ConfigError(
        f"config.model.priority_dims={fields['priority_dims']!r} is not valid for "
        f'config.model.kind={kind!r} ({_dim_names(kind)}): {e}') from None
  check_choice('output_form', fields['output_form'], grid_lstm.OUTPUT_FORMS)
  if kind != '3d' and fields['patch_size'] != 1:
    raise ConfigError(f"config.model.patch_size={fields['patch_size']} is only used by "
                      f"config.model.kind='3d'; got kind={kind!r}.")


def _dim_names(kind: str) -> str:
  return {'1d': '0 = depth', '2d': '0 = time, 1 = depth',
          '3d': '0 = rows, 1 = columns, 2 = depth'}[kind]


def _check_dataset(fields: dict[str, Any], dataset) -> int | None:
  """Checks that ``kind`` can read ``dataset``; returns the output length for sequence targets."""
  kind = fields['kind']
  shape = tuple(dataset.input_shape)
  output_length = None
  if dataset.label_shape:
    if kind not in ('2d', 'lstm') or len(dataset.label_shape) != 1:
      raise ConfigError(
          f"dataset {dataset.name!r} has sequence targets of shape {dataset.label_shape}; "
          f"config.model.kind={kind!r} gives one label per example. Use kind '2d' or 'lstm'.")
    output_length = dataset.label_shape[0]
    if dataset.has_lengths or output_length > shape[0]:
      raise ConfigError(
          f'dataset {dataset.name!r} has sequence targets of length {output_length}, which need '
          f'fixed-length inputs at least as long; its inputs have shape {shape}.')
  if dataset.has_lengths and kind in ('1d', '3d'):
    raise ConfigError(
        f"config.model.kind={kind!r} needs fixed-size inputs; dataset {dataset.name!r} has "
        "variable-length sequences. Use kind '2d' or 'lstm'.")
  if kind == '3d':
    if dataset.vocab_size is not None or len(shape) not in (2, 3):
      raise ConfigError(
          f"config.model.kind='3d' needs images (H, W) or (H, W, C); dataset {dataset.name!r} "
          f'has inputs {shape}' + (' of token ids.' if dataset.vocab_size is not None else '.'))
    p = fields['patch_size']
    if shape[0] % p or shape[1] % p:
      raise ConfigError(
          f"config.model.patch_size={p} must divide the image size {shape[:2]} of dataset "
          f'{dataset.name!r}.')
  if kind in ('2d', 'lstm') and len(shape) < 1:
    raise ConfigError(f"config.model.kind={kind!r} needs sequence inputs; dataset "
                      f'{dataset.name!r} has scalar inputs.')
  return output_length


def from_config(model_config, dataset, dtype=None) -> Model:
  """The model of ``config.model`` for ``dataset`` (a ``highway_jax.data.Dataset``)."""
  fields = model_fields(model_config, DEFAULTS)
  check_choice('kind', fields['kind'], KINDS)
  check_choice('pooling', fields['pooling'], POOLINGS[fields['kind']])
  activation('activation', fields['activation'])
  for key in ('features', 'depth', 'patch_size'):
    if fields[key] < 1:
      raise ConfigError(f'config.model.{key}={fields[key]} must be >= 1.')
  if not 0.0 <= fields['output_dropout_rate'] < 1.0:
    raise ConfigError(
        f"config.model.output_dropout_rate={fields['output_dropout_rate']} must be in [0, 1).")
  _check_dims(fields)
  output_length = _check_dataset(fields, dataset)
  fields['non_lstm_dims'] = tuple(int(d) for d in fields['non_lstm_dims'])
  fields['priority_dims'] = tuple(int(d) for d in fields['priority_dims'])
  return Model(num_classes=dataset.num_classes, vocab_size=dataset.vocab_size,
               output_length=output_length, dtype=resolve_dtype(dtype), **fields)


"""Sequence classifiers on LSTM, GRU, RHN or simple RNN layers, including the Highway BiLSTM.

    e_t     = Embed(token_t)  (token inputs, dataset.vocab_size set)   or   x_t (real-valued inputs;
              shape (T,) is read as (T, 1))
    h_{1:T} = RNN(e_{1:T}; lengths)       highway_jax.recurrent.{LSTM, GRU, RHN, SimpleRNN}:
              num_layers layers, bidirectional or not; highway=True makes every layer
              y = RNN(x)·T(x) + x·(1 − T(x))  (the seed's "Highway BiLSTM")
    p       = pool(h)                     'last': the forward output at t = length − 1 (and, when
              bidirectional, the backward output at t = 0); 'mean' / 'max' over the valid steps
    logits  = Dense(dropout(p))           (B, num_classes)

For sequence targets (``dataset.label_shape == (T_out,)``) there is no pooling: the outputs of the last
T_out steps go through the classifier, logits (B, T_out, num_classes); the inputs must then be of fixed
length (no ``lengths``).

Masking follows right padding with ``lengths`` (B,): outputs at padded steps are zero (the recurrent
layers guarantee it), so they never reach the pooled vector.

Parameters::

    embed/embedding (vocab_size, embedding_features)          token inputs only
    rnn/...                                                   see highway_jax.recurrent
    classifier/kernel (D·features, num_classes), classifier/bias (num_classes,)   D = 2 if bidirectional

``__call__(inputs (B, T) int or (B, T[, F]) float, *, train, lengths=None (B,) int) -> logits``.

Example (the Highway BiLSTM sentiment classifier)::

    model = Model(num_classes=2, vocab_size=20000, cell='lstm', features=128, num_layers=4,
                  bidirectional=True, highway=True)
    variables = model.init(jax.random.key(0), tokens, train=False, lengths=lengths)
"""

from __future__ import annotations

from typing import Any

import jax.numpy as jnp
from flax import linen as nn

from highway_jax import recurrent
from highway_jax.models.fields import check_choice, model_fields, resolve_dtype
from highway_jax.errors import ConfigError

DEFAULTS = dict(
    cell='lstm',
    features=128,
    num_layers=1,
    bidirectional=False,
    highway=False,
    transform_bias_init=-2.0,
    rhn_depth=3,
    peepholes=False,
    forget_bias_init=1.0,
    dropout_rate=0.0,
    embedding_features=128,
    output_dropout_rate=0.0,
    pooling='last',
)
CELLS = ('lstm', 'gru', 'rhn', 'simple_rnn')
POOLINGS = ('last', 'mean', 'max')


class Model(nn.Module):
  """Embedding (for tokens), recurrent layers, pooling over time, softmax classifier."""

  num_classes: int
  vocab_size: int | None = None
  output_length: int | None = None
  cell: str = 'lstm'
  features: int = 128
  num_layers: int = 1
  bidirectional: bool = False
  highway: bool = False
  transform_bias_init: float = -2.0
  rhn_depth: int = 3
  peepholes: bool = False
  forget_bias_init: float = 1.0
  dropout_rate: float = 0.0
  embedding_features: int = 128
  output_dropout_rate: float = 0.0
  pooling: str = 'last'
  dtype: Any = None

  def _rnn(self) -> nn.Module:
    common = dict(features=self.features, num_layers=self.num_layers,
                  bidirectional=self.bidirectional, dropout_rate=self.dropout_rate,
                  highway=self.highway, transform_bias_init=self.transform_bias_init,
                  dtype=self.dtype, name='rnn')
    if self.cell == 'lstm':
      return recurrent.LSTM(peepholes=self.peepholes, forget_bias_init=self.forget_bias_init, **common)
    if self.cell == 'gru':
      return recurrent.GRU(**common)
    if self.cell == 'rhn':
      return recurrent.RHN(depth=self.rhn_depth, **common)
    return recurrent.SimpleRNN(**common)

  @nn.compact
  def __call__(self, inputs, *, train: bool, lengths=None):
    if self.vocab_size is not None:
      x = nn.Embed(self.vocab_size, self.embedding_features, dtype=self.dtype, name='embed')(inputs)
    else:
      x = inputs.astype(self.dtype or jnp.float32)
      if x.ndim == 2:
        x = x[..., None]
    batch, time = x.shape[:2]
    outputs, _ = self._rnn()(x, seq_lengths=lengths, deterministic=not train)

    if self.output_length is not None:
      pooled = outputs[:, time - self.output_length:]
    else:
      if lengths is None:
        lengths = jnp.full((batch,), time, jnp.int32)
      valid = jnp.arange(time)[None, :] < lengths[:, None]                    # (B, T)
      if self.pooling == 'last':
        last = jnp.clip(lengths - 1, 0, time - 1)
        forward = outputs[jnp.arange(batch), last, :self.features]
        pooled = forward
        if self.bidirectional:
          pooled = jnp.concatenate([forward, outputs[:, 0, self.features:]], axis=-1)
      elif self.pooling == 'mean':
        count = jnp.maximum(lengths, 1)[:, None].astype(outputs.dtype)
        pooled = jnp.sum(outputs, axis=1) / count
      else:  # max
        masked = jnp.where(valid[..., None], outputs, jnp.asarray(-jnp.inf, outputs.dtype))
        pooled = jnp.where(lengths[:, None] > 0, jnp.max(masked, axis=1), 0)
    pooled = nn.Dropout(self.output_dropout_rate)(pooled, deterministic=not train)
    return nn.Dense(self.num_classes, dtype=self.dtype, name='classifier')(pooled)


def from_config(model_config, dataset, dtype=None) -> Model:
  """The model of ``config.model`` for ``dataset`` (a ``highway_jax.data.Dataset``)."""
  fields = model_fields(model_config, DEFAULTS)
  check_choice('cell', fields['cell'], CELLS)
  check_choice('pooling', fields['pooling'], POOLINGS)
  for key in ('features', 'num_layers', 'rhn_depth', 'embedding_features'):
    if fields[key] < 1:
      raise ConfigError(f'config.model.{key}={fields[key]} must be >= 1.')
  for key in ('dropout_rate', 'output_dropout_rate'):
    if not 0.0 <= fields[key] < 1.0:
      raise ConfigError(f'config.model.{key}={fields[key]} must be in [0, 1).')
  output_length = None
  if dataset.label_shape:
    if len(dataset.label_shape) != 1:
      raise ConfigError(
          f"config.model.name='rnn_classifier' supports labels of shape () or (T_out,); dataset "
          f'{dataset.name!r} has {dataset.label_shape}.')
    output_length = dataset.label_shape[0]
    if dataset.has_lengths or output_length > dataset.input_shape[0]:
      raise ConfigError(
          f'dataset {dataset.name!r} has sequence targets of length {output_length}, which need '
          f'fixed-length inputs at least as long; its inputs have shape {dataset.input_shape}.')
  if dataset.vocab_size is None and len(dataset.input_shape) not in (1, 2):
    raise ConfigError(
        f"config.model.name='rnn_classifier' needs sequence inputs (T,) or (T, F); dataset "
        f'{dataset.name!r} has inputs {dataset.input_shape}.')
  return Model(num_classes=dataset.num_classes, vocab_size=dataset.vocab_size,
               output_length=output_length, dtype=resolve_dtype(dtype), **fields)

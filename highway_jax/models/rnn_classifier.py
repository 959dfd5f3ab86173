"""Sequence classifiers on LSTM, GRU, RHN or simple RNN layers, including the Highway BiLSTM.

    e_t     = Embed(token_t)  (token inputs, dataset.vocab_size set)   or   x_t (real-valued inputs;
              shape (T,) is read as (T, 1), (T, H, W) as (T, H·W))
    h_{1:T} = RNN(e_{1:T}; lengths)       highway_jax.recurrent.{LSTM, GRU, RHN, SimpleRNN}:
              num_layers layers, bidirectional or not; highway=True makes every layer
              y = RNN(x)·T(x) + x·(1 − T(x))  (the seed's "Highway BiLSTM"); ``recurrence_depth``
              micro-layers per step for ``cell='rhn'``; ``layer_dropout_rate`` between layers
    p       = pool(h)                     'last': the forward output at t = length − 1 (and, when
              bidirectional, the backward output at t = 0); 'mean' / 'max' over the valid steps
    logits  = Dense(dropout(p))           (B, num_classes), dropout rate ``head_dropout_rate``

For sequence targets (``dataset.label_shape == (T_out,)``) there is no pooling: the outputs of the last T_out steps go
through the classifier, logits (B, T_out, num_classes); the inputs must then be of fixed length (no ``lengths``).

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

from typing import Any, Literal

import jax.numpy as jnp
from flax import linen as nn

from highway_jax import recurrent
from highway_jax.models.shared import Rate, Size, as_sequence, pool_over_time

RENAMED = {'rhn_depth': 'recurrence_depth', 'dropout_rate': 'layer_dropout_rate',
           'output_dropout_rate': 'head_dropout_rate'}


class Model(nn.Module):
  """Embedding (for tokens), recurrent layers, pooling over time, softmax classifier."""

  num_classes: int
  vocab_size: int | None = None
  output_length: int | None = None
  cell: Literal['lstm', 'gru', 'rhn', 'simple_rnn'] = 'lstm'
  features: Size = 128
  num_layers: Size = 1
  bidirectional: bool = False
  highway: bool = False
  transform_bias_init: float = -2.0
  recurrence_depth: Size = 3
  peepholes: bool = False
  forget_bias_init: float = 1.0
  layer_dropout_rate: Rate = 0.0
  embedding_features: Size = 128
  head_dropout_rate: Rate = 0.0
  pooling: Literal['last', 'mean', 'max'] = 'last'
  dtype: Any = None

  def _rnn(self) -> nn.Module:
    common = dict(features=self.features, num_layers=self.num_layers, bidirectional=self.bidirectional,
                  dropout_rate=self.layer_dropout_rate, highway=self.highway,
                  transform_bias_init=self.transform_bias_init, dtype=self.dtype, name='rnn')
    if self.cell == 'lstm':
      return recurrent.LSTM(peepholes=self.peepholes, forget_bias_init=self.forget_bias_init, **common)
    if self.cell == 'gru':
      return recurrent.GRU(**common)
    if self.cell == 'rhn':
      return recurrent.RHN(depth=self.recurrence_depth, **common)
    return recurrent.SimpleRNN(**common)

  @nn.compact
  def __call__(self, inputs, *, train: bool, lengths=None):
    if self.vocab_size is not None:
      x = nn.Embed(self.vocab_size, self.embedding_features, dtype=self.dtype, name='embed')(inputs)
    else:
      x = as_sequence(inputs.astype(self.dtype or jnp.float32))
    outputs, _ = self._rnn()(x, seq_lengths=lengths, deterministic=not train)
    if self.output_length is not None:
      pooled = outputs[:, -self.output_length:]
    else:
      pooled = pool_over_time(outputs, lengths, self.pooling, backward=self.features if self.bidirectional else 0)
    pooled = nn.Dropout(self.head_dropout_rate)(pooled, deterministic=not train)
    return nn.Dense(self.num_classes, dtype=self.dtype, name='classifier')(pooled)

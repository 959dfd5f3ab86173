"""Fully connected highway (or plain, or residual) classifier: the paper's depth experiment.

Srivastava, Greff & Schmidhuber (2015), "Training Very Deep Networks", MNIST depth experiment: one
plain layer, then ``depth − 1`` layers of one block type, then a softmax classifier::

    x_0 = flatten(inputs)                                   (B, d_in)
    x_1 = activation(W_0 x_0 + b_0)                         (B, features)   'input_layer'
    x_l = block(x_{l−1}),  l = 2 … depth                    (B, features)   'stack' (HighwayStack)
    logits = W_out x_depth + b_out                          (B, num_classes) 'classifier'

with ``block`` the highway layer y = H(x)·T(x) + x·(1 − T(x)) (``'highway'``), y = H(x) (``'plain'``)
or y = H(x) + x (``'residual'``). The paper compares highway nets of 50 units with plain nets of 71
units, about 5,000 parameters per layer either way.

``dim_match`` says how the input width becomes ``features``: ``'plain'`` (the paper's plain first
layer, counted in ``depth``), ``'project'`` (no plain layer: the stack's linear projection ``proj``,
then ``depth`` stacked layers), or ``'none'`` (the input must already have ``features`` values).

Parameters::

    input_layer/kernel (d_in, features)    input_layer/bias (features,)        dim_match='plain'
    stack/layers/H/kernel (L, features, features) ... (see highway_jax.stack), L = stacked layers
    classifier/kernel (features, num_classes)   classifier/bias (num_classes,)

``__call__(inputs (B, ...), *, train, lengths=None, lesion=None) -> logits (B, num_classes)``; the
input is flattened, ``lengths`` is ignored (fixed-size inputs). ``lesion`` (None, a layer index or a
bool mask of shape ``(num_lesion_layers,)``) is forwarded to the stack: lesioned layers have their
transform gate forced to 0 (see ``highway_jax.stack``); the plain input layer can't be lesioned.

Config fields (``config.model``): see ``DEFAULTS``. Example::

    model = Model(num_classes=10, depth=50, features=50, block='highway')
    variables = model.init(jax.random.key(0), jnp.ones((2, 64)), train=False)
    logits = model.apply(variables, x, train=False)             # (B, 10)
    logits = model.apply(variables, x, train=False, lesion=3)   # stacked layer 3 lesioned
"""

from __future__ import annotations

import math
from typing import Any

import jax.numpy as jnp
from flax import linen as nn

from highway_jax.models.fields import activation, check_choice, model_fields, resolve_dtype
from highway_jax.stack import HighwayStack
from highway_jax.errors import ConfigError

DEFAULTS = dict(
    depth=10,
    features=50,
    block='highway',
    activation='relu',
    transform_bias_init=-2.0,
    carry='coupled',
    dim_match='plain',
    dropout_rate=0.0,
    remat=False,
)
BLOCKS = ('highway', 'plain', 'residual')
DIM_MATCH = ('plain', 'project', 'none')


class Model(nn.Module):
  """Flatten, plain layer, ``HighwayStack`` of ``depth − 1`` layers, softmax classifier."""

  num_classes: int
  depth: int = 10
  features: int = 50
  block: str = 'highway'
  activation: str = 'relu'
  transform_bias_init: float = -2.0
  carry: str = 'coupled'
  dim_match: str = 'plain'
  dropout_rate: float = 0.0
  remat: bool = False
  dtype: Any = None

  @property
  def num_lesion_layers(self) -> int:
    """Length of the ``lesion`` mask: the stacked layers (``depth − 1`` with ``dim_match='plain'``)."""
    return self.depth - 1 if self.dim_match == 'plain' else self.depth

  @nn.compact
  def __call__(self, inputs, *, train: bool, lengths=None, lesion=None):
    del lengths  # fixed-size inputs
    act = activation('activation', self.activation)
    x = jnp.reshape(inputs, (inputs.shape[0], -1)).astype(self.dtype or jnp.float32)
    num_stacked = self.depth
    if self.dim_match == 'plain':
      x = act(nn.Dense(self.features, dtype=self.dtype, name='input_layer')(x))
      num_stacked -= 1
    elif self.dim_match == 'none' and x.shape[-1] != self.features:
      raise ConfigError(
          f"config.model.dim_match='none' needs inputs of config.model.features={self.features} "
          f"values, but the dataset's inputs flatten to {x.shape[-1]}; use 'plain' or 'project'.")
    if num_stacked > 0:
      x = HighwayStack(
          num_layers=num_stacked, features=self.features, block=self.block, kind='dense',
          activation=act, transform_bias_init=self.transform_bias_init, carry=self.carry,
          dropout_rate=self.dropout_rate, remat=self.remat, dtype=self.dtype, name='stack',
      )(x, lesion=lesion, deterministic=not train)
    elif lesion is not None:
      raise ValueError(f'lesion: this depth-{self.depth} model has no stacked layers to lesion.')
    return nn.Dense(self.num_classes, dtype=self.dtype, name='classifier')(x)


def from_config(model_config, dataset, dtype=None) -> Model:
  """The model of ``config.model`` for ``dataset`` (a ``highway_jax.data.Dataset``)."""
  fields = model_fields(model_config, DEFAULTS)
  check_choice('block', fields['block'], BLOCKS)
  check_choice('dim_match', fields['dim_match'], DIM_MATCH)
  check_choice('carry', fields['carry'], ('coupled', 'independent'))
  activation('activation', fields['activation'])
  if fields['depth'] < 1 or fields['features'] < 1:
    raise ConfigError(
        f"config.model.depth={fields['depth']} and config.model.features={fields['features']} "
        'must be >= 1.')
  if not 0.0 <= fields['dropout_rate'] < 1.0:
    raise ConfigError(f"config.model.dropout_rate={fields['dropout_rate']} must be in [0, 1).")
  if dataset.label_shape != () or dataset.vocab_size is not None:
    raise ConfigError(
        f"config.model.name='highway_mlp' needs real-valued inputs and one label per example; "
        f"dataset {dataset.name!r} has label shape {dataset.label_shape} and vocab_size "
        f"{dataset.vocab_size}. Use 'rnn_classifier' or 'grid_lstm' for token or sequence data.")
  input_size = math.prod(dataset.input_shape)
  if fields['dim_match'] == 'none' and input_size != fields['features']:
    raise ConfigError(
        f"config.model.dim_match='none' (no projection) but the inputs have {input_size} values and "
        f"config.model.features={fields['features']}; use dim_match 'plain' or 'project'.")
  return Model(num_classes=dataset.num_classes, dtype=resolve_dtype(dtype), **fields)

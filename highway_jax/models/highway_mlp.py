"""Fully connected highway (or plain, or residual) classifier: the paper's depth experiment.

Srivastava, Greff & Schmidhuber (2015), "Training Very Deep Networks", MNIST depth experiment: one
plain layer, then ``num_layers − 1`` layers of one block type, then a softmax classifier::

    x_0 = flatten(inputs)                                   (B, d_in)
    x_1 = activation(W_0 x_0 + b_0)                         (B, features)   'input_layer'
    x_l = block(x_{l−1}),  l = 2 … L                        (B, features)   'stack' (HighwayStack)
    logits = W_out x_L + b_out                              (B, num_classes) 'classifier'

with L = ``num_layers`` and ``block`` the highway layer y = H(x)·T(x) + x·(1 − T(x)) (``'highway'``), y = H(x)
(``'plain'``) or y = H(x) + x (``'residual'``); the paper compares highway nets of 50 units with plain nets of 71
units, about 5,000 parameters per layer either way. ``first_layer`` says how the input width becomes ``features``:
``'plain'`` (the paper's plain first layer, counted in ``num_layers``), ``'project'`` (no plain layer: the stack's
linear projection ``proj``, then ``num_layers`` stacked layers) or ``'none'`` (the input must already have
``features`` values). ``layer_dropout_rate`` is dropout on every stacked layer's H branch.

Parameters::

    input_layer/kernel (d_in, features)    input_layer/bias (features,)        first_layer='plain'
    stack/layers/H/kernel (L, features, features) ... (see highway_jax.stack), L = stacked layers
    classifier/kernel (features, num_classes)   classifier/bias (num_classes,)

``__call__(inputs (B, ...), *, train, lengths=None, lesion=None) -> logits (B, num_classes)``; the
input is flattened, ``lengths`` is ignored (fixed-size inputs). ``lesion`` (None, a layer index or a
bool mask of shape ``(num_lesion_layers,)``) is forwarded to the stack: lesioned layers have their
transform gate forced to 0 (see ``highway_jax.stack``); the plain input layer can't be lesioned.

The fields of ``Model`` are the ``config.model`` keys (``models.get_model`` checks them). Example::

    model = Model(num_classes=10, num_layers=50, features=50, block='highway')
    variables = model.init(jax.random.key(0), jnp.ones((2, 64)), train=False)
    logits = model.apply(variables, x, train=False)             # (B, 10)
    logits = model.apply(variables, x, train=False, lesion=3)   # stacked layer 3 lesioned
"""

from __future__ import annotations

from typing import Any, Literal

import jax.numpy as jnp
from flax import linen as nn

from highway_jax.errors import ConfigError
from highway_jax.models.shared import ACTIVATIONS, Activation, Rate, Size
from highway_jax.stack import HighwayStack, lesion_mask

RENAMED = {'depth': 'num_layers', 'dim_match': 'first_layer', 'dropout_rate': 'layer_dropout_rate'}


class Model(nn.Module):
  """Flatten, plain layer, ``HighwayStack`` of ``num_layers − 1`` layers, softmax classifier."""

  num_classes: int
  num_layers: Size = 10
  features: Size = 50
  block: Literal['highway', 'plain', 'residual'] = 'highway'
  activation: Activation = 'relu'
  transform_bias_init: float = -2.0
  carry: Literal['coupled', 'independent'] = 'coupled'
  first_layer: Literal['plain', 'project', 'none'] = 'plain'
  layer_dropout_rate: Rate = 0.0
  remat: bool = False
  dtype: Any = None

  @property
  def num_lesion_layers(self) -> int:
    """Length of the ``lesion`` mask: the stacked layers (``num_layers − 1`` after a plain one)."""
    return self.num_layers - (self.first_layer == 'plain')

  @nn.compact
  def __call__(self, inputs, *, train: bool, lengths=None, lesion=None):
    del lengths  # fixed-size inputs
    act = ACTIVATIONS[self.activation]
    x = jnp.reshape(inputs, (inputs.shape[0], -1)).astype(self.dtype or jnp.float32)
    if self.first_layer == 'plain':
      x = act(nn.Dense(self.features, dtype=self.dtype, name='input_layer')(x))
    elif self.first_layer == 'none' and x.shape[-1] != self.features:
      raise ConfigError(f"config.model.first_layer='none' needs inputs of config.model.features={self.features} "
                        f"values, but the inputs flatten to {x.shape[-1]}; use 'plain' or 'project'.")
    if self.num_lesion_layers == 0:
      lesion_mask(lesion, 0)  # only None (or an empty mask): there is no stacked layer to lesion
    else:
      x = HighwayStack(num_layers=self.num_lesion_layers, features=self.features, block=self.block, kind='dense',
                       activation=act, transform_bias_init=self.transform_bias_init, carry=self.carry,
                       dropout_rate=self.layer_dropout_rate, remat=self.remat, dtype=self.dtype,
                       name='stack')(x, lesion=lesion, deterministic=not train)
    return nn.Dense(self.num_classes, dtype=self.dtype, name='classifier')(x)

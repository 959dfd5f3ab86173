"""Convolutional highway classifiers: the paper's CIFAR 19-layer net and its 10-layer MNIST net.

Stages of 3×3 conv layers (NHWC, 'SAME' padding) with 2×2 max pooling between them::

    for stage s:  x = activation(Conv_s(x))        'transition_s' (a plain conv, only where the width
                                                    changes, first_layer='plain')
                  x = HighwayStack_s(x)            'stage_s': num_highway_layers[s] layers of
                                                    y = H(x)·T(x) + x·(1 − T(x))  (or plain/residual)
                  x = max_pool_2x2(x)              if pool_after[s]
    head 'conv_avgpool':  logits = mean_{h,w} Conv1x1(dropout(x))     (B, num_classes)
    head 'dense':         logits = Dense(dropout(flatten(x)))         (B, num_classes)

with ``head_dropout_rate`` the dropout before the head and ``layer_dropout_rate`` the dropout on every
highway layer's H branch.

The defaults are the authors' public Caffe recipe for CIFAR-10 (``configs/cifar_highway.py``: stages of 32, 80, 128
filters with 4, 5, 5 highway layers, the 1×1 conv and global average pool; about 2.24M parameters, the paper's
19-layer "Highway B"). ``configs/mnist_highway.py`` is our reconstruction of the paper's 10-layer MNIST net (three
stages of 3, 3, 2 highway layers, a dense head; 38.7K / 151.2K parameters at width 16 / 32, the paper's 39K / 151K).

``first_layer`` is the first layer of a stage whose width changes: ``'plain'`` (a plain conv, the
recipe), ``'project'`` (the highway stack's 1×1 projection ``proj``), ``'none'`` (no width change
allowed: a config that needs one is a ConfigError).

Parameters::

    transition_s/kernel (3, 3, c_in, c_s)   transition_s/bias (c_s,)
    stage_s/layers/{H,T}/kernel (L_s, 3, 3, c_s, c_s)   .../bias (L_s, c_s)      (see highway_jax.stack)
    head/kernel (1, 1, c_last, num_classes) or (flat, num_classes)   head/bias (num_classes,)

``__call__(inputs (B, H, W, C) or (B, H, W), *, train, lengths=None, lesion=None) -> logits (B, num_classes)``.

Lesioning: ``lesion`` is None, a layer index or a bool mask of shape ``(num_lesion_layers,)`` over all
highway layers of all stages in order (``sum(num_highway_layers)``: stage 0's layers first); each stage's
stack gets its slice. The plain transition convs and the head can't be lesioned.

Example::

    model = Model(num_classes=10, features=(16, 16, 16), num_highway_layers=(3, 3, 2),
                  pool_after=(True, True, True), head='dense')
    variables = model.init(jax.random.key(0), jnp.ones((2, 28, 28, 1)), train=False)
"""

from __future__ import annotations

from typing import Any, Literal

import jax.numpy as jnp
from flax import linen as nn

from highway_jax.errors import ConfigError
from highway_jax.models.shared import ACTIVATIONS, Activation, Rate, Size
from highway_jax.stack import HighwayStack, lesion_mask

RENAMED = {'dim_match': 'first_layer', 'dropout_rate': 'head_dropout_rate'}


class Model(nn.Module):
  """Stages of plain transition conv + ``HighwayStack`` + max pooling, then a classifier head."""

  num_classes: int
  features: tuple[Size, ...] = (32, 80, 128)
  num_highway_layers: tuple[int, ...] = (4, 5, 5)
  pool_after: tuple[bool, ...] = (True, True, False)
  block: Literal['highway', 'plain', 'residual'] = 'highway'
  kernel_size: Size = 3
  activation: Activation = 'relu'
  transform_bias_init: float = -2.0
  carry: Literal['coupled', 'independent'] = 'coupled'
  first_layer: Literal['plain', 'project', 'none'] = 'plain'
  head: Literal['conv_avgpool', 'dense'] = 'conv_avgpool'
  head_dropout_rate: Rate = 0.0
  layer_dropout_rate: Rate = 0.0
  remat: bool = False
  dtype: Any = None

  @property
  def num_lesion_layers(self) -> int:
    """Length of the ``lesion`` mask: every stacked layer of every stage."""
    return int(sum(self.num_highway_layers))

  @nn.compact
  def __call__(self, inputs, *, train: bool, lengths=None, lesion=None):
    del lengths  # fixed-size inputs
    stages = (self.features, self.num_highway_layers, self.pool_after)
    if len(set(map(len, stages))) != 1 or min(self.num_highway_layers, default=-1) < 0:
      raise ConfigError('config.model.features, config.model.num_highway_layers (each >= 0) and config.model.'
                        f'pool_after need one entry per stage; got {", ".join(map(str, stages))}.')
    mask = lesion_mask(lesion, self.num_lesion_layers)
    first = 0  # index of the current stage's first layer in the model-wide mask
    act = ACTIVATIONS[self.activation]
    x = inputs.astype(self.dtype or jnp.float32)
    if x.ndim == 3:
      x = x[..., None]
    pools = sum(self.pool_after)
    if x.ndim != 4 or min(x.shape[1:3]) < 2 ** pools:
      raise ConfigError(f"config.model.name='highway_cnn' needs images (H, W[, C]) of at least 2^{pools} pixels a side "
                        f'(config.model.pool_after halves them {pools} times); got inputs {inputs.shape[1:]}.')
    kernel = (self.kernel_size, self.kernel_size)
    for s, (width, layers, pool) in enumerate(zip(*stages)):
      if x.shape[-1] != width and self.first_layer == 'none':
        raise ConfigError(f"config.model.first_layer='none' but stage {s} changes the width from {x.shape[-1]} "
                          f"to {width}; use first_layer 'plain' or 'project'.")
      if x.shape[-1] != width and self.first_layer == 'plain':
        x = act(nn.Conv(width, kernel, padding='SAME', dtype=self.dtype, name=f'transition_{s}')(x))
      if layers > 0:
        x = HighwayStack(num_layers=layers, features=width, block=self.block, kind='conv', activation=act,
                         transform_bias_init=self.transform_bias_init, carry=self.carry, kernel_size=kernel,
                         dropout_rate=self.layer_dropout_rate, remat=self.remat, dtype=self.dtype,
                         name=f'stage_{s}')(x, lesion=mask[first:first + layers], deterministic=not train)
        first += layers
      if pool:
        x = nn.max_pool(x, (2, 2), strides=(2, 2))
    x = nn.Dropout(self.head_dropout_rate)(x, deterministic=not train)
    if self.head == 'conv_avgpool':
      x = nn.Conv(self.num_classes, (1, 1), dtype=self.dtype, name='head')(x)
      return jnp.mean(x, axis=(1, 2))
    x = jnp.reshape(x, (x.shape[0], -1))
    return nn.Dense(self.num_classes, dtype=self.dtype, name='head')(x)

"""Convolutional highway classifiers: the paper's CIFAR 19-layer net and its 10-layer MNIST net.

Stages of 3×3 conv layers (NHWC, 'SAME' padding) with 2×2 max pooling between them::

    for stage s:  x = activation(Conv_s(x))        'transition_s' (a plain conv, only where the width
                                                    changes, dim_match='plain')
                  x = HighwayStack_s(x)            'stage_s': num_highway_layers[s] layers of
                                                    y = H(x)·T(x) + x·(1 − T(x))  (or plain/residual)
                  x = max_pool_2x2(x)              if pool_after[s]
    head 'conv_avgpool':  logits = mean_{h,w} Conv1x1(dropout(x))     (B, num_classes)
    head 'dense':         logits = Dense(dropout(flatten(x)))         (B, num_classes)

The authors' public Caffe recipe for CIFAR-10 (``configs/cifar_highway.py``): a 3×3 conv of 32 filters,
4 highway layers of 32; max-pool; a plain conv of 80, 5 highway layers of 80; max-pool; a plain conv of
128, 5 highway layers of 128; then the 1×1 conv and 8×8 (global) average pool: 17 + 1 conv layers and
the softmax, about 2.24M parameters (the paper's "Highway B", 19 layers, ~2.3M).

MNIST (``configs/mnist_highway.py``), our reconstruction of the paper's 10-layer net: a plain 3×3 conv of
``w`` filters, 8 highway conv layers of ``w`` in three stages (3, 3, 2) each followed by max pooling
(28 → 14 → 7 → 3), and a dense softmax on the 3×3×w map: 1 + 8 + 1 = 10 layers with 38.7K (w = 16)
and 151.2K (w = 32) parameters, matching the paper's 39K and 151K.

``dim_match`` says how the width changes between stages: ``'plain'`` (a plain conv, the recipe),
``'project'`` (the highway stack's 1×1 projection ``proj``), ``'none'`` (no width change allowed: a
config that needs one is a ConfigError).

Parameters::

    transition_s/kernel (3, 3, c_in, c_s)   transition_s/bias (c_s,)
    stage_s/layers/{H,T}/kernel (L_s, 3, 3, c_s, c_s)   .../bias (L_s, c_s)      (see highway_jax.stack)
    head/kernel (1, 1, c_last, num_classes) or (flat, num_classes)   head/bias (num_classes,)

``__call__(inputs (B, H, W, C) or (B, H, W), *, train, lengths=None, lesion=None) -> logits
(B, num_classes)``.

Lesioning: ``lesion`` is None, a layer index or a bool mask of shape ``(num_lesion_layers,)`` over all
highway layers of all stages in order (``sum(num_highway_layers)``: stage 0's layers first); each stage's
stack gets its slice. The plain transition convs and the head can't be lesioned.

Example::

    model = Model(num_classes=10, features=(16, 16, 16), num_highway_layers=(3, 3, 2),
                  pool_after=(True, True, True), head='dense')
    variables = model.init(jax.random.key(0), jnp.ones((2, 28, 28, 1)), train=False)
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import jax.numpy as jnp
from flax import linen as nn

from highway_jax.models.fields import activation, check_choice, model_fields, resolve_dtype
from highway_jax.stack import HighwayStack, lesion_mask
from highway_jax.errors import ConfigError

DEFAULTS = dict(
    features=(32, 80, 128),
    num_highway_layers=(4, 5, 5),
    pool_after=(True, True, False),
    block='highway',
    kernel_size=3,
    activation='relu',
    transform_bias_init=-2.0,
    carry='coupled',
    dim_match='plain',
    head='conv_avgpool',
    dropout_rate=0.0,
    layer_dropout_rate=0.0,
    remat=False,
)
BLOCKS = ('highway', 'plain', 'residual')
DIM_MATCH = ('plain', 'project', 'none')
HEADS = ('conv_avgpool', 'dense')


class Model(nn.Module):
  """Stages of plain transition conv + ``HighwayStack`` + max pooling, then a classifier head."""

  num_classes: int
  features: Sequence[int] = (32, 80, 128)
  num_highway_layers: Sequence[int] = (4, 5, 5)
  pool_after: Sequence[bool] = (True, True, False)
  block: str = 'highway'
  kernel_size: int = 3
  activation: str = 'relu'
  transform_bias_init: float = -2.0
  carry: str = 'coupled'
  dim_match: str = 'plain'
  head: str = 'conv_avgpool'
  dropout_rate: float = 0.0
  layer_dropout_rate: float = 0.0
  remat: bool = False
  dtype: Any = None

  @property
  def num_lesion_layers(self) -> int:
    """Length of the ``lesion`` mask: every stacked layer of every stage."""
    return int(sum(self.num_highway_layers))

  @nn.compact
  def __call__(self, inputs, *, train: bool, lengths=None, lesion=None):
    del lengths  # fixed-size inputs
    mask = None
    if lesion is not None:
      if self.num_lesion_layers == 0:
        raise ValueError('lesion: this model has no highway layers to lesion.')
      mask = lesion_mask(lesion, self.num_lesion_layers)
    first = 0  # index of the current stage's first layer in the model-wide mask
    act = activation('activation', self.activation)
    x = inputs.astype(self.dtype or jnp.float32)
    if x.ndim == 3:
      x = x[..., None]
    kernel = (self.kernel_size, self.kernel_size)
    for s, (width, layers) in enumerate(zip(self.features, self.num_highway_layers)):
      if x.shape[-1] != width:
        if self.dim_match == 'none':
          raise ConfigError(
              f"config.model.dim_match='none' but stage {s} changes the width from {x.shape[-1]} "
              f"to {width}; use dim_match 'plain' or 'project'.")
        if self.dim_match == 'plain':
          x = act(nn.Conv(width, kernel, padding='SAME', dtype=self.dtype,
                          name=f'transition_{s}')(x))
      if layers > 0:
        x = HighwayStack(
            num_layers=layers, features=width, block=self.block, kind='conv',
            activation=act, transform_bias_init=self.transform_bias_init, carry=self.carry,
            kernel_size=kernel, dropout_rate=self.layer_dropout_rate, remat=self.remat,
            dtype=self.dtype, name=f'stage_{s}',
        )(x, lesion=None if mask is None else mask[first:first + layers],
          deterministic=not train)
        first += layers
      if self.pool_after[s]:
        x = nn.max_pool(x, (2, 2), strides=(2, 2))
    x = nn.Dropout(self.dropout_rate)(x, deterministic=not train)
    if self.head == 'conv_avgpool':
      x = nn.Conv(self.num_classes, (1, 1), dtype=self.dtype, name='head')(x)
      return jnp.mean(x, axis=(1, 2))
    x = jnp.reshape(x, (x.shape[0], -1))
    return nn.Dense(self.num_classes, dtype=self.dtype, name='head')(x)


def from_config(model_config, dataset, dtype=None) -> Model:
  """The model of ``config.model`` for ``dataset`` (a ``highway_jax.data.Dataset``)."""
  fields = model_fields(model_config, DEFAULTS)
  check_choice('block', fields['block'], BLOCKS)
  check_choice('dim_match', fields['dim_match'], DIM_MATCH)
  check_choice('head', fields['head'], HEADS)
  check_choice('carry', fields['carry'], ('coupled', 'independent'))
  activation('activation', fields['activation'])
  stages = len(fields['features'])
  if not stages or len(fields['num_highway_layers']) != stages or len(fields['pool_after']) != stages:
    raise ConfigError(
        'config.model.features, config.model.num_highway_layers and config.model.pool_after must '
        f"have one entry per stage; got {fields['features']}, {fields['num_highway_layers']} and "
        f"{fields['pool_after']}.")
  if any(w < 1 for w in fields['features']) or any(n < 0 for n in fields['num_highway_layers']):
    raise ConfigError('config.model.features must be >= 1 and config.model.num_highway_layers >= 0, '
                      f"got {fields['features']} and {fields['num_highway_layers']}.")
  for key in ('dropout_rate', 'layer_dropout_rate'):
    if not 0.0 <= fields[key] < 1.0:
      raise ConfigError(f'config.model.{key}={fields[key]} must be in [0, 1).')
  if dataset.label_shape != () or dataset.vocab_size is not None or len(dataset.input_shape) not in (2, 3):
    raise ConfigError(
        f"config.model.name='highway_cnn' needs image inputs (H, W[, C]) and one label per example; "
        f'dataset {dataset.name!r} has inputs {dataset.input_shape} and labels {dataset.label_shape}.')
  channels = dataset.input_shape[2] if len(dataset.input_shape) == 3 else 1
  widths = (channels,) + tuple(fields['features'])
  if fields['dim_match'] == 'none' and len(set(widths)) > 1:
    raise ConfigError(
        f"config.model.dim_match='none' (no projection) but the widths change along {widths} "
        "(input channels, then config.model.features); use dim_match 'plain' or 'project'.")
  size = dataset.input_shape[0]
  for pool in fields['pool_after']:
    size = size // 2 if pool else size
  if size < 1:
    raise ConfigError(f"config.model.pool_after={fields['pool_after']} pools the "
                      f'{dataset.input_shape[0]}-pixel input down to nothing.')
  return Model(num_classes=dataset.num_classes, dtype=resolve_dtype(dtype), **fields)

"""What the task models share: activations by name, sequence inputs, pooling over time, sequence targets.

Field types that ``errors.build`` checks: ``Activation`` (the ``Literal`` of activation names; ``ACTIVATIONS`` maps
each to its ``flax.linen`` function), ``Size`` (an int >= 1) and ``Rate`` (a dropout rate in [0, 1)).

Pooling ``h`` of shape (B, T, F), right-padded to ``lengths`` (B,) (padded outputs are zero), into (B, F)::

    'last'   h[b, length_b − 1]; with ``backward = F_b > 0`` the last F_b features (a backward
             direction, which has read the whole sequence at t = 0) are taken at t = 0 instead
    'mean'   Σ_{t < length_b} h[b, t] / length_b
    'max'    max_{t < length_b} h[b, t]   (0 for an empty sequence)

Sequence targets: a dataset with labels of shape (T_out,) labels the last T_out steps of fixed-length
inputs; :func:`output_length` returns T_out (None for one label per example).
"""

from __future__ import annotations

import typing
from typing import Annotated, Literal

import jax
import jax.numpy as jnp
from flax import linen as nn

from highway_jax.errors import Bounds, ConfigError

Activation = Literal['relu', 'tanh', 'sigmoid', 'gelu', 'elu', 'swish']
ACTIVATIONS = {name: getattr(nn, name) for name in typing.get_args(Activation)}
Size = Annotated[int, Bounds(ge=1)]
Rate = Annotated[float, Bounds(ge=0, lt=1)]


def as_sequence(x: jax.Array) -> jax.Array:
  """(B, T) -> (B, T, 1); (B, T, F) as is; (B, T, ...) -> (B, T, prod(...)): an image row by row."""
  return x.reshape(x.shape[0], x.shape[1], -1)


def pool_over_time(h: jax.Array, lengths: jax.Array | None, pooling: str, backward: int = 0) -> jax.Array:
  """(B, T, F) -> (B, F) by ``pooling`` over the valid steps (module docstring)."""
  batch, time = h.shape[:2]
  if lengths is None:
    lengths = jnp.full((batch,), time, jnp.int32)
  if pooling == 'last':
    last = h[jnp.arange(batch), jnp.clip(lengths - 1, 0, time - 1)]
    if backward:
      last = jnp.concatenate([last[:, :-backward], h[:, 0, -backward:]], axis=-1)
    return last
  if pooling == 'mean':
    return jnp.sum(h, axis=1) / jnp.maximum(lengths, 1)[:, None].astype(h.dtype)
  valid = jnp.arange(time)[None, :, None] < lengths[:, None, None]
  return jnp.where(lengths[:, None] > 0, jnp.max(jnp.where(valid, h, -jnp.inf), axis=1), 0)


def output_length(dataset) -> int | None:
  """T_out for a dataset with sequence targets (labels (T_out,)), None for one label per example."""
  if not dataset.label_shape:
    return None
  shape = tuple(dataset.input_shape)
  if len(dataset.label_shape) != 1 or dataset.has_lengths or not shape or shape[0] < dataset.label_shape[0]:
    raise ConfigError(
        f'dataset {dataset.name!r} has labels of shape {dataset.label_shape} for inputs of shape {shape}'
        f'{" of variable length" if dataset.has_lengths else ""}; sequence targets (T_out,) label the last T_out '
        'steps of fixed-length inputs (T, ...) with T >= T_out.')
  return dataset.label_shape[0]

"""Reading a model's fields from ``config.model``, with the checks that give one-line config errors.

Each model module lists its fields with defaults (``DEFAULTS``). :func:`model_fields` returns the
config's values merged over the defaults and raises ``ConfigError`` for a field the model doesn't
know, a value of the wrong type, or (via :func:`check_choice`) a value outside the allowed ones.

Example::

    DEFAULTS = dict(depth=10, features=50, block='highway')
    fields = model_fields(config.model, DEFAULTS)          # {'depth': 10, 'features': 50, ...}
    check_choice('block', fields['block'], ('highway', 'plain', 'residual'))
"""

from __future__ import annotations

import difflib
from collections.abc import Mapping, Sequence
from typing import Any

import jax.numpy as jnp
from flax import linen as nn

from highway_jax.errors import ConfigError, choice_error, type_matches

ACTIVATIONS = {
    'relu': nn.relu,
    'tanh': nn.tanh,
    'sigmoid': nn.sigmoid,
    'gelu': nn.gelu,
    'elu': nn.elu,
    'swish': nn.swish,
}
DTYPES = {'float32': jnp.float32, 'bfloat16': jnp.bfloat16}


def model_fields(model_config: Mapping[str, Any], defaults: Mapping[str, Any]) -> dict[str, Any]:
  """``defaults`` updated with ``model_config`` (minus ``name``), checked (module docstring)."""
  name = model_config['name']
  fields = dict(defaults)
  for key in model_config.keys():
    if key == 'name':
      continue
    if key not in defaults:
      close = difflib.get_close_matches(key, list(defaults), n=1)
      hint = f' Did you mean config.model.{close[0]}?' if close else ''
      raise ConfigError(
          f'unknown config key config.model.{key} for model {name!r}.{hint} '
          f'Known keys: {", ".join(sorted(defaults))}.')
    value = model_config[key]
    if not type_matches(value, defaults[key]):
      raise ConfigError(
          f'config.model.{key}={value!r} has type {type(value).__name__}; expected '
          f'{type(defaults[key]).__name__} (e.g. {defaults[key]!r}).')
    fields[key] = tuple(value) if isinstance(value, list) else value
  return fields


def check_choice(key: str, value: Any, allowed: Sequence[Any]) -> None:
  if value not in allowed:
    raise choice_error(f'config.model.{key}', value, allowed)


def activation(key: str, name: str):
  check_choice(key, name, tuple(ACTIVATIONS))
  return ACTIVATIONS[name]


def resolve_dtype(dtype):
  """A computation dtype from ``config.dtype`` ('float32', 'bfloat16'), a NumPy/JAX dtype, or None."""
  if isinstance(dtype, str):
    if dtype not in DTYPES:
      raise choice_error('config.dtype', dtype, tuple(DTYPES))
    return DTYPES[dtype]
  return dtype

"""Errors that end a run with one clear line instead of a traceback.

``scripts/train.py`` and ``scripts/evaluate.py`` catch these (and ``data.DatasetUnavailableError``)
and print ``str(error)``; library callers get ordinary exceptions.

* ``ConfigError`` (a ``ValueError``): a config field has an unknown value, a wrong type, or an
  impossible combination with another field. The message names the field (``config.optimizer.name``)
  and the allowed values.
* ``NonFiniteLossError`` (a ``FloatingPointError``): the training loss became NaN or Inf. The message
  names the step and the last good checkpoint, which is left untouched.
* ``CheckpointError`` (a ``RuntimeError``): a checkpoint in the work directory cannot be restored into
  the current model (corrupt files, or a different model/optimizer shape). The message names the
  checkpoint path. Training never silently re-initialises over an unreadable checkpoint.

Example::

    from highway_jax.errors import ConfigError, choice_error

    raise choice_error('config.optimizer.name', 'adm', ('sgd', 'momentum', 'adam'))
    # ConfigError: config.optimizer.name='adm' is not one of 'sgd', 'momentum', 'adam'.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any


class ConfigError(ValueError):
  """A config field is unknown, mistyped or inconsistent with another field."""


class NonFiniteLossError(FloatingPointError):
  """The training loss became NaN or Inf."""


class CheckpointError(RuntimeError):
  """A checkpoint cannot be restored into the current train state."""


def choice_error(key: str, value: Any, allowed: Iterable[Any]) -> ConfigError:
  """The error for ``key`` having ``value`` outside ``allowed``."""
  allowed = ', '.join(repr(a) for a in allowed)
  return ConfigError(f'{key}={value!r} is not one of {allowed}.')


def type_matches(value: Any, default: Any) -> bool:
  """Whether ``value`` may replace a config field whose default is ``default`` (ints pass for floats)."""
  if isinstance(default, bool):
    return isinstance(value, bool)
  if isinstance(default, float):
    return isinstance(value, (int, float)) and not isinstance(value, bool)
  if isinstance(default, int):
    return isinstance(value, int) and not isinstance(value, bool)
  if isinstance(default, (tuple, list)):
    return isinstance(value, (tuple, list))
  return isinstance(value, type(default))

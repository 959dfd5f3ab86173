"""Errors that end a run with one clear line, and the check that turns a config section into a dataclass.

The command-line entry points (``highway_jax.cli``) catch these (and ``data.DatasetUnavailableError``)
and print ``str(error)``; library callers get ordinary exceptions.

* ``ConfigError`` (a ``ValueError``): a config field is unknown, renamed, of the wrong type, out of
  range or impossible with another field. The message names the field (``config.optimizer.name``) and what is allowed.
* ``NonFiniteLossError`` (a ``FloatingPointError``): the training loss became NaN or Inf. The message
  names the step and the last good checkpoint, which is left untouched.
* ``CheckpointError`` (a ``RuntimeError``): a checkpoint in the work directory cannot be restored into
  the current model (corrupt files, or a different model/optimizer shape). The message names the
  checkpoint path. Training never silently re-initialises over an unreadable checkpoint.
* ``WorkdirError`` (an ``OSError``): the work directory can't be created or written; the message names
  the path, the cause and the fix.

A dataclass is the schema of a config section (``config.model`` for a model, ``config.data``, ``config.optimizer``,
...): its fields are the keys, their defaults the defaults, and their annotations the types, with the allowed values
(``Literal``) and bounds (``Annotated[..., Bounds(...)]``); a float is always finite (NaN and Inf are rejected).
:func:`build` checks a section against it and builds it::

    @dataclasses.dataclass
    class Optimizer:
      name: Literal['sgd', 'adam'] = 'sgd'
      learning_rate: Annotated[float, Bounds(gt=0)] = 0.1

    build(Optimizer, {'name': 'adm'}, 'config.optimizer')
    # ConfigError: config.optimizer.name='adm' is not one of 'sgd', 'adam'.
    build(Optimizer, {'lerning_rate': 0.1}, 'config.optimizer')
    # ConfigError: unknown config key config.optimizer.lerning_rate. Did you mean
    # config.optimizer.learning_rate? Known keys: learning_rate, name.
    build(Optimizer, {'learning_rate': 0}, 'config.optimizer')
    # ConfigError: config.optimizer.learning_rate=0 must be > 0.
"""

from __future__ import annotations

import dataclasses
import difflib
import math
import operator
import types
import typing
from collections.abc import Iterable, Mapping
from typing import Annotated, Any, Literal


class ConfigError(ValueError):
  """A config field is unknown, mistyped or inconsistent with another field."""


class NonFiniteLossError(FloatingPointError):
  """The training loss became NaN or Inf."""


class CheckpointError(RuntimeError):
  """A checkpoint cannot be restored into the current train state."""


class WorkdirError(OSError):
  """The work directory can't be created or written (a file, read-only, full, no permission)."""


class Preempted(Exception):
  """A run stopped early (SIGTERM, Ctrl-C, preemption) after saving a checkpoint: rerunning resumes it."""


def choice_error(key: str, value: Any, allowed: Iterable[Any]) -> ConfigError:
  """The error for ``key`` having ``value`` outside ``allowed``."""
  allowed = ', '.join(repr(a) for a in allowed)
  return ConfigError(f'{key}={value!r} is not one of {allowed}.')


@dataclasses.dataclass(frozen=True)
class Bounds:
  """``Annotated`` metadata of a number field: ``value > gt``, ``>= ge``, ``< lt``, ``<= le``."""

  gt: float | None = None
  ge: float | None = None
  lt: float | None = None
  le: float | None = None

  def check(self, key: str, value: Any) -> None:
    ops = {'gt': ('>', operator.gt), 'ge': ('>=', operator.ge), 'lt': ('<', operator.lt), 'le': ('<=', operator.le)}
    bounds = [(sign, op, getattr(self, name)) for name, (sign, op) in ops.items() if getattr(self, name) is not None]
    if not all(op(value, bound) for _, op, bound in bounds):
      raise ConfigError(f'{key}={value!r} must be '
                        + ' and '.join(f'{sign} {bound}' for sign, _, bound in bounds) + '.')


def _is_a(value: Any, cls: Any) -> bool:
  """``isinstance`` for config values: an int passes for a float (a bool never for a number), a list
  for a tuple."""
  if cls is Any:
    return True
  if cls is tuple:
    return isinstance(value, (tuple, list))
  if cls in (int, float) and isinstance(value, bool):
    return False
  return isinstance(value, (int, float) if cls is float else cls)


def check_value(key: str, value: Any, hint: Any) -> None:
  """Raises ConfigError unless ``value`` fits the annotation ``hint`` (module docstring)."""
  origin, args = typing.get_origin(hint), typing.get_args(hint)
  if origin in (typing.Union, types.UnionType):  # X | None
    if value is not None or type(None) not in args:
      check_value(key, value, next(a for a in args if a is not type(None)))
  elif origin is Annotated:
    check_value(key, value, args[0])
    for bounds in args[1:]:
      bounds.check(key, value)
  elif origin is Literal:
    if value not in args:
      raise choice_error(key, value, args)
  elif not _is_a(value, origin or hint):
    raise ConfigError(f'{key}={value!r} has type {type(value).__name__}; expected '
                      f'{getattr(origin or hint, "__name__", hint)}.')
  elif hint is float and not math.isfinite(value):  # no config float means anything as NaN or Inf
    raise ConfigError(f'{key}={value!r} must be a finite number.')
  elif origin is tuple:
    for i, item in enumerate(value):
      check_value(f'{key}[{i}]', item, args[0])


def build(cls: type, section: Mapping[str, Any], prefix: str, *,
          renamed: Mapping[str, str] | None = None, **fixed: Any) -> Any:
  """``cls(**fixed, **section)``, after checking every key of ``section`` against ``cls``'s fields.

  Args:
    cls: a dataclass (a Flax module is one); its fields with their annotations are the schema.
    section: the config section, e.g. ``config.model`` without its ``name``.
    prefix: the section's name in messages, e.g. ``'config.model'``.
    renamed: old key -> new key, for keys that were renamed (one-line error naming the new key).
    **fixed: fields that are not the config's business (e.g. ``num_classes`` from the dataset).

  Raises:
    ConfigError: a renamed, unknown or mistyped key, a value outside its ``Literal`` or ``Bounds``,
      or a missing field without a default; the message names ``prefix.key``.
  """
  hints = typing.get_type_hints(cls, include_extras=True)
  names = [f.name for f in dataclasses.fields(cls) if f.init and f.name not in fixed]
  flax_fields = ('parent', 'name') if 'parent' in names else ()  # a Flax module's own fields
  known = sorted(name for name in names if name not in flax_fields)
  kwargs = dict(fixed)
  for key, value in section.items():
    if key not in known and key in (renamed or {}):
      raise ConfigError(f'{prefix}.{key} was renamed to {prefix}.{renamed[key]}.')
    if key not in known:
      close = difflib.get_close_matches(key, known, n=1)
      hint = f' Did you mean {prefix}.{close[0]}?' if close else ''
      raise ConfigError(f'unknown config key {prefix}.{key}.{hint} Known keys: {", ".join(known)}.')
    check_value(f'{prefix}.{key}', value, hints[key])
    kwargs[key] = tuple(value) if isinstance(value, list) else value
  required = [f.name for f in dataclasses.fields(cls) if f.name in known and f.name not in kwargs
              and f.default is f.default_factory is dataclasses.MISSING]
  if required:
    raise ConfigError(f'{prefix}.{required[0]} is required.')
  return cls(**kwargs)

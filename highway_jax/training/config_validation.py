"""Checks a training config before any work starts, so a bad field fails in one clear line.

``validate_config(config)`` compares the config with :func:`highway_jax.training.default_config`:

* every key outside ``config.data`` and ``config.model`` must exist in the defaults (an unknown key
  names the closest known one), and have the default's type (an int is accepted for a float);
* names must be known: ``optimizer.name``, ``schedule.name``, ``dtype``, ``best_mode``,
  ``best_metric``, ``eval_split``, ``model.name`` and ``data.name``;
* numbers must be in range, and combinations possible (e.g. ``num_train_steps`` or ``num_epochs``
  positive, ``warmup_steps`` shorter than training).

The fields of ``config.model`` and ``config.data`` are checked by the model (``models.get_model``) and
the data loader, which know their own schemas. Every failure raises ``ConfigError`` whose message names
the key and the allowed values.

Example::

    config = default_config()
    config.optimizer.name = 'adm'
    validate_config(config)
    # ConfigError: config.optimizer.name='adm' is not one of 'sgd', 'momentum', 'nesterov', 'adam', 'adamw'.
"""

from __future__ import annotations

import difflib
from typing import Any

import ml_collections

from highway_jax import data, models
from highway_jax.training.defaults import default_config
from highway_jax.errors import ConfigError, choice_error, type_matches
from highway_jax.training.optimizers import OPTIMIZERS, SCHEDULES

DTYPES = ('float32', 'bfloat16')
EVAL_METRICS = ('loss', 'accuracy', 'sequence_accuracy')
EVAL_SPLITS = ('test', 'validation')
_FREE_SECTIONS = ('data', 'model')


def _type_name(value: Any) -> str:
  return type(value).__name__


def _check_schema(config: ml_collections.ConfigDict, defaults: ml_collections.ConfigDict,
                  prefix: str) -> None:
  for key in config.keys():
    full = f'{prefix}.{key}'
    if key not in defaults:
      close = difflib.get_close_matches(key, list(defaults.keys()), n=1)
      hint = f' Did you mean {prefix}.{close[0]}?' if close else ''
      raise ConfigError(
          f'unknown config key {full}.{hint} Known keys: {", ".join(sorted(defaults.keys()))}.')
    value, default = config[key], defaults[key]
    if isinstance(default, ml_collections.ConfigDict):
      if not isinstance(value, ml_collections.ConfigDict):
        raise ConfigError(f'{full} must be a section (ConfigDict), got {value!r}.')
      if key not in _FREE_SECTIONS or prefix != 'config':
        _check_schema(value, default, full)
    elif not type_matches(value, default):
      raise ConfigError(
          f'{full}={value!r} has type {_type_name(value)}; expected {_type_name(default)} '
          f'(e.g. {default!r}).')


def _check_positive(config, *keys, allow_zero=False):
  for key in keys:
    value = config[key]
    if value < 0 or (value == 0 and not allow_zero):
      bound = '>= 0' if allow_zero else '> 0'
      raise ConfigError(f'config.{key}={value!r} must be {bound}.')


def validate_config(config: ml_collections.ConfigDict) -> None:
  """Raises ConfigError for the first bad field (module docstring)."""
  _check_schema(config, default_config(), 'config')
  for section in _FREE_SECTIONS:
    if section not in config or 'name' not in config[section]:
      raise ConfigError(f'config.{section}.name is required.')
  if config.model.name not in models.MODEL_NAMES:
    raise choice_error('config.model.name', config.model.name, models.MODEL_NAMES)
  if config.data.name not in data.DATASET_NAMES:
    raise choice_error('config.data.name', config.data.name, data.DATASET_NAMES)
  if config.optimizer.name not in OPTIMIZERS:
    raise choice_error('config.optimizer.name', config.optimizer.name, OPTIMIZERS)
  if config.schedule.name not in SCHEDULES:
    raise choice_error('config.schedule.name', config.schedule.name, SCHEDULES)
  if config.dtype not in DTYPES:
    raise choice_error('config.dtype', config.dtype, DTYPES)
  if config.best_mode not in ('max', 'min'):
    raise choice_error('config.best_mode', config.best_mode, ('max', 'min'))
  if config.best_metric and config.best_metric not in EVAL_METRICS:
    raise choice_error('config.best_metric', config.best_metric, ('',) + EVAL_METRICS)
  if config.eval_split not in EVAL_SPLITS:
    raise choice_error('config.eval_split', config.eval_split, EVAL_SPLITS)

  _check_positive(config, 'batch_size', 'eval_batch_size', 'log_every_steps', 'keep_checkpoints')
  _check_positive(config, 'eval_every_steps', 'checkpoint_every_steps', allow_zero=True)
  if config.num_train_steps == -1:
    if config.num_epochs <= 0:
      raise ConfigError(
          f'config.num_epochs={config.num_epochs!r} must be > 0 when config.num_train_steps=-1.')
  elif config.num_train_steps <= 0:
    raise ConfigError(
        f'config.num_train_steps={config.num_train_steps!r} must be > 0, or -1 to use num_epochs.')
  if config.optimizer.learning_rate <= 0:
    raise ConfigError(f'config.optimizer.learning_rate={config.optimizer.learning_rate!r} must be > 0.')
  if config.optimizer.weight_decay < 0:
    raise ConfigError(f'config.optimizer.weight_decay={config.optimizer.weight_decay!r} must be >= 0.')
  if config.optimizer.grad_clip_norm < 0:
    raise ConfigError(
        f'config.optimizer.grad_clip_norm={config.optimizer.grad_clip_norm!r} must be >= 0 (0: off).')
  if config.schedule.warmup_steps < 0:
    raise ConfigError(f'config.schedule.warmup_steps={config.schedule.warmup_steps!r} must be >= 0.')
  if (config.num_train_steps > 0 and config.schedule.warmup_steps >= config.num_train_steps):
    raise ConfigError(
        f'config.schedule.warmup_steps={config.schedule.warmup_steps} must be smaller than '
        f'config.num_train_steps={config.num_train_steps}.')


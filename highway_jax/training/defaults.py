"""The base config every experiment starts from, and the parser for ``--config=file.py:key=value`` args.

Config files (``configs/*.py``) are loaded by path, so they can't import a sibling ``common.py``; they
build on :func:`default_config` instead::

    # configs/my_experiment.py
    from highway_jax.training import default_config, parse_arg

    def get_config(arg=None):
      arg = parse_arg(arg, depth=50, block='highway', runlocal=False,
                      choices={'block': ('highway', 'plain')})
      config = default_config()
      config.data.name = 'digits'
      config.model.name = 'highway_mlp'
      config.model.depth = arg.depth
      ...
      return config

Run with ``python scripts/train.py --config=configs/my_experiment.py:depth=20,block=plain``.
``:runlocal`` alone means ``runlocal=True`` (a bool needs no value), and the first spec entry may be
given unnamed (``:20`` means ``depth=20``).

The fields of :func:`default_config` and what they mean:

    seed                     model init, dropout and data order
    data.*                   the dataset and its options (``highway_jax.data.default_config()``)
    model.name               model family (see ``highway_jax.models.get_model``); more fields per model
    batch_size               global training batch (split over all devices and processes)
    eval_batch_size          global evaluation batch
    num_train_steps          total optimizer steps; -1 means num_epochs × (train examples // batch_size)
    num_epochs               used when num_train_steps == -1
    optimizer.*, schedule.*  see ``highway_jax.training.optimizers``
    dtype                    'float32' or 'bfloat16' (bf16 compute, float32 parameters)
    log_every_steps          console progress line, metrics.jsonl and TensorBoard train scalars
    eval_every_steps         periodic evaluation on eval_split (0: only at the end)
    checkpoint_every_steps   periodic checkpoints (0: only the final one)
    keep_checkpoints         how many of the latest checkpoints to keep
    best_metric, best_mode   also keep the checkpoint with the best eval metric ('' disables)
    eval_split               split for periodic evaluation ('test' or 'validation'); the final
                             evaluation is always on 'test'
    async_checkpointing      write checkpoints in a background thread
"""

from __future__ import annotations

import importlib.util
import os
from collections.abc import Mapping, Sequence
from typing import Any

import ml_collections

from highway_jax import data
from highway_jax.errors import ConfigError


def default_config() -> ml_collections.ConfigDict:
  """The base config; experiment files override its fields (module docstring)."""
  config = ml_collections.ConfigDict()
  config.seed = 0
  # Every data key, so that any of them can be overridden from the command line.
  config.data = data.default_config()
  config.model = ml_collections.ConfigDict({'name': ''})
  config.batch_size = 128
  config.eval_batch_size = 500
  config.num_train_steps = -1
  config.num_epochs = 10.0

  config.optimizer = ml_collections.ConfigDict(dict(
      name='momentum', learning_rate=0.1, momentum=0.9, b1=0.9, b2=0.999, eps=1e-8,
      weight_decay=0.0, grad_clip_norm=0.0))
  config.schedule = ml_collections.ConfigDict(dict(
      name='constant', warmup_steps=0, alpha=0.0, decay_rate=0.1, transition_steps=0,
      staircase=False, boundaries=(0.5, 0.75), decay_factor=0.1))

  config.dtype = 'float32'
  config.log_every_steps = 100
  config.eval_every_steps = 1000
  config.checkpoint_every_steps = 1000
  config.keep_checkpoints = 2
  config.best_metric = 'accuracy'
  config.best_mode = 'max'
  config.eval_split = 'test'
  config.async_checkpointing = True
  return config


def _strict_bool(key: str, text: str) -> bool:
  if text.lower() in ('true', '1', ''):
    return True
  if text.lower() in ('false', '0'):
    return False
  raise ConfigError(f'config argument {key}={text!r} is not a bool (true or false).')


def _convert(key: str, text: str, default: Any) -> Any:
  if isinstance(default, bool):
    return _strict_bool(key, text)
  if isinstance(default, (int, float)):
    try:
      return type(default)(text)
    except ValueError:
      raise ConfigError(
          f'config argument {key}={text!r} is not a {type(default).__name__}.') from None
  return text


def parse_arg(arg: str | None, *, choices: Mapping[str, Sequence[Any]] | None = None,
              **spec: Any) -> ml_collections.ConfigDict:
  """Parses the ``key=value,...`` string of ``--config=file.py:key=value,...``.

  Args:
    arg: the string after the colon (``None`` or ``''`` when there is none).
    choices: optional allowed values per key.
    **spec: every accepted key with its default; values are converted to the default's type
      (bools accept true/false).

  Returns:
    A ConfigDict with one entry per spec key.

  Raises:
    ConfigError: an unknown key, an unconvertible value, or a value outside ``choices``; the
      message names the key and what is allowed.
  """
  choices = dict(choices or {})
  arg = (arg or '').strip()
  if arg and ',' not in arg and '=' not in arg:
    # ':runlocal' is a bool flag; ':20' is the value of the first spec entry.
    arg = f'{arg}=true' if arg in spec or not spec else f'{next(iter(spec))}={arg}'
  raw = {}
  for item in filter(None, arg.split(',')):
    key, _, value = item.partition('=')
    raw[key.strip()] = value.strip() if '=' in item else 'true'
  unknown = sorted(set(raw) - set(spec))
  if unknown:
    raise ConfigError(
        f'unknown config argument {unknown[0]!r}; allowed: {", ".join(spec)}.')
  result = ml_collections.ConfigDict()
  for key, default in spec.items():
    value = _convert(key, raw[key], default) if key in raw else default
    if key in choices and value not in choices[key]:
      allowed = ', '.join(repr(c) for c in choices[key])
      raise ConfigError(f'config argument {key}={value!r} is not one of {allowed}.')
    result[key] = value
  return result


def load_config_file(spec: str, overrides: Mapping[str, Any] | None = None, *,
                     relative_to: str | None = None) -> ml_collections.ConfigDict:
  """``get_config(arg)`` of a config file given as ``'path.py[:arg]'``, as ``--config=`` reads it.

  ``overrides`` sets dotted keys afterwards, e.g. ``{'model.cell': 'lstm'}``. Configs use it to build
  on a sibling config: ``load_config_file('cifar_highway.py', relative_to=__file__)`` resolves the
  path in the directory of the file ``relative_to``.
  """
  path, _, arg = spec.partition(':')
  if relative_to is not None:
    path = os.path.join(os.path.dirname(os.path.abspath(relative_to)), path)
  if not os.path.isfile(path):
    raise ValueError(f'config file {path} does not exist.')
  module_spec = importlib.util.spec_from_file_location(
      os.path.splitext(os.path.basename(path))[0] + '_config', path)
  module = importlib.util.module_from_spec(module_spec)
  module_spec.loader.exec_module(module)
  config = module.get_config(arg or None)
  for key, value in (overrides or {}).items():
    *parents, leaf = key.split('.')
    node = config
    for parent in parents:
      node = node[parent]
    if leaf not in node:
      raise ValueError(f'unknown config key {key!r} in the overrides of {spec}.')
    node[leaf] = value
  return config


def runlocal(config: ml_collections.ConfigDict, *, batch_size: int, eval_batch_size: int,
             steps: int = 4, every: int = 2) -> ml_collections.ConfigDict:
  """Shrinks ``config`` to a config's ``:runlocal`` variant (what the tests train).

  ``steps`` training steps of ``batch_size``, logged, evaluated and checkpointed every ``every``
  steps, checkpoints written synchronously, warmup at most one step. The model and data sizes are
  the config's own business.
  """
  config.batch_size = batch_size
  config.eval_batch_size = eval_batch_size
  config.num_train_steps = steps
  config.schedule.warmup_steps = min(config.schedule.warmup_steps, 1)
  config.log_every_steps = config.eval_every_steps = config.checkpoint_every_steps = every
  config.async_checkpointing = False
  return config

"""The base config every experiment starts from, its schema and check, and the ``file.py:key=value`` parser.

The schema: the dataclasses ``Training`` (top-level keys), ``Optimizer`` and ``Schedule``, ``data.DataConfig`` and
each model's ``Model``. ``validate_config(config)`` checks the first three with ``errors.build``, then the training
length and the warmup within it, so a bad key fails in one ``ConfigError`` line before any work starts;
``config.data`` and ``config.model`` are checked where used (``data.load``, ``models.get_model``).

Config files (``configs/*.py``) are loaded by path, so they can't import a sibling ``common.py``; they
build on :func:`default_config` (or on a sibling config, :func:`load_config_file`) instead::

    # configs/my_experiment.py
    from highway_jax.training import default_config, parse_arg

    def get_config(arg=None):
      arg = parse_arg(arg, num_layers=50, block='highway', choices={'block': ('highway', 'plain')})
      config = default_config()
      config.data.name, config.model.name = 'digits', 'highway_mlp'
      config.model.num_layers = arg.num_layers
      return config

Run with ``python scripts/train.py --config=configs/my_experiment.py:num_layers=20,block=plain``. The comments of
``Training`` say what each key means.
"""

from __future__ import annotations

import dataclasses
import functools
import importlib.util
import operator
import os
from collections.abc import Mapping, Sequence
from typing import Annotated, Any, Literal

import ml_collections

from highway_jax import data
from highway_jax.errors import Bounds, ConfigError, build, check_value
from highway_jax.training.optimizers import OPTIMIZERS, SCHEDULES

Positive = Annotated[int, Bounds(gt=0)]
NonNegative = Annotated[int, Bounds(ge=0)]


@dataclasses.dataclass(frozen=True)
class Training:
  """The top-level keys of a training config (module docstring)."""

  seed: int = 0                      # model init, dropout and data order
  batch_size: Positive = 128         # global training batch (split over all devices and processes)
  eval_batch_size: Positive = 500    # global evaluation batch
  num_train_steps: int = -1          # optimizer steps; -1: num_epochs × (train examples // batch_size)
  num_epochs: float = 10.0           # used when num_train_steps == -1
  dtype: Literal['float32', 'bfloat16'] = 'float32'  # computation (parameters stay float32)
  log_every_steps: Positive = 100    # console line, metrics.jsonl and TensorBoard train scalars
  eval_every_steps: NonNegative = 1000        # evaluation on eval_split (0: only at the end)
  checkpoint_every_steps: NonNegative = 1000  # periodic checkpoints (0: only the final one)
  keep_checkpoints: Positive = 2     # how many of the latest checkpoints to keep
  # Also keep the checkpoint with the best eval_split metric ('' disables; never selected on 'test').
  best_metric: Literal['', 'loss', 'accuracy', 'sequence_accuracy'] = 'accuracy'
  best_mode: Literal['max', 'min'] = 'max'
  # Periodic evaluation and best checkpoint; the final evaluation is on 'validation' and 'test'.
  eval_split: Literal['test', 'validation'] = 'validation'
  async_checkpointing: bool = True   # write checkpoints in a background thread
  profile_steps: NonNegative = 0     # jax.profiler trace of this many steps after the first (0: off)
  resume_with_changes: bool = False  # resume checkpoints under a config that alters the computation
  # Stop after this many evaluations in a row without a strictly better best_metric on eval_split (0: off).
  early_stopping_patience: NonNegative = 0


@dataclasses.dataclass(frozen=True)
class Optimizer:
  """``config.optimizer`` (``training.optimizers``)."""

  name: Literal[OPTIMIZERS] = 'momentum'
  learning_rate: Annotated[float, Bounds(gt=0)] = 0.1
  momentum: float = 0.9
  b1: float = 0.9
  b2: float = 0.999
  eps: float = 1e-8
  weight_decay: Annotated[float, Bounds(ge=0)] = 0.0
  grad_clip_norm: Annotated[float, Bounds(ge=0)] = 0.0  # 0: off


@dataclasses.dataclass(frozen=True)
class Schedule:
  """``config.schedule`` (``training.optimizers``)."""

  name: Literal[SCHEDULES] = 'constant'
  warmup_steps: NonNegative = 0
  alpha: float = 0.0
  decay_rate: float = 0.1
  transition_steps: int = 0
  staircase: bool = False
  boundaries: tuple[float, ...] = (0.5, 0.75)
  decay_factor: float = 0.1


def validate_config(config: ml_collections.ConfigDict) -> None:
  """Raises ConfigError for the first bad key (module docstring)."""
  sections = {'optimizer': Optimizer, 'schedule': Schedule}
  build(Training, {k: v for k, v in config.items() if k not in ('data', 'model', *sections)}, 'config')
  for name, schema in sections.items():
    build(schema, config[name], f'config.{name}')
  steps, warmup = config.num_train_steps, config.schedule.warmup_steps
  if steps == -1 and config.num_epochs <= 0:
    raise ConfigError(f'config.num_epochs={config.num_epochs!r} must be > 0 when config.num_train_steps=-1.')
  if steps != -1 and steps <= 0:
    raise ConfigError(f'config.num_train_steps={steps!r} must be > 0, or -1 to use num_epochs.')
  if 0 < steps <= warmup:
    raise ConfigError(
        f'config.schedule.warmup_steps={warmup} must be smaller than config.num_train_steps={steps}.')
  if config.early_stopping_patience and not (config.best_metric and config.eval_every_steps):
    raise ConfigError(
        f'config.early_stopping_patience={config.early_stopping_patience} needs periodic evaluation: set '
        'config.eval_every_steps > 0 and config.best_metric (the metric it watches), or the patience to 0.')


def with_new_keys(stored: Mapping[str, Any]) -> dict[str, Any]:
  """A stored config's JSON (``config.json``) with every top-level key added to ``Training`` and every
  ``config.data`` key added to ``data.DataConfig`` since it was written, at its default: a key is only added
  with a default that computes what the code did before it."""
  config = {**{f.name: f.default for f in dataclasses.fields(Training)}, **stored}
  if isinstance(stored.get('data'), Mapping):
    config['data'] = {**data.default_config().to_dict(), **stored['data']}
  return config


def default_config() -> ml_collections.ConfigDict:
  """The base config; experiment files override its fields (module docstring)."""
  config = ml_collections.ConfigDict(dataclasses.asdict(Training()))
  config.data = data.default_config()  # every data key, so any can be set from the command line
  config.model = ml_collections.ConfigDict({'name': ''})
  config.optimizer = dataclasses.asdict(Optimizer())
  config.schedule = dataclasses.asdict(Schedule())
  return config


def _parse(text: str, default: Any) -> Any:
  """``text`` as the type of ``default``, or ``text`` itself if it isn't one (check_value says so)."""
  if isinstance(default, bool):
    return {'true': True, '1': True, 'false': False, '0': False}.get(text.lower(), text)
  try:
    return type(default)(text) if isinstance(default, (int, float)) else text
  except ValueError:
    return text


def parse_arg(arg: str | None, *, choices: Mapping[str, Sequence[Any]] | None = None,
              **spec: Any) -> ml_collections.ConfigDict:
  """The ``key=value,...`` after the colon of ``--config=file.py:key=value,...`` (big_vision's) as a
  ConfigDict of every ``spec`` key (its default, whose type values convert to; bools accept
  true/false/1/0, no value means true); ``choices`` are some keys' allowed values."""
  result = ml_collections.ConfigDict(spec)
  for item in filter(None, (arg or '').split(',')):
    key, has_value, text = (part.strip() for part in item.partition('='))
    if key not in spec:
      raise ConfigError(f'unknown config argument {key!r}; allowed: {", ".join(spec)}.')
    value = _parse(text if has_value else 'true', spec[key])
    allowed = (choices or {}).get(key)
    check_value(f'config argument {key}', value, Literal[tuple(allowed)] if allowed else type(spec[key]))
    result[key] = value
  return result


def load_config_file(spec: str, overrides: Mapping[str, Any] | None = None, *,
                     relative_to: str | None = None) -> ml_collections.ConfigDict:
  """``get_config(arg)`` of ``'path.py[:arg]'`` as ``--config=`` reads it, then ``overrides`` of dotted
  keys (``{'model.cell': 'lstm'}``); ``relative_to=__file__`` resolves a sibling config's path."""
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
    node = functools.reduce(operator.getitem, parents, config)
    if leaf not in node:
      raise ValueError(f'unknown config key {key!r} in the overrides of {spec}.')
    node[leaf] = value
  return config


def runlocal(config: ml_collections.ConfigDict, *, batch_size: int, eval_batch_size: int,
             steps: int = 4, every: int = 2) -> ml_collections.ConfigDict:
  """``config`` shrunk to a ``:runlocal`` variant (what the tests train): ``steps`` steps, logged,
  evaluated and checkpointed (synchronously) every ``every`` steps, warmup at most one step."""
  config.batch_size = batch_size
  config.eval_batch_size = eval_batch_size
  config.num_train_steps = steps
  config.schedule.warmup_steps = min(config.schedule.warmup_steps, 1)
  config.log_every_steps = config.eval_every_steps = config.checkpoint_every_steps = every
  config.async_checkpointing = False
  return config

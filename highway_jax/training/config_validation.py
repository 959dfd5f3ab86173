"""Checks a training config before any work starts, so a bad key fails in one clear line.

``validate_config(config)`` checks the top-level keys against ``defaults.Training`` and
``config.optimizer`` / ``config.schedule`` against ``defaults.Optimizer`` / ``defaults.Schedule``
with ``errors.build`` (unknown or mistyped keys, names outside their ``Literal``, numbers outside
their ``Bounds``), then what no single key can say: the training length and the warmup within it.
``config.data`` and ``config.model`` are checked where they are used, by ``data.load`` and
``models.get_model``. Every failure raises ``ConfigError`` whose message names the key.

Example: ``config.optimizer.name = 'adm'`` gives ``ConfigError: config.optimizer.name='adm' is not one
of 'sgd', 'momentum', 'nesterov', 'adam', 'adamw'.``
"""

from __future__ import annotations

import ml_collections

from highway_jax.errors import ConfigError, build
from highway_jax.training.defaults import Optimizer, Schedule, Training

SECTIONS = {'optimizer': Optimizer, 'schedule': Schedule}


def validate_config(config: ml_collections.ConfigDict) -> None:
  """Raises ConfigError for the first bad key (module docstring)."""
  build(Training, {k: v for k, v in config.items() if k not in ('data', 'model', *SECTIONS)}, 'config')
  for name, schema in SECTIONS.items():
    build(schema, config[name], f'config.{name}')
  steps, warmup = config.num_train_steps, config.schedule.warmup_steps
  if steps == -1 and config.num_epochs <= 0:
    raise ConfigError(f'config.num_epochs={config.num_epochs!r} must be > 0 when config.num_train_steps=-1.')
  if steps != -1 and steps <= 0:
    raise ConfigError(f'config.num_train_steps={steps!r} must be > 0, or -1 to use num_epochs.')
  if 0 < steps <= warmup:
    raise ConfigError(
        f'config.schedule.warmup_steps={warmup} must be smaller than config.num_train_steps={steps}.')

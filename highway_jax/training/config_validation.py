"""``validate_config(config)``: a bad key fails in one ``ConfigError`` line before any work starts.

The top-level keys, ``config.optimizer`` and ``config.schedule`` are checked against ``defaults``'s
dataclasses with ``errors.build``, then the training length and the warmup within it;
``config.data`` and ``config.model`` are checked where used (``data.load``, ``models.get_model``).
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

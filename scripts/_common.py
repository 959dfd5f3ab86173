"""What the experiment scripts share: one-line errors and comma-separated integer flags."""

import sys

from highway_jax.data import DatasetUnavailableError
from highway_jax.training import CheckpointError, ConfigError, NonFiniteLossError

ERRORS = (
    (ConfigError, 'Config error'),
    (DatasetUnavailableError, 'Dataset unavailable'),
    (NonFiniteLossError, 'Training stopped'),
    (CheckpointError, 'Checkpoint error'),
    (ValueError, 'Error'),
)
# What ends a training or evaluation run (a bare ValueError there is a bug and keeps its traceback).
RUN_ERRORS = (ConfigError, DatasetUnavailableError, NonFiniteLossError, CheckpointError)


def fail(error: BaseException) -> None:
  """Prints ``error`` as one line on stderr and exits with status 1."""
  label = next(label for cls, label in ERRORS if isinstance(error, cls))
  print(f'{label}: {" ".join(str(error).split())}', file=sys.stderr)
  sys.exit(1)


def error_types():
  return tuple(cls for cls, _ in ERRORS)

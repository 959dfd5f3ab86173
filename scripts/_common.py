"""The one error policy of the scripts: expected errors end in one line, bugs keep their traceback.

``run(main)`` runs an absl ``main``; an error of :data:`EXPECTED` (a bad config or flag, a dataset
that can't be obtained, a diverged loss, a work directory or checkpoint that can't be used) prints
``<label>: <message>`` on one line of stderr and exits with status 1. Any other exception is a bug
and propagates with its traceback.
"""

import sys

from absl import app

from highway_jax.data import DatasetUnavailableError
from highway_jax.errors import CheckpointError, ConfigError, NonFiniteLossError

EXPECTED = {
    ConfigError: 'Config error',
    DatasetUnavailableError: 'Dataset unavailable',
    NonFiniteLossError: 'Training stopped',
    CheckpointError: 'Checkpoint error',
}


def fail(error: BaseException) -> None:
  """Prints ``error`` as one line on stderr and exits with status 1."""
  label = next(label for cls, label in EXPECTED.items() if isinstance(error, cls))
  print(f'{label}: {" ".join(str(error).split())}', file=sys.stderr)
  sys.exit(1)


def run(main, **kwargs) -> None:
  """``absl.app.run(main)`` under the error policy of the module docstring."""

  def guarded(argv):
    if len(argv) > 1:
      raise app.UsageError(f'Unexpected arguments: {" ".join(argv[1:])}')
    try:
      return main(argv)
    except tuple(EXPECTED) as e:
      fail(e)

  app.run(guarded, **kwargs)

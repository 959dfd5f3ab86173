"""What every command-line entry point shares: multi-host start-up, quiet library logs, one error policy.

Used by ``python -m highway_jax.train`` and every ``scripts/*.py``.

``run(main)`` runs an absl ``main`` after ``jax.distributed.initialize()`` (only when the process is
one of several: ``JAX_COORDINATOR_ADDRESS``, a Cloud TPU pod slice, SLURM or Open MPI with more than
one task) and with the INFO logs of Orbax, grain and JAX dropped (warnings still show).

Error policy: an error of :data:`EXPECTED` (a bad config or flag, a dataset that can't be obtained, a
diverged loss, a work directory or checkpoint that can't be used) prints ``<label>: <message>`` on one
line of stderr and exits with status 1. Any other exception is a bug and keeps its traceback. Ctrl-C
outside the training loop prints one line and exits with status 130 (inside it, the loop saves and
returns, and ``python -m highway_jax.train`` exits with :data:`EXIT_PREEMPTED`, 75; so does an experiment
script whose run stopped that way, ``errors.Preempted``). After Orbax
gives up on a damaged checkpoint, TensorStore reads still in flight report to an event loop that is
closed; those "Event loop is closed" errors go to the debug log, not stderr.
"""

import logging
import os
import signal
import sys

import jax
from absl import app, flags
from absl import logging as absl_logging

from highway_jax.data import DatasetUnavailableError
from highway_jax.errors import CheckpointError, ConfigError, NonFiniteLossError, Preempted, WorkdirError

EXPECTED = {
    ConfigError: 'Config error',
    DatasetUnavailableError: 'Dataset unavailable',
    NonFiniteLossError: 'Training stopped',
    CheckpointError: 'Checkpoint error',
    WorkdirError: 'Work directory error',
}
EXIT_PREEMPTED = 75  # saved and stopped early (SIGTERM, Ctrl-C, preemption): rerun to resume
EXIT_INTERRUPTED = 130  # Ctrl-C before anything could be saved
QUIET_PACKAGES = ('orbax', 'grain', 'jax')  # Orbax logs every save in detail


def fail(error: BaseException) -> None:
  """Prints ``error`` as one line on stderr and exits with status 1."""
  label = next(label for cls, label in EXPECTED.items() if isinstance(error, cls))
  print(f'{label}: {" ".join(str(error).split())}', file=sys.stderr)
  sys.exit(1)


class NumberListParser(flags.ListParser):
  """Comma-separated numbers of one ``kind`` (``int`` or ``float``), checked when the flags are parsed,
  so a bad value stops the script with absl's one-line flag error rather than a traceback later."""

  def __init__(self, kind: type = int, minimum: float | None = None, distinct: bool = False,
               allow_empty: bool = False) -> None:
    super().__init__()
    self.kind, self.minimum, self.distinct, self.allow_empty = kind, minimum, distinct, allow_empty

  def flag_type(self) -> str:
    return 'comma separated list of ' + ('integers' if self.kind is int else 'numbers')

  def parse(self, argument: str | list) -> list:
    items = super().parse(argument)
    expected = (('' if self.allow_empty else 'non-empty ') + self.flag_type()
                + (f', each >= {self.minimum}' if self.minimum is not None else '')
                + (', without repeats' if self.distinct else ''))
    try:
      values = [self.kind(item) for item in items]
    except (TypeError, ValueError):
      raise ValueError(f'expected a {expected}') from None
    if ((not values and not self.allow_empty) or (self.minimum is not None and any(v < self.minimum for v in values))
        or (self.distinct and len(set(values)) != len(values))):
      raise ValueError(f'expected a {expected}')
    return values


def define_number_list(name: str, default: list | None, help: str, kind: type = int,  # noqa: A002 (absl's name)
                       minimum: float | None = None, distinct: bool = False, allow_empty: bool = False) -> None:
  """An absl list flag whose value is a list of ``kind`` (see :class:`NumberListParser`)."""
  flags.DEFINE(NumberListParser(kind, minimum, distinct, allow_empty), name, default, help,
               serializer=flags.CsvListSerializer(','))


def _multi_process() -> bool:
  env = os.environ
  hosts = [h for h in env.get('TPU_WORKER_HOSTNAMES', '').split(',') if h]
  return bool(env.get('JAX_COORDINATOR_ADDRESS')) or len(hosts) > 1 or any(
      int(env.get(count) or '1') > 1 for count in ('SLURM_NTASKS', 'OMPI_COMM_WORLD_SIZE'))


class _BelowWarningFrom(logging.Filter):

  def filter(self, record):
    return record.levelno >= logging.WARNING or not any(
        f'{os.sep}{p}{os.sep}' in record.pathname for p in QUIET_PACKAGES)


def exit_on_interrupt(signum=None, frame=None) -> None:
  """SIGINT handler outside the training loop: one line, exit status 130, no traceback.

  A KeyboardInterrupt raised at an arbitrary point can be swallowed (JAX's garbage-collection callback
  ignores it, so training went on) or unwind while library threads run; exiting at once is the safe
  answer where there is nothing to save. Called with no arguments, installs itself.
  """
  if signum is None:
    signal.signal(signal.SIGINT, exit_on_interrupt)
    return
  os.write(2, b'Interrupted: nothing to save yet (or nothing left to), exiting.\n')
  os._exit(EXIT_INTERRUPTED)


def quiet_closed_loop(unraisable) -> None:
  """``sys.unraisablehook`` that logs the "Event loop is closed" errors (module docstring) at debug."""
  if isinstance(unraisable.exc_value, RuntimeError) and 'Event loop is closed' in str(unraisable.exc_value):
    absl_logging.debug('Ignored after a failed checkpoint read: %s', unraisable.exc_value)
  else:
    sys.__unraisablehook__(unraisable)


def run(main, **kwargs) -> None:
  """``absl.app.run(main)`` with the start-up and error policy of the module docstring."""
  exit_on_interrupt()
  sys.unraisablehook = quiet_closed_loop

  def guarded(argv):
    if len(argv) > 1:
      raise app.UsageError(f'Unexpected arguments: {" ".join(argv[1:])}')
    if _multi_process():
      jax.distributed.initialize()  # before any other JAX call
    absl_logging.get_absl_handler().addFilter(_BelowWarningFrom())
    try:
      return main(argv)
    except tuple(EXPECTED) as e:
      fail(e)
    except Preempted as e:  # an experiment's run stopped with a checkpoint saved
      print(f'Stopped: {" ".join(str(e).split())}', file=sys.stderr)
      sys.exit(EXIT_PREEMPTED)

  app.run(guarded, **kwargs)

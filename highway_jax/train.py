r"""Trains a config: ``python -m highway_jax.train --config=configs/digits_highway.py [--workdir=DIR]``.

``scripts/train.py`` (the documented entry point) runs this same ``main``; this module lets an installed
wheel train without the repository.

``--config=FILE[:key=value,...]`` loads ``get_config(arg)`` from FILE; ``--config.<key>=<value>``
overrides any field. ``--workdir`` defaults to ``runs/<config file name>`` (plus the ``:arg`` string);
a work directory with checkpoints is resumed from. Everything else is in
``highway_jax.training.train_and_evaluate``.

A bad config, an unavailable dataset, a diverged loss or an unusable checkpoint ends the run with one
line on stderr and exit status 1 (2 for command-line errors: an unknown or mistyped ``--config.<key>``,
which the locked config rejects, or a bad ``:key=value`` argument).
"""

import os
import re
import sys

from absl import flags
from ml_collections import config_flags

from highway_jax import cli, models
from highway_jax.errors import ConfigError
from highway_jax.training import format_metrics, train_and_evaluate

FLAGS = flags.FLAGS
config_flags.DEFINE_config_file('config', None, 'Experiment config file (configs/*.py[:args]).', lock_config=True)
flags.DEFINE_string('workdir', None, 'Work directory (default: runs/<config name>).')
flags.mark_flags_as_required(['config'])


def _message(error: BaseException) -> str:
  """One line for a command-line error: ours (a ConfigError raised while loading the config file,
  which ml_collections re-raises with its traceback as text) if there is one, else absl's or
  ml_collections' own (a missing key arrives as a KeyError wrapped in an AttributeError)."""
  chain = [error]
  while chain[-1].__cause__ or chain[-1].__context__:
    chain.append(chain[-1].__cause__ or chain[-1].__context__)
  error = next((e for e in reversed(chain) if isinstance(e, ConfigError)), error)
  while error.args and isinstance(error.args[0], BaseException):
    error = error.args[0]
  if isinstance(error, KeyError):  # str() of a KeyError is the repr of its message
    return 'unknown config key ' + ' '.join(str(error.args[0]).split())
  return ' '.join(str(error).split())


def parse_flags(argv):
  """absl's flag parsing (which loads the config), with errors reported in one line."""
  try:
    argv = FLAGS(argv)
    FLAGS.config.keys()  # a config file that failed to load only raises when first used
    return argv
  except (flags.Error, AttributeError, KeyError, OSError) as e:
    old = [a.split('=', 1)[0][len('--config.model.'):] for a in argv if a.startswith('--config.model.')]
    renamed = [m for m in map(models.renamed_key, old) if m]
    print(f'Config error: {renamed[0] if renamed else _message(e)}', file=sys.stderr)
    sys.exit(2)


def default_workdir(config_flag_value: str) -> str:
  """``runs/<stem>`` for ``configs/<stem>.py``, ``runs/<stem>-<args>`` for ``configs/<stem>.py:<args>``."""
  path, _, arg = config_flag_value.partition(':')
  name = os.path.splitext(os.path.basename(path))[0]
  if arg:
    name += '-' + re.sub(r'[^A-Za-z0-9_.=-]+', '-', arg)
  return os.path.join('runs', name)


def main(argv):
  del argv
  workdir = FLAGS.workdir or default_workdir(config_flags.get_config_filename(FLAGS['config']))
  results = train_and_evaluate(FLAGS.config, workdir)  # validates the config first
  if results.get('preempted'):
    print(f'Stopped at step {results["step"]} (preempted or interrupted); checkpoint saved in {workdir}. '
          f'Rerun the same command to resume (exit status {cli.EXIT_PREEMPTED}).')
    sys.exit(cli.EXIT_PREEMPTED)
  final = {split: {k[len(split) + 1:]: v for k, v in results.items() if k.startswith(split + '_')}
           for split in ('validation', 'test')}
  print(f'Step {results["step"]}: ' + '; '.join(f'{s}: {format_metrics(m)}' for s, m in final.items() if m)
        + f' ({results["wall_time_s"]:.0f} s). Results, metrics and plots in {workdir}.')


def run() -> None:
  """Parses the flags and trains (the module docstring); exits non-zero on an expected error."""
  cli.run(main, flags_parser=parse_flags)


if __name__ == '__main__':
  run()

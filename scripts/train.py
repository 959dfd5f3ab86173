r"""Trains a config: ``python scripts/train.py --config=configs/digits_highway.py [--workdir=DIR]``.

``--config=FILE[:key=value,...]`` loads ``get_config(arg)`` from FILE; ``--config.<key>=<value>``
overrides any field. ``--workdir`` defaults to ``runs/<config file name>`` (plus the ``:arg`` string);
a work directory with checkpoints is resumed from. Everything else is in
``highway_jax.training.train_and_evaluate``.

A bad config, an unavailable dataset, a diverged loss or an unusable checkpoint ends the run with one
line on stderr and exit status 1 (2 for command-line errors).
"""

import os
import re
import sys

from absl import flags, logging
from ml_collections import config_flags

import _common
from highway_jax.training import format_metrics, train_and_evaluate
from highway_jax.training.config_validation import validate_config

FLAGS = flags.FLAGS
config_flags.DEFINE_config_file('config', None, 'Experiment config file (configs/*.py[:args]).',
                                lock_config=True)
flags.DEFINE_string('workdir', None, 'Work directory (default: runs/<config name>).')
flags.mark_flags_as_required(['config'])

def _one_line(message: str) -> str:
  return ' '.join(str(message).split())


def _last_error_line(error: BaseException) -> str:
  """The final 'SomeError: message' line of an error that embeds a traceback, without the type."""
  lines = [line for line in str(error).splitlines() if line.strip()]
  for line in reversed(lines):
    match = re.match(r'^\s*[\w.]*(Error|Exception): (.*)$', line)
    if match:
      return match.group(2)
  return _one_line(error)


def _unknown_key_message(error: BaseException, argv) -> str:
  """ml_collections reports an override of a missing key as a quoted KeyError; name the flag."""
  text = str(error).replace('\\n', ' ').replace("\\'", "'")
  names = re.findall(r"'(\w+)'", text)
  key = names[0] if names else text
  flag = next((a.split('=')[0] for a in argv if a.startswith('--config.')
               and key in a.split('=')[0].split('.')), '--config.…')
  hint = re.search(r'Did you mean "(\w+)"', text)
  hint = f' Did you mean {hint.group(1)!r}?' if hint else ''
  return f'unknown config key {key!r} in {flag}.{hint}'


def parse_flags(argv):
  """absl's flag parsing (which loads the config), with errors reported in one line."""
  for arg in argv[1:]:
    path = arg.partition('=')[2].partition(':')[0]
    if arg.startswith('--config=') and not os.path.isfile(path):
      print(f'Config error: config file {path} does not exist.', file=sys.stderr)
      sys.exit(2)
  try:
    argv = FLAGS(argv)
    FLAGS.config.keys()  # a config file that failed to load only raises when first used
    return argv
  except (AttributeError, KeyError) as e:
    print(f'Config error: {_unknown_key_message(e, argv)}', file=sys.stderr)
  except (flags.Error, OSError, TypeError, ValueError) as e:
    message = _last_error_line(e) if 'Traceback' in str(e) else _one_line(e)
    print(f'Config error: {message}', file=sys.stderr)
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
  validate_config(FLAGS.config)  # before anything is logged, so a bad config gives one line
  logging.info('Work directory: %s', workdir)
  results = train_and_evaluate(FLAGS.config, workdir)
  if results.get('preempted'):
    print(f'Preempted at step {results["step"]}; checkpoint saved in {workdir}. Rerun the same '
          'command to resume.')
    return
  test = {k[len('test_'):]: v for k, v in results.items() if k.startswith('test_')}
  print(f'Test at step {results["step"]}: {format_metrics(test)} ({results["wall_time_s"]:.0f} s). '
        f'Results, metrics and plots in {workdir}.')


if __name__ == '__main__':
  _common.run(main, flags_parser=parse_flags)

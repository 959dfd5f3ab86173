r"""Evaluates a saved run: ``python scripts/evaluate.py --workdir=runs/digits_highway``.

``--checkpoint`` is ``latest`` (default), ``best`` (chosen during training by the run's
``config.best_metric`` on its ``config.eval_split``, validation, never test) or a step; ``--split``
is ``test`` (default) or another split of the run's dataset. The run's data and model are
rebuilt from ``<workdir>/config.json``; ``--config.data.<key>=<value>`` overrides a field of its data
config (e.g. ``--config.data.data_dir=DIR`` for a dataset that moved). Prints one line of metrics;
errors are one line on stderr.
"""

import json
import re

import ml_collections
from absl import flags, logging
from ml_collections import config_flags

from highway_jax import cli, data
from highway_jax.training import ConfigError, evaluate_checkpoint, format_metrics

FLAGS = flags.FLAGS
flags.DEFINE_string('workdir', None, 'Work directory of a training run.', required=True)
flags.DEFINE_string('checkpoint', 'latest',
                    "'latest', 'best' (chosen on the run's validation split) or a step number.")
flags.DEFINE_string('split', 'test', 'Split to evaluate on.')
flags.DEFINE_bool('json', False, 'Print the metrics as JSON.')
config_flags.DEFINE_config_dict(
    'config', ml_collections.ConfigDict({'data': data.default_config()}),
    'Only --config.data.<key>=<value>: overrides of the run\'s data config.')


def main(argv):
  del argv
  checkpoint = FLAGS.checkpoint
  if checkpoint not in ('latest', 'best') and not re.fullmatch(r'\d+', checkpoint):
    raise ConfigError(f"--checkpoint={checkpoint!r} must be 'latest', 'best' or a step number.")
  defaults = data.default_config()
  overrides = {k: v for k, v in FLAGS.config.data.items() if v != defaults[k]}
  metrics = evaluate_checkpoint(FLAGS.workdir, checkpoint, split=FLAGS.split, data_overrides=overrides)
  logging.info('Evaluated %s', metrics)
  if FLAGS.json:
    print(json.dumps(metrics))
  else:
    values = {k: v for k, v in metrics.items() if k not in ('step', 'split')}
    print(f'{FLAGS.workdir} step {metrics["step"]} on {metrics["split"]}: {format_metrics(values)}')


if __name__ == '__main__':
  cli.run(main)

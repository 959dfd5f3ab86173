r"""Evaluates a saved run: ``python scripts/evaluate.py --workdir=runs/digits_highway``.

``--checkpoint`` is ``latest`` (default), ``best`` (by the run's ``config.best_metric``) or a step;
``--split`` is ``test`` (default) or another split of the run's dataset. The run's data and model are
rebuilt from ``<workdir>/config.json``. Prints one line of metrics; errors are one line on stderr.
"""

import json
import re

from absl import flags, logging

from highway_jax import cli
from highway_jax.training import ConfigError, evaluate_checkpoint, format_metrics

FLAGS = flags.FLAGS
flags.DEFINE_string('workdir', None, 'Work directory of a training run.', required=True)
flags.DEFINE_string('checkpoint', 'latest', "'latest', 'best' or a step number.")
flags.DEFINE_string('split', 'test', 'Split to evaluate on.')
flags.DEFINE_bool('json', False, 'Print the metrics as JSON.')


def main(argv):
  del argv
  checkpoint = FLAGS.checkpoint
  if checkpoint not in ('latest', 'best') and not re.fullmatch(r'\d+', checkpoint):
    raise ConfigError(f"--checkpoint={checkpoint!r} must be 'latest', 'best' or a step number.")
  metrics = evaluate_checkpoint(FLAGS.workdir, checkpoint, split=FLAGS.split)
  logging.info('Evaluated %s', metrics)
  if FLAGS.json:
    print(json.dumps(metrics))
  else:
    values = {k: v for k, v in metrics.items() if k not in ('step', 'split')}
    print(f'{FLAGS.workdir} step {metrics["step"]} on {metrics["split"]}: {format_metrics(values)}')


if __name__ == '__main__':
  cli.run(main)

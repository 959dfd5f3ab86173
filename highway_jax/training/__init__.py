"""Training system: ``train_and_evaluate(config, workdir)`` and what it is built from.

    defaults.py           default_config() (base of configs/*.py), its schema and validate_config(),
                          parse_arg(), load_config_file()
    optimizers.py, losses.py, parallel.py   optax from the config; metric sums; data parallelism
    workdir.py            the work directory's files: names, JSON, metrics.jsonl, TensorBoard
    checkpoints.py        Orbax CheckpointManager of (train state, data iterator)
    plots.py              the figure DPI and style, the training-curve plot
    setup.py              setup(config) -> Setup, TrainState; evaluate() a split
    evaluation.py         restore_run(), evaluate_checkpoint()
    loop.py               train_and_evaluate()

Example::

    from highway_jax.training import default_config, train_and_evaluate
"""

from highway_jax.errors import CheckpointError, ConfigError, NonFiniteLossError
from highway_jax.training.defaults import default_config, load_config_file, parse_arg, runlocal
from highway_jax.training.evaluation import evaluate_checkpoint
from highway_jax.training.loop import format_metrics, train_and_evaluate

__all__ = [
    'CheckpointError', 'ConfigError', 'NonFiniteLossError', 'default_config', 'evaluate_checkpoint',
    'format_metrics', 'load_config_file', 'parse_arg', 'runlocal', 'train_and_evaluate',
]

"""Benchmark 4: training throughput of the task models (examples per second, input pipeline excluded).

Each model is built exactly as its config builds it (``configs/*.py`` → ``highway_jax.models.get_model``,
optimizer from ``highway_jax.training.optimizers.create_optimizer``) and trained with the training
loop's own ``highway_jax.training.loop.train_step`` (jitted, state donated) on a fixed synthetic batch
of the config's batch size, so the numbers are the model + optimizer cost of ``scripts/train.py``
without data loading:

* ``cifar_highway``: the 19-layer convolutional highway net of the authors' CIFAR-10 recipe (32/80/128
  channels, 4/5/5 highway layers, ~2.24M parameters), batch 100, Nesterov momentum, dropout 0.5;
* ``mnist1d_gru``: one GRU layer of 128 units over 40 steps, batch 100, Adam;
* ``mnist1d_highway_bilstm``: 4 bidirectional LSTM layers of 64 per direction with highway connections;
* ``mnist1d_rhn``: the Recurrent Highway Network classifier.

Usage::

    python -m benchmarks.throughput [--quick]
"""

from __future__ import annotations

import argparse
import dataclasses
import importlib
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from benchmarks import common

CONFIGS = {
    # config module: (input shape per example, input dtype, num_classes)
    'cifar_highway': ((32, 32, 3), np.float32, 10),
    'mnist1d_gru': ((40,), np.float32, 10),
    'mnist1d_highway_bilstm': ((40,), np.float32, 10),
    'mnist1d_rhn': ((40,), np.float32, 10),
}


@dataclasses.dataclass
class DatasetSpec:
  """The fields of ``highway_jax.data.Dataset`` that model construction and initialisation read."""

  name: str
  num_classes: int
  input_shape: tuple[int, ...]
  input_dtype: Any
  label_shape: tuple[int, ...] = ()
  vocab_size: int | None = None
  has_lengths: bool = False


def build(config_name: str, *, tiny: bool = False):
  """(step closure, batch size, parameter count, compile seconds) for one config."""
  from highway_jax import models
  from highway_jax.training.loop import train_step
  from highway_jax.training.optimizers import create_optimizer
  from highway_jax.training.setup import count_params, init_state

  config = importlib.import_module(f'configs.{config_name}').get_config('runlocal=true' if tiny
                                                                        else None)
  shape, dtype, num_classes = CONFIGS[config_name]
  spec = DatasetSpec(config.data.name, num_classes, shape, np.dtype(dtype))
  model = models.get_model(config.model, spec)
  tx, _ = create_optimizer(config, total_steps=1000)
  state = jax.jit(lambda key: init_state(model, tx, spec, key))(jax.random.key(0))
  batch_size = config.batch_size
  rng = np.random.default_rng(0)
  batch = {'inputs': jnp.asarray(rng.normal(size=(batch_size, *shape)).astype(dtype)),
           'label': jnp.asarray(rng.integers(0, num_classes, size=(batch_size,)), jnp.int32)}
  dropout_root = jax.random.key(1)
  jitted = jax.jit(train_step, donate_argnums=(0,))
  compiled, compile_s = common.timed(lambda: jitted.lower(state, batch, dropout_root).compile())
  holder = {'state': state}

  def run():
    holder['state'], sums = compiled(holder['state'], batch, dropout_root)
    return sums

  return run, batch_size, count_params(state.params), compile_s


def main(argv: list[str] | None = None) -> dict:
  parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
  parser.add_argument('--quick', action='store_true')
  parser.add_argument('--tiny', action='store_true', help="the configs' runlocal variants (smoke test)")
  parser.add_argument('--rounds', type=int, default=None)
  parser.add_argument('--configs', default=','.join(CONFIGS))
  parser.add_argument('--results-dir', default=None)
  args = parser.parse_args(argv)
  rounds = args.rounds or (3 if args.quick or args.tiny else 10)

  print(common.header('Training throughput of the task models (synthetic batch, no input pipeline)'))
  steps, info = {}, {}
  for name in args.configs.split(','):
    run, batch_size, params, compile_s = build(name, tiny=args.tiny)
    steps[name] = run
    info[name] = {'batch_size': batch_size, 'params': params, 'compile_s': compile_s}
  timings = common.compare(steps, rounds=rounds, warmup=2)
  rows = []
  for name, t in timings.items():
    rows.append({'config': name, **info[name], 'step_ms': t.median_ms, 'iqr_ms': t.iqr_ms,
                 'examples_per_s': info[name]['batch_size'] / (t.median_ms * 1e-3),
                 'times_s': t.times})
  print(common.format_table(rows, ['config', 'params', 'batch_size', 'compile_s', 'step_ms', 'iqr_ms',
                                   'examples_per_s'], floatfmt='.4g'))
  path = common.write_json('throughput_tiny' if args.tiny else 'throughput',
                           {'rounds': rounds, 'rows': rows}, args.results_dir)
  print(f'\nwrote {path}')
  return {'rows': rows}


if __name__ == '__main__':
  main()

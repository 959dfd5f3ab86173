"""Benchmark 8: is the input pipeline ever the bottleneck of training?

For each task, one jitted training step (``common.Trainer``: softmax cross-entropy of the config's
model, Adam, state donated, every round blocked on the full new state) is timed two ways, in
interleaved rounds of ``K`` steps each:

* ``synthetic``: fed from two device-resident batches (the pipeline's first two batches, placed on
  the device once), so no input work at all;
* ``pipeline``: fed as the training loop feeds it: ``parallel.shard_batch(next(it), mesh)`` per step
  (one ``jax.device_put`` of the batch onto the mesh of every device, in one process), ``it`` the
  real ``highway_jax.data.train_loader`` over ``data.load(config.data)`` (grain, with the dataset's
  ``ReadOptions``: reader threads and prefetch buffer).

``overhead = t_pipeline / t_synthetic − 1`` per round (the same round, so slow load changes cancel);
reported as median, min and max over rounds. Target (issue 11): median ≤ 10%.

Every pipeline round starts a fresh iterator (seeded by the round) and closes it afterwards, so its
prefetch threads neither fill their buffer during the synthetic rounds (a head start that would hide
a slow pipeline) nor compete with them for the CPU. The cold start (the first batch has nothing
prefetched) is timed: the overhead is over- rather than under-estimated, by at most one batch's
preparation per round.

Diagnostics, to find *where* an overhead comes from:

* ``alone``: a third interleaved arm that only iterates the pipeline (no training): examples/s the
  pipeline can deliver, and its process CPU time per batch (all reader threads included);
* ``per_example``: a fourth arm, the step fed by the loader as it was before issue 11 (one grain
  element per example; ``per_example_loader``, the same batches, TFDS images read and decoded per
  example rather than ``config.data.in_memory``, 4 reader threads): the before/after of one run;
* ``wait_ms``: per step, the time the training loop spent blocked in ``next(it)`` (the pipeline
  starving the step: too few reader threads, too small a prefetch buffer, slow batch assembly);
* ``transfer_ms``: one ``parallel.shard_batch`` of a host batch, waited for (host → device copy);
* the rest of the overhead is contention: reader threads taking CPU (and the GIL) from the step.

``--sweep`` (and, in a full run, any task whose median overhead exceeds 10%) measures the same
paired overhead for other ``grain.ReadOptions`` (reader threads, prefetch buffer) and with two
batches put on the device ahead of the step (``device_prefetch``).

Tasks (``CASES``): ``digits_highway`` and ``mnist1d_gru`` (offline data); ``cifar10_tfds``: the TFDS
image path as ``configs/cifar_highway.py`` has it (``tfds.data_source`` decoded and GCN-normalised
once into memory, ``config.data.in_memory``, then grain + random crop/flip) on data from
``tfds.testing.mock_data`` (examples generated on access, without the ArrayRecord read and PNG decode of a
prepared dataset, which only the ``per_example`` arm pays per step) or, with ``--data-dir``, a prepared
TFDS directory (ArrayRecord, PNG). Its model
is the config's 19-layer net on accelerators; on CPU, where one of its steps takes seconds and no
pipeline could starve it, the config's ``:runlocal`` net at the same batch size.
``--tiny`` uses every config's ``:runlocal`` variant (the smoke test).

Usage::

    python -m benchmarks.pipeline [--quick | --tiny] [--cases digits_highway,...] [--sweep]
"""

from __future__ import annotations

import argparse
import collections
import contextlib
import dataclasses
import importlib
import math
import time
from collections.abc import Callable, Iterator
from typing import Any

import grain
import jax
import numpy as np
import optax
import tensorflow_datasets as tfds

from benchmarks import common
from highway_jax import data, models
from highway_jax.training import parallel

# task -> (config module in configs/, whether its data comes from TFDS)
CASES = {
    'digits_highway': ('digits_highway', False),
    'mnist1d_gru': ('mnist1d_gru', False),
    'cifar10_tfds': ('cifar_highway', True),
}
TARGET = 0.10
MOCK_EXAMPLES = 10_000
# Alternative reader settings of the sweep: (reader threads, prefetch buffer in batches).
SWEEP_READ_OPTIONS = ((0, 0), (1, 16), (2, 16), (4, 16), (8, 16), (4, 4), (4, 64))
# The reader settings of every dataset before issue 11 (the per_example arm).
BEFORE_READ_OPTIONS = grain.ReadOptions(num_threads=4, prefetch_buffer_size=16)


@dataclasses.dataclass
class Task:
  """What a benchmark needs from a config: the data, the batch size and the model's loss."""

  dataset: data.Dataset
  before: data.Dataset  # the same data as read before issue 11 (TFDS: streamed, not in memory)
  batch_size: int
  model_name: str
  init: Callable[[jax.Array, dict], Any]             # (key, batch) -> params
  loss: Callable[[Any, dict, jax.Array], jax.Array]  # (params, batch, dropout rng) -> loss


def load_task(config_name: str, *, tiny: bool, small_model: bool, data_dir: str | None) -> Task:
  """The one place that reads ``configs/`` and ``highway_jax.models`` (adapt here if they change)."""
  def get_config(runlocal):
    return importlib.import_module(f'configs.{config_name}').get_config('runlocal' if runlocal
                                                                        else None)
  config = get_config(tiny)
  model_config = get_config(True).model if small_model else config.model
  if data_dir is not None:
    config.data.data_dir = data_dir
  ds = data.load(config.data)
  before = data.load({**config.data, 'in_memory': False}) if config.data.in_memory else ds
  model = models.get_model(model_config, ds)

  def init(key, batch):
    return model.init({'params': key}, batch['inputs'], train=False,
                      lengths=batch.get('length'))['params']

  def loss(params, batch, rng):
    logits = model.apply({'params': params}, batch['inputs'], train=True,
                         lengths=batch.get('length'), rngs={'dropout': rng})
    return common.softmax_cross_entropy(logits, batch['label'])

  name = f'{config_name}{":runlocal" if tiny or small_model else ""} {model_config.name}'
  return Task(ds, before, config.batch_size, name, init, loss)


def device_prefetch(batches: Iterator[dict], mesh: jax.sharding.Mesh, size: int = 2) -> Iterator[dict]:
  """Puts ``size`` batches on the devices ahead of the one being consumed."""
  queue = collections.deque()
  for batch in batches:
    queue.append(parallel.shard_batch(batch, mesh))
    if len(queue) > size:
      yield queue.popleft()


def per_example_loader(ds: data.Dataset, *, batch_size: int, seed: int,
                       read_options: grain.ReadOptions):
  """The training loader before issue 11: one grain element per example (the same batches).

  Measured as the ``per_example`` arm, so that the table holds the before/after ratio of one run.
  """
  stream = ds.splits['train'].seed(seed).shuffle().repeat()
  if ds.augment is not None:
    stream = stream.random_map(ds.augment)
  return iter(stream.batch(batch_size, drop_remainder=True).to_iter_dataset(read_options))


@dataclasses.dataclass
class Arm:
  """One way of feeding the step: ``name`` and, for the pipeline, its reader options."""

  name: str
  read_options: grain.ReadOptions | None = None   # None: the device-resident synthetic batches
  on_device_ahead: int = 0
  train: bool = True
  loader: Callable[..., Any] = data.train_loader
  times: list[float] = dataclasses.field(default_factory=list)
  cpu_times: list[float] = dataclasses.field(default_factory=list)
  wait_times: list[float] = dataclasses.field(default_factory=list)


class Bench:
  """One task: a trainer, its synthetic batches and fresh pipeline iterators on demand."""

  def __init__(self, task: Task, steps: int | None, round_s: float, key_impl: str | None = None):
    self.task = task
    it = self.loader(task.dataset.read_options, seed=0)
    host = [next(it) for _ in range(2)]
    it.close()
    self.mesh = parallel.create_mesh()
    self.synthetic = [parallel.shard_batch(b, self.mesh) for b in host]
    self.params = common.random_params(task.init, self.synthetic[0])
    self.trainer = common.Trainer(task.loss, self.params, optax.adam(1e-3), key_impl=key_impl)
    self.compile_s = self.trainer.compile(self.synthetic[0])
    self.transfer_ms = 1e3 * common.spread([common.time_once(lambda b=b: parallel.shard_batch(b, self.mesh))[0]
                                            for b in host * 5])['median']
    # Warm-up, then K steps per round: at least 10, and a round of about ``round_s`` seconds.
    self.run_synthetic(3)
    step_s = self.run_synthetic(3)[0] / 3
    self.steps = steps or max(10, math.ceil(round_s / step_s))
    self.step_ms = 1e3 * step_s

  def loader(self, read_options: grain.ReadOptions, seed: int, loader=data.train_loader):
    if loader is not data.train_loader:
      return loader(self.task.before, batch_size=self.task.batch_size, seed=seed,
                    read_options=read_options)
    ds = dataclasses.replace(self.task.dataset, read_options=read_options)
    return data.train_loader(ds, batch_size=self.task.batch_size, seed=seed)

  def run_synthetic(self, steps: int) -> tuple[float, float]:
    cpu, start = time.process_time(), time.perf_counter()
    for k in range(steps):
      self.trainer(self.synthetic[k % 2])
    self.trainer.block()
    return time.perf_counter() - start, time.process_time() - cpu

  def run_pipeline(self, arm: Arm, seed: int) -> tuple[float, float, float]:
    """``(wall s, CPU s, s blocked in next())`` of ``self.steps`` steps fed by a fresh iterator."""
    it = self.loader(arm.read_options, seed, arm.loader)
    batches = device_prefetch(it, self.mesh, arm.on_device_ahead) if arm.on_device_ahead else it
    wait = 0.0
    cpu, start = time.process_time(), time.perf_counter()
    for _ in range(self.steps):
      ask = time.perf_counter()
      batch = next(batches)
      wait += time.perf_counter() - ask
      if arm.train:
        self.trainer(parallel.shard_batch(batch, self.mesh))
    if arm.train:
      self.trainer.block()
    wall, cpu = time.perf_counter() - start, time.process_time() - cpu
    it.close()
    return wall, cpu, wait

  def measure(self, arms: list[Arm], rounds: int) -> None:
    """Interleaved rounds; the order of the arms alternates between rounds."""
    for r in range(rounds):
      for arm in (arms if r % 2 == 0 else arms[::-1]):
        if arm.read_options is None:
          wall, cpu = self.run_synthetic(self.steps)
          wait = 0.0
        else:
          wall, cpu, wait = self.run_pipeline(arm, seed=r + 1)
        arm.times.append(wall)
        arm.cpu_times.append(cpu)
        arm.wait_times.append(wait)


def overhead(arm: Arm, synthetic: Arm) -> dict[str, float]:
  """Per-round ``t_arm / t_synthetic − 1``, as median/min/max (fractions)."""
  return common.spread([a / s - 1 for a, s in zip(arm.times, synthetic.times)])


def read_options_dict(options: grain.ReadOptions) -> dict[str, int]:
  return {'num_threads': options.num_threads, 'prefetch_buffer_size': options.prefetch_buffer_size}


def sweep(bench: Bench, rounds: int) -> list[dict]:
  """Paired overhead of other reader settings and of on-device prefetch, vs the same synthetic arm."""
  default = bench.task.dataset.read_options
  arms = [Arm('synthetic'), Arm('default', default)]
  arms += [Arm(f'threads={t} prefetch={p}', grain.ReadOptions(num_threads=t, prefetch_buffer_size=p))
           for t, p in SWEEP_READ_OPTIONS]
  arms.append(Arm('default + device_prefetch(2)', default, on_device_ahead=2))
  bench.measure(arms, rounds)
  synthetic = arms[0]
  rows = []
  for arm in arms[1:]:
    o = overhead(arm, synthetic)
    rows.append({'variant': arm.name, **read_options_dict(arm.read_options),
                 'device_prefetch': arm.on_device_ahead, 'overhead_pct': 100 * o['median'],
                 'overhead_min_pct': 100 * o['min'], 'overhead_max_pct': 100 * o['max'],
                 'wait_ms_per_step': 1e3 * common.spread(arm.wait_times)['median'] / bench.steps})
  return rows


def run_case(case: str, args, rounds: int) -> dict:
  config_name, from_tfds = CASES[case]
  small_model = from_tfds and not args.tiny and jax.default_backend() == 'cpu'
  mock = (from_tfds and args.data_dir is None)
  with contextlib.ExitStack() as stack:
    if mock:
      stack.enter_context(tfds.testing.mock_data(num_examples=MOCK_EXAMPLES))
    task = load_task(config_name, tiny=args.tiny, small_model=small_model, data_dir=args.data_dir)
    bench = Bench(task, steps=args.steps or (3 if args.tiny else None),
                  round_s=0.5 if args.quick else 1.5, key_impl='rbg' if args.tiny else None)
    default = task.dataset.read_options
    arms = [Arm('synthetic'), Arm('pipeline', default), Arm('alone', default, train=False),
            Arm('per_example', BEFORE_READ_OPTIONS, loader=per_example_loader)]
    bench.measure(arms, rounds)
    synthetic, pipeline, alone, before = arms
    o, o_before = overhead(pipeline, synthetic), overhead(before, synthetic)
    examples = task.batch_size * bench.steps
    wait_ms = 1e3 * common.spread(pipeline.wait_times)['median'] / bench.steps
    extra_ms = 1e3 * (common.spread(pipeline.times)['median']
                      - common.spread(synthetic.times)['median']) / bench.steps
    row = {
        'case': case, 'data': task.dataset.name + (' (tfds mock)' if mock else ''),
        'model': task.model_name,
        'params': int(sum(np.size(x) for x in jax.tree.leaves(bench.params))),
        'batch_size': task.batch_size, 'steps_per_round': bench.steps, 'rounds': rounds,
        'read_options': read_options_dict(default), 'compile_s': bench.compile_s,
        'step_ms': 1e3 * common.spread(synthetic.times)['median'] / bench.steps,
        'synthetic_examples_per_s': examples / common.spread(synthetic.times)['median'],
        'pipeline_examples_per_s': examples / common.spread(pipeline.times)['median'],
        'alone_examples_per_s': examples / common.spread(alone.times)['median'],
        'alone_cpu_ms_per_batch': 1e3 * common.spread(alone.cpu_times)['median'] / bench.steps,
        'overhead_pct': 100 * o['median'], 'overhead_min_pct': 100 * o['min'],
        'overhead_max_pct': 100 * o['max'], 'met': o['median'] <= TARGET,
        'per_example_overhead_pct': 100 * o_before['median'],
        'per_example_overhead_min_pct': 100 * o_before['min'],
        'per_example_overhead_max_pct': 100 * o_before['max'],
        'wait_ms_per_step': wait_ms, 'transfer_ms': bench.transfer_ms,
        # Where the extra time per step goes: blocked on data, copying it, the rest (contention).
        'extra_ms_per_step': extra_ms,
        'contention_ms_per_step': extra_ms - wait_ms - bench.transfer_ms,
        'times_s': {arm.name: arm.times for arm in arms},
    }
    if args.sweep or (not args.tiny and not args.quick and not row['met']):
      row['sweep'] = sweep(bench, rounds)
  return row


COLUMNS = ['case', 'params', 'batch_size', 'steps_per_round', 'step_ms', 'synthetic_examples_per_s',
           'pipeline_examples_per_s', 'overhead_pct', 'overhead_min_pct', 'overhead_max_pct',
           'per_example_overhead_pct',
           'alone_examples_per_s', 'alone_cpu_ms_per_batch', 'wait_ms_per_step', 'transfer_ms',
           'contention_ms_per_step']
SWEEP_COLUMNS = ['variant', 'overhead_pct', 'overhead_min_pct', 'overhead_max_pct',
                 'wait_ms_per_step']


def main(argv: list[str] | None = None) -> dict:
  parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
  mode = parser.add_mutually_exclusive_group()
  mode.add_argument('--quick', action='store_true', help='fewer and shorter rounds')
  mode.add_argument('--tiny', action='store_true', help="the configs' runlocal variants (smoke test)")
  parser.add_argument('--cases', default=','.join(CASES), help=f'comma-separated, from {list(CASES)}')
  parser.add_argument('--rounds', type=int, default=None)
  parser.add_argument('--steps', type=int, default=None, help='steps per round (default: ~1.5 s)')
  parser.add_argument('--sweep', action='store_true', help='also measure other reader settings')
  parser.add_argument('--data-dir', default=None,
                      help='a prepared TFDS data directory for cifar10_tfds (default: tfds mock)')
  parser.add_argument('--results-dir', default=None)
  args = parser.parse_args(argv)
  cases = args.cases.split(',')
  for case in cases:
    if case not in CASES:
      parser.error(f'--cases: unknown task {case!r}; choose from {", ".join(CASES)}.')
  rounds = args.rounds or (2 if args.tiny else 5 if args.quick else 10)

  print(common.header('Input pipeline: training step fed by the grain pipeline vs device-resident '
                      'batches'))
  rows = []
  for case in cases:
    row = run_case(case, args, rounds)
    rows.append(row)
    print(f'{case}: overhead {row["overhead_pct"]:.1f}% (min {row["overhead_min_pct"]:.1f}, max '
          f'{row["overhead_max_pct"]:.1f}) -> {"met" if row["met"] else "MISSED"}', flush=True)
    if 'sweep' in row:
      print(common.format_table(row['sweep'], SWEEP_COLUMNS, floatfmt='.3g'))
  print()
  print(common.format_table(rows, COLUMNS, floatfmt='.3g'))
  payload = {'rounds': rounds, 'target_overhead_pct': 100 * TARGET, 'rows': rows}
  path = common.write_json('pipeline_tiny' if args.tiny else 'pipeline', payload, args.results_dir)
  print(f'\nwrote {path}')
  return payload


if __name__ == '__main__':
  main()

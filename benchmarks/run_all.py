"""Runs every benchmark and prints their tables; JSON results go to ``benchmarks/results/``.

    python -m benchmarks.run_all            # the full run (about 30–40 min on a 2-core CPU)
    python -m benchmarks.run_all --quick    # fewer rounds, no 4-layer stack / 100-layer Python loop
    python -m benchmarks.run_all --tiny     # tiny shapes and a few candidates each (the smoke test)

The benchmarks, in order (each is also a module with its own ``main``):

1. ``benchmarks.peak``        float32 matmul peak, and matmul rates at the recurrent step's shapes;
2. ``benchmarks.recurrent``   recurrent training step: ours vs Flax vs PyTorch (and cuDNN on GPU);
3. ``benchmarks.levers``      implementation options of the recurrent step, side by side;
4. ``benchmarks.depth``       HighwayStack compile time, step time and memory at 10/100/1000 layers;
5. ``benchmarks.throughput``  examples/s of the CIFAR highway net and the MNIST-1D sequence models;
6. ``benchmarks.breakdown``   the LSTM step split into forward, backward and optimizer (ours/Flax/torch);
7. ``benchmarks.conv_unroll`` conv stacks looped vs unrolled, and the CIFAR model vs depth and unroll;
8. ``benchmarks.pipeline``    training fed by the grain input pipeline vs device-resident batches.

(``benchmarks.accelerator``, the short check for a lent GPU, runs on its own; see docs/accelerator.md.)

Ratios measured side by side in one process are what counts; absolute times move with the load of the
machine (recorded in every JSON file).
"""

from __future__ import annotations

import argparse
import time

from benchmarks import breakdown, common, conv_unroll, depth, levers, peak, pipeline, recurrent, throughput

# --tiny: one or two candidates per benchmark, so that the whole run takes seconds.
TINY_ARGS = {
    # Two rounds of a fresh process per candidate (the default harness), three candidates.
    'recurrent': ['--tiny', '--no-stack', '--rounds', '2',
                  '--only', r'^(ours LSTM|flax OptimizedLSTMCell|torch LSTM)$'],
    'levers': ['--tiny', '--cells', 'rnn'],
    'depth': ['--tiny'],
    'throughput': ['--tiny', '--configs', 'mnist1d_gru'],
    # One offline and the TFDS task, and the reader-settings sweep.
    'pipeline': ['--tiny', '--cases', 'digits_highway,cifar10_tfds', '--sweep'],
}


def main(argv: list[str] | None = None) -> dict:
  parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
  mode = parser.add_mutually_exclusive_group()
  mode.add_argument('--quick', action='store_true')
  mode.add_argument('--tiny', action='store_true')
  parser.add_argument('--skip', default='', help='comma-separated benchmark names to skip')
  parser.add_argument('--results-dir', default=None)
  args = parser.parse_args(argv)
  skip = set(filter(None, args.skip.split(',')))
  common_args = ['--results-dir', args.results_dir] if args.results_dir else []

  def args_for(name: str) -> list[str]:
    if args.tiny:
      return TINY_ARGS.get(name, ['--tiny']) + common_args
    return (['--quick'] if args.quick else []) + common_args

  start = time.perf_counter()
  results = {}
  peak_gflops = None
  if 'peak' not in skip:
    results['peak'] = peak.main(args_for('peak'))
    peak_gflops = results['peak']['peak_gflops']
  if 'recurrent' not in skip:
    results['recurrent'] = recurrent.main(args_for('recurrent'),
                                          peak_gflops=None if args.tiny else peak_gflops)
  if 'levers' not in skip:
    results['levers'] = levers.main(args_for('levers'), peak_gflops=None if args.tiny else peak_gflops)
  for name, module in (('depth', depth), ('throughput', throughput), ('breakdown', breakdown),
                       ('conv_unroll', conv_unroll), ('pipeline', pipeline)):
    if name not in skip:
      results[name] = module.main(args_for(name))
  print(f'\nall benchmarks done in {time.perf_counter() - start:.0f} s; machine: '
        f'{common.machine_info()["cpu_model"]}, load now {common.machine_info()["load_average_1_5_15"]}')
  return results


if __name__ == '__main__':
  main()

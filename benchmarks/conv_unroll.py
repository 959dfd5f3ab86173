"""Conv ``HighwayStack``s on CPU: looped vs unrolled, and the CIFAR model's compile and step time vs depth.

1. *The cliff.* Gradient (fwd + bwd) of a 4-layer stack of 3×3 convolutions (batch 16, 32×32×32, NHWC):
   ``lax.scan`` of a plain conv + tanh with one loop body vs fully unrolled, and ``HighwayStack(kind='conv')``
   with the library default (``stack.default_unroll``) vs fully unrolled, timed interleaved.
   XLA's CPU backend runs a convolution fast (Eigen) only in the canonical NHWC × HWIO layout and
   rewrites other layouts into it only outside loops; JAX's convolution gradients are not canonical, so
   inside a ``while`` body they run about 30× slower. ``HighwayConv`` therefore computes its gradients
   as canonical convolutions on CPU (``highway_jax.highway``), which makes the looped stack fast too.

2. *Depth sweep.* One training step (softmax cross-entropy, Nesterov SGD, the state donated) of
   ``configs/cifar_highway.py``'s model with ``depth`` highway layers in all (split over its three stages,
   the remainder to the later ones: 19 → 6, 6, 7), at a small batch (``--batch``, 8), for each stack
   unroll in ``--unrolls`` (``full``: one body per layer, ``1``: one loop body). Each configuration is
   compiled ahead of time in a fresh ``jax.jit`` (``compile_s``: ``lower(...).compile()``, wall clock;
   ``compile_cpu_s``: this process's CPU time over it, which other processes' load moves less); then, per
   depth, the unroll settings run interleaved and ``vs_full`` is the median of per-round paired ratios
   to full unroll (``vs_full_min``/``vs_full_max`` their spread; ``vs_full_cpu``: the same from this
   process's median CPU time per step, steadier under other processes' load). Dropout keys use the ``rbg`` PRNG
   (threefry adds seconds of compile time unrelated to depth).

Usage::

    python -m benchmarks.conv_unroll [--quick] [--depths 10,19,50,100] [--unrolls 1,2,4,8,full]
"""

from __future__ import annotations

import argparse
import importlib
import time
from unittest import mock

import jax
import jax.numpy as jnp
import numpy as np
import optax

from benchmarks import common, throughput
from highway_jax import models, stack
from highway_jax.stack import HighwayStack, default_unroll


def _scan_conv(unroll):
  def loss(w, x):
    def body(h, w_l):
      y = jax.lax.conv_general_dilated(h, w_l, (1, 1), 'SAME',
                                       dimension_numbers=('NHWC', 'HWIO', 'NHWC'))
      return jnp.tanh(y), None
    return jnp.sum(jax.lax.scan(body, x, w, unroll=unroll)[0])
  return jax.jit(jax.grad(loss))


def _stack(unroll, layers, channels, x):
  module = HighwayStack(num_layers=layers, features=channels, kind='conv', unroll=unroll)
  params = common.random_params(lambda k, x: module.init(k, x)['params'], x)
  grad = jax.jit(jax.grad(lambda p: jnp.sum(module.apply({'params': p}, x))))
  return lambda: grad(params)


def cliff(tiny: bool, rounds: int) -> list[dict]:
  """Part 1: the 4-layer conv stack gradient, looped vs unrolled."""
  batch, size, channels, layers = (2, 4, 4, 2) if tiny else (16, 32, 32, 4)
  x = jax.random.normal(jax.random.key(1), (batch, size, size, channels))
  w = 0.05 * jax.random.normal(jax.random.key(2), (layers, 3, 3, channels, channels))
  candidates = {
      'lax.scan conv, unroll=1': (lambda g=_scan_conv(1): g(w, x)),
      'lax.scan conv, unrolled': (lambda g=_scan_conv(layers): g(w, x)),
      f'HighwayStack conv, default (unroll={default_unroll("conv", layers)})': _stack(None, layers, channels, x),
      f'HighwayStack conv, unrolled (unroll={layers})': _stack(layers, layers, channels, x),
  }
  print(common.header(f'Conv stack gradient, {layers} layers, batch {batch}, {size}×{size}×{channels}'))
  timings = common.compare(candidates, rounds=rounds, warmup=1)
  first = next(iter(timings.values()))
  rows = [{'variant': name, 'median_ms': t.median_ms, 'vs_first': common.paired_ratio(t, first)}
          for name, t in timings.items()]
  print(common.format_table(rows, ['variant', 'median_ms', 'vs_first'], floatfmt='.3g'))
  return rows


def split_depth(depth: int, stages: int) -> tuple[int, ...]:
  """``depth`` layers over ``stages`` stages, as even as possible, the remainder to the later stages."""
  return tuple(depth // stages + (s >= stages - depth % stages) for s in range(stages))


def cifar_step(depth: int, unroll: int | None, batch_size: int, tiny: bool):
  """``(step, compile wall seconds, compile CPU seconds)``: a compiled training step of cifar_highway's model.

  ``unroll`` is every stack's unroll (None: one body per layer); it is set by standing in for
  ``stack.default_unroll`` while the step is traced, since the model has no unroll field.
  """
  config = importlib.import_module('configs.cifar_highway').get_config('runlocal' if tiny else None)
  config.model.num_highway_layers = split_depth(depth, len(config.model.features))
  shape, _, num_classes = throughput.CONFIGS['cifar_highway']
  spec = throughput.DatasetSpec(config.data.name, num_classes, shape, np.dtype(np.float32))
  model = models.get_model(config.model, spec)
  rng = np.random.default_rng(0)
  batch = {'inputs': jnp.asarray(rng.standard_normal((batch_size, *shape)), jnp.float32),
           'label': jnp.asarray(rng.integers(0, num_classes, batch_size), jnp.int32)}
  params = common.random_params(lambda k, x: model.init({'params': k}, x, train=False)['params'], batch['inputs'])
  trainer = common.Trainer(
      lambda p, b, r: common.softmax_cross_entropy(
          model.apply({'params': p}, b['inputs'], train=True, rngs={'dropout': r}), b['label']),
      params, optax.sgd(0.025, momentum=0.9, nesterov=True), key_impl='rbg')
  with mock.patch.object(stack, 'default_unroll', lambda kind, layers: layers if unroll is None else unroll):
    cpu_start = time.process_time()
    compile_s = trainer.compile(batch)
  return (lambda: (trainer(batch), trainer.block())[1]), compile_s, time.process_time() - cpu_start


def depth_sweep(depths: list[int], unrolls: list[int | None], batch_size: int, tiny: bool,
                rounds: int) -> list[dict]:
  """Part 2: compile and step time of the CIFAR model per depth × unroll (None: full)."""
  name = lambda u: 'full' if u is None else str(u)
  print(common.header(f'cifar_highway training step vs depth and stack unroll, batch {batch_size}'))
  rows = []
  for depth in depths:
    steps, compile_s = {}, {}
    for unroll in unrolls:
      steps[name(unroll)], *compile_s[name(unroll)] = cifar_step(depth, unroll, batch_size, tiny)
      print(f'  depth {depth}, unroll {name(unroll)}: compiled in {compile_s[name(unroll)][0]:.1f} s', flush=True)
    timings = common.compare(steps, rounds=rounds, warmup=1)
    full = timings.get('full')
    for key, t in timings.items():
      ratios = [a / b for a, b in zip(t.times, full.times)] if full else [float('nan')]
      rows.append({'depth': depth, 'unroll': key, 'compile_s': compile_s[key][0],
                   'compile_cpu_s': compile_s[key][1], 'step_ms': t.median_ms,
                   'vs_full': float(np.median(ratios)), 'vs_full_min': min(ratios), 'vs_full_max': max(ratios),
                   'vs_full_cpu': t.cpu_median_ms / full.cpu_median_ms if full else float('nan')})
  print(common.format_table(rows, ['depth', 'unroll', 'compile_s', 'compile_cpu_s', 'step_ms', 'vs_full',
                                   'vs_full_min', 'vs_full_max', 'vs_full_cpu'], floatfmt='.3g'))
  return rows


def main(argv: list[str] | None = None) -> dict:
  parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
  parser.add_argument('--quick', action='store_true')
  parser.add_argument('--tiny', action='store_true', help='tiny shapes (smoke test)')
  parser.add_argument('--depths', default=None, help='total highway layers (default 10,19,50,100; tiny: 2)')
  parser.add_argument('--unrolls', default=None,
                      help="stack unrolls, 'full' = one body per layer (default 1,2,4,8,full; tiny: 1,full)")
  parser.add_argument('--batch', type=int, default=None, help='batch size of the depth sweep (default 8; tiny: 2)')
  parser.add_argument('--results-dir', default=None)
  args = parser.parse_args(argv)
  rounds = 2 if args.tiny else 3 if args.quick else 5
  depths = [int(d) for d in (args.depths or ('2' if args.tiny else '10,19,50,100')).split(',')]
  unrolls = [None if u == 'full' else int(u)
             for u in (args.unrolls or ('1,full' if args.tiny else '1,2,4,8,full')).split(',')]
  rows = cliff(args.tiny, rounds)
  sweep = depth_sweep(depths, unrolls, args.batch or (2 if args.tiny else 8), args.tiny, rounds)
  path = common.write_json('conv_unroll_tiny' if args.tiny else 'conv_unroll',
                           {'rows': rows, 'depth_sweep': sweep, 'rounds': rounds}, args.results_dir)
  print(f'wrote {path}')
  return {'rows': rows, 'depth_sweep': sweep}


if __name__ == '__main__':
  main()

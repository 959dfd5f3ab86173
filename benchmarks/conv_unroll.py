"""Why conv ``HighwayStack``s are unrolled on CPU: convolution gradients inside a loop are slow there.

Gradient (fwd + bwd) of a 4-layer stack of 3×3 convolutions (batch 16, 32×32×32, NHWC), as

* ``lax.scan`` of a plain conv + tanh, one loop body (``unroll=1``) vs fully unrolled;
* ``HighwayStack(kind='conv')`` with ``unroll=1`` vs the library default (``stack.default_unroll``:
  fully unrolled on CPU);

timed interleaved in one process. On XLA's CPU backend the looped versions measured about 30× slower
(the convolution's gradient inside a ``while`` body does not take the fast path it takes outside one);
the default therefore unrolls conv stacks on CPU and keeps one loop body elsewhere.

Usage::

    python -m benchmarks.conv_unroll [--quick]
"""

from __future__ import annotations

import argparse

import jax
import jax.numpy as jnp

from benchmarks import common


def _scan_conv(unroll):
  def loss(w, x):
    def body(h, w_l):
      y = jax.lax.conv_general_dilated(h, w_l, (1, 1), 'SAME',
                                       dimension_numbers=('NHWC', 'HWIO', 'NHWC'))
      return jnp.tanh(y), None
    return jnp.sum(jax.lax.scan(body, x, w, unroll=unroll)[0])
  return jax.jit(jax.grad(loss))


def _stack(unroll, layers, channels, x):
  from highway_jax.stack import HighwayStack
  stack = HighwayStack(num_layers=layers, features=channels, kind='conv', unroll=unroll)
  params = jax.jit(stack.init)(jax.random.key(0), x)['params']
  grad = jax.jit(jax.grad(lambda p: jnp.sum(stack.apply({'params': p}, x))))
  return lambda: grad(params)


def main(argv: list[str] | None = None) -> dict:
  parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
  parser.add_argument('--quick', action='store_true')
  parser.add_argument('--tiny', action='store_true', help='tiny shapes (smoke test)')
  parser.add_argument('--results-dir', default=None)
  args = parser.parse_args(argv)
  batch, size, channels, layers = (2, 4, 4, 2) if args.tiny else (16, 32, 32, 4)
  rounds = 2 if args.tiny or args.quick else 5
  x = jax.random.normal(jax.random.key(1), (batch, size, size, channels))
  w = 0.05 * jax.random.normal(jax.random.key(2), (layers, 3, 3, channels, channels))
  from highway_jax.stack import default_unroll
  candidates = {
      'lax.scan conv, unroll=1': (lambda g=_scan_conv(1): g(w, x)),
      'lax.scan conv, unrolled': (lambda g=_scan_conv(layers): g(w, x)),
      'HighwayStack conv, unroll=1': _stack(1, layers, channels, x),
      f'HighwayStack conv, default (unroll={default_unroll("conv", layers)})':
          _stack(None, layers, channels, x),
  }
  print(common.header(f'Conv stack gradient, {layers} layers, batch {batch}, {size}×{size}×{channels}'))
  timings = common.compare(candidates, rounds=rounds, warmup=1)
  first = next(iter(timings.values()))
  rows = [{'variant': name, 'median_ms': t.median_ms, 'vs_first': t.median_ms / first.median_ms}
          for name, t in timings.items()]
  print(common.format_table(rows, ['variant', 'median_ms', 'vs_first'], floatfmt='.3g'))
  path = common.write_json('conv_unroll_tiny' if args.tiny else 'conv_unroll',
                           {'rows': rows, 'rounds': rounds}, args.results_dir)
  print(f'wrote {path}')
  return {'rows': rows}


if __name__ == '__main__':
  main()

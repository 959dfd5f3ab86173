"""Benchmark 3: the machine's float32 matmul peak, and the matmul rate at the recurrent step's shapes.

* Square ``n×n @ n×n`` float32 matmuls (one jitted dot each, n = 512 … 2048): the best of these is the
  peak GFLOP/s that ``benchmarks.recurrent`` divides by (each step's "fraction of peak").
* The shapes an LSTM step really runs (batch 64, input 128, hidden 256), inside a ``lax.scan`` of 100
  dependent iterations like the time loop: the fused recurrent matmul ``(64, 256) @ (256, 1024)``, one
  per-gate matmul ``(64, 256) @ (256, 256)``, and the hoisted input projection ``(6400, 128) @ (128,
  1024)`` as one dot. Small matmuls run far below the square peak; that, not the gate arithmetic, sets
  the floor of a recurrent step on CPU.
* The same square matmuls in PyTorch when it is installed (same thread count).

Rates use each matmul's *fastest* round (a peak is a best case, and the fastest round is the one least
disturbed by other processes); ``benchmarks.recurrent`` divides each step's fastest round by it too.

Usage::

    python -m benchmarks.peak [--quick]
"""

from __future__ import annotations

import argparse

import jax
import jax.numpy as jnp
import numpy as np

from benchmarks import common

SQUARE_SIZES = (512, 1024, 2048)
QUICK_SIZES = (1024,)


def _square(n: int, rounds: int) -> float:
  a = jax.random.normal(jax.random.key(0), (n, n), jnp.float32)
  b = jax.random.normal(jax.random.key(1), (n, n), jnp.float32)
  f = jax.jit(lambda a, b: a @ b)
  t = common.compare({'mm': lambda: f(a, b)}, rounds=rounds, min_time_s=0.5)['mm']
  return 2.0 * n ** 3 / (t.min_ms * 1e-3) / 1e9


def _scanned(m: int, k: int, n: int, steps: int, rounds: int) -> float:
  """GFLOP/s of ``steps`` dependent (m,k)@(k,n) matmuls in a lax.scan (n a multiple of k)."""
  w = jax.random.normal(jax.random.key(1), (k, n), jnp.float32) / np.sqrt(n)
  h0 = jax.random.normal(jax.random.key(0), (m, k), jnp.float32)

  def body(h, _):
    y = h @ w
    # Sum the n/k output blocks back to (m, k): a dependency XLA can't simplify away, ~k/n of the cost.
    return y.reshape(m, n // k, k).sum(axis=1), None

  f = jax.jit(lambda h: jax.lax.scan(body, h, None, length=steps)[0])
  t = common.compare({'scan': lambda: f(h0)}, rounds=rounds, min_time_s=0.3)['scan']
  return 2.0 * m * k * n * steps / (t.min_ms * 1e-3) / 1e9


def _one_dot(m: int, k: int, n: int, rounds: int) -> float:
  a = jax.random.normal(jax.random.key(0), (m, k), jnp.float32)
  b = jax.random.normal(jax.random.key(1), (k, n), jnp.float32)
  f = jax.jit(lambda a, b: a @ b)
  t = common.compare({'mm': lambda: f(a, b)}, rounds=rounds, min_time_s=0.3)['mm']
  return 2.0 * m * k * n / (t.min_ms * 1e-3) / 1e9


def _torch_square(n: int, rounds: int) -> float | None:
  torch = common.maybe_torch()
  if torch is None:
    return None
  torch.set_num_threads(common.num_threads())
  a, b = torch.randn(n, n), torch.randn(n, n)
  t = common.compare({'mm': lambda: torch.mm(a, b)}, rounds=rounds, min_time_s=0.5)['mm']
  return 2.0 * n ** 3 / (t.min_ms * 1e-3) / 1e9


def measure_peak(quick: bool = False, tiny: bool = False) -> dict:
  """``{'peak_gflops': best JAX square matmul, 'square': {n: GFLOP/s}}``."""
  sizes = (64,) if tiny else QUICK_SIZES if quick else SQUARE_SIZES
  rounds = 2 if tiny else 10 if quick else 20
  square = {n: _square(n, rounds) for n in sizes}
  return {'peak_gflops': max(square.values()), 'square': square}


def main(argv: list[str] | None = None) -> dict:
  parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
  parser.add_argument('--quick', action='store_true')
  parser.add_argument('--tiny', action='store_true', help='tiny shapes (smoke test)')
  parser.add_argument('--results-dir', default=None)
  args = parser.parse_args(argv)
  rounds = 2 if args.tiny else 10 if args.quick else 20

  print(common.header('Float32 matmul peak'))
  result = measure_peak(quick=args.quick, tiny=args.tiny)
  rows = [{'matmul': f'{n}×{n} @ {n}×{n} (jax, one dot)', 'gflops': g}
          for n, g in result['square'].items()]
  if args.tiny:
    b, i, h, steps = 4, 5, 8, 3
  else:
    b, i, h, steps = 64, 128, 256, 100
  shapes = {
      f'({b},{h}) @ ({h},{4 * h}) in a {steps}-step scan (fused LSTM recurrent)': (b, h, 4 * h),
      f'({b},{h}) @ ({h},{h}) in a {steps}-step scan (one gate)': (b, h, h),
  }
  for label, (m, k, n) in shapes.items():
    rows.append({'matmul': label, 'gflops': _scanned(m, k, n, steps, rounds)})
  rows.append({'matmul': f'({b * steps},{i}) @ ({i},{4 * h}) (hoisted LSTM input projection)',
               'gflops': _one_dot(b * steps, i, 4 * h, rounds)})
  for n in result['square']:
    g = _torch_square(n, rounds)
    if g is not None:
      rows.append({'matmul': f'{n}×{n} @ {n}×{n} (torch.mm)', 'gflops': g})
  for row in rows:
    row['fraction_of_peak'] = row['gflops'] / result['peak_gflops']
  print(common.format_table(rows, ['matmul', 'gflops', 'fraction_of_peak'], floatfmt='.2f'))
  print(f'\npeak (best JAX square matmul): {result["peak_gflops"]:.0f} GFLOP/s')
  result['rows'] = rows
  path = common.write_json('peak_tiny' if args.tiny else 'peak', result, args.results_dir)
  print(f'wrote {path}')
  return result


if __name__ == '__main__':
  main()

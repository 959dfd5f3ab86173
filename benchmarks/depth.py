"""Benchmark 2: compile time, step time and memory of deep highway stacks versus depth.

``HighwayStack`` (dense, width 50, batch 128, coupled gates, ReLU H, transform bias −2) at 10, 100 and
1000 layers, with and without ``remat``, trained with one jitted, donated fwd + bwd + Adam step
(loss = mean squared output). For contrast, a Python loop of ``Highway`` modules (every layer traced
and compiled separately) at 10 and 100 layers.

Measured per configuration:

* ``trace_lower_s``: tracing and lowering to StableHLO; ``compile_s``: XLA compilation; the median of
  ``--compile-repeats`` fresh compiles (``jax.clear_caches()`` between them), all after a warm-up
  compile of an unrelated program so that one-off XLA/LLVM start-up costs aren't charged to the
  first configuration;
  ``compile_cpu_s`` is the compile's process CPU time, less disturbed by other processes' load;
* ``step_ms``: median step time (interleaved rounds) and ``us_per_layer`` = step / depth;
* memory from XLA's compiled memory analysis (``compiled.memory_analysis()``, works on CPU):
  ``activation_mb``, the temporaries of the gradient computation alone (the activations saved for the
  backward pass plus workspace: the part remat changes); ``step_temp_mb``, the train step's
  temporaries (activations + the parameter gradients + Adam's workspace); ``step_peak_mb``, arguments
  + outputs + temporaries − donated (aliased) buffers, i.e. also parameters and Adam state, which
  remat cannot shrink.

Targets (issue 6): compile(1000) ≤ 2 × compile(10); step time linear in depth; with remat, memory at
depth 1000 ≤ 1/4 of without.

Usage::

    python -m benchmarks.depth [--quick]
"""

from __future__ import annotations

import argparse
import statistics

import flax.linen as nn
import jax
import jax.numpy as jnp
import optax

from benchmarks import common
from highway_jax.highway import Highway
from highway_jax.stack import HighwayStack

WIDTH, BATCH = 50, 128
STACK_DEPTHS = (10, 100, 1000)
LOOP_DEPTHS = (10, 100)


class HighwayLoop(nn.Module):
  """``num_layers`` ``Highway`` modules in a Python loop: each one traced and compiled on its own."""

  num_layers: int
  features: int

  @nn.compact
  def __call__(self, x):
    for _ in range(self.num_layers):
      x = Highway(self.features)(x)
    return x


def build_step(model: nn.Module, x: jax.Array):
  """Returns ``(jitted_step, jitted_grad, params, opt_state)``: one donated fwd + bwd + Adam step, and
  the gradient alone (whose compiled temporaries are the activations kept for the backward pass)."""
  params = jax.jit(model.init)(jax.random.key(0), x)['params']
  tx = optax.adam(1e-3)
  opt_state = jax.jit(tx.init)(params)

  def loss_fn(p):
    return jnp.mean(model.apply({'params': p}, x) ** 2)

  def step(p, s):
    loss, grads = jax.value_and_grad(loss_fn)(p)
    updates, s = tx.update(grads, s, p)
    return optax.apply_updates(p, updates), s, loss

  return jax.jit(step, donate_argnums=(0, 1)), jax.jit(jax.grad(loss_fn)), params, opt_state


class Config:
  """One model to measure: compiles are repeated (interleaved with the other configs) by ``compile``."""

  def __init__(self, name: str, kind: str, depth: int, remat: bool, model: nn.Module, x: jax.Array):
    self.name, self.kind, self.depth, self.remat = name, kind, depth, remat
    self.jitted, self.grad_fn, self.params, self.opt_state = build_step(model, x)
    self.lower_s, self.compile_s, self.compile_cpu_s = [], [], []
    self.compiled = None

  def compile(self) -> None:
    jax.clear_caches()
    lowered, lower_s = common.timed(lambda: self.jitted.lower(self.params, self.opt_state))
    self.compiled, compile_s, compile_cpu_s = common.timed_cpu(lowered.compile)
    self.lower_s.append(lower_s)
    self.compile_s.append(compile_s)
    self.compile_cpu_s.append(compile_cpu_s)

  def runner(self):
    state = {'p': self.params, 's': self.opt_state}
    compiled = self.compiled

    def run():
      state['p'], state['s'], loss = compiled(state['p'], state['s'])
      return loss
    return run

  def row(self, with_grad_memory: bool) -> dict:
    mb = 1.0 / 2 ** 20
    mem = common.memory_analysis(self.compiled) or {}
    row = {
        'name': self.name, 'kind': self.kind, 'depth': self.depth, 'remat': self.remat,
        'params': sum(a.size for a in jax.tree.leaves(self.params)),
        'trace_lower_s': statistics.median(self.lower_s),
        'compile_s': statistics.median(self.compile_s),
        'compile_cpu_s': statistics.median(self.compile_cpu_s),
        'compile_times_s': self.compile_s,
        'step_temp_mb': mem['temp_bytes'] * mb if mem else None,
        'step_peak_mb': mem['peak_bytes'] * mb if mem else None,
        'argument_mb': mem['argument_bytes'] * mb if mem else None,
        'activation_mb': None,
    }
    if with_grad_memory:
      grad_mem = common.memory_analysis(self.grad_fn.lower(self.params).compile())
      row['activation_mb'] = grad_mem['temp_bytes'] * mb if grad_mem else None
    return row


def main(argv: list[str] | None = None) -> dict:
  parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
  parser.add_argument('--quick', action='store_true')
  parser.add_argument('--tiny', action='store_true', help='tiny depths (smoke test)')
  parser.add_argument('--rounds', type=int, default=None)
  parser.add_argument('--compile-repeats', type=int, default=None)
  parser.add_argument('--results-dir', default=None)
  args = parser.parse_args(argv)

  stack_depths = (2, 4, 8) if args.tiny else STACK_DEPTHS
  # --quick skips the 100-layer Python loop: it alone compiles for minutes.
  loop_depths = (2, 4) if args.tiny else (10,) if args.quick else LOOP_DEPTHS
  width, batch = (8, 4) if args.tiny else (WIDTH, BATCH)
  rounds = args.rounds or (3 if args.quick or args.tiny else 10)
  repeats = args.compile_repeats or (1 if args.tiny else 2 if args.quick else 3)

  print(common.header(f'Depth: dense highway stacks, width {width}, batch {batch} '
                      '(fwd + bwd + Adam)'))
  warm_s = common.warm_up_compiler()
  print(f'warm-up compile of an unrelated program: {warm_s:.2f} s (not counted)\n')
  x = jax.random.normal(jax.random.key(1), (batch, width))
  configs = []
  for depth in stack_depths:
    for remat in (False, True):
      configs.append((f'HighwayStack L={depth}{" remat" if remat else ""}', 'stack', depth, remat,
                      HighwayStack(depth, width, remat=remat)))
  for depth in loop_depths:
    configs.append((f'Python loop of Highway L={depth}', 'loop', depth, False,
                    HighwayLoop(depth, width)))

  cfgs = [Config(*c, x) for c in configs]
  for r in range(repeats):
    for cfg in cfgs:
      # The Python loop at 100 layers compiles for minutes: once is enough to make the point.
      if r == 0 or cfg.kind == 'stack':
        cfg.compile()
  # --tiny skips the extra compile of the gradient alone (activation memory).
  rows = [cfg.row(with_grad_memory=cfg.kind == 'stack' and not args.tiny) for cfg in cfgs]
  runners = {cfg.name: cfg.runner() for cfg in cfgs}
  rss_before = common.rss_bytes()
  timings = common.compare(runners, rounds=rounds, warmup=1)
  for row in rows:
    t = timings[row['name']]
    row['step_ms'] = t.median_ms
    row['step_cpu_ms'] = t.cpu_median_ms
    row['us_per_layer'] = 1e3 * row['step_ms'] / row['depth']
  payload_rss = (common.max_rss_bytes() - rss_before) / 2 ** 20
  columns = ['name', 'trace_lower_s', 'compile_s', 'compile_cpu_s', 'step_ms', 'us_per_layer',
             'activation_mb', 'step_temp_mb', 'step_peak_mb']
  print(common.format_table(rows, columns, floatfmt='.3g'))

  by = {(r['kind'], r['depth'], r['remat']): r for r in rows}
  lo, mid, hi = stack_depths
  checks = []
  for remat in (False, True):
    tag = ' (remat)' if remat else ''
    c_lo, c_hi = by[('stack', lo, remat)], by[('stack', hi, remat)]
    checks.append({'target': f'compile(L={hi}) ≤ 2 × compile(L={lo}){tag}',
                   'measured': c_hi['compile_s'] / c_lo['compile_s'],
                   'met': c_hi['compile_s'] <= 2 * c_lo['compile_s']})
    checks.append({'target': f'trace+lower+compile(L={hi}) ≤ 2 × the same at L={lo}{tag}',
                   'measured': (c_hi['compile_s'] + c_hi['trace_lower_s'])
                   / (c_lo['compile_s'] + c_lo['trace_lower_s']),
                   'met': (c_hi['compile_s'] + c_hi['trace_lower_s'])
                   <= 2 * (c_lo['compile_s'] + c_lo['trace_lower_s'])})
    ratio = by[('stack', hi, remat)]['step_ms'] / (hi / mid * by[('stack', mid, remat)]['step_ms'])
    checks.append({'target': f'step time linear: step(L={hi}) / ({hi // mid} × step(L={mid})) ≈ 1{tag}',
                   'measured': ratio, 'met': 0.75 <= ratio <= 1.33})
  no_remat, remat = by[('stack', hi, False)], by[('stack', hi, True)]
  for key, what in (('activation_mb', 'activation memory (temporaries of the gradient)'),
                    ('step_temp_mb', 'train-step temporaries (activations + gradients)'),
                    ('step_peak_mb', 'train-step peak (+ params and Adam state)')):
    if no_remat[key]:
      ratio = remat[key] / no_remat[key]
      checks.append({'target': f'remat {what} at L={hi} ≤ 1/4 of without', 'measured': ratio,
                     'met': ratio <= 0.25})
  print('\nTargets:')
  for c in checks:
    print(f'  {c["target"]}: measured {c["measured"]:.2f} -> {"met" if c["met"] else "MISSED"}')
  payload = {'width': width, 'batch': batch, 'rounds': rounds, 'compile_repeats': repeats,
             'warm_up_compile_s': warm_s, 'max_rss_growth_mb': payload_rss, 'rows': rows,
             'targets': checks}
  path = common.write_json('depth_tiny' if args.tiny else 'depth', payload, args.results_dir)
  print(f'\nwrote {path}')
  return payload


if __name__ == '__main__':
  main()

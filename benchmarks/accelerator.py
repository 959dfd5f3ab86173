"""Every accelerator check in one command: ≤ 8 minutes on one GPU (or TPU), JSON + a Markdown table.

    python -m benchmarks.accelerator [--budget-s 480] [--out DIR]   # on the lent machine
    python -m benchmarks.accelerator --tiny                         # the CPU smoke test (< 1 min)

Four parts, run in this order, each with a share of ``--budget-s`` (``PART_SHARES``; a part may use
what earlier parts left over). Inside a part, work comes in items (a layer, a candidate, a depth);
an item that would not finish within the part's time is not started and is reported as *skipped*
(not an error). A part that raises is reported as ``error`` with its message and the others still
run; the command exits non-zero if a part errored or a numerics check failed.

a. ``numerics``: ``hj.LSTM``, ``hj.GRU``, ``hj.RHN`` (2 layers), ``hj.GridLSTM2D``, ``hj.HighwayStack``
   dense and conv, with every parameter randomised (biases too): output and gradients (w.r.t. every
   parameter and the input) of ``sum(output · R)`` for a fixed random ``R``, on the accelerator
   (``jax.devices()[0]``) against the same function in float32 on ``jax.devices('cpu')[0]``.
   Relative error of a leaf: ``‖a − ref‖₂ / ‖ref‖₂``; reported per layer for the worst output leaf
   and the worst gradient leaf, with the largest absolute error. Variants and tolerances (output /
   gradients):

   =============================  ===================================================  ===========
   variant                        computed as                                          tolerance
   =============================  ===================================================  ===========
   ``float32``                    float32, ``jax.default_matmul_precision('highest')``  1e-4 / 1e-4
   ``float32 default precision``  float32 at the backend's default matmul precision     2e-2 / 1e-1
                                  (TF32 on recent NVIDIA GPUs, a bfloat16 pass on TPU;
                                  on a CPU the same program as ``float32``: omitted)
   ``bfloat16``                   the layer's ``dtype='bfloat16'`` (parameters float32)  2e-2 / 1e-1
   =============================  ===================================================  ===========

   Gradients get the looser tolerance: leaves such as biases sum many cancelling terms, so the
   rounding of bfloat16 activations shows more in them (on a CPU, at these shapes, up to 4.5e-2 for
   the conv stack's gradients and 2.4e-2 for GridLSTM2D's; outputs up to 6e-3). A wrong kernel
   gives errors of order 1.

b. ``recurrent``: one training step (forward + backward + Adam, loss = mean square of the last
   hidden state) at batch 64, sequence 100, input 128, hidden 256: ``hj.LSTM`` / ``hj.GRU`` against
   ``torch.nn.LSTM`` / ``GRU`` (cuDNN on CUDA; only if torch is importable) and
   ``jax.experimental.rnn.lstm`` (cuDNN from JAX; only where it runs). Timed interleaved
   (``common.compare``), every step waited for (JAX: the full new state; torch: a device sync);
   ratios are medians of per-round paired ratios. Each framework runs at its default float32
   precision (both may use TF32 tensor cores on recent NVIDIA GPUs; torch's setting is recorded).
c. ``depth``: ``hj.HighwayStack`` (dense, width 50, batch 128, Adam) at 10, 100 and 1000 layers,
   ``remat`` off and on: compile time (trace, lower and compile of the step), step time, XLA's compiled
   memory analysis (peak = arguments + outputs + temporaries − donated) and, where the device reports
   it (``device.memory_stats()``), the process's peak bytes in use after the config ran (cumulative:
   configs run from the smallest).
d. ``cifar``: the ``cifar_highway`` model (19 layers, ~2.24M parameters) trained on one synthetic
   device-resident batch of the config's size, float32 and bfloat16 interleaved: examples/s and the
   bfloat16 speed-up.

``--tiny`` runs every part with tiny shapes and depths (on CPU the CPU is both "accelerator" and
reference). See ``docs/accelerator.md`` for how to run it on a lent GPU and where the table goes.
"""

from __future__ import annotations

import argparse
import contextlib
import importlib
import json
import sys
import time
import traceback
from collections.abc import Callable
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
import optax

import highway_jax as hj
from benchmarks import common, depth, throughput
from highway_jax import models

DEFAULT_BUDGET_S = 480.0
PART_SHARES = {'numerics': 0.2, 'recurrent': 0.2, 'depth': 0.35, 'cifar': 0.25}
# variant -> (layer dtype, matmul precision context, output tolerance, gradient tolerance)
VARIANTS = {
    'float32': (None, 'highest', 1e-4, 1e-4),
    'float32 default precision': (None, None, 2e-2, 1e-1),
    'bfloat16': ('bfloat16', None, 2e-2, 1e-1),
}
RECURRENT_SHAPE = dict(batch=64, time=100, input=128, hidden=256)
TINY_RECURRENT_SHAPE = dict(batch=4, time=6, input=5, hidden=8)


class Budget:
  """Deadline of a part; ``allows(estimate_s)`` says whether an item of that cost still fits."""

  def __init__(self, seconds: float):
    self.seconds = seconds
    self.deadline = time.perf_counter() + seconds

  def left(self) -> float:
    return self.deadline - time.perf_counter()

  def allows(self, estimate_s: float) -> bool:
    return self.left() > estimate_s


def skipped(name: str, budget: Budget, **fields) -> dict:
  return {'name': name, 'status': 'skipped', 'reason': f'part budget of {budget.seconds:.0f} s '
          'used up', **fields}


# ----------------------------------------------------------------------------------------------
# The one place that builds the library's layers and models (adapt here if their fields change).


def layer_cases(tiny: bool) -> dict[str, tuple[Callable[[Any], Any], tuple[int, ...]]]:
  """name -> (dtype -> module, input shape) for the numerics part."""
  b, t, i, h = (2, 4, 3, 4) if tiny else (8, 16, 16, 32)
  size, channels = (4, 3) if tiny else (8, 8)
  layers = 1 if tiny else 2  # stacked sequence layers compile for longer: not in the smoke test
  return {
      'LSTM': (lambda dtype: hj.LSTM(h, num_layers=layers, dtype=dtype), (b, t, i)),
      'GRU': (lambda dtype: hj.GRU(h, num_layers=layers, dtype=dtype), (b, t, i)),
      'RHN': (lambda dtype: hj.RHN(h, num_layers=layers, depth=2, dtype=dtype), (b, t, i)),
      'GridLSTM2D': (lambda dtype: hj.GridLSTM2D(h, depth=2, dtype=dtype), (b, t, i)),
      'HighwayStack dense': (lambda dtype: hj.HighwayStack(2 if tiny else 4, h, dtype=dtype),
                             (b, h)),
      'HighwayStack conv': (lambda dtype: hj.HighwayStack(2 if tiny else 3, channels, kind='conv',
                                                          dtype=dtype), (b, size, size, channels)),
  }


def recurrent_layer(cell: str, hidden: int):
  return {'lstm': hj.LSTM, 'gru': hj.GRU}[cell](hidden)


def highway_stack(num_layers: int, width: int, remat: bool):
  return hj.HighwayStack(num_layers, width, remat=remat)


def cifar_model(tiny: bool, dtype: str | None):
  """``(model, batch size, input shape, num_classes)`` of ``configs/cifar_highway.py``."""
  config = importlib.import_module('configs.cifar_highway').get_config('runlocal' if tiny else None)
  shape, _, num_classes = throughput.CONFIGS['cifar_highway']
  spec = throughput.DatasetSpec(config.data.name, num_classes, shape, np.dtype(np.float32))
  return models.get_model(config.model, spec, dtype=dtype), config.batch_size, shape, num_classes


# ----------------------------------------------------------------------------------------------
# a. numerics


def first_output(out):
  """The sequence layers return ``(outputs, carry)``; stacks return the outputs."""
  return out[0] if isinstance(out, tuple) else out


def outputs_and_grads(module, proj):
  """A jitted ``(params, x) -> ((d/dparams, d/dx), output)`` of ``sum(output · proj)``."""
  def loss(p, x):
    y = first_output(module.apply({'params': p}, x)).astype(jnp.float32)
    return jnp.sum(y * proj), y
  return jax.jit(jax.grad(loss, argnums=(0, 1), has_aux=True))


def run_on(fn, params, x, device, precision: str | None):
  """``fn`` on ``device`` under matmul ``precision`` (None: the backend's default), as NumPy."""
  args = jax.device_put((params, x), device)
  with jax.default_matmul_precision(precision) if precision else contextlib.nullcontext():
    (g_params, g_x), y = fn(*args)
  return jax.tree.map(lambda a: np.asarray(a, np.float32), (y, g_params, g_x))


def worst_error(got, ref) -> tuple[float, float]:
  """``(largest absolute error, worst relative L2 error ‖a − ref‖ / ‖ref‖)`` over the leaves."""
  abs_err = rel_err = 0.0
  for a, r in zip(jax.tree.leaves(got), jax.tree.leaves(ref)):
    abs_err = max(abs_err, float(np.max(np.abs(a - r))))
    rel_err = max(rel_err, float(np.linalg.norm(a - r) / max(np.linalg.norm(r), 1e-30)))
  return abs_err, rel_err


def part_numerics(tiny: bool, budget: Budget) -> dict:
  cpu, accelerator = jax.devices('cpu')[0], jax.devices()[0]
  rows, estimate = [], 0.0
  for index, (name, (build, shape)) in enumerate(layer_cases(tiny).items()):
    if not budget.allows(estimate):
      rows.append(skipped(name, budget, layer=name))
      continue
    start = time.perf_counter()
    rng = np.random.default_rng(index)
    x = rng.standard_normal(shape).astype(np.float32)
    reference_module = build(None)
    params = common.random_params(lambda k, x, m=reference_module: m.init(k, x)['params'], x,
                                  seed=index)
    out_shape = jax.eval_shape(
        lambda p, x, m=reference_module: first_output(m.apply({'params': p}, x)), params, x).shape
    proj = rng.standard_normal(out_shape).astype(np.float32)
    fns = {None: outputs_and_grads(reference_module, proj)}
    ref = run_on(fns[None], params, x, cpu, 'highest')
    for variant, (dtype, precision, out_tol, grad_tol) in VARIANTS.items():
      if precision is None and dtype is None and accelerator.platform == 'cpu':
        continue  # the same program as 'float32' on a CPU
      if dtype not in fns:
        fns[dtype] = outputs_and_grads(build(dtype), proj)
      got = run_on(fns[dtype], params, x, accelerator, precision)
      out_abs, out_rel = worst_error(got[0], ref[0])
      grad_abs, grad_rel = worst_error(got[1:], ref[1:])
      rows.append({'name': f'{name} {variant}', 'layer': name, 'variant': variant,
                   'status': 'ok', 'out_abs': out_abs, 'out_rel': out_rel, 'grad_abs': grad_abs,
                   'grad_rel': grad_rel, 'out_tol': out_tol, 'grad_tol': grad_tol,
                   'passed': out_rel <= out_tol and grad_rel <= grad_tol})
    estimate = time.perf_counter() - start
  return {'reference_device': str(cpu), 'device': str(accelerator), 'rows': rows,
          'all_passed': all(r['passed'] for r in rows if r['status'] == 'ok')}


# ----------------------------------------------------------------------------------------------
# b. recurrent step against cuDNN


def ours_step(cell: str, shape: dict, key_impl: str | None):
  b, t, i, h = shape['batch'], shape['time'], shape['input'], shape['hidden']
  layer = recurrent_layer(cell, h)
  x = jax.random.normal(jax.random.key(1), (b, t, i))
  params = common.random_params(lambda k, x: layer.init(k, x)['params'], x)
  trainer = common.Trainer(
      lambda p, batch, _: jnp.mean(first_output(layer.apply({'params': p}, batch))[:, -1] ** 2),
      params, optax.adam(1e-3), key_impl=key_impl)
  compile_s = trainer.compile(x)

  def run():
    trainer(x)
    return trainer.block()
  return run, compile_s


def cudnn_lstm_step(shape: dict, key_impl: str | None):
  """``jax.experimental.rnn.lstm`` (cuDNN); raises where the backend can't run it."""
  from jax.experimental import rnn
  b, t, i, h = shape['batch'], shape['time'], shape['input'], shape['hidden']
  x = jax.random.normal(jax.random.key(1), (b, t, i))
  weights = rnn.init_lstm_weight(jax.random.key(0), i, h, 1, False)
  zeros = jnp.zeros((1, b, h))
  lengths = jnp.full((b,), t, jnp.int32)

  def loss(w, x, _):
    y, _, _ = rnn.lstm(x, zeros, zeros, w, lengths, input_size=i, hidden_size=h, num_layers=1,
                       dropout=0.0, bidirectional=False)
    return jnp.mean(y[:, -1] ** 2)

  trainer = common.Trainer(loss, weights, optax.adam(1e-3), key_impl=key_impl)
  compile_s = trainer.compile(x)
  run = lambda: (trainer(x), trainer.block())[1]
  jax.block_until_ready(run())  # fails here, not in the timing loop, where cuDNN is missing
  return run, compile_s


def torch_step(cell: str, shape: dict):
  torch = common.maybe_torch()
  cuda = jax.default_backend() == 'gpu' and torch.cuda.is_available()
  device = 'cuda' if cuda else 'cpu'
  torch.manual_seed(0)
  model = {'lstm': torch.nn.LSTM, 'gru': torch.nn.GRU}[cell](
      shape['input'], shape['hidden'], batch_first=True).to(device)
  opt = torch.optim.Adam(model.parameters(), lr=1e-3)
  x = torch.randn(shape['batch'], shape['time'], shape['input'], device=device)

  def run():
    opt.zero_grad(set_to_none=True)
    y, _ = model(x)
    y[:, -1].pow(2).mean().backward()
    opt.step()
    if cuda:
      torch.cuda.synchronize()

  _, first_s = common.timed(run)  # no compile step: its first call instead
  tf32 = f', cuDNN TF32 {torch.backends.cudnn.allow_tf32}' if cuda else ''  # the default: True
  return run, first_s, f'torch {torch.__version__} on {device}{tf32}'


def part_recurrent(tiny: bool, budget: Budget) -> dict:
  shape = TINY_RECURRENT_SHAPE if tiny else RECURRENT_SHAPE
  key_impl = 'rbg' if tiny else None
  builders = {
      'ours LSTM': lambda: ours_step('lstm', shape, key_impl) + ('highway_jax',),
      'ours GRU': lambda: ours_step('gru', shape, key_impl) + ('highway_jax',),
  }
  unavailable = {}
  if jax.default_backend() == 'gpu':
    builders['jax.experimental.rnn LSTM'] = lambda: cudnn_lstm_step(shape, key_impl) + (
        'cuDNN via JAX',)
  else:
    unavailable['jax.experimental.rnn LSTM'] = 'needs cuDNN (a CUDA GPU backend)'
  if common.maybe_torch() is None:
    unavailable['torch LSTM'] = unavailable['torch GRU'] = 'torch is not installed'
  else:
    builders['torch LSTM'] = lambda: torch_step('lstm', shape)
    builders['torch GRU'] = lambda: torch_step('gru', shape)
  rows = {name: {'name': name, 'status': 'unavailable', 'reason': why}
          for name, why in unavailable.items()}
  steps, estimate = {}, 0.0
  for name, build in builders.items():
    if not budget.allows(estimate):
      rows[name] = skipped(name, budget)
      continue
    start = time.perf_counter()
    try:
      run, compile_s, what = build()
    except Exception as error:  # an optional baseline that this backend can't run
      rows[name] = {'name': name, 'status': 'unavailable', 'reason': one_line(error)}
      continue
    steps[name] = run
    rows[name] = {'name': name, 'status': 'ok', 'implementation': what, 'compile_s': compile_s}
    estimate = 2 * (time.perf_counter() - start)
  if steps:
    per_round = sum(common.time_once(run)[0] for run in steps.values())
    rounds = 3 if tiny else int(min(20, max(3, 0.8 * budget.left() / max(per_round, 1e-6))))
    timings = common.compare(steps, rounds=rounds, warmup=1)
    for name, t in timings.items():
      rows[name].update(median_ms=t.median_ms, iqr_ms=t.iqr_ms, min_ms=t.min_ms, rounds=rounds,
                        times_s=t.times)
    ratios = {}
    for ours, ref in (('ours LSTM', 'torch LSTM'), ('ours GRU', 'torch GRU'),
                      ('ours LSTM', 'jax.experimental.rnn LSTM')):
      if ours in timings and ref in timings:
        ratios[f'{ours} / {ref}'] = common.paired_ratio(timings[ours], timings[ref])
  else:
    ratios = {}
  return {'shape': shape, 'rows': list(rows.values()), 'ratios': ratios}


# ----------------------------------------------------------------------------------------------
# c. HighwayStack at depth


def part_depth(tiny: bool, budget: Budget) -> dict:
  depths = (2, 8) if tiny else depth.STACK_DEPTHS
  width, batch = (8, 4) if tiny else (depth.WIDTH, depth.BATCH)
  device = jax.devices()[0]
  x = jax.random.normal(jax.random.key(1), (batch, width))
  trainers, rows, estimate = {}, [], 0.0
  for num_layers in depths:
    for remat in (False, True):
      name = f'L={num_layers}{" remat" if remat else ""}'
      if not budget.allows(estimate):
        rows.append(skipped(name, budget, depth=num_layers, remat=remat))
        continue
      start = time.perf_counter()
      stack = highway_stack(num_layers, width, remat)
      params = common.random_params(lambda k, x, s=stack: s.init(k, x)['params'], x)
      trainer = common.Trainer(lambda p, b, _, s=stack: jnp.mean(s.apply({'params': p}, b) ** 2),
                               params, optax.adam(1e-3), key_impl='rbg' if tiny else None)
      compile_s = trainer.compile(x)
      run = lambda t=trainer: (t(x), t.block())[1]
      common.time_once(run)
      mem = common.memory_analysis(trainer.compiled) or {}
      stats = device.memory_stats() or {}
      trainers[name] = run
      rows.append({'name': name, 'status': 'ok', 'depth': num_layers, 'remat': remat,
                   'compile_s': compile_s,
                   'xla_peak_mb': mem['peak_bytes'] / 2**20 if mem else None,
                   'xla_temp_mb': mem['temp_bytes'] / 2**20 if mem else None,
                   'device_peak_mb': (stats['peak_bytes_in_use'] / 2**20
                                      if 'peak_bytes_in_use' in stats else None)})
      # The next config: about as long to compile, and a step up to 10x longer.
      estimate = 1.5 * (time.perf_counter() - start)
  if trainers:
    compare_in_budget(trainers, rows, budget, tiny, max_rounds=10,
                      us_per_layer=lambda row, ms: 1e3 * ms / row['depth'])
  return {'width': width, 'batch': batch, 'rows': rows}


def compare_in_budget(candidates, rows, budget: Budget, tiny: bool, max_rounds: int, **derived) -> dict:
  """Times ``candidates`` side by side in as many rounds (2 to ``max_rounds``) as 80% of the budget left
  allows; adds ``step_ms``, ``rounds`` and each ``derived`` value ``f(row, step_ms)`` to their rows."""
  per_round = sum(common.time_once(run)[0] for run in candidates.values())
  rounds = 2 if tiny else int(min(max_rounds, max(2, 0.8 * budget.left() / max(per_round, 1e-6))))
  timings = common.compare(candidates, rounds=rounds, warmup=1)
  for row in rows:
    if row['name'] in timings:
      ms = timings[row['name']].median_ms
      row.update(step_ms=ms, rounds=rounds, **{key: f(row, ms) for key, f in derived.items()})
  return timings


# ----------------------------------------------------------------------------------------------
# d. cifar_highway throughput


def part_cifar(tiny: bool, budget: Budget) -> dict:
  rng = np.random.default_rng(0)
  steps, rows, estimate = {}, [], 0.0
  for dtype in ('bfloat16', 'float32'):
    if not budget.allows(estimate):
      rows.append(skipped(dtype, budget, dtype=dtype))
      continue
    start = time.perf_counter()
    model, batch_size, shape, num_classes = cifar_model(tiny, dtype)
    batch = {'inputs': jnp.asarray(rng.standard_normal((batch_size, *shape)), jnp.float32),
             'label': jnp.asarray(rng.integers(0, num_classes, batch_size), jnp.int32)}
    params = common.random_params(
        lambda k, x, m=model: m.init({'params': k}, x, train=False)['params'], batch['inputs'])
    trainer = common.Trainer(
        lambda p, b, r, m=model: common.softmax_cross_entropy(
            m.apply({'params': p}, b['inputs'], train=True, rngs={'dropout': r}), b['label']),
        params, optax.sgd(0.025, momentum=0.9, nesterov=True), key_impl='rbg' if tiny else None)
    compile_s = trainer.compile(batch)
    steps[dtype] = lambda t=trainer, b=batch: (t(b), t.block())[1]
    rows.append({'name': dtype, 'status': 'ok', 'dtype': dtype, 'batch_size': batch_size,
                 'params': int(sum(np.size(p) for p in jax.tree.leaves(params))),
                 'compile_s': compile_s})
    estimate = 1.2 * (time.perf_counter() - start)
  speedup = None
  if steps:
    timings = compare_in_budget(steps, rows, budget, tiny, max_rounds=20,
                                examples_per_s=lambda row, ms: row['batch_size'] / (ms * 1e-3))
    if len(timings) == 2:
      speedup = 1 / common.paired_ratio(timings['bfloat16'], timings['float32'])
  return {'rows': rows, 'bfloat16_speedup': speedup}


# ----------------------------------------------------------------------------------------------

PARTS = {'numerics': part_numerics, 'recurrent': part_recurrent, 'depth': part_depth,
         'cifar': part_cifar}


def one_line(error: BaseException) -> str:
  return f'{type(error).__name__}: {str(error).splitlines()[0] if str(error) else ""}'[:300]


def markdown(payload: dict) -> str:
  """The tables for ``docs/performance.md``."""
  info = payload['machine']
  lines = [f'Accelerator check (`{payload["command"]}`), {info["date"]}: '
           f'{", ".join(sorted(set(info["devices"])))} (backend {info["backend"]}), jax {info["jax"]}, '
           f'flax {info["flax"]}, torch {info["torch"]}; budget {payload["budget_s"]:.0f} s, '
           f'took {payload["total_s"]:.0f} s.', '']
  parts = payload['parts']
  for name, part in parts.items():
    lines.append(f'**{name}**: {part["status"]} in {part["seconds"]:.0f} s'
                 + (f' ({part["error"]})' if part['status'] == 'error' else ''))
    lines.append('')
    if part['status'] == 'error':
      continue
    if name == 'numerics':
      lines.append(common.format_table(part['rows'], ['layer', 'variant', 'status', 'out_rel',
                                                      'out_tol', 'grad_rel', 'grad_tol', 'out_abs',
                                                      'grad_abs', 'passed'], floatfmt='.2e'))
    elif name == 'recurrent':
      lines.append(common.format_table(part['rows'], ['name', 'status', 'implementation',
                                                      'median_ms', 'iqr_ms', 'compile_s'],
                                       floatfmt='.3g'))
      lines += ['', *[f'- {k}: **{v:.2f}×**' for k, v in part['ratios'].items()]]
    elif name == 'depth':
      lines.append(common.format_table(part['rows'], ['name', 'status', 'compile_s', 'step_ms',
                                                      'us_per_layer', 'xla_peak_mb', 'xla_temp_mb',
                                                      'device_peak_mb'], floatfmt='.3g'))
    else:
      lines.append(common.format_table(part['rows'], ['name', 'status', 'params', 'batch_size',
                                                      'compile_s', 'step_ms', 'examples_per_s'],
                                       floatfmt='.4g'))
      if part.get('bfloat16_speedup'):
        lines += ['', f'- bfloat16 speed-up over float32: **{part["bfloat16_speedup"]:.2f}×**']
    lines.append('')
  return '\n'.join(lines)


def main(argv: list[str] | None = None) -> dict:
  parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
  parser.add_argument('--tiny', action='store_true', help='tiny shapes (the CPU smoke test)')
  parser.add_argument('--budget-s', type=float, default=DEFAULT_BUDGET_S,
                      help='seconds for all parts together (default %(default)s)')
  parser.add_argument('--parts', default=','.join(PARTS), help=f'comma-separated, from {list(PARTS)}')
  parser.add_argument('--out', default=None, help='directory for the JSON and Markdown files '
                      '(default benchmarks/results/)')
  args = parser.parse_args(argv)
  names = args.parts.split(',')
  for name in names:
    if name not in PARTS:
      parser.error(f'--parts: unknown part {name!r}; choose from {", ".join(PARTS)}.')
  if args.budget_s <= 0:
    parser.error(f'--budget-s must be > 0 seconds, got {args.budget_s}.')

  start = time.perf_counter()
  print(common.header(f'Accelerator check, budget {args.budget_s:.0f} s'), flush=True)
  parts, deadline = {}, start
  total_share = sum(PART_SHARES[n] for n in names)
  for name in names:
    # Cumulative deadlines: time a part leaves unused goes to the next ones.
    deadline += args.budget_s * PART_SHARES[name] / total_share
    budget = Budget(deadline - time.perf_counter())
    part_start = time.perf_counter()
    try:
      part = {'status': 'ok', **PARTS[name](args.tiny, budget)}
      if part['rows'] and all(r['status'] == 'skipped' for r in part['rows']):
        part['status'] = 'skipped'
    except Exception as error:  # report it and run the other parts
      part = {'status': 'error', 'error': one_line(error), 'traceback': traceback.format_exc()}
      print(part['traceback'], file=sys.stderr)
    part['seconds'] = time.perf_counter() - part_start
    part['budget_s'] = budget.seconds
    parts[name] = part
    print(f'{name}: {part["status"]} in {part["seconds"]:.1f} s (budget {budget.seconds:.0f} s)',
          flush=True)

  numerics_ok = parts.get('numerics', {}).get('all_passed', True)
  payload = {'tiny': args.tiny, 'budget_s': args.budget_s, 'total_s': time.perf_counter() - start,
             'parts': parts,
             'ok': numerics_ok and all(p['status'] != 'error' for p in parts.values())}
  name = 'accelerator_tiny' if args.tiny else 'accelerator'
  path = common.write_json(name, payload, args.out)
  payload = json.loads(path.read_text())
  table = markdown(payload)
  md_path = path.with_suffix('.md')
  md_path.write_text(table + '\n')
  print('\n' + table)
  print(f'wrote {path} and {md_path}; {"all checks passed" if payload["ok"] else "FAILED"}')
  return payload


if __name__ == '__main__':
  sys.exit(0 if main()['ok'] else 1)

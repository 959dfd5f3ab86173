"""Benchmark 1 (and 3's per-step fractions): recurrent training step, ours vs Flax vs PyTorch.

One training step = forward + backward + Adam update, batch 64, sequence 100, input 128, hidden 256,
loss = mean of the squared last hidden state (for a bidirectional stack: the top layer's forward output
at t = T−1 plus its backward output at t = 0, i.e. both directions' final states).

How it is timed (``Harness``): by default every candidate runs in its own fresh process, one per
candidate and round, the order rotated each round (``common.compare_isolated``); a round's time is
the median of its process's steps (after 2 warm-up steps), each step waiting for the new parameters
and optimizer state; ratios are paired per round and reported as median and min–max over rounds.
In one process (``--same-process``) PyTorch's and XLA's thread pools and allocators share the CPU
between candidates; ``--study`` measures how each such choice moves the ratios (docs/performance.md).

Candidates:

* ours: ``highway_jax.recurrent.LSTM`` (± peepholes), ``GRU``, ``SimpleRNN``;
* Flax: ``nn.RNN(nn.OptimizedLSTMCell)``, ``nn.RNN(nn.LSTMCell)``, ``nn.RNN(nn.GRUCell)``, ``nn.RNN(nn.SimpleCell)``
  (stacks: a Python loop of ``nn.RNN`` / ``nn.Bidirectional`` layers, Flax has no stacked RNN);
* PyTorch (only when importable; same thread count as XLA's CPU pool): ``torch.nn.LSTM``/``GRU``/``RNN``;
* on GPU only: ``jax.experimental.rnn.lstm`` (cuDNN from JAX);
* ``ours LSTM/GRU fused gates`` or ``per-gate weights`` (single layer): the library's other setting of
  ``fuse_gates`` (the backend default is in the table header), measured against the same references;
  ``ours LSTM backward_chunk=K``: the LSTM with the other backward (``highway_jax.recurrent``).

Also the 4-layer bidirectional variant (LSTM and GRU, ours vs Flax's best vs PyTorch).

Reported per candidate: median step time (and its interquartile range, fastest round, and process CPU
time), the median over rounds of the paired ratio vs Flax's best built-in of the same cell and vs
PyTorch's, compile time (PyTorch: its first call), and the fraction of the machine's float32 matmul
peak (``benchmarks.peak``) that the step's matmul FLOPs achieve in its fastest round.

FLOP count (matmuls only, exact for this loss): per layer and direction with G gate blocks of width H
(LSTM 4, GRU 3, simple RNN 1), input width I, forward ``2·B·T·(I+H)·G·H``; backward the weight
gradients (the same again) plus the gradient w.r.t. h (``2·B·T·H·G·H``) and w.r.t. the layer input
(``2·B·T·I·G·H``, not needed for the first layer, whose input is data). The usual "fwd+bwd ≈ 3×
forward" rule overcounts the first layer.

Usage::

    python -m benchmarks.recurrent            # full run, writes benchmarks/results/recurrent.json
    python -m benchmarks.recurrent --quick    # fewer rounds, no 4-layer stack
    python -m benchmarks.recurrent --study    # the harness study: LSTM/GRU ratios under each choice
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import re
from collections.abc import Callable
from typing import Any

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np
import optax

from benchmarks import common

FULL_SHAPE = dict(batch=64, time=100, input=128, hidden=256)
TINY_SHAPE = dict(batch=4, time=6, input=5, hidden=8)
GATES = {'lstm': 4, 'gru': 3, 'rnn': 1}


@dataclasses.dataclass
class Candidate:
  name: str
  cell: str            # 'lstm' | 'gru' | 'rnn'
  impl: str            # 'ours' | 'flax' | 'torch' | 'cudnn'
  # (shape, layers, bidirectional, harness) -> (step, compile_s)
  build: Callable[..., tuple[Callable[[], Any], float]]


def matmul_flops(cell: str, batch: int, time: int, input: int, hidden: int, layers: int = 1,
                 bidirectional: bool = False) -> dict[str, float]:
  """Matmul FLOPs of one training step (see the module docstring); 'forward' and 'train'."""
  directions = 2 if bidirectional else 1
  gate_width = GATES[cell] * hidden
  forward = train = 0.0
  for layer in range(layers):
    width_in = input if layer == 0 else directions * hidden
    fwd = 2.0 * batch * time * (width_in + hidden) * gate_width
    d_hidden = 2.0 * batch * time * hidden * gate_width
    d_input = 0.0 if layer == 0 else 2.0 * batch * time * width_in * gate_width
    forward += directions * fwd
    train += directions * (2 * fwd + d_hidden + d_input)
  return {'forward': forward, 'train': train}


# ----------------------------------------------------------------------------------------------
# JAX candidates


@dataclasses.dataclass(frozen=True)
class Harness:
  """How a step is measured: the choices that the harness study (``--study``) varies one at a time.

  ``isolate``: each candidate in its own fresh process (``common.compare_isolated``) instead of all
  in one process; ``loss``: ``'last'`` (mean square of the final hidden state, see the module
  docstring) or ``'mse'`` (mean squared error of every output to a fixed random target);
  ``block``: ``'state'`` (a step ends when its parameters and optimizer state are ready) or
  ``'loss'`` (when its loss is); ``warmup``: untimed steps before timing.
  """

  isolate: bool = True
  loss: str = 'last'
  block: str = 'state'
  warmup: int = 2


def target_outputs(y_shape: tuple[int, ...]) -> Any:
  """The fixed target of ``loss='mse'``: standard normal NumPy of the outputs' shape, seed 2."""
  return np.random.default_rng(2).standard_normal(y_shape).astype(np.float32)


def _loss_from_outputs(y: jax.Array, hidden: int, bidirectional: bool, loss: str) -> jax.Array:
  if loss == 'mse':
    return jnp.mean((y - target_outputs(y.shape)) ** 2)
  if bidirectional:
    return jnp.mean(y[:, -1, :hidden] ** 2) + jnp.mean(y[:, 0, hidden:] ** 2)
  return jnp.mean(y[:, -1] ** 2)


def jax_train_step(apply_outputs: Callable[[Any, jax.Array], jax.Array], params: Any, x: jax.Array,
                   hidden: int, bidirectional: bool,
                   harness: Harness = Harness()) -> tuple[Callable[[], Any], float]:
  """A stateful closure running one jitted (donated) fwd+bwd+Adam step; returns it and its compile s.

  The closure returns what ``harness.block`` says a step must wait for: the new state, or the loss.
  """
  tx = optax.adam(1e-3)
  opt_state = jax.jit(tx.init)(params)

  def loss_fn(p):
    return _loss_from_outputs(apply_outputs(p, x), hidden, bidirectional, harness.loss)

  def step(p, s):
    loss, grads = jax.value_and_grad(loss_fn)(p)
    updates, s = tx.update(grads, s, p)
    return optax.apply_updates(p, updates), s, loss

  jitted = jax.jit(step, donate_argnums=(0, 1))
  compiled, compile_s = common.timed(lambda: jitted.lower(params, opt_state).compile())
  state = {'params': params, 'opt_state': opt_state}

  def run():
    state['params'], state['opt_state'], loss = compiled(state['params'], state['opt_state'])
    return loss if harness.block == 'loss' else (state['params'], state['opt_state'])

  return run, compile_s


def _flax_candidate(module: nn.Module, shape: dict, bidirectional: bool, harness: Harness):
  x = jax.random.normal(jax.random.key(1), (shape['batch'], shape['time'], shape['input']))
  # Jitted: eager init would compile every primitive on its own.
  params = jax.jit(module.init)(jax.random.key(0), x)['params']
  return jax_train_step(lambda p, x: module.apply({'params': p}, x), params, x, shape['hidden'],
                        bidirectional, harness)


class FlaxStack(nn.Module):
  """``layers`` Flax ``nn.RNN`` (or ``nn.Bidirectional``) layers in a Python loop."""

  cell_factory: Callable[[], nn.RNNCellBase]
  layers: int = 1
  bidirectional: bool = False

  @nn.compact
  def __call__(self, x):
    for _ in range(self.layers):
      if self.bidirectional:
        x = nn.Bidirectional(nn.RNN(self.cell_factory()), nn.RNN(self.cell_factory()))(x)
      else:
        x = nn.RNN(self.cell_factory())(x)
    return x


def _ours(layer_cls_name: str, **kwargs):
  def build(shape, layers, bidirectional, harness):
    from highway_jax import recurrent
    layer = getattr(recurrent, layer_cls_name)(shape['hidden'], num_layers=layers,
                                               bidirectional=bidirectional, **kwargs)

    class Outputs(nn.Module):
      @nn.compact
      def __call__(self, x):
        return layer.clone(parent=self)(x)[0]

    return _flax_candidate(Outputs(), shape, bidirectional, harness)
  return build


def _flax(cell_cls_name: str):
  def build(shape, layers, bidirectional, harness):
    cell_cls = getattr(nn, cell_cls_name)
    module = FlaxStack(lambda: cell_cls(shape['hidden']), layers, bidirectional)
    return _flax_candidate(module, shape, bidirectional, harness)
  return build


def _cudnn_lstm(shape, layers, bidirectional, harness):
  from jax.experimental import rnn
  b, t, i, h = shape['batch'], shape['time'], shape['input'], shape['hidden']
  d = 2 if bidirectional else 1
  x = jax.random.normal(jax.random.key(1), (b, t, i))
  weights = rnn.init_lstm_weight(jax.random.key(0), i, h, layers, bidirectional)
  zeros = jnp.zeros((d * layers, b, h))
  lengths = jnp.full((b,), t, jnp.int32)

  def apply_outputs(w, x):
    y, _, _ = rnn.lstm(x, zeros, zeros, w, lengths, input_size=i, hidden_size=h, num_layers=layers,
                       dropout=0.0, bidirectional=bidirectional)
    return y

  return jax_train_step(apply_outputs, weights, x, h, bidirectional, harness)


# ----------------------------------------------------------------------------------------------
# PyTorch candidates


def _torch(module_name: str):
  def build(shape, layers, bidirectional, harness):
    torch = common.maybe_torch()
    torch.set_num_threads(common.num_threads())
    torch.manual_seed(0)
    device = 'cuda' if jax.default_backend() == 'gpu' and torch.cuda.is_available() else 'cpu'
    model = getattr(torch.nn, module_name)(shape['input'], shape['hidden'], num_layers=layers,
                                           bidirectional=bidirectional, batch_first=True).to(device)
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    x = torch.randn(shape['batch'], shape['time'], shape['input'], device=device)
    h = shape['hidden']
    d = 2 if bidirectional else 1
    target = torch.from_numpy(target_outputs((shape['batch'], shape['time'], d * h))).to(device)

    def run():
      opt.zero_grad(set_to_none=True)
      y, _ = model(x)
      if harness.loss == 'mse':
        loss = (y - target).pow(2).mean()
      elif bidirectional:
        loss = y[:, -1, :h].pow(2).mean() + y[:, 0, h:].pow(2).mean()
      else:
        loss = y[:, -1].pow(2).mean()
      loss.backward()
      opt.step()
      if device == 'cuda':
        torch.cuda.synchronize()
      return None

    _, first_s = common.timed(run)  # PyTorch has no compile step; report the first call instead
    return run, first_s
  return build


def recurrent_defaults() -> dict:
  """The speed options ``highway_jax.recurrent`` picks on this backend, for the LSTM and the GRU."""
  from highway_jax import cells, recurrent
  return {name: {cell: recurrent.backend_default(name, getattr(cells, cell)) for cell in ('LSTMCell', 'GRUCell')}
          for name in ('fuse_gates', 'hoist_input_projection', 'unroll', 'backward_chunk')}


def candidates(*, layers: int = 1, bidirectional: bool = False, include_torch: bool = True,
               include_rnn: bool = True, include_slow_flax: bool = True,
               include_options: bool = False) -> list[Candidate]:
  """The benchmark's candidates; for stacks only LSTM/GRU with Flax's fastest cell of each kind."""
  cands = [
      Candidate('ours LSTM', 'lstm', 'ours', _ours('LSTM')),
      Candidate('ours LSTM peepholes', 'lstm', 'ours', _ours('LSTM', peepholes=True)),
      Candidate('flax OptimizedLSTMCell', 'lstm', 'flax', _flax('OptimizedLSTMCell')),
      Candidate('flax LSTMCell', 'lstm', 'flax', _flax('LSTMCell')),
      Candidate('ours GRU', 'gru', 'ours', _ours('GRU')),
      Candidate('flax GRUCell', 'gru', 'flax', _flax('GRUCell')),
  ]
  if include_rnn:
    cands += [Candidate('ours SimpleRNN', 'rnn', 'ours', _ours('SimpleRNN')),
              Candidate('flax SimpleCell', 'rnn', 'flax', _flax('SimpleCell'))]
  if include_options:
    # The other setting of ``fuse_gates`` (the default is in ``recurrent.BACKEND_DEFAULTS``).
    other = not recurrent_defaults()['fuse_gates']['LSTMCell']
    label = 'fused gates' if other else 'per-gate weights'
    cands += [Candidate(f'ours LSTM {label}', 'lstm', 'ours', _ours('LSTM', fuse_gates=other)),
              Candidate(f'ours GRU {label}', 'gru', 'ours', _ours('GRU', fuse_gates=other))]
    # The LSTM with the other backward: JAX's scan gradient if the default is chunked, else chunks of 5.
    chunk = 0 if recurrent_defaults()['backward_chunk']['LSTMCell'] else 5
    cands.append(Candidate(f'ours LSTM backward_chunk={chunk}', 'lstm', 'ours', _ours('LSTM', backward_chunk=chunk)))
  if not include_slow_flax:
    cands = [c for c in cands if c.name not in ('flax LSTMCell', 'ours LSTM peepholes')]
  if include_torch and common.maybe_torch() is not None:
    cands += [Candidate('torch LSTM', 'lstm', 'torch', _torch('LSTM')),
              Candidate('torch GRU', 'gru', 'torch', _torch('GRU'))]
    if include_rnn:
      cands.append(Candidate('torch RNN', 'rnn', 'torch', _torch('RNN')))
  if jax.default_backend() == 'gpu':
    cands.append(Candidate('jax.experimental.rnn LSTM (cuDNN)', 'lstm', 'cudnn', _cudnn_lstm))
  return cands


def time_candidates(cands: list[Candidate], shape: dict, *, layers: int, bidirectional: bool,
                    rounds: int, harness: Harness, steps: int = 3) -> tuple[dict, dict]:
  """``(timings, compile seconds)`` of ``cands``: in one process, or one fresh process per candidate
  and round (``harness.isolate``; each worker times ``steps`` steps, the round's time is their median)."""
  if harness.isolate:
    def worker_argv(name):
      return ['benchmarks.recurrent', '--worker', name, '--worker-config', json.dumps(
          {'shape': shape, 'layers': layers, 'bidirectional': bidirectional, 'steps': steps,
           'harness': dataclasses.asdict(harness)})]
    timings, reports = common.compare_isolated([c.name for c in cands], worker_argv, rounds=rounds)
    return timings, {name: report['compile_s'] for name, report in reports.items()}
  steps_fns, compile_s = {}, {}
  for cand in cands:
    steps_fns[cand.name], compile_s[cand.name] = cand.build(shape, layers, bidirectional, harness)
  return common.compare(steps_fns, rounds=rounds, warmup=harness.warmup), compile_s


def worker(name: str, config: dict) -> dict:
  """One candidate in this process: warm-up, then ``steps`` timed steps (``time_candidates``)."""
  harness = Harness(**config['harness'])
  # Only a torch worker imports torch (seconds, and its thread pool).
  [cand] = [c for c in candidates(include_options=True, include_torch=name.startswith('torch')) if c.name == name]
  run, compile_s = cand.build(config['shape'], config['layers'], config['bidirectional'], harness)
  for _ in range(harness.warmup):
    common.time_once(run)
  times = [common.time_once(run) for _ in range(config['steps'])]
  return {'name': name, 'compile_s': compile_s, 'times': [t[0] for t in times],
          'cpu_times': [t[1] for t in times]}


def run_table(cands: list[Candidate], shape: dict, *, layers: int, bidirectional: bool, rounds: int,
              harness: Harness, peak_gflops: float | None) -> list[dict]:
  """Builds and times ``cands`` side by side; returns one row per candidate."""
  timings, compile_s = time_candidates(cands, shape, layers=layers, bidirectional=bidirectional,
                                       rounds=rounds, harness=harness)
  rows = []
  for cand in cands:
    t = timings[cand.name]
    flops = matmul_flops(cand.cell, **shape, layers=layers, bidirectional=bidirectional)
    gflops = flops['train'] / (t.min_ms * 1e-3) / 1e9  # best round, like the peak it is divided by
    row = {
        'candidate': cand.name, 'cell': cand.cell, 'impl': cand.impl,
        'median_ms': t.median_ms, 'min_ms': t.min_ms, 'iqr_ms': t.iqr_ms, 'cpu_ms': t.cpu_median_ms,
        'compile_s': compile_s[cand.name], 'times_s': t.times,
        'train_gflop': flops['train'] / 1e9, 'achieved_gflops': gflops,
        'fraction_of_peak': gflops / peak_gflops if peak_gflops else None,
        'floor_ms': 1e3 * flops['train'] / (peak_gflops * 1e9) if peak_gflops else None,
    }
    for key, refs in (('flax', [c for c in cands if c.impl == 'flax' and c.cell == cand.cell]),
                      ('torch', [c for c in cands if c.impl == 'torch' and c.cell == cand.cell])):
      if refs:
        best = min(refs, key=lambda c: timings[c.name].median_ms)
        column = 'vs_flax_best' if key == 'flax' else 'vs_torch'
        ratio = common.spread([x / y for x, y in zip(t.times, timings[best.name].times)])
        row[column], row[f'{column}_min'], row[f'{column}_max'] = ratio['median'], ratio['min'], ratio['max']
        if key == 'flax':
          row['flax_best'] = best.name
    rows.append(row)
  return rows


COLUMNS = ['candidate', 'median_ms', 'iqr_ms', 'min_ms', 'cpu_ms', 'vs_flax_best', 'vs_torch', 'vs_torch_min',
           'vs_torch_max', 'compile_s', 'achieved_gflops', 'fraction_of_peak']


def targets(rows: list[dict]) -> list[dict]:
  """Issue 11's CPU targets: our LSTM and GRU ≤ 0.9× Flax's best; LSTM ≤ 1.0×, GRU ≤ 0.95× PyTorch."""
  out = []
  for row in rows:
    if row['impl'] != 'ours' or row['cell'] not in ('lstm', 'gru'):
      continue
    if row.get('vs_flax_best') is not None:
      out.append({'target': f'{row["candidate"]} ≤ 0.9× {row["flax_best"]}', 'measured': row['vs_flax_best'],
                  'min': row['vs_flax_best_min'], 'max': row['vs_flax_best_max'], 'met': row['vs_flax_best'] <= 0.9})
    if row.get('vs_torch') is not None:
      limit = 1.0 if row['cell'] == 'lstm' else 0.95
      out.append({'target': f'{row["candidate"]} ≤ {limit}× torch', 'measured': row['vs_torch'],
                  'min': row['vs_torch_min'], 'max': row['vs_torch_max'], 'met': row['vs_torch'] <= limit})
  return out


STUDY = {  # the harness choices varied one at a time from the default (``--study``)
    'default (fresh process per candidate, loss on the last state, wait for the state, 2 warm-up)': Harness(),
    'one process for all candidates': Harness(isolate=False),
    'loss: MSE of every output to a fixed target': Harness(loss='mse'),
    'wait for the loss only': Harness(block='loss'),
    'one warm-up step': Harness(warmup=1),
}
STUDY_CANDIDATES = r'^(ours LSTM|flax OptimizedLSTMCell|torch LSTM|ours GRU|flax GRUCell|torch GRU)$'


def harness_study(shape: dict, rounds: int) -> list[dict]:
  """The paired ratios of ``STUDY_CANDIDATES`` under each harness of ``STUDY`` (issue 11, item 0)."""
  cands = [c for c in candidates(include_rnn=False, include_slow_flax=False) if re.search(STUDY_CANDIDATES, c.name)]
  out = []
  for label, harness in STUDY.items():
    rows = run_table(cands, shape, layers=1, bidirectional=False, rounds=rounds, harness=harness,
                     peak_gflops=None)
    for row in rows:
      if row['impl'] == 'ours':
        out.append({'harness': label, 'candidate': row['candidate'], 'median_ms': row['median_ms'],
                    **{k: row.get(k) for k in ('vs_torch', 'vs_torch_min', 'vs_torch_max', 'vs_flax_best',
                                               'vs_flax_best_min', 'vs_flax_best_max')}})
    print(f'\n{label}\n' + common.format_table([r for r in out if r['harness'] == label], STUDY_COLUMNS,
                                                 floatfmt='.3g'), flush=True)
  return out


STUDY_COLUMNS = ['candidate', 'median_ms', 'vs_torch', 'vs_torch_min', 'vs_torch_max', 'vs_flax_best',
                 'vs_flax_best_min', 'vs_flax_best_max']


def main(argv: list[str] | None = None, *, peak_gflops: float | None = None) -> dict:
  parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
  parser.add_argument('--quick', action='store_true', help='fewer rounds, no 4-layer variant')
  parser.add_argument('--tiny', action='store_true', help='tiny shapes (smoke test)')
  parser.add_argument('--rounds', type=int, default=None)
  parser.add_argument('--only', default=None, help='regex on candidate names')
  parser.add_argument('--no-torch', action='store_true')
  parser.add_argument('--no-stack', action='store_true', help='skip the 4-layer bidirectional table')
  parser.add_argument('--same-process', action='store_true',
                      help='all candidates in this process (default: a fresh process per candidate and round)')
  parser.add_argument('--loss', choices=('last', 'mse'), default='last', help="the loss (see Harness)")
  parser.add_argument('--study', action='store_true',
                      help='the harness study: the LSTM/GRU ratios under each choice of STUDY, nothing else')
  parser.add_argument('--results-dir', default=None)
  parser.add_argument('--worker', default=None, help=argparse.SUPPRESS)
  parser.add_argument('--worker-config', default=None, help=argparse.SUPPRESS)
  args = parser.parse_args(argv)
  if args.worker:
    print(json.dumps(worker(args.worker, json.loads(args.worker_config))))
    return {}

  shape = TINY_SHAPE if args.tiny else FULL_SHAPE
  rounds = args.rounds or (3 if args.quick or args.tiny else 10)
  harness = Harness(isolate=not args.same_process, loss=args.loss, warmup=1 if args.tiny else 2)
  if args.study:
    print(common.header(f'Harness study: recurrent training step, shapes {shape}, {rounds} rounds'))
    rows = harness_study(shape, rounds)
    path = common.write_json('recurrent_study_tiny' if args.tiny else 'recurrent_study',
                             {'shape': shape, 'rounds': rounds, 'rows': rows}, args.results_dir)
    print(f'\nwrote {path}')
    return {'rows': rows}
  if peak_gflops is None and not args.tiny:
    from benchmarks import peak
    peak_gflops = peak.measure_peak(quick=True)['peak_gflops']

  def select(cands):
    if args.only:
      cands = [c for c in cands if re.search(args.only, c.name)]
    return cands

  print(common.header(f'Recurrent training step, batch {shape["batch"]}, sequence {shape["time"]}, '
                      f'input {shape["input"]}, hidden {shape["hidden"]} (fwd + bwd + Adam)'))
  print(f'highway_jax.recurrent defaults on this backend: {recurrent_defaults()}')
  if peak_gflops:
    print(f'float32 matmul peak used for the fractions: {peak_gflops:.0f} GFLOP/s\n')
  single = run_table(select(candidates(include_torch=not args.no_torch, include_options=True)),
                     shape, layers=1, bidirectional=False, rounds=rounds, harness=harness,
                     peak_gflops=peak_gflops)
  print(common.format_table(single, COLUMNS, floatfmt='.3g'))
  payload = {'shape': shape, 'rounds': rounds, 'harness': dataclasses.asdict(harness),
             'peak_gflops': peak_gflops, 'single_layer': single,
             'recurrent_defaults': recurrent_defaults()}

  if not (args.quick or args.no_stack):
    print('\n4-layer bidirectional stack (same shapes, loss on both directions\' final states)\n')
    stack_cands = select(candidates(include_torch=not args.no_torch, include_rnn=False,
                                    include_slow_flax=False))
    stack = run_table(stack_cands, shape, layers=4, bidirectional=True,
                      rounds=max(3, rounds // 3) if not args.tiny else rounds, harness=harness,
                      peak_gflops=peak_gflops)
    print(common.format_table(stack, COLUMNS, floatfmt='.3g'))
    payload['bidirectional_4_layers'] = stack

  payload['targets'] = targets(single)
  if 'bidirectional_4_layers' in payload:
    payload['targets_bidirectional_4_layers'] = targets(payload['bidirectional_4_layers'])
  print('\nTargets (single layer):')
  for t in payload['targets']:
    print(f'  {t["target"]}: measured {t["measured"]:.2f}× (rounds {t["min"]:.2f}–{t["max"]:.2f}) -> '
          f'{"met" if t["met"] else "MISSED"}')
  path = common.write_json('recurrent_tiny' if args.tiny else 'recurrent', payload,
                           args.results_dir)
  print(f'\nwrote {path}')
  return payload


if __name__ == '__main__':
  main()

r"""Benchmark 5: which implementation of the recurrent training step is fastest on this backend.

Every variant computes the same function (checked here: gradients agree with the library's to float32
round-off) and is timed as the same fwd + bwd + Adam step as ``benchmarks.recurrent`` (batch 64,
sequence 100, input 128, hidden 256), interleaved in one process.

The library's layers (``highway_jax.recurrent``) with their options:

* ``ours``: the library's defaults on this backend (``recurrent.BACKEND_DEFAULTS``, ``fuse_gates``);
* ``ours … unroll=u backward_chunk=K [hoist=…]``: the speed options of ``SPEED_OPTIONS``
  (``speed_options``): ``jax.lax.scan(..., unroll=u)``; the chunked backward
  (``recurrent.chunked_backward_scan``: per step only the pointwise gate backward and ``δ Uᵀ``, per chunk
  of K steps one ``(K·B)``-row matmul each for ``dU``, ``dW``, ``db`` and ``dx``; K = 0 is JAX's own
  scan gradient), swept over K ∈ {1, 5, 10, 25, 100} and combined with unroll; the input projection
  hoisted out of the loop or not. On an accelerator unroll goes up to 16;
* ``ours fuse_gates=False``: per-gate weight arrays split once before the scan (G matmuls per step)
  instead of one ``(B, H) @ (H, G·H)`` matmul split into gates afterwards.

The **decision table** (``decision``) ranks every speed-option setting by the geometric mean over cells
of its paired ratio to the current defaults and prints the ``BACKEND_DEFAULTS`` entry to paste into
``highway_jax/recurrent.py`` (the best setting if it wins by more than 3%, else the current one).

The **XLA flag sweep** (``--xla-sweep``; flags in ``XLA_SWEEP`` or given ``;``-separated) runs each
``XLA_FLAGS`` setting in a fresh process (XLA reads the flags once), timing the library's default step
against PyTorch's layer, which the flags cannot move: its ours/torch ratio per setting is comparable
across processes. A flag XLA rejects is reported as an error.

Alternatives, written here in plain ``jax.numpy`` on the library's fused parameter layout
(``input/kernel (in, G·H)``, ``recurrent/kernel (H, G·H)``, G = 4 LSTM / 3 GRU / 1 RNN):

* ``fused``: one ``(B, H) @ (H, G·H)`` recurrent matmul per step, its output split into gates (the
  anchor's "slicing a fused block" concern), input projection inside the scan;
* ``fused hoisted``: the same, input projection ``x @ W + b`` for all steps before the scan;
* ``batched dW``: hoisted and fused, plus a ``jax.custom_vjp`` that keeps the recurrent kernel's
  gradient out of the time loop. JAX differentiates ``scan`` by accumulating the gradient of every
  loop-invariant weight *inside* the backward loop: per step, ``h_{t-1}ᵀ · δ_t``, a matmul that
  contracts over the batch only (64) and then reads and writes the whole ``(H, G·H)`` accumulator.
  Here the backward loop only emits ``δ_t`` (the gradient of the recurrent pre-activation
  ``h_{t-1} U``), and ``dU = Σ_t h_{t-1}ᵀ δ_t`` is one matmul that contracts over time × batch (6400)
  after the loop, which is what cuDNN and PyTorch do. The input kernel's gradient is already one big
  matmul when the projection is hoisted. The cell's elementwise backward still comes from autodiff
  (see ``scan_batched_weight_grad``), so the trick works for any cell, with masks and peepholes.
* ``handwritten`` (LSTM only): the same structure with the LSTM backward written out by hand;
* ``fused … unroll=2``, ``fused … checkpoint(dots_saveable)``: the fused variant with scan unrolling,
  or with ``jax.checkpoint`` on the loop body (keep matmul outputs, recompute the gate arithmetic).

Usage::

    python -m benchmarks.levers [--quick] [--cells lstm,gru,rnn] [--match REGEX] [--rounds N]
    python -m benchmarks.levers --quick                 # on a GPU: the table that sets its defaults
    python -m benchmarks.levers --xla-sweep [--cells lstm,gru] [--rounds N]
    python -m benchmarks.levers --chunk-sizes [--rounds N]     # the LSTM's chunked backward by layer size
"""

from __future__ import annotations

import argparse
import functools
import itertools
import json
import os
import re
import subprocess
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
import optax

from benchmarks import common
from benchmarks.recurrent import FULL_SHAPE, TINY_SHAPE, matmul_flops
from highway_jax.recurrent import BACKEND_DEFAULTS, GRU, LSTM, SimpleRNN, backend_default

sigmoid = jax.nn.sigmoid


# ----------------------------------------------------------------------------------------------
# The batched-weight-gradient scan (generic over cells)


def scan_batched_weight_grad(step: Callable, recurrent_kernel: jax.Array, step_weights: Any,
                             xs: Any, carry0: Any, hidden: Callable[[Any], jax.Array], *,
                             reverse: bool = False, unroll: int = 1):
  """``lax.scan`` of a recurrent cell whose recurrent-kernel gradient is one matmul after the loop.

  ``step(step_weights, carry, x_t, r_t) -> (new_carry, y_t)`` is the cell given its recurrent
  projection ``r_t = hidden(carry) @ recurrent_kernel``. Returns ``(final_carry, ys)``.

  Forward: the scan also stacks ``h_{t-1} = hidden(carry)``. Backward: autodiff of the scan with the
  recurrent kernel held constant, and w.r.t. a zero input ``e_t`` added to ``r_t`` so that its
  cotangent ``δ_t = ∂L/∂r_t`` comes out stacked; then ``dU = Σ_t h_{t-1}ᵀ δ_t`` in one matmul.
  ``step_weights`` (biases, peepholes, …) are differentiated by autodiff as usual.
  """

  def scan_fn(step_weights, xs, carry0, e, kernel):
    def body(carry, inputs):
      x_t, e_t = inputs
      h = hidden(carry)
      new_carry, y = step(step_weights, carry, x_t, h @ kernel + e_t)
      return new_carry, (y, h)
    final, (ys, h_prev) = jax.lax.scan(body, carry0, (xs, e), reverse=reverse, unroll=unroll)
    return (final, ys), h_prev

  def zeros_e(kernel, xs):
    length = jax.tree.leaves(xs)[0].shape[0]
    batch = jax.tree.leaves(carry0)[0].shape[:-1]
    return jnp.zeros((length, *batch, kernel.shape[-1]), kernel.dtype)

  @jax.custom_vjp
  def run(kernel, step_weights, xs, carry0):
    return scan_fn(step_weights, xs, carry0, zeros_e(kernel, xs), kernel)[0]

  def fwd(kernel, step_weights, xs, carry0):
    out, vjp_fn, h_prev = jax.vjp(functools.partial(scan_fn, kernel=kernel), step_weights, xs,
                                  carry0, zeros_e(kernel, xs), has_aux=True)
    return out, (vjp_fn, h_prev)

  def bwd(res, cotangent):
    vjp_fn, h_prev = res
    d_weights, d_xs, d_carry0, delta = vjp_fn(cotangent)
    d_kernel = jnp.einsum('tbh,tbg->hg', h_prev, delta)
    return d_kernel, d_weights, d_xs, d_carry0

  run.defvjp(fwd, bwd)
  return run(recurrent_kernel, step_weights, xs, carry0)


# ----------------------------------------------------------------------------------------------
# Cells on the fused layout. params: {'Wx': (I, G·H), 'U': (H, G·H), 'b': (G·H,)} (+ 'b_hn' for GRU).


def _lstm_step(step_weights, carry, xw_t, r_t):
  del step_weights
  c, h = carry
  i, f, g, o = jnp.split(xw_t + r_t, 4, axis=-1)
  c = sigmoid(f) * c + sigmoid(i) * jnp.tanh(g)
  h = sigmoid(o) * jnp.tanh(c)
  return (c, h), h


def _gru_step(b_hn, h, xw_t, r_t):
  # reset_after=True: n = tanh(W_n x + b_in + r·(U_n h + b_hn)); xw_t already holds the folded biases.
  x_r, x_z, x_n = jnp.split(xw_t, 3, axis=-1)
  h_r, h_z, h_n = jnp.split(r_t, 3, axis=-1)
  r = sigmoid(x_r + h_r)
  z = sigmoid(x_z + h_z)
  n = jnp.tanh(x_n + r * (h_n + b_hn))
  h = (1.0 - z) * n + z * h
  return h, h


def _rnn_step(step_weights, h, xw_t, r_t):
  del step_weights
  h = jnp.tanh(xw_t + r_t)
  return h, h


CELLS = {
    # cell: (step, gates, initial carry from (batch, hidden), hidden(carry), step weights(params))
    'lstm': (_lstm_step, 4, lambda b, n: (jnp.zeros((b, n)), jnp.zeros((b, n))), lambda c: c[1],
             lambda p: ()),
    'gru': (_gru_step, 3, lambda b, n: jnp.zeros((b, n)), lambda c: c, lambda p: p['b_hn']),
    'rnn': (_rnn_step, 1, lambda b, n: jnp.zeros((b, n)), lambda c: c, lambda p: ()),
}


def fused_forward(cell: str, params: dict, x: jax.Array, *, hoist: bool, batched_dw: bool,
                  unroll: int = 1, checkpoint_policy: Callable | None = None) -> jax.Array:
  """Hidden states (T, B, H) of one layer on time-major x (T, B, I); see the module docstring.

  ``checkpoint_policy`` wraps the loop body in ``jax.checkpoint`` with that policy (e.g.
  ``jax.checkpoint_policies.dots_saveable``: keep the matmul outputs, recompute the gate arithmetic
  in the backward pass)."""
  step, _, init, hidden, weights_of = CELLS[cell]
  n = params['U'].shape[0]
  carry0 = init(x.shape[1], n)
  step_weights = weights_of(params)
  if batched_dw:
    xw = x @ params['Wx'] + params['b']
    _, ys = scan_batched_weight_grad(step, params['U'], step_weights, xw, carry0, hidden,
                                     unroll=unroll)
    return ys
  xs = x @ params['Wx'] + params['b'] if hoist else x

  def body(carry, x_t):
    xw_t = x_t if hoist else x_t @ params['Wx'] + params['b']
    return step(step_weights, carry, xw_t, hidden(carry) @ params['U'])

  if checkpoint_policy is not None:
    body = jax.checkpoint(body, policy=checkpoint_policy)
  return jax.lax.scan(body, carry0, xs, unroll=unroll)[1]


@jax.custom_vjp
def _lstm_handwritten(xw, kernel, bias, c0, h0):
  return _lstm_handwritten_fwd(xw, kernel, bias, c0, h0)[0]


def _lstm_handwritten_fwd(xw, kernel, bias, c0, h0):
  # xw = x @ W without the bias: adding it inside the loop saves writing a biased (T, B, 4H) copy.
  def body(carry, xw_t):
    c, h = carry
    i, f, g, o = jnp.split(xw_t + bias + h @ kernel, 4, axis=-1)
    i, f, g, o = sigmoid(i), sigmoid(f), jnp.tanh(g), sigmoid(o)
    c_new = f * c + i * g
    tanh_c = jnp.tanh(c_new)
    h_new = o * tanh_c
    return (c_new, h_new), (h_new, h, c, jnp.concatenate([i, f, g, o], -1), tanh_c)
  _, (hs, h_prev, c_prev, gates, tanh_cs) = jax.lax.scan(body, (c0, h0), xw)
  return hs, (kernel, h_prev, c_prev, gates, tanh_cs)


def _lstm_handwritten_bwd(res, d_hs):
  kernel, h_prev, c_prev, gates, tanh_cs = res
  kernel_t = kernel.T

  def body(carry, inputs):
    dc, dh = carry
    dy, gates_t, c_prev_t, tanh_c = inputs
    i, f, g, o = jnp.split(gates_t, 4, axis=-1)
    dh = dh + dy
    dc = dc + dh * o * (1.0 - tanh_c * tanh_c)
    delta = jnp.concatenate([dc * g * i * (1.0 - i), dc * c_prev_t * f * (1.0 - f),
                             dc * i * (1.0 - g * g), dh * tanh_c * o * (1.0 - o)], -1)
    return (dc * f, delta @ kernel_t), delta

  zeros = jnp.zeros(h_prev.shape[1:], h_prev.dtype)
  (dc0, dh0), delta = jax.lax.scan(body, (zeros, zeros), (d_hs, gates, c_prev, tanh_cs),
                                   reverse=True)
  d_kernel = jnp.einsum('tbh,tbg->hg', h_prev, delta)
  return delta, d_kernel, jnp.sum(delta, axis=(0, 1)), dc0, dh0


_lstm_handwritten.defvjp(_lstm_handwritten_fwd, _lstm_handwritten_bwd)


def handwritten_lstm_forward(params: dict, x: jax.Array) -> jax.Array:
  zeros = jnp.zeros((x.shape[1], params['U'].shape[0]))
  return _lstm_handwritten(x @ params['Wx'], params['U'], params['b'], zeros, zeros)


# ----------------------------------------------------------------------------------------------
# Parameters: the library's layout, read into the fused form used above


LAYERS = {'lstm': LSTM, 'gru': GRU, 'rnn': SimpleRNN}


def library_layer(cell: str, hidden: int, **kwargs):
  return LAYERS[cell](hidden, **kwargs)


def cell_defaults(cell: str) -> dict:
  """The speed options the library picks on this backend for ``cell``."""
  cell_class = LAYERS[cell](1).cell_spec()[0]
  return {k: backend_default(k, cell_class) for k in SPEED_OPTIONS}


def torch_step(cell: str, shape: dict) -> Callable[[], None]:
  """PyTorch's layer (``nn.LSTM`` / ``GRU`` / ``RNN``, same threads) doing the same step, on the CPU."""
  torch = common.maybe_torch()
  if torch is None:
    raise SystemExit('the PyTorch anchor (--torch-anchor, --xla-sweep) needs torch: pip install torch')
  torch.set_num_threads(common.num_threads())
  torch.manual_seed(0)
  name = {'lstm': 'LSTM', 'gru': 'GRU', 'rnn': 'RNN'}[cell]
  model = getattr(torch.nn, name)(shape['input'], shape['hidden'], batch_first=True)
  opt = torch.optim.Adam(model.parameters(), lr=1e-3)
  x = torch.randn(shape['batch'], shape['time'], shape['input'])

  def run():
    opt.zero_grad(set_to_none=True)
    model(x)[0][:, -1].pow(2).mean().backward()
    opt.step()
  return run


def fused_params(cell: str, library_params: dict) -> dict:
  """The fused arrays of a one-layer library layer's parameters (biases folded like the library)."""
  p = library_params['layer_0']['forward']
  out = {'Wx': p['input']['kernel'], 'U': p['recurrent']['kernel']}
  if cell == 'lstm':
    out['b'] = p['recurrent']['bias']
  elif cell == 'gru':
    b_i, b_h = p['input']['bias'], p['recurrent']['bias']
    n = b_h.shape[0] // 3
    out['b'] = b_i + jnp.concatenate([b_h[:2 * n], jnp.zeros((n,), b_h.dtype)])
    out['b_hn'] = b_h[2 * n:]
  else:
    out['b'] = p['input']['bias'] + p['recurrent']['bias']
  return out


def unfused_grads(cell: str, grads: dict, like: dict) -> dict:
  """Maps gradients w.r.t. the fused arrays back onto the library's parameter tree (for checks)."""
  out = jax.tree.map(jnp.zeros_like, like)
  p = out['layer_0']['forward']
  p['input']['kernel'], p['recurrent']['kernel'] = grads['Wx'], grads['U']
  if cell == 'lstm':
    p['recurrent']['bias'] = grads['b']
  elif cell == 'gru':
    n = grads['b_hn'].shape[0]
    p['input']['bias'] = grads['b']
    p['recurrent']['bias'] = jnp.concatenate([grads['b'][:2 * n], grads['b_hn']])
  else:
    p['input']['bias'] = p['recurrent']['bias'] = grads['b']
  return out


# ----------------------------------------------------------------------------------------------


def train_step(forward: Callable[[Any, jax.Array], jax.Array], params: Any, x: jax.Array,
               donate: bool = True):
  """A closure running one jitted fwd + bwd + Adam step (loss on the last hidden state; parameters
  and optimizer state donated unless ``donate=False``); also returns the jitted loss gradient."""
  tx = optax.adam(1e-3)

  def loss_fn(p):
    return jnp.mean(forward(p, x)[-1] ** 2)

  def step(p, s):
    loss, grads = jax.value_and_grad(loss_fn)(p)
    updates, s = tx.update(grads, s, p)
    return optax.apply_updates(p, updates), s, loss

  jitted = jax.jit(step, donate_argnums=(0, 1) if donate else ())
  state = {'p': jax.jit(lambda p: jax.tree.map(jnp.copy, p))(params), 's': jax.jit(tx.init)(params)}

  def run():
    state['p'], state['s'], loss = jitted(state['p'], state['s'])
    return loss

  return run, jax.jit(jax.grad(loss_fn))


def _library(cell: str, options: dict) -> tuple[str, tuple[str, dict]]:
  words = ' '.join(f'{"hoist" if k == "hoist_input_projection" else k}={v}' for k, v in options.items())
  return f'ours {cell} {words}'.strip(), ('library', options)


SPEED_OPTIONS = ('hoist_input_projection', 'unroll', 'backward_chunk')  # keys of recurrent.BACKEND_DEFAULTS

# XLA_FLAGS settings of the flag sweep (one fresh process each: XLA reads them once, at start).
XLA_SWEEP = ('', '--xla_cpu_multi_thread_eigen=false', '--xla_cpu_enable_fast_math=true',
             '--xla_cpu_use_thunk_runtime=false', '--xla_cpu_use_xnnpack=true', '--xla_cpu_use_onednn=true',
             '--xla_cpu_prefer_vector_width=512')


def speed_options(accelerator: bool) -> list[dict]:
  """The library's speed-option settings timed (against the defaults) to choose the backend defaults:
  unroll, the chunked backward's chunk K (``backward_chunk``) and the two together."""
  unrolls = (1, 2, 4, 8, 16) if accelerator else (1, 2, 4)
  chunks = (1, 5, 10, 25, 100)
  out = [{'unroll': u, 'backward_chunk': 0} for u in unrolls]
  out += [{'unroll': 1, 'backward_chunk': k} for k in chunks]
  out += [{'unroll': u, 'backward_chunk': k} for u in unrolls[1:4] for k in (10, 100)]
  hoist = not backend_default('hoist_input_projection')
  out += [{'hoist_input_projection': hoist, 'unroll': 1, 'backward_chunk': k} for k in (0, 100)]
  return out


def variants(cell: str, quick: bool, tiny: bool = False, only_torch_anchor: bool = False,
             accelerator: bool = False) -> dict[str, tuple[str, dict]]:
  """name -> (kind, options); kind 'library' runs highway_jax.recurrent with these options, 'fused' /
  'handwritten' the implementations above, 'torch' PyTorch's layer (the anchor of the XLA flag sweep)."""
  if only_torch_anchor:
    return {f'ours {cell}': ('library', {}), f'torch {cell}': ('torch', {})}
  if tiny:
    return {f'ours {cell}': ('library', {}), f'fused {cell}': ('fused', {'hoist': False, 'batched_dw': False}),
            f'batched dW {cell}': ('fused', {'hoist': True, 'batched_dw': True}),
            **dict(_library(cell, {'backward_chunk': k, 'unroll': 2}) for k in (2, 4))}
  defaults = cell_defaults(cell)
  out = {f'ours {cell}': ('library', {}),
         **dict(_library(cell, o) for o in speed_options(accelerator) if {**defaults, **o} != defaults)}
  out.update({
      f'ours {cell} fuse_gates=False': ('library', {'fuse_gates': False}),
      f'fused {cell}': ('fused', {'hoist': False, 'batched_dw': False}),
      f'batched dW {cell}': ('fused', {'hoist': True, 'batched_dw': True}),
  })
  if not quick:
    out[f'fused {cell} hoisted'] = ('fused', {'hoist': True, 'batched_dw': False})
    out[f'fused {cell} unroll=2'] = ('fused', {'hoist': False, 'batched_dw': False, 'unroll': 2})
    out[f'fused {cell} checkpoint(dots_saveable)'] = (
        'fused', {'hoist': False, 'batched_dw': False,
                  'checkpoint_policy': jax.checkpoint_policies.dots_saveable})
    out[f'ours {cell} without donation'] = ('library', {'donate': False})
    out[f'batched dW {cell} unroll=2'] = ('fused', {'hoist': True, 'batched_dw': True, 'unroll': 2})
  if cell == 'lstm':
    out['handwritten lstm'] = ('handwritten', {})
  return out


def run_cell(cell: str, shape: dict, rounds: int, quick: bool, peak_gflops: float | None,
             tiny: bool = False, only_torch_anchor: bool = False, match: str | None = None) -> list[dict]:
  b, t, i, h = shape['batch'], shape['time'], shape['input'], shape['hidden']
  x_batch_major = jax.random.normal(jax.random.key(1), (b, t, i))
  x = jnp.swapaxes(x_batch_major, 0, 1)
  base = library_layer(cell, h)
  library_params = jax.jit(base.init)(jax.random.key(0), x_batch_major)['params']
  fused = fused_params(cell, library_params)

  steps, grads = {}, {}
  chosen = variants(cell, quick, tiny, only_torch_anchor, accelerator=jax.default_backend() != 'cpu')
  chosen = {k: v for k, v in chosen.items() if k == f'ours {cell}' or re.search(match or '', k)}
  for name, (kind, options) in chosen.items():
    if kind == 'torch':
      steps[name] = torch_step(cell, shape)
    elif kind == 'library':
      options = dict(options)
      donate = options.pop('donate', True)
      layer = library_layer(cell, h, **options)
      forward = lambda p, x, layer=layer: jnp.swapaxes(
          layer.apply({'params': p}, jnp.swapaxes(x, 0, 1))[0], 0, 1)
      steps[name], grad_fn = train_step(forward, library_params, x, donate=donate)
      grads[name] = grad_fn(library_params)
    else:
      if kind == 'handwritten':
        forward = handwritten_lstm_forward
      else:
        forward = functools.partial(fused_forward, cell, **options)
      steps[name], grad_fn = train_step(forward, fused, x)
      grads[name] = unfused_grads(cell, grad_fn(fused), library_params)

  reference = grads[f'ours {cell}']
  timings = common.compare(steps, rounds=rounds, warmup=2)
  flops = matmul_flops(cell, **shape)['train']
  rows = []
  for name in steps:
    err = None if name not in grads else max(
        float(jnp.max(jnp.abs(g - r)) / (jnp.max(jnp.abs(r)) + 1e-30))
        for g, r in zip(jax.tree.leaves(grads[name]), jax.tree.leaves(reference)))
    tm = timings[name]
    kind, options = chosen[name]
    rows.append({
        'variant': name, 'cell': cell, 'kind': kind, 'options': options,
        'median_ms': tm.median_ms, 'iqr_ms': tm.iqr_ms,
        'cpu_ms': tm.cpu_median_ms,
        'vs_ours': common.paired_ratio(tm, timings[f'ours {cell}']),
        'max_grad_rel_err': err, 'times_s': tm.times,
        'fraction_of_peak': flops / (tm.min_ms * 1e-3) / 1e9 / peak_gflops if peak_gflops else None,
    })
  return rows


CHUNK_SIZES = ((100, 40, 1, 16), (100, 40, 16, 32), (64, 100, 32, 64), (64, 100, 64, 128), (64, 100, 128, 256))
TINY_CHUNK_SIZES = ((4, 6, 3, 8), (4, 6, 5, 16))


def chunk_by_size(sizes=CHUNK_SIZES, rounds: int = 7, chunk: int = 5) -> list[dict]:
  """The LSTM's chunked backward (``backward_chunk=chunk``) against JAX's scan gradient (0), one layer, uni-
  and bidirectional, at each ``(batch, time, input, hidden)`` of ``sizes``: the paired ratio of the train
  steps (median, min, max over interleaved rounds). Sets ``BACKEND_DEFAULTS[...]['backward_chunk_min_features']``."""
  rows = []
  for (b, t, i, h), bidirectional in itertools.product(sizes, (False, True)):
    x = jax.random.normal(jax.random.key(1), (b, t, i))
    steps = {}
    for k in (0, chunk):
      layer = LSTM(h, bidirectional=bidirectional, backward_chunk=k)
      params = jax.jit(layer.init)(jax.random.key(0), x)['params']
      forward = lambda p, x, layer=layer: jnp.swapaxes(layer.apply({'params': p}, x)[0], 0, 1)
      steps[k], _ = train_step(forward, params, x)
    timings = common.compare(steps, rounds=rounds, warmup=2, min_time_s=0.2)
    ratios = [a / z for a, z in zip(timings[chunk].times, timings[0].times)]
    rows.append({'batch': b, 'time': t, 'input': i, 'hidden': h, 'bidirectional': bidirectional,
                 'chunk0_ms': timings[0].median_ms, f'chunk{chunk}_ms': timings[chunk].median_ms,
                 'ratio': common.paired_ratio(timings[chunk], timings[0]), 'ratio_min': min(ratios),
                 'ratio_max': max(ratios)})
    print(rows[-1], flush=True)
  return rows


def decision(rows: list[dict]) -> tuple[list[dict], dict]:
  """Per speed-option setting (library variants): its paired ratio to each cell's defaults and their
  geometric mean; and the ``BACKEND_DEFAULTS`` entry it suggests: this backend's entry with, per measured
  cell, the best setting if it wins by more than 3% (else that cell's defaults), one value per option
  where the cells agree, else a dict by cell class name."""
  table, best = {}, {}
  for row in rows:
    if row['kind'] == 'library' and set(row['options']) <= set(SPEED_OPTIONS):
      setting = {**cell_defaults(row['cell']), **row['options']}
      table.setdefault(repr(setting), {'setting': setting})[row['cell']] = row['vs_ours']
      if row['vs_ours'] < best.get(row['cell'], (0.97, None))[0]:
        best[row['cell']] = (row['vs_ours'], setting)
  cells = list(dict.fromkeys(row['cell'] for row in rows))
  out = []
  for entry in table.values():
    ratios = [entry[c] for c in cells if c in entry]
    out.append({'setting': ', '.join(f'{k}={v}' for k, v in entry['setting'].items()),
                **{c: entry.get(c) for c in cells}, 'geomean': float(np.exp(np.mean(np.log(ratios))))})
  out.sort(key=lambda r: r['geomean'])
  chosen = {LAYERS[c](1).cell_spec()[0].__name__: best.get(c, (None, cell_defaults(c)))[1] for c in cells}
  # The backend's entry, with the measured cells' values replaced (cells not measured keep theirs).
  suggested = dict(BACKEND_DEFAULTS.get(jax.default_backend(), BACKEND_DEFAULTS['other']))
  for option in SPEED_OPTIONS:
    now = suggested[option] if isinstance(suggested[option], dict) else {'other': suggested[option]}
    values = {**now, **{name: setting[option] for name, setting in chosen.items()}}
    other = values.pop('other')
    values = {name: value for name, value in values.items() if value != other}
    suggested[option] = {**values, 'other': other} if values else other
  return out, suggested


def xla_sweep(cells: str, rounds: int, flags: tuple[str, ...] = XLA_SWEEP, tiny: bool = False) -> list[dict]:
  """For each ``XLA_FLAGS`` setting, a fresh process times the library's default step against PyTorch's
  (which XLA flags cannot move): the paired ratio ours/torch per cell. A flag XLA rejects is reported."""
  out = []
  for flag in flags:
    with tempfile.TemporaryDirectory() as tmp:
      proc = subprocess.run([sys.executable, '-m', 'benchmarks.levers', '--torch-anchor', '--cells', cells,
                             '--rounds', str(rounds), '--results-dir', tmp, *(['--tiny'] if tiny else [])],
                            env={**os.environ, 'XLA_FLAGS': flag}, capture_output=True, text=True)
      row = {'xla_flags': flag or '(none)'}
      if proc.returncode:
        row['error'] = (proc.stderr.strip().splitlines() or ['failed'])[-1].split('] ')[-1][:120]
      else:
        for r in json.loads((Path(tmp) / f'levers{"_tiny" if tiny else ""}.json').read_text())['rows']:
          if r['kind'] == 'torch':
            row[f'ours/torch {r["cell"]}'] = 1.0 / r['vs_ours']
      out.append(row)
      print(row, flush=True)
  return out


def main(argv: list[str] | None = None, *, peak_gflops: float | None = None) -> dict:
  parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
  parser.add_argument('--quick', action='store_true')
  parser.add_argument('--tiny', action='store_true', help='tiny shapes (smoke test)')
  parser.add_argument('--rounds', type=int, default=None)
  parser.add_argument('--cells', default='lstm,gru,rnn')
  parser.add_argument('--results-dir', default=None)
  parser.add_argument('--xla-sweep', nargs='?', const=';'.join(XLA_SWEEP), default=None,
                      help='instead: the XLA flag sweep, each setting (";"-separated, default XLA_SWEEP) in a '
                           'fresh process vs PyTorch')
  parser.add_argument('--torch-anchor', action='store_true', help='only the defaults and PyTorch (the sweep)')
  parser.add_argument('--match', default=None, help='only the variants whose name matches this regex (and ours)')
  parser.add_argument('--chunk-sizes', action='store_true',
                      help="instead: the LSTM's chunked backward vs JAX's gradient across layer sizes")
  args = parser.parse_args(argv)
  shape = TINY_SHAPE if args.tiny else FULL_SHAPE
  rounds = args.rounds or (3 if args.tiny else 5 if args.quick else 15)
  if args.chunk_sizes:
    print(common.header("LSTM: chunked backward (K=5) / JAX's scan gradient, one layer, by size"))
    rows = chunk_by_size(TINY_CHUNK_SIZES if args.tiny else CHUNK_SIZES, rounds=args.rounds or (2 if args.tiny else 7))
    print(common.format_table(rows, list(rows[0]), floatfmt='.3g'))
    path = common.write_json('levers_chunk_sizes' + ('_tiny' if args.tiny else ''), {'rows': rows}, args.results_dir)
    print(f'wrote {path}')
    return {'rows': rows}
  if args.xla_sweep is not None:
    print(common.header('XLA flags: ours (defaults) / PyTorch, one fresh process per setting'))
    rows = xla_sweep(args.cells, rounds, tuple(args.xla_sweep.split(';')), tiny=args.tiny)
    print(common.format_table(rows, list(dict.fromkeys(k for r in rows for k in r)), floatfmt='.3g'))
    path = common.write_json('levers_xla', {'shape': shape, 'rounds': rounds, 'rows': rows}, args.results_dir)
    print(f'wrote {path}')
    return {'rows': rows}
  if peak_gflops is None and not args.tiny and not args.torch_anchor:
    from benchmarks import peak
    peak_gflops = peak.measure_peak(quick=True)['peak_gflops']

  print(common.header('Levers for the recurrent training step (same shapes as benchmarks.recurrent)'))
  rows = []
  for cell in args.cells.split(','):
    cell_rows = run_cell(cell, shape, rounds, args.quick, peak_gflops, tiny=args.tiny,
                         only_torch_anchor=args.torch_anchor, match=args.match)
    print(common.format_table(cell_rows, ['variant', 'median_ms', 'iqr_ms', 'cpu_ms', 'vs_ours',
                                          'fraction_of_peak', 'max_grad_rel_err'], floatfmt='.3g'))
    print()
    rows += cell_rows
  table, best = decision(rows)
  backend = jax.default_backend()
  print('### Decision: speed options vs this backend\'s defaults (paired ratios; < 1 is faster)\n')
  print(common.format_table(table, ['setting', *args.cells.split(','), 'geomean'], floatfmt='.3g'))
  print(f'\nhighway_jax/recurrent.py: BACKEND_DEFAULTS[{backend if backend == "cpu" else "other"!r}] = {best}\n')
  path = common.write_json('levers_tiny' if args.tiny else 'levers',
                           {'shape': shape, 'rounds': rounds, 'peak_gflops': peak_gflops, 'rows': rows,
                            'decision': table, 'suggested_defaults': best}, args.results_dir)
  print(f'wrote {path}')
  return {'rows': rows, 'decision': table, 'suggested_defaults': best}


if __name__ == '__main__':
  main()

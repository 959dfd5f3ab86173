"""Where the LSTM training step's time goes: forward, backward and optimizer, ours vs Flax vs PyTorch.

A profile by subtraction, measured interleaved in one process (batch 64, sequence 100, input 128,
hidden 256, loss on the last hidden state, as in ``benchmarks.recurrent``):

* ``forward``: the jitted loss alone;
* ``forward+backward``: the jitted ``value_and_grad`` (the backward pass is the difference);
* ``train step``: ``value_and_grad`` plus the Adam update (the update is the difference);

for ``highway_jax.recurrent.LSTM`` (library defaults, and with the other setting of ``backward_chunk``:
``CHUNK`` if the default is JAX's own scan gradient, else 0), Flax's ``nn.RNN(nn.OptimizedLSTMCell)`` and,
when installed, ``torch.nn.LSTM`` (same thread count). The forward pass of an LSTM is a chain of 100
dependent ``(64, 256) @ (256, 1024)`` matmuls plus gate arithmetic; the backward pass adds, per step,
the gradient w.r.t. ``h`` (another such matmul) and the recurrent kernel's gradient ``h_{t-1}ᵀ δ_t``
(a matmul contracting over the batch of 64 only, accumulated into the ``(256, 1024)`` kernel gradient
inside the loop), which PyTorch instead computes after the loop as one matmul over time × batch, and
``backward_chunk=K`` once per chunk of K steps (K × batch rows).

Usage::

    python -m benchmarks.breakdown [--quick]
"""

from __future__ import annotations

import argparse

import flax.linen as nn
import jax
import jax.numpy as jnp
import optax

from benchmarks import common
from benchmarks.recurrent import FULL_SHAPE, TINY_SHAPE
from highway_jax.cells import LSTMCell
from highway_jax.recurrent import LSTM, backend_default

CHUNK = 5  # the chunk of the chunked backward compared with JAX's scan gradient (benchmarks.levers' best on CPU)


def _jax_parts(module: nn.Module, x: jax.Array, time_major_out: bool = False) -> dict:
  params = jax.jit(module.init)(jax.random.key(0), x)['params']
  tx = optax.adam(1e-3)

  def loss_fn(p):
    y = module.apply({'params': p}, x)
    y = y[0] if isinstance(y, tuple) else y
    return jnp.mean(y[:, -1] ** 2)

  forward = jax.jit(loss_fn)
  grad = jax.jit(jax.value_and_grad(loss_fn))

  def step(p, s):
    loss, g = jax.value_and_grad(loss_fn)(p)
    updates, s = tx.update(g, s, p)
    return optax.apply_updates(p, updates), s, loss

  train = jax.jit(step, donate_argnums=(0, 1))
  state = {'p': jax.tree.map(jnp.copy, params), 's': tx.init(params)}

  def run_train():
    state['p'], state['s'], loss = train(state['p'], state['s'])
    return loss

  return {'forward': lambda: forward(params), 'forward+backward': lambda: grad(params)[0],
          'train step': run_train}


def _torch_parts(shape: dict) -> dict | None:
  torch = common.maybe_torch()
  if torch is None:
    return None
  torch.set_num_threads(common.num_threads())
  torch.manual_seed(0)
  model = torch.nn.LSTM(shape['input'], shape['hidden'], batch_first=True)
  opt = torch.optim.Adam(model.parameters(), lr=1e-3)
  x = torch.randn(shape['batch'], shape['time'], shape['input'])

  def forward():
    with torch.no_grad():
      return model(x)[0][:, -1].pow(2).mean()

  def forward_backward():
    model.zero_grad(set_to_none=True)
    loss = model(x)[0][:, -1].pow(2).mean()
    loss.backward()

  def train():
    opt.zero_grad(set_to_none=True)
    loss = model(x)[0][:, -1].pow(2).mean()
    loss.backward()
    opt.step()

  return {'forward': forward, 'forward+backward': forward_backward, 'train step': train}


def main(argv: list[str] | None = None) -> dict:
  parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
  parser.add_argument('--quick', action='store_true')
  parser.add_argument('--tiny', action='store_true', help='tiny shapes (smoke test)')
  parser.add_argument('--results-dir', default=None)
  args = parser.parse_args(argv)
  shape = TINY_SHAPE if args.tiny else FULL_SHAPE
  rounds = 3 if args.tiny else 5 if args.quick else 15
  x = jax.random.normal(jax.random.key(1), (shape['batch'], shape['time'], shape['input']))
  other_chunk = CHUNK if backend_default('backward_chunk', LSTMCell) == 0 else 0
  impls = {'ours LSTM': _jax_parts(LSTM(shape['hidden']), x),
           f'ours LSTM backward_chunk={other_chunk}': _jax_parts(LSTM(shape['hidden'], backward_chunk=other_chunk), x),
           'flax OptimizedLSTMCell': _jax_parts(nn.RNN(nn.OptimizedLSTMCell(shape['hidden'])), x)}
  torch_parts = _torch_parts(shape)
  if torch_parts is not None:
    impls['torch LSTM'] = torch_parts
  steps = {f'{name} | {part}': fn for name, parts in impls.items() for part, fn in parts.items()}
  print(common.header('LSTM step breakdown: forward, backward (difference), optimizer (difference)'))
  timings = common.compare(steps, rounds=rounds, warmup=2)
  rows = []
  for name, parts in impls.items():
    fwd, fb, tr = (timings[f'{name} | {p}'].median_ms for p in parts)
    rows.append({'implementation': name, 'forward_ms': fwd, 'backward_ms': fb - fwd,
                 'optimizer_ms': tr - fb, 'train_step_ms': tr})
  print(common.format_table(rows, list(rows[0]), floatfmt='.3g'))
  path = common.write_json('breakdown_tiny' if args.tiny else 'breakdown',
                           {'shape': shape, 'rounds': rounds, 'rows': rows}, args.results_dir)
  print(f'wrote {path}')
  return {'rows': rows}


if __name__ == '__main__':
  main()

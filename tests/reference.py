"""NumPy / jax.numpy references written from the papers' equations, shared by the layer tests.

Each reference reads the documented parameter layout by explicit slicing (gate k of a fused axis of
width G·n is columns k·n:(k+1)·n), so it also pins the layout down. The cell steps use ``jax.numpy`` so
that gradients can be compared too; the rest is NumPy (float64 where the tests say so).
"""

import jax
import jax.numpy as jnp
import numpy as np


def randomize(tree, seed=1, scale=0.5):
  """Every leaf random (biases, peepholes and gate biases too, so that no term can hide behind a zero).

  Takes arrays or shape structs (``jax.eval_shape``); returns float32 arrays of the same shapes.
  """
  rng = np.random.default_rng(seed)
  return jax.tree.map(lambda l: jnp.asarray(scale * rng.normal(size=l.shape), jnp.float32), tree)


def np_sigmoid(z):
  return 1.0 / (1.0 + np.exp(-z))


# ---------------------------------------------------------------------------------------------
# Recurrent cells (jax.numpy, so that gradients can be compared)

def sigmoid(z):
  """jax.numpy sigmoid written out (not jax.nn's)."""
  return 1.0 / (1.0 + jnp.exp(-z))


def gate(a, k, n):
  """Block k of a fused last axis whose blocks have width n."""
  return a[..., k * n:(k + 1) * n]


def ref_lstm_step(p, carry, x, peepholes=False):
  c, h = carry
  n = h.shape[-1]
  W, U, b = p['input']['kernel'], p['recurrent']['kernel'], p['recurrent']['bias']
  pre = lambda k: x @ gate(W, k, n) + h @ gate(U, k, n) + gate(b, k, n)
  a_i, a_f, a_g, a_o = pre(0), pre(1), pre(2), pre(3)
  if peepholes:
    a_i = a_i + p['peephole']['i'] * c
    a_f = a_f + p['peephole']['f'] * c
  c_new = sigmoid(a_f) * c + sigmoid(a_i) * jnp.tanh(a_g)
  if peepholes:
    a_o = a_o + p['peephole']['o'] * c_new
  h_new = sigmoid(a_o) * jnp.tanh(c_new)
  return (c_new, h_new), h_new


def ref_gru_step(p, h, x, reset_after=True):
  n = h.shape[-1]
  W, bi = p['input']['kernel'], p['input']['bias']
  U, bh = p['recurrent']['kernel'], p['recurrent']['bias']
  r = sigmoid(x @ gate(W, 0, n) + gate(bi, 0, n) + h @ gate(U, 0, n) + gate(bh, 0, n))
  z = sigmoid(x @ gate(W, 1, n) + gate(bi, 1, n) + h @ gate(U, 1, n) + gate(bh, 1, n))
  if reset_after:
    cand = jnp.tanh(x @ gate(W, 2, n) + gate(bi, 2, n) + r * (h @ gate(U, 2, n) + gate(bh, 2, n)))
  else:
    cand = jnp.tanh(x @ gate(W, 2, n) + gate(bi, 2, n) + (r * h) @ gate(U, 2, n) + gate(bh, 2, n))
  h_new = (1.0 - z) * cand + z * h
  return h_new, h_new


def ref_simple_step(p, h, x, activation=jnp.tanh):
  h_new = activation(x @ p['input']['kernel'] + p['input']['bias'] + h @ p['recurrent']['kernel']
                     + p['recurrent']['bias'])
  return h_new, h_new


def ref_rhn_step(p, s, x):
  n = s.shape[-1]
  W = p['input']['kernel']
  L = p['layers']['H']['kernel'].shape[0]
  for l in range(L):
    a_h = s @ p['layers']['H']['kernel'][l] + p['layers']['H']['bias'][l]
    a_t = s @ p['layers']['T']['kernel'][l] + p['layers']['T']['bias'][l]
    if l == 0:  # the input enters only at the first micro-layer
      a_h = a_h + x @ gate(W, 0, n)
      a_t = a_t + x @ gate(W, 1, n)
    t = sigmoid(a_t)
    s = jnp.tanh(a_h) * t + s * (1.0 - t)
  return s, s


def ref_toy_step(p, h, x):
  """The toy cell of the cell-protocol test: h' = tanh(W x + U h + b)."""
  h_new = jnp.tanh(x @ p['W'] + h @ p['U'] + p['b'])
  return h_new, h_new


# ---------------------------------------------------------------------------------------------
# Highway layers (NumPy)


def relu(z):
  return np.maximum(z, 0.0)


def dense(p, x):
  return np.asarray(x) @ np.asarray(p['kernel']) + np.asarray(p['bias'])


def conv_same(p, x, stride=1):
  """NHWC 'SAME' convolution written as explicit loops (cross-correlation, like lax.conv)."""
  k = np.asarray(p['kernel'])
  kh, kw, _, cout = k.shape
  x = np.asarray(x)
  n, h, w, _ = x.shape
  out_h, out_w = -(-h // stride), -(-w // stride)
  pad_h = max((out_h - 1) * stride + kh - h, 0)
  pad_w = max((out_w - 1) * stride + kw - w, 0)
  xp = np.pad(x, [(0, 0), (pad_h // 2, pad_h - pad_h // 2), (pad_w // 2, pad_w - pad_w // 2), (0, 0)])
  out = np.zeros((n, out_h, out_w, cout))
  for i in range(out_h):
    for j in range(out_w):
      patch = xp[:, i * stride:i * stride + kh, j * stride:j * stride + kw, :]
      out[:, i, j, :] = np.einsum('nhwc,hwco->no', patch, k)
  return out + np.asarray(p['bias'])


# ---------------------------------------------------------------------------------------------
# Grid LSTM (NumPy)




def as_float64(tree):
  return jax.tree_util.tree_map(lambda a: np.asarray(a, np.float64), tree)


def np_block(p, hidden, memory, *, lstm, priority=(), tied=False, activation=np.tanh,
             output_form='standard'):
  """(h'_i, m'_i) = LSTM_i(H, m_i); non-LSTM h'_i = α(V_i H + b_i); priority dims computed last."""
  n = len(hidden)
  F = hidden[0].shape[-1]

  def transform(i, hs):
    H = np.concatenate(hs, axis=-1)
    if i in lstm:
      w = p['lstm' if tied else f'dim_{i}']
      z = H @ w['kernel'] + w['bias']
      in_gate = np_sigmoid(z[..., 0:F])
      forget_gate = np_sigmoid(z[..., F:2 * F])
      candidate = np.tanh(z[..., 2 * F:3 * F])
      out_gate = np_sigmoid(z[..., 3 * F:4 * F])
      m = forget_gate * memory[i] + in_gate * candidate
      h = out_gate * np.tanh(m) if output_form == 'standard' else np.tanh(out_gate * m)
      return h, m
    w = p['non_lstm' if tied else f'dim_{i}']
    return activation(H @ w['kernel'] + w['bias']), None

  new_h, new_m = list(hidden), list(memory)
  for i in range(n):
    if i not in priority:
      new_h[i], new_m[i] = transform(i, hidden)
  done = [i for i in range(n) if i not in priority]
  for q in priority:
    reads = [new_h[j] if j in done else hidden[j] for j in range(n)]
    new_h[q], new_m[q] = transform(q, reads)
    done.append(q)
  return new_h, new_m


def grid_layer_params(block_params, d, tied):
  return block_params if tied else jax.tree_util.tree_map(lambda a: a[d], block_params)


def np_grid1d(params, x, *, depth, tied, lstm=(0,), **kw):
  h = x @ params['proj']['kernel'] + params['proj']['bias']
  m = np.zeros_like(h) if 0 in lstm else None
  for d in range(depth):
    (h,), (m,) = np_block(grid_layer_params(params['layers']['block'], d, tied), [h], [m], lstm=lstm, **kw)
  return h


def np_grid2d(params, x, lengths, *, depth, tied, lstm=(0, 1), **kw):
  """Loops over layers, examples and valid time steps; padded outputs stay zero."""
  B, T, _ = x.shape
  F = params['proj']['kernel'].shape[1]
  up_h = x @ params['proj']['kernel'] + params['proj']['bias']
  up_m = np.zeros_like(up_h)
  final_m = np.zeros((depth, B, F))
  final_h = np.zeros((depth, B, F))
  for d in range(depth):
    p = grid_layer_params(params['layers']['block'], d, tied)
    new_up_h, new_up_m = np.zeros_like(up_h), np.zeros_like(up_m)
    for b in range(B):
      h_t, m_t = np.zeros(F), np.zeros(F)
      for t in range(lengths[b]):
        memory = [m_t if 0 in lstm else None, up_m[b, t] if 1 in lstm else None]
        (h_t, h_d), (m_t, m_d) = np_block(p, [h_t, up_h[b, t]], memory, lstm=lstm, **kw)
        new_up_h[b, t] = h_d
        if 1 in lstm:
          new_up_m[b, t] = m_d
      final_h[d, b] = h_t
      if 0 in lstm:
        final_m[d, b] = m_t
    up_h, up_m = new_up_h, new_up_m
  return up_h, (final_m, final_h)


def np_grid3d(params, x, *, depth, tied, lstm=(0, 1, 2), **kw):
  """Loops over layers, rows and columns; (r, c) reads rows-vectors from (r-1, c), columns from (r, c-1)."""
  B, R, C, _ = x.shape
  F = params['proj']['kernel'].shape[1]
  up_h = x @ params['proj']['kernel'] + params['proj']['bias']
  up_m = np.zeros_like(up_h)
  zero = np.zeros((B, F))
  for d in range(depth):
    p = grid_layer_params(params['layers']['block'], d, tied)
    row_out, col_out = {}, {}
    new_h, new_m = np.zeros_like(up_h), np.zeros_like(up_m)
    for r in range(R):
      for c in range(C):
        h_row, m_row = row_out.get((r - 1, c), (zero, zero))
        h_col, m_col = col_out.get((r, c - 1), (zero, zero))
        hidden = [h_row, h_col, up_h[:, r, c]]
        memory = [m if i in lstm else None for i, m in enumerate([m_row, m_col, up_m[:, r, c]])]
        hs, ms = np_block(p, hidden, memory, lstm=lstm, **kw)
        row_out[(r, c)] = (hs[0], ms[0] if 0 in lstm else zero)
        col_out[(r, c)] = (hs[1], ms[1] if 1 in lstm else zero)
        new_h[:, r, c] = hs[2]
        if 2 in lstm:
          new_m[:, r, c] = ms[2]
    up_h, up_m = new_h, new_m
  return up_h


def np_lstm(x, lengths, input_kernel, recurrent_kernel, bias):
  B, T, _ = x.shape
  F = recurrent_kernel.shape[0]
  out = np.zeros((B, T, F))
  c_final, h_final = np.zeros((B, F)), np.zeros((B, F))
  for b in range(B):
    c, h = np.zeros(F), np.zeros(F)
    for t in range(lengths[b]):
      z = x[b, t] @ input_kernel + h @ recurrent_kernel + bias
      i, f, g, o = np_sigmoid(z[:F]), np_sigmoid(z[F:2 * F]), np.tanh(z[2 * F:3 * F]), np_sigmoid(z[3 * F:])
      c = f * c + i * g
      h = o * np.tanh(c)
      out[b, t] = h
    c_final[b], h_final[b] = c, h
  return out, (c_final, h_final)

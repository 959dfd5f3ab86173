r"""The gating equations, each written once as a pure ``jax.numpy`` function.

``highway.py``, ``cells.py``, ``recurrent.py`` and ``grid_lstm.py`` build on these; nothing here owns
parameters. Notation of the papers (Srivastava et al. 2015; Hochreiter & Schmidhuber 1997 with Gers'
forget gate and peepholes; Kalchbrenner et al. 2015):

* highway combine      ``y = H·T + x·C``; coupled carry ``C = 1 − T`` gives ``y = x + T·(H − x)``
* LSTM update          ``c' = f·c + i·g``; ``h' = o·tanh(c')`` ('standard') or ``tanh(o·c')`` ('paper')
* bias initialisers    one initialiser per fused gate block; the LSTM bias with its forget slice
* padding              ``seq_lengths`` -> a time-major mask; padded inputs replaced by zeros
* argument checks      dropout rates in [0, 1); float ``inputs`` (int or bool ones are a cast forgotten)

Example::

    import jax.numpy as jnp
    from highway_jax import gating

    y = gating.highway_combine(h=jnp.ones(3), t=jnp.full(3, 0.25), x=jnp.zeros(3))    # 0.25
    mask = gating.sequence_mask(jnp.array([2, 0]), batch=2, time=3)                    # (3, 2, 1)
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

Array = jax.Array
Initializer = Callable[..., Array]

OUTPUT_FORMS = ('standard', 'paper')


def highway_combine(h: Array, t: Array, x: Array, c: Array | None = None) -> Array:
  """The highway layer's output ``y = H·T + x·C``.

  With ``c=None`` the carry gate is coupled, ``C = 1 − T``, written as ``x + T·(H − x)``: one multiply
  fewer, and exactly ``x`` when ``T = 0``. The paper's backward pass follows from it:
  ``∂y/∂H = T``, ``∂y/∂T = H − x``, ``∂y/∂x = 1 − T``.
  """
  if c is None:
    return x + t * (h - x)
  return h * t + x * c


def lstm_update(a_i: Array, a_f: Array, a_g: Array, a_o: Array, c: Array,
                peepholes: tuple[Array, Array, Array] | None = None,
                output_form: str = 'standard') -> tuple[Array, Array]:
  """One LSTM memory update from the gate pre-activations ``a_*`` (``W x + U h + b``); returns ``(c', h')``.

      i = σ(a_i + p_i·c)    f = σ(a_f + p_f·c)    g = tanh(a_g)
      c' = f·c + i·g        o = σ(a_o + p_o·c')
      h' = o·tanh(c')   ('standard': Hochreiter & Schmidhuber, PyTorch, TensorFlow)
      h' = tanh(o·c')   ('paper': the form written in the Grid LSTM paper)

  ``peepholes`` is ``(p_i, p_f, p_o)`` or ``None`` (no peephole terms).
  """
  if peepholes is not None:
    p_i, p_f, p_o = peepholes
    a_i, a_f = a_i + p_i * c, a_f + p_f * c
  new_c = jax.nn.sigmoid(a_f) * c + jax.nn.sigmoid(a_i) * jnp.tanh(a_g)
  if peepholes is not None:
    a_o = a_o + p_o * new_c
  if output_form == 'paper':
    return new_c, jnp.tanh(jax.nn.sigmoid(a_o) * new_c)
  return new_c, jax.nn.sigmoid(a_o) * jnp.tanh(new_c)


def per_gate_init(init: Initializer, num_gates: int) -> Initializer:
  """Initialises a fused ``(..., num_gates·n)`` array as ``num_gates`` independent ``(..., n)`` blocks.

  (An orthogonal recurrent init must be orthogonal per gate, not across the fused matrix.)
  """

  def init_fn(key, shape, dtype=jnp.float32):
    *lead, fused = shape
    keys = jax.random.split(key, num_gates)
    # At least float32 while initialising: the orthogonal init's QR has no bfloat16 kernel.
    init_dtype = jnp.promote_types(dtype, jnp.float32)
    blocks = [init(k, (*lead, fused // num_gates), init_dtype) for k in keys]
    return jnp.concatenate(blocks, axis=-1).astype(dtype)

  return init_fn


def lstm_bias_init(bias_init: Initializer, forget_bias_init: float) -> Initializer:
  """The fused ``(4·n,)`` LSTM bias in gate order i, f, g, o: the f slice is ``forget_bias_init``, the
  i, g, o slices come from ``bias_init`` (one key each)."""

  def init_fn(key, shape, dtype=jnp.float32):
    n = shape[-1] // 4
    k_i, k_g, k_o = jax.random.split(key, 3)
    forget = jnp.full((n,), forget_bias_init, dtype)
    return jnp.concatenate(
        [bias_init(k_i, (n,), dtype), forget, bias_init(k_g, (n,), dtype), bias_init(k_o, (n,), dtype)])

  return init_fn


def sequence_mask(seq_lengths: Any, batch: int, time: int) -> Array | None:
  """Checks ``seq_lengths`` (``(batch,)`` ints in ``[0, time]``, right padding) and returns the time-major
  mask ``(time, batch, 1)``, true at valid steps; ``None`` gives ``None`` (every step valid).

  Concrete lengths are range-checked. Traced lengths (under ``jit``) cannot be; they are clamped:
  a length above ``time`` acts as ``time``, a negative one as 0.
  """
  if seq_lengths is None:
    return None
  lengths = jnp.asarray(seq_lengths)
  error = None
  if lengths.shape != (batch,):
    error = f'must have shape (batch,) = ({batch},), got {lengths.shape}'
  elif not jnp.issubdtype(lengths.dtype, jnp.integer):
    error = f'must be integers, got dtype {lengths.dtype}'
  elif not isinstance(lengths, jax.core.Tracer) and lengths.size:
    low, high = np.asarray(lengths).min(), np.asarray(lengths).max()  # concrete: NumPy, not traced ops
    if low < 0 or high > time:
      error = f'must lie in [0, time] = [0, {time}], got values from {low} to {high}'
  if error:
    raise ValueError(f'seq_lengths {error}.')
  return (jnp.arange(time)[:, None] < lengths[None, :])[..., None]


def mask_padding(tree: Any, mask: Array | None) -> Any:
  """Replaces every array of ``tree`` by zeros where ``mask`` is false (``None`` leaves stay ``None``).

  Applied to inputs before any computation, padded steps hold finite zeros, so NaN or Inf there
  reaches neither outputs nor gradients (a ``where`` after computing would still backpropagate 0·NaN).
  """
  if mask is None:
    return tree
  return jax.tree.map(lambda a: jnp.where(mask, a, jnp.zeros((), a.dtype)), tree)


def check_dropout_rate(rate: float) -> None:
  """Raises ValueError unless ``0 <= rate < 1`` (the layers' ``dropout_rate``)."""
  if not 0.0 <= rate < 1.0:
    raise ValueError(f'dropout_rate must be in [0, 1), got {rate}.')


def check_float_inputs(inputs: Array) -> None:
  """Raises ValueError unless ``inputs`` has a floating dtype: int or bool inputs would be cast silently."""
  if not jnp.issubdtype(inputs.dtype, jnp.floating):
    raise ValueError(f'inputs must have a float dtype, got {inputs.dtype}; cast them, e.g. '
                     'inputs.astype(jnp.float32) (token ids need an embedding first, e.g. nn.Embed).')

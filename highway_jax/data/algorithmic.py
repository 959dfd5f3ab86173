"""Algorithmic tasks of the Grid LSTM paper (Kalchbrenner et al. 2015), generated offline.

Every generator is deterministic by ``seed`` (NumPy ``default_rng``) and returns a dict of NumPy arrays ``{'inputs':
..., 'label': ...}`` with ``num_examples`` rows. Arguments are checked by the config schema (``data.DataConfig``),
not here.

k-bit parity (``make_parity``)
    ``inputs`` float32 ``(n, bits)`` of 0/1, the whole string fed at once (the paper's 1-LSTM reads
    it through a single projection); ``label`` int32 ``(n,)``, the sum of the bits mod 2.
    ``PARITY_NUM_CLASSES = 2``.

n-digit addition (``make_addition``), a sequence task
    Two numbers ``a`` and ``b`` of exactly ``digits`` decimal digits each, every digit uniform in
    0–9 (leading zeros allowed, so a and b are uniform in [0, 10**digits)). Token ids:

        0–9  the digits        10 ``+`` (ADDITION_PLUS)   11 ``=`` (ADDITION_EQUALS)
        12   BLANK (ADDITION_BLANK), an input slot where the answer is to be written

    ``ADDITION_VOCAB = 13``. Layout (``T_in = 3·digits + 3``, ``T_out = digits + 1``)::

        inputs: a_1 … a_n  +  b_1 … b_n  =  BLANK × (n + 1)
        label:  s_1 … s_{n+1}            the digits of s = a + b, zero-padded to n + 1 digits

    Digits are written most significant first; ``reverse=True`` writes a, b and s least
    significant first. ``label[:, j]`` belongs to input position ``T_in − T_out + j`` (the j-th
    BLANK): a model reads the whole input and predicts the last ``T_out`` positions.
    Labels are digits, so ``ADDITION_NUM_CLASSES = 10``.

Sequence memorization (``make_memorization``)
    ``length`` symbols drawn uniformly from ``num_symbols`` (default ``MEMORIZATION_SYMBOLS = 64``;
    the paper's exact setting is unverified here), then a GO token, then ``length`` BLANK slots in
    which the sequence is to be reproduced. Token ids: symbols ``0 … num_symbols−1``,
    GO = ``num_symbols``, BLANK = ``num_symbols + 1``; vocabulary ``num_symbols + 2``
    (``memorization_vocab(num_symbols)``; ``MEMORIZATION_VOCAB = 66`` for the default).
    ``inputs`` int32 ``(n, 2·length + 1)``, ``label`` int32 ``(n, length)`` (the symbols, so
    ``num_symbols`` classes), aligned with the last ``length`` input positions as in addition.

Example::

    train = algorithmic.make_addition(10_000, digits=15, seed=0)
    train['inputs'].shape, train['label'].shape          # (10000, 48), (10000, 16)
"""

from __future__ import annotations

import numpy as np

PARITY_NUM_CLASSES = 2
ADDITION_PLUS, ADDITION_EQUALS, ADDITION_BLANK = 10, 11, 12
ADDITION_VOCAB = 13
ADDITION_NUM_CLASSES = 10
MEMORIZATION_SYMBOLS = 64


def memorization_vocab(num_symbols: int = MEMORIZATION_SYMBOLS) -> int:
  """Vocabulary size of ``make_memorization``: the symbols plus GO and BLANK."""
  return num_symbols + 2


MEMORIZATION_VOCAB = memorization_vocab()


def make_parity(num_examples: int, bits: int, seed: int, *, density: str = 'half') -> dict[str, np.ndarray]:
  """k-bit parity: inputs (n, bits) float32 0/1, label (n,) int32 = sum of bits mod 2.

  ``density='half'``: every bit is 1 with probability 1/2 (uniform strings). ``density='random'``:
  each string first draws its own q ~ U(0, 1), then every bit is 1 with probability q, so the
  number of ones is uniform on 0…bits and strings with few (or many) ones, whose parity is easy,
  are common. Parity of uniform strings is uncorrelated with every function of fewer than ``bits``
  of them, which leaves gradient descent without a signal; ``'random'`` is the curriculum-free
  training distribution used by ``configs/parity_grid_lstm.py`` (test strings stay uniform).
  """
  rng = np.random.default_rng(seed)
  if density == 'half':
    bit_strings = rng.integers(0, 2, size=(num_examples, bits), dtype=np.int32)
  else:
    q = rng.uniform(size=(num_examples, 1))
    bit_strings = (rng.uniform(size=(num_examples, bits)) < q).astype(np.int32)
  return {'inputs': bit_strings.astype(np.float32), 'label': (bit_strings.sum(axis=1) % 2).astype(np.int32)}


def make_addition(num_examples: int, digits: int, seed: int, *, reverse: bool = False) -> dict[str, np.ndarray]:
  """Addition of two ``digits``-digit numbers as a sequence task (layout in the module docstring).

  Returns ``inputs`` int32 ``(n, 3·digits + 3)`` and ``label`` int32 ``(n, digits + 1)``.
  """
  rng = np.random.default_rng(seed)
  a = rng.integers(0, 10, size=(num_examples, digits), dtype=np.int32)
  b = rng.integers(0, 10, size=(num_examples, digits), dtype=np.int32)
  total = np.zeros((num_examples, digits + 1), np.int32)  # column addition, most significant first
  carry = np.zeros(num_examples, np.int32)
  for j in range(digits - 1, -1, -1):
    carry, total[:, j + 1] = np.divmod(a[:, j] + b[:, j] + carry, 10)
  total[:, 0] = carry
  if reverse:
    a, b, total = a[:, ::-1], b[:, ::-1], total[:, ::-1]
  column = lambda token, width=1: np.full((num_examples, width), token, np.int32)
  inputs = np.concatenate(
      [a, column(ADDITION_PLUS), b, column(ADDITION_EQUALS), column(ADDITION_BLANK, digits + 1)], axis=1)
  return {'inputs': inputs.astype(np.int32), 'label': np.ascontiguousarray(total, np.int32)}


def make_memorization(num_examples: int, length: int, seed: int, *,
                      num_symbols: int = MEMORIZATION_SYMBOLS) -> dict[str, np.ndarray]:
  """Reproduce a random sequence after a GO token (layout in the module docstring).

  Returns ``inputs`` int32 ``(n, 2·length + 1)`` and ``label`` int32 ``(n, length)``.
  """
  symbols = np.random.default_rng(seed).integers(0, num_symbols, size=(num_examples, length), dtype=np.int32)
  go = np.full((num_examples, 1), num_symbols, np.int32)
  blank = np.full((num_examples, length), num_symbols + 1, np.int32)
  return {'inputs': np.concatenate([symbols, go, blank], axis=1), 'label': symbols.copy()}

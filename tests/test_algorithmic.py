"""Algorithmic task generators: labels recomputed independently, determinism, layouts (their
config errors are tested in test_data.py)."""

import numpy as np
import pytest

from highway_jax.data import algorithmic


def test_parity_labels_and_layout():
  data = algorithmic.make_parity(200, bits=13, seed=0)
  assert data['inputs'].shape == (200, 13) and data['inputs'].dtype == np.float32
  assert data['label'].shape == (200,) and data['label'].dtype == np.int32
  assert set(np.unique(data['inputs'])) == {0.0, 1.0}
  for bits, label in zip(data['inputs'], data['label']):
    ones = sum(1 for b in bits if b == 1.0)
    assert label == (1 if ones % 2 else 0)
  # Both classes occur at about the same rate.
  assert 60 < data['label'].sum() < 140


def test_parity_random_density_spreads_the_number_of_ones():
  bits = 20
  data = algorithmic.make_parity(4000, bits=bits, seed=0, density='random')
  ones = data['inputs'].sum(axis=1)
  np.testing.assert_array_equal(data['label'], ones.astype(np.int32) % 2)
  # Uniform density q ~ U(0, 1) makes the number of ones uniform on 0..bits (each about 1/21),
  # while uniform bits would put only C(20, 0..2)/2^20 ~ 2e-4 of the strings at <= 2 ones.
  counts = np.bincount(ones.astype(int), minlength=bits + 1) / len(ones)
  assert counts.min() > 0.025 and counts.max() < 0.075
  uniform = algorithmic.make_parity(4000, bits=bits, seed=0)['inputs'].sum(axis=1)
  assert (uniform <= 2).mean() < 0.01 < (ones <= 2).mean()


def _digits_to_int(tokens):
  assert all(0 <= t <= 9 for t in tokens)
  return int(''.join(str(int(t)) for t in tokens))


@pytest.mark.parametrize('reverse', [False, True])
def test_addition_labels_and_layout(reverse):
  n, digits = 300, 5
  data = algorithmic.make_addition(n, digits=digits, seed=1, reverse=reverse)
  inputs, label = data['inputs'], data['label']
  assert inputs.shape == (n, 3 * digits + 3) and inputs.dtype == np.int32
  assert label.shape == (n, digits + 1) and label.dtype == np.int32
  assert inputs.max() < algorithmic.ADDITION_VOCAB == 13
  assert label.max() < algorithmic.ADDITION_NUM_CLASSES == 10
  order = (lambda s: s[::-1]) if reverse else (lambda s: s)
  carries = 0
  for row, target in zip(inputs, label):
    a = _digits_to_int(order(row[:digits]))
    assert row[digits] == algorithmic.ADDITION_PLUS
    b = _digits_to_int(order(row[digits + 1:2 * digits + 1]))
    assert row[2 * digits + 1] == algorithmic.ADDITION_EQUALS
    assert np.all(row[2 * digits + 2:] == algorithmic.ADDITION_BLANK)
    assert _digits_to_int(order(target)) == a + b
    assert f'{a + b:0{digits + 1}d}' == ''.join(map(str, order(target)))
    carries += (a % 10 + b % 10) >= 10
  # Digits are uniform, so carries out of the last digit occur about 45% of the time.
  assert 0.3 * n < carries < 0.6 * n


def test_addition_reverse_is_the_same_problem_mirrored():
  plain = algorithmic.make_addition(20, digits=4, seed=3)
  mirrored = algorithmic.make_addition(20, digits=4, seed=3, reverse=True)
  np.testing.assert_array_equal(mirrored['label'], plain['label'][:, ::-1])
  np.testing.assert_array_equal(mirrored['inputs'][:, :4], plain['inputs'][:, 3::-1])


def test_memorization_labels_and_layout():
  n, length, symbols = 50, 7, 5
  data = algorithmic.make_memorization(n, length=length, seed=2, num_symbols=symbols)
  inputs, label = data['inputs'], data['label']
  assert inputs.shape == (n, 2 * length + 1) and label.shape == (n, length)
  assert inputs.dtype == np.int32 and label.dtype == np.int32
  np.testing.assert_array_equal(label, inputs[:, :length])
  assert np.all(inputs[:, length] == symbols)                 # GO
  assert np.all(inputs[:, length + 1:] == symbols + 1)        # BLANK
  assert label.min() >= 0 and label.max() < symbols
  assert algorithmic.memorization_vocab(symbols) == symbols + 2
  assert algorithmic.MEMORIZATION_VOCAB == algorithmic.MEMORIZATION_SYMBOLS + 2
  default = algorithmic.make_memorization(10, length=3, seed=0)
  assert default['inputs'].max() < algorithmic.MEMORIZATION_VOCAB


@pytest.mark.parametrize('make,kwargs', [
    (algorithmic.make_parity, dict(bits=9)),
    (algorithmic.make_addition, dict(digits=4)),
    (algorithmic.make_memorization, dict(length=6)),
])
def test_deterministic_by_seed(make, kwargs):
  a, b, c = make(40, seed=5, **kwargs), make(40, seed=5, **kwargs), make(40, seed=6, **kwargs)
  for key in ('inputs', 'label'):
    np.testing.assert_array_equal(a[key], b[key])
  assert not np.array_equal(a['inputs'], c['inputs'])

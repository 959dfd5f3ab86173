"""highway_jax.interop against PyTorch itself: ported weights give PyTorch's outputs, in both directions."""

import functools
import subprocess
import sys

import flax.linen as nn
import jax
import numpy as np
import pytest

import highway_jax as hj
from highway_jax.interop import params_to_torch, torch_to_params

torch = pytest.importorskip('torch')  # a test dependency (the CI installs it), never a runtime one
torch.set_num_threads(1)

IN, FEATURES, BATCH, TIME = 3, 4, 3, 5
LENGTHS = np.array([5, 2, 1])   # pack_padded_sequence needs lengths >= 1
KINDS = {  # name -> (our layer class and options, torch module class and options)
    'lstm': (hj.LSTM, {}, torch.nn.LSTM, {}),
    'gru': (hj.GRU, {}, torch.nn.GRU, {}),
    'rnn_tanh': (hj.SimpleRNN, {}, torch.nn.RNN, {'nonlinearity': 'tanh'}),
    'rnn_relu': (hj.SimpleRNN, {'activation': nn.relu}, torch.nn.RNN, {'nonlinearity': 'relu'}),
}
CASES = [(kind, num_layers, bidirectional) for kind in KINDS for num_layers in (1, 2)
         for bidirectional in (False, True)]


@functools.cache
def ours(kind, num_layers, bidirectional):
  """(layer, jitted apply): one compile per case and batch kind, shared by the tests of that case."""
  cls, options, _, _ = KINDS[kind]
  layer = cls(FEATURES, num_layers, bidirectional, **options)
  return layer, jax.jit(layer.apply)


def torch_module(kind, num_layers, bidirectional, seed=0):
  _, _, cls, options = KINDS[kind]
  torch.manual_seed(seed)
  module = cls(IN, FEATURES, num_layers=num_layers, bidirectional=bidirectional, batch_first=True,
               **options)
  with torch.no_grad():
    for p in module.parameters():  # every weight and bias, larger than the default init
      p.normal_(0.0, 0.5)
  return module


def random_params(layer, seed=0):
  """Every leaf of ``layer``'s params (from its own init, so the layout is the module's) random."""
  rng = np.random.default_rng(seed)
  return jax.tree.map(lambda s: (0.5 * rng.standard_normal(s.shape)).astype(np.float32), shapes(layer))


@functools.cache
def shapes(layer):
  return jax.eval_shape(layer.init, jax.random.key(0), np.zeros((1, 1, IN), np.float32))['params']


def inputs(seed=1):
  return np.random.default_rng(seed).standard_normal((BATCH, TIME, IN)).astype(np.float32)


def run_torch(module, x, lengths=None):
  """(outputs (batch, time, D·F), h_n, c_n or None) with h_n, c_n (num_layers·D, batch, F)."""
  x = torch.from_numpy(x)
  with torch.no_grad():
    if lengths is None:
      out, final = module(x)
    else:
      packed = torch.nn.utils.rnn.pack_padded_sequence(x, torch.from_numpy(lengths), batch_first=True,
                                                       enforce_sorted=False)
      out, final = module(packed)
      out, _ = torch.nn.utils.rnn.pad_packed_sequence(out, batch_first=True, total_length=TIME)
  h, c = final if isinstance(final, tuple) else (final, None)
  return out.numpy(), h.numpy(), None if c is None else c.numpy()


def run_ours(kind, num_layers, bidirectional, params, x, lengths=None):
  """Our outputs and final carry in PyTorch's layout: h_n, c_n stacked layer-major, forward first."""
  layer, apply = ours(kind, num_layers, bidirectional)
  kwargs = {} if lengths is None else {'seq_lengths': lengths}
  out, final = apply({'params': params}, x, **kwargs)
  per_layer = [final] if num_layers == 1 else list(final)
  carries = [c for per in per_layer for c in (per if bidirectional else (per,))]
  if kind == 'lstm':  # our LSTM carry is (c, h)
    return np.asarray(out), np.stack([h for _, h in carries]), np.stack([c for c, _ in carries])
  return np.asarray(out), np.stack(carries), None


def assert_same(got, want):
  for g, w in zip(got, want):
    if w is None:
      assert g is None
    else:
      np.testing.assert_allclose(g, w, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize('kind,num_layers,bidirectional', CASES)
def test_torch_to_params_gives_torch_outputs(kind, num_layers, bidirectional):
  module = torch_module(kind, num_layers, bidirectional)
  params = torch_to_params(module.state_dict(), ours(kind, num_layers, bidirectional)[0])
  x = inputs()
  assert_same(run_ours(kind, num_layers, bidirectional, params, x), run_torch(module, x))
  padded = run_ours(kind, num_layers, bidirectional, params, x, LENGTHS)
  assert_same(padded, run_torch(module, x, LENGTHS))
  assert np.all(padded[0][2, 1:] == 0.0)  # the padded positions, checked against something


@pytest.mark.parametrize('kind,num_layers,bidirectional', CASES)
def test_params_to_torch_gives_our_outputs(kind, num_layers, bidirectional):
  layer = ours(kind, num_layers, bidirectional)[0]
  params = random_params(layer)
  module = torch_module(kind, num_layers, bidirectional, seed=1)
  module.load_state_dict({k: torch.from_numpy(v) for k, v in params_to_torch(params, layer).items()})
  x = inputs(seed=2)
  assert_same(run_torch(module, x), run_ours(kind, num_layers, bidirectional, params, x))
  assert_same(run_torch(module, x, LENGTHS), run_ours(kind, num_layers, bidirectional, params, x, LENGTHS))


@pytest.mark.parametrize('kind,num_layers,bidirectional', CASES)
def test_round_trips_are_exact(kind, num_layers, bidirectional):
  layer = ours(kind, num_layers, bidirectional)[0]
  params = random_params(layer, seed=3)
  back = torch_to_params(params_to_torch(params, layer), layer)   # NumPy arrays in, no torch needed
  assert jax.tree.structure(back) == jax.tree.structure(params)
  jax.tree.map(np.testing.assert_array_equal, back, params)

  state = torch_module(kind, num_layers, bidirectional).state_dict()
  again = params_to_torch(torch_to_params(state, layer), layer)
  assert again.keys() == state.keys()
  for key, value in state.items():
    value = value.numpy()
    if kind == 'lstm' and key.startswith('bias_'):  # one LSTM bias: the sum in bias_ih, zeros in bias_hh
      other = key.replace('bias_ih', 'bias_hh') if 'bias_ih' in key else None
      value = value + state[other].numpy() if other else np.zeros_like(value)
    np.testing.assert_array_equal(again[key], value, err_msg=key)
    assert again[key].dtype == np.float32 and again[key].flags.writeable


def test_interop_does_not_import_torch():
  code = 'import sys, highway_jax.interop; sys.exit("torch" in sys.modules)'
  assert subprocess.run([sys.executable, '-c', code], check=False).returncode == 0


def assert_one_line_error(match, fn, *args):
  with pytest.raises(ValueError, match=match) as info:
    fn(*args)
  assert '\n' not in str(info.value)


@pytest.mark.parametrize('layer,match', [
    (hj.LSTM(FEATURES, peepholes=True), r'LSTM\(peepholes=True\) cannot be expressed in PyTorch'),
    (hj.GRU(FEATURES, reset_after=False), r'GRU\(reset_after=False\) cannot be expressed in PyTorch'),
    (hj.LSTM(FEATURES, highway=True), r'LSTM\(highway=True\) cannot be expressed in PyTorch'),
    (hj.SimpleRNN(FEATURES, highway=True), r'SimpleRNN\(highway=True\) cannot be expressed'),
    (hj.RHN(FEATURES, depth=2), r'RHN has no PyTorch counterpart'),
    (hj.SimpleRNN(FEATURES, activation=nn.sigmoid), r'SimpleRNN\(activation=sigmoid\) cannot be expressed'),
])
def test_conventions_pytorch_lacks_raise(layer, match):
  state = torch_module('lstm', 1, False).state_dict()
  assert_one_line_error(match, torch_to_params, state, layer)
  assert_one_line_error(match, params_to_torch, {}, layer)


@pytest.mark.parametrize('module,layer,match', [
    (torch.nn.LSTM(IN, FEATURES, proj_size=2), hj.LSTM(FEATURES),
     r"'weight_hr_l0' is not used \(proj_size > 0 is not supported\)"),
    (torch.nn.LSTM(IN, FEATURES), hj.LSTM(FEATURES + 1),
     r"LSTM\(features=5, .*'weight_hh_l0' has shape \(16, 4\), expected \(20, 5\)"),
    (torch.nn.GRU(IN, FEATURES, num_layers=2), hj.GRU(FEATURES),
     r"num_layers=1.*'weight_ih_l1' is not used"),
    (torch.nn.GRU(IN, FEATURES), hj.GRU(FEATURES, num_layers=2), r"'weight_ih_l1' is missing"),
    (torch.nn.RNN(IN, FEATURES), hj.SimpleRNN(FEATURES, bidirectional=True),
     r"bidirectional=True.*'weight_ih_l0_reverse' is missing"),
    (torch.nn.LSTM(IN, FEATURES), hj.GRU(FEATURES), r"'weight_ih_l0' has shape \(16, 3\), expected \(12, 3\)"),
])
def test_state_dict_that_does_not_fit_raises(module, layer, match):
  assert_one_line_error(r'state_dict does not fit .*' + match, torch_to_params, module.state_dict(), layer)


def test_params_that_do_not_fit_raise():
  params = random_params(hj.LSTM(FEATURES, num_layers=2))
  assert_one_line_error(r"params does not fit LSTM\(features=4, num_layers=1, .*'layers/forward/input/kernel' "
                        r'is not used', params_to_torch, params, hj.LSTM(FEATURES))
  assert_one_line_error(r"'layer_0/forward/recurrent/kernel' has shape \(4, 16\), expected \(5, 20\)",
                        params_to_torch, params, hj.LSTM(FEATURES + 1, num_layers=2))

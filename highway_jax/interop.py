r"""PyTorch weights in and out: ``torch_to_params``, ``params_to_torch`` for LSTM, GRU and SimpleRNN.

The sequence layers of ``highway_jax.recurrent`` already use PyTorch's gate order (LSTM i, f, g, o; GRU
r, z, n) and its equations (GRU with ``reset_after=True``), so porting is transposing and renaming. The
layer instance tells the structure (``features``, ``num_layers``, ``bidirectional``, cell options); a
state_dict tells nothing else. Key names do not depend on ``batch_first`` (only the call convention does:
our layers are always batch-major). ``k`` is the layer index, ``_reverse`` marks the backward direction::

    PyTorch (nn.LSTM / nn.GRU / nn.RNN)   highway_jax params (d = forward | backward)
    weight_ih_l{k}[_reverse] (G·F, in)    layer_0/d/input/kernel (in, G·F)          = weight_ih.T
    weight_hh_l{k}[_reverse] (G·F, F)     layer_0/d/recurrent/kernel (F, G·F)       = weight_hh.T
    bias_ih_l{k}[_reverse]   (G·F,)       layer_0/d/input/bias (G·F,)               GRU, SimpleRNN
    bias_hh_l{k}[_reverse]   (G·F,)       layer_0/d/recurrent/bias (G·F,)           GRU, SimpleRNN
    bias_ih + bias_hh                     layer_0/d/recurrent/bias (4·F,)           LSTM (one bias)
    layers k >= 1                         layers/d/... with a leading (num_layers − 1) axis, row k − 1

with ``G = 4`` (LSTM), ``3`` (GRU), ``1`` (SimpleRNN ~ ``nn.RNN``). Our LSTM has one bias where PyTorch has
two: ``params_to_torch`` puts the whole bias in ``bias_ih`` and zeros in ``bias_hh``. Round trips are
exact: ours -> torch -> ours returns the same arrays; torch -> ours -> torch returns the same weights and,
for LSTM, ``bias_ih + bias_hh`` in ``bias_ih`` and zeros in ``bias_hh`` (the same function).

Not expressible in PyTorch (a ``ValueError`` names it): LSTM ``peepholes``, GRU ``reset_after=False``
(PyTorch's GRU is reset-after only), ``highway=True``, ``RHN``, a SimpleRNN activation other than tanh
or relu, and ``proj_size > 0`` (``weight_hr_*`` keys). A state_dict whose keys or shapes do not fit the
layer raises naming the key and both shapes. The SimpleRNN nonlinearity is not in a state_dict: build
the layer with the one of the torch module (``activation=nn.relu`` for ``nonlinearity='relu'``).

This module does not import torch: state_dict values may be torch tensors (converted with
``np.asarray(t.detach().cpu())``) or NumPy arrays; ``params_to_torch`` returns NumPy arrays.

Example::

    import torch, jax.numpy as jnp, highway_jax as hj
    from highway_jax.interop import params_to_torch, torch_to_params

    torch_lstm = torch.nn.LSTM(8, 16, num_layers=2, bidirectional=True, batch_first=True)
    layer = hj.LSTM(features=16, num_layers=2, bidirectional=True)
    params = torch_to_params(torch_lstm.state_dict(), layer)
    outputs, carry = layer.apply({'params': params}, jnp.ones((4, 10, 8)))   # (4, 10, 32)
    arrays = params_to_torch(params, layer)                    # {'weight_ih_l0': ndarray, ...}
    torch_lstm.load_state_dict({k: torch.from_numpy(v) for k, v in arrays.items()})
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np
from flax.traverse_util import flatten_dict

from highway_jax.recurrent import GRU, LSTM, SimpleRNN

__all__ = ['torch_to_params', 'params_to_torch']

_TORCH_ACTIVATIONS = (jnp.tanh, nn.tanh, jax.nn.relu, nn.relu)   # nn.RNN's nonlinearity='tanh' | 'relu'


def _layout(layer: nn.Module) -> tuple[int, tuple[str, ...]]:
  """(number of gates G, directions) of ``layer``; raises where PyTorch has no equivalent."""
  name = type(layer).__name__
  problem = None
  if not isinstance(layer, (LSTM, GRU, SimpleRNN)):
    problem = f'{name} has no PyTorch counterpart; interop covers LSTM, GRU and SimpleRNN'
  elif layer.highway:
    problem = (f'{name}(highway=True) cannot be expressed in PyTorch (no highway connections); '
               'use highway=False')
  elif isinstance(layer, LSTM) and layer.peepholes:
    problem = 'LSTM(peepholes=True) cannot be expressed in PyTorch (nn.LSTM has no peepholes)'
  elif isinstance(layer, GRU) and not layer.reset_after:
    problem = ('GRU(reset_after=False) cannot be expressed in PyTorch (nn.GRU applies the reset gate '
               'after the recurrent matmul); use reset_after=True')
  elif isinstance(layer, SimpleRNN) and layer.activation not in _TORCH_ACTIVATIONS:
    problem = (f'SimpleRNN(activation={getattr(layer.activation, "__name__", layer.activation)}) cannot '
               "be expressed in PyTorch (nn.RNN's nonlinearity is tanh or relu); use nn.tanh or nn.relu")
  if problem:
    raise ValueError(problem + '.')
  gates = 4 if isinstance(layer, LSTM) else 3 if isinstance(layer, GRU) else 1
  return gates, ('forward', 'backward') if layer.bidirectional else ('forward',)


def _describe(layer: nn.Module) -> str:
  return (f'{type(layer).__name__}(features={layer.features}, num_layers={layer.num_layers}, '
          f'bidirectional={layer.bidirectional})')


def _suffix(k: int, direction: str) -> str:
  return f'_l{k}' + ('_reverse' if direction == 'backward' else '')


def _torch_shapes(layer: nn.Module, in_features: int) -> dict[str, tuple[int, ...]]:
  """PyTorch's key -> shape for ``layer`` with ``in_features`` inputs."""
  gates, directions = _layout(layer)
  f = layer.features
  shapes = {}
  for k in range(layer.num_layers):
    for direction in directions:
      suffix = _suffix(k, direction)
      in_k = in_features if k == 0 else len(directions) * f
      shapes.update({f'weight_ih{suffix}': (gates * f, in_k), f'weight_hh{suffix}': (gates * f, f),
                     f'bias_ih{suffix}': (gates * f,), f'bias_hh{suffix}': (gates * f,)})
  return shapes


def _check_shapes(what: str, got: dict, expected: dict, layer: nn.Module) -> None:
  """Raises one line listing every missing, unused or misshapen key of ``got``."""
  proj = ' (proj_size > 0 is not supported)'
  wrong = ([f'{key!r} is missing' for key in expected if key not in got]
           + [f'{key!r} is not used' + (proj if 'weight_hr' in key else '')
              for key in got if key not in expected]
           + [f'{key!r} has shape {got[key]}, expected {shape}'
              for key, shape in expected.items() if key in got and got[key] != shape])
  if wrong:
    raise ValueError(f'{what} does not fit {_describe(layer)}: {"; ".join(wrong)}.')


def _numpy(value: Any) -> np.ndarray:
  if hasattr(value, 'detach') and hasattr(value, 'cpu'):  # a torch tensor, without importing torch
    value = value.detach().cpu()
  return np.asarray(value)


def torch_to_params(state_dict: Mapping[str, Any], layer: nn.Module) -> dict:
  """Flax params for ``layer.apply({'params': params}, x)`` from a ``torch.nn.LSTM/GRU/RNN`` state_dict.

  ``state_dict`` values are torch tensors or NumPy arrays; the input size comes from ``weight_ih_l0``.
  For LSTM our one bias is ``bias_ih + bias_hh``. Returns arrays of ``layer.param_dtype``.
  """
  gates, directions = _layout(layer)
  arrays = {key: _numpy(value) for key, value in state_dict.items()}
  in_features = arrays['weight_ih_l0'].shape[1] if 'weight_ih_l0' in arrays else 0
  _check_shapes('state_dict', {key: a.shape for key, a in arrays.items()},
                _torch_shapes(layer, in_features), layer)

  def cell(k: int, direction: str) -> dict:
    get = lambda name: arrays[name + _suffix(k, direction)]
    params = {'input': {'kernel': get('weight_ih').T}, 'recurrent': {'kernel': get('weight_hh').T}}
    if gates == 4:  # LSTM: one bias
      params['recurrent']['bias'] = get('bias_ih') + get('bias_hh')
    else:
      params['input']['bias'], params['recurrent']['bias'] = get('bias_ih'), get('bias_hh')
    return params

  params = {'layer_0': {d: cell(0, d) for d in directions}}
  if layer.num_layers > 1:
    stack = lambda d: jax.tree.map(lambda *a: np.stack(a), *[cell(k, d) for k in range(1, layer.num_layers)])
    params['layers'] = {d: stack(d) for d in directions}
  return jax.tree.map(lambda a: jnp.asarray(a, layer.param_dtype), params)


def params_to_torch(params: Mapping[str, Any], layer: nn.Module) -> dict[str, np.ndarray]:
  """PyTorch state_dict arrays (``weight_ih_l0``, ``weight_hh_l0_reverse``, ...) from ``layer``'s params.

  Load them with ``module.load_state_dict({k: torch.from_numpy(v) for k, v in arrays.items()})`` into
  ``torch.nn.LSTM/GRU/RNN(in, features, num_layers, bidirectional=...)``. LSTM: the whole bias goes to
  ``bias_ih`` and ``bias_hh`` is zero (PyTorch adds the two).
  """
  gates, directions = _layout(layer)
  in_features = params['layer_0']['forward']['input']['kernel'].shape[0]
  expected = jax.eval_shape(layer.init, jax.random.key(0), jnp.zeros((1, 1, in_features)))['params']
  shapes = lambda tree: {'/'.join(path): tuple(np.shape(a)) for path, a in flatten_dict(tree).items()}
  _check_shapes('params', shapes(params), shapes(expected), layer)
  arrays = {}
  for k in range(layer.num_layers):
    for direction in directions:
      cell = (params['layer_0'][direction] if k == 0
              else jax.tree.map(lambda a: a[k - 1], params['layers'][direction]))
      cell = jax.tree.map(np.asarray, cell)
      suffix = _suffix(k, direction)
      arrays[f'weight_ih{suffix}'] = cell['input']['kernel'].T
      arrays[f'weight_hh{suffix}'] = cell['recurrent']['kernel'].T
      if gates == 4:
        arrays[f'bias_ih{suffix}'] = cell['recurrent']['bias']
        arrays[f'bias_hh{suffix}'] = np.zeros_like(cell['recurrent']['bias'])
      else:
        arrays[f'bias_ih{suffix}'] = cell['input']['bias']
        arrays[f'bias_hh{suffix}'] = cell['recurrent']['bias']
  # Writable C-order copies: torch.from_numpy warns on the read-only buffers of jax arrays.
  return {key: np.array(value, order='C') for key, value in arrays.items()}

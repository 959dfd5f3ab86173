r"""A 2-d Grid LSTM (time × depth) on MNIST-1D, generated locally (offline).

    python scripts/train.py --config=configs/mnist1d_grid_lstm.py

MNIST-1D (Greydanus 2020; published split of 4,000 train / 1,000 test sequences of length 40, 10
classes; published anchors: GRU 91%, CNN 94%, MLP 68% test accuracy). The grid reads one value per
time step; LSTM cells run along time and along depth (``num_layers`` layers, untied, depth computed after
time: ``priority_dims=(1,)``); the top layer's output at the last step goes to a softmax. Adam with a
cosine schedule, the same budget as ``configs/mnist1d_gru.py`` (100 epochs of batch 100). The result
is in ``docs/grid_lstm.md``.

Variants: ``num_layers``, ``features``, ``epochs``; ``:runlocal`` (a few steps of a tiny net, for tests).
"""

import ml_collections

from highway_jax.training import load_config_file, parse_arg


def get_config(arg=None):
  arg = parse_arg(arg, num_layers=2, features=64, epochs=100.0, runlocal=False)
  # Data, optimiser and budget of configs/mnist1d_gru.py; only the model (and ``epochs``) differ.
  config = load_config_file('mnist1d_gru.py' + (':runlocal' if arg.runlocal else ''),
                            relative_to=__file__)
  config.model = ml_collections.ConfigDict(dict(
      name='grid_lstm', core='2d', features=8 if arg.runlocal else arg.features,
      num_layers=1 if arg.runlocal else arg.num_layers, priority_dims=(1,), pooling='last'))
  config.num_epochs = arg.epochs                  # 40 steps per epoch
  return config

r"""A 10-layer highway MLP on MNIST-1D, generated locally (offline): the highway side of "LSTM vs Highway".

    python scripts/train.py --config=configs/mnist1d_highway.py
    python scripts/loss_curves.py --workdir=runs/lstm_vs_highway

The 40 values of a sequence go to one plain layer of 64 units, 9 highway layers of 64 units
(ReLU, transform bias −2) and a softmax, trained with the same data, batch, optimizer and schedule as
``configs/mnist1d_gru.py`` so that their training curves compare directly. Published MNIST-1D anchors:
MLP 68%, GRU 91%, CNN 94% test accuracy. ``:block=plain`` gives the plain baseline.

``:runlocal`` is a few steps of a tiny net, for tests.
"""

import ml_collections

from highway_jax.training import load_config_file, parse_arg


def get_config(arg=None):
  arg = parse_arg(arg, num_layers=10, block='highway', runlocal=False,
                  choices={'block': ('highway', 'plain', 'residual')})
  # Data, optimiser and budget of configs/mnist1d_gru.py; only the model differs.
  config = load_config_file('mnist1d_gru.py' + (':runlocal' if arg.runlocal else ''),
                            relative_to=__file__)
  config.model = ml_collections.ConfigDict(dict(
      name='highway_mlp', num_layers=3 if arg.runlocal else arg.num_layers,
      features=8 if arg.runlocal else 64, block=arg.block, activation='relu',
      transform_bias_init=-2.0))
  return config

r"""A Highway BiLSTM classifier on MNIST-1D, generated locally (offline).

    python scripts/train.py --config=configs/mnist1d_highway_bilstm.py
    python scripts/train.py --config=configs/mnist1d_highway_bilstm.py:num_layers=8,highway=false

``num_layers`` bidirectional LSTM layers of 64 units per direction with highway connections between layers,
y = BiLSTM(x)·T(x) + x·(1 − T(x)) (transform bias −2), or a plain stacked BiLSTM with ``highway=false``;
the forward output at the last step and the backward output at the first go to a softmax. Adam with a
cosine schedule. MNIST-1D: 4,000 train / 1,000 test sequences of length 40; published anchors GRU 91%,
CNN 94%.

``:runlocal`` is a few steps of a tiny net, for tests.
"""

import ml_collections

from highway_jax.training import load_config_file, parse_arg


def get_config(arg=None):
  arg = parse_arg(arg, num_layers=4, highway=True, runlocal=False)
  # Data and optimiser of configs/mnist1d_gru.py, 60 epochs; only the model differs.
  config = load_config_file('mnist1d_gru.py' + (':runlocal' if arg.runlocal else ''),
                            relative_to=__file__)
  config.model = ml_collections.ConfigDict(dict(
      name='rnn_classifier', cell='lstm', features=4 if arg.runlocal else 64,
      num_layers=min(arg.num_layers, 2) if arg.runlocal else arg.num_layers, bidirectional=True,
      highway=arg.highway, transform_bias_init=-2.0, pooling='last'))
  config.num_epochs = 60.0                       # 40 steps per epoch
  return config

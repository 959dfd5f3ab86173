r"""A Recurrent Highway Network classifier on MNIST-1D, generated locally (offline).

    python scripts/train.py --config=configs/mnist1d_rhn.py
    python scripts/train.py --config=configs/mnist1d_rhn.py:recurrence_depth=5

One RHN layer (Zilly et al. 2017) of 128 units with ``recurrence_depth`` micro-layers per time
step (s_l = h_l·t_l + s_{l−1}·(1 − t_l), the input entering only the first), transform bias −2; its
output at the last step goes to a softmax. Adam with a cosine schedule. MNIST-1D: 4,000 train / 1,000
test sequences of length 40; published anchors GRU 91%, CNN 94%.

``:runlocal`` is a few steps of a tiny net, for tests.
"""

import ml_collections

from highway_jax.training import load_config_file, parse_arg


def get_config(arg=None):
  arg = parse_arg(arg, recurrence_depth=3, runlocal=False)
  # Data, optimiser and budget of configs/mnist1d_gru.py; only the model differs.
  config = load_config_file('mnist1d_gru.py' + (':runlocal' if arg.runlocal else ''),
                            relative_to=__file__)
  config.model = ml_collections.ConfigDict(dict(
      name='rnn_classifier', cell='rhn', features=8 if arg.runlocal else 128,
      recurrence_depth=min(arg.recurrence_depth, 2) if arg.runlocal else arg.recurrence_depth,
      transform_bias_init=-2.0,
      pooling='last'))
  return config

r"""A GRU classifier on MNIST-1D, generated locally (offline).

    python scripts/train.py --config=configs/mnist1d_gru.py

MNIST-1D (Greydanus 2020; the ``mnist1d`` package, published split of 4,000 train / 1,000 test
sequences of length 40, 10 classes): one GRU layer of 128 units reads the sequence one value per step;
its output at the last step goes to a softmax. Adam with a cosine schedule. Published anchors: GRU 91%,
CNN 94%, MLP 68% test accuracy.

``:runlocal`` is a few steps of a tiny net, for tests.
"""

from highway_jax.training import default_config, parse_arg, runlocal


def get_config(arg=None):
  arg = parse_arg(arg, runlocal=False)
  config = default_config()
  config.data.name = 'mnist1d'

  config.model.name = 'rnn_classifier'
  config.model.cell = 'gru'
  config.model.features = 128
  config.model.num_layers = 1
  config.model.pooling = 'last'

  config.batch_size = 100
  config.eval_batch_size = 500
  config.num_epochs = 100.0                      # 40 steps per epoch
  config.optimizer.name = 'adam'
  config.optimizer.learning_rate = 2e-3
  config.optimizer.grad_clip_norm = 1.0
  config.schedule.name = 'cosine'
  config.schedule.warmup_steps = 100

  config.log_every_steps = 100
  config.eval_every_steps = 400
  config.checkpoint_every_steps = 400

  if arg.runlocal:
    config.data.num_train = 200
    config.data.num_test = 100
    config.model.features = 8
    runlocal(config, batch_size=20, eval_batch_size=50)
  return config

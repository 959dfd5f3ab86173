r"""MNIST with the paper's 10-layer convolutional highway network (width 16 or 32).

    python scripts/train.py --config=configs/mnist_highway.py
    python scripts/train.py --config=configs/mnist_highway.py:width=32

Srivastava et al. (2015), Table 1: 10-layer highway nets of width 16 (39K parameters, 99.43% test) and
32 (151K, 99.55%). Our reconstruction (``highway_jax.models.highway_cnn``): a plain 3×3 conv of
``width`` filters, then 8 highway 3×3 conv layers in three stages of 3, 3 and 2, each stage followed by
2×2 max pooling (28 → 14 → 7 → 3), then a dense softmax: 10 layers with 38.7K (width 16) and 151.2K
(width 32) parameters. Transform bias −1 (the paper's suggestion for ~10 layers), ReLU; SGD with
momentum 0.9 and a cosine schedule, 40 epochs.

TFDS ``mnist`` (needs the dataset prepared, see ``--config.data.data_dir``). ``:runlocal`` is a few
steps of a tiny net, for tests (under ``tfds.testing.mock_data``).
"""

from highway_jax.training import default_config, parse_arg, runlocal


def get_config(arg=None):
  arg = parse_arg(arg, width=16, runlocal=False, choices={'width': (16, 32)})
  config = default_config()
  config.data.name = 'mnist'
  config.data.in_memory = True  # decoded once (188 MB): a batch is one gather, not a PNG decode per example
  config.data.validation_fraction = 0.1  # eval_split and the best checkpoint

  config.model.name = 'highway_cnn'
  config.model.features = (arg.width, arg.width, arg.width)
  config.model.num_highway_layers = (3, 3, 2)
  config.model.pool_after = (True, True, True)
  config.model.block = 'highway'
  config.model.activation = 'relu'
  config.model.transform_bias_init = -1.0
  config.model.first_layer = 'plain'
  config.model.head = 'dense'

  config.batch_size = 100
  config.eval_batch_size = 1000
  config.num_epochs = 40.0
  config.optimizer.name = 'momentum'
  config.optimizer.learning_rate = 0.05
  config.optimizer.momentum = 0.9
  config.optimizer.weight_decay = 1e-4
  config.schedule.name = 'cosine'
  config.schedule.warmup_steps = 500

  config.log_every_steps = 200
  config.eval_every_steps = 3000
  config.checkpoint_every_steps = 3000

  if arg.runlocal:
    config.model.features = (4, 4, 4)
    config.model.num_highway_layers = (1, 1, 1)
    runlocal(config, batch_size=8, eval_batch_size=8)
  return config

r"""CIFAR-100 with the 19-layer convolutional highway network of the authors' recipe.

    python scripts/train.py --config=configs/cifar100_highway.py

The network and training of ``configs/cifar_highway.py`` (batch 100, Nesterov 0.9, learning rate 0.025,
weight decay 1e-3, step schedule, pad-crop-flip augmentation, transform bias −2), with a 100-class
head. Published with augmentation: 67.76% test. TFDS ``cifar100`` (fine labels); offline it stops at
once with a message naming the offline configs. ``:runlocal`` is a few steps of a tiny net, for tests.
"""

from highway_jax.training import default_config, parse_arg


def get_config(arg=None):
  arg = parse_arg(arg, runlocal=False)
  config = default_config()
  config.data.name = 'cifar100'
  config.data.normalize = 'gcn'
  config.data.augment = True
  config.data.augment_padding = 8
  config.data.augment_flip = True

  config.model.name = 'highway_cnn'
  config.model.features = (32, 80, 128)
  config.model.num_highway_layers = (4, 5, 5)
  config.model.pool_after = (True, True, False)
  config.model.block = 'highway'
  config.model.activation = 'relu'
  config.model.transform_bias_init = -2.0
  config.model.dim_match = 'plain'
  config.model.head = 'conv_avgpool'
  config.model.dropout_rate = 0.5

  config.batch_size = 100
  config.eval_batch_size = 500
  config.num_train_steps = 200_000
  config.optimizer.name = 'nesterov'
  config.optimizer.learning_rate = 0.025
  config.optimizer.momentum = 0.9
  config.optimizer.weight_decay = 1e-3
  config.schedule.name = 'step'
  config.schedule.boundaries = (0.5, 0.75)
  config.schedule.decay_factor = 0.1

  config.log_every_steps = 500
  config.eval_every_steps = 5000
  config.checkpoint_every_steps = 5000

  if arg.runlocal:
    config.model.features = (4, 6)
    config.model.num_highway_layers = (1, 1)
    config.model.pool_after = (True, False)
    config.batch_size = 8
    config.eval_batch_size = 8
    config.num_train_steps = 4
    config.log_every_steps = 2
    config.eval_every_steps = 2
    config.checkpoint_every_steps = 2
    config.async_checkpointing = False
  return config

r"""CIFAR-10 with the 19-layer convolutional highway network of the authors' public recipe.

    python scripts/train.py --config=configs/cifar_highway.py

Network (``highway_jax.models.highway_cnn``): a 3×3 conv of 32 filters, 4 highway layers of 32;
max-pool; a plain conv of 80, 5 highway layers of 80; max-pool; a plain conv of 128, 5 highway layers of
128; dropout, a 1×1 conv to the 10 classes and global (8×8) average pooling. Transform bias −2, ReLU,
about 2.24M parameters (the paper's "Highway B": 19 layers, ~2.3M; 92.4% test with augmentation).

Training: batch 100, Nesterov momentum 0.9, learning rate 0.025, weight decay 1e-3 (L2 on the kernels),
200k iterations with the learning rate divided by 10 at 50% and 75%; data: global contrast
normalisation, zero-padding by 8 px, random 32×32 crops and horizontal mirroring.

TFDS ``cifar10``: needs network access to download (and TensorFlow to prepare, ``pip install -e
".[tf]"``), or a prepared directory via ``--config.data.data_dir``; offline it stops at once with a
message naming the offline configs. ``:runlocal`` is a few steps of a tiny net, for tests.
"""

from highway_jax.training import default_config, parse_arg, runlocal


def get_config(arg=None):
  arg = parse_arg(arg, runlocal=False)
  config = default_config()
  config.data.name = 'cifar10'
  config.data.in_memory = True  # decoded once (737 MB): a batch is one gather, not 100 PNG decodes
  config.data.validation_fraction = 0.1  # eval_split and the best checkpoint
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
  config.model.first_layer = 'plain'
  config.model.head = 'conv_avgpool'
  config.model.head_dropout_rate = 0.5

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
    runlocal(config, batch_size=8, eval_batch_size=8)
  return config

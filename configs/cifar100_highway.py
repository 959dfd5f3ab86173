r"""CIFAR-100 with the 19-layer convolutional highway network of the authors' recipe.

    python scripts/train.py --config=configs/cifar100_highway.py

The network and training of ``configs/cifar_highway.py`` (batch 100, Nesterov 0.9, learning rate 0.025,
weight decay 1e-3, step schedule, pad-crop-flip augmentation, transform bias −2), with a 100-class
head. Published with augmentation: 67.76% test. TFDS ``cifar100`` (fine labels); offline it stops at
once with a message naming the offline configs. ``:runlocal`` is a few steps of a tiny net, for tests.
"""

from highway_jax.training import load_config_file, parse_arg


def get_config(arg=None):
  arg = parse_arg(arg, runlocal=False)
  config = load_config_file('cifar_highway.py' + (':runlocal' if arg.runlocal else ''),
                            relative_to=__file__)
  config.data.name = 'cifar100'  # the head's width follows the dataset's 100 classes
  return config

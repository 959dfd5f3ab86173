r"""The paper's fully connected depth experiment on MNIST: plain vs highway at 10 to 100 layers.

    python scripts/train.py --config=configs/mnist_depth.py:num_layers=50,block=highway
    python scripts/train.py --config=configs/mnist_depth.py:num_layers=100,block=plain

Srivastava et al. (2015), "Training Very Deep Networks", Figure 1: one plain layer, then ``num_layers − 1``
fully connected highway layers of 50 units or plain layers of 71 units (about 5,000 parameters per layer
either way), softmax; SGD with momentum and an exponentially decaying learning rate (the paper tuned
these by a random search of 100 settings per family; ours are one reasonable setting). Published:
10- and 20-layer plain nets reach training loss below 1e-4, then plain nets get worse with depth while
50- and 100-layer highway nets train as well as shallow ones. Compare ``train_loss`` in results.json.

TFDS ``mnist`` (needs the dataset prepared, see ``--config.data.data_dir``). The transform bias starts
at −1, −2, −3 for up to 10, 20, 50 layers and −4 deeper; ``:transform_bias_init=…`` overrides it (0 keeps
the default). ``:runlocal`` is a few steps of a small net, for tests (under
``tfds.testing.mock_data``).
"""

from highway_jax.training import load_config_file, parse_arg, runlocal


def get_config(arg=None):
  # The experiment of configs/digits_depth.py (model, optimizer, transform biases), sized for MNIST.
  parsed = parse_arg(arg, num_layers=10, block='highway', transform_bias_init=0.0, runlocal=False,
                     choices={'block': ('highway', 'plain')})
  config = load_config_file('digits_depth.py' + (f':{arg}' if arg else ''), relative_to=__file__)
  config.data.name = 'mnist'
  config.data.in_memory = True  # decoded once (188 MB): a batch is one gather, not 100 PNG decodes
  if parsed.runlocal:  # digits_depth's small net, with batches mock MNIST can fill
    return runlocal(config, batch_size=8, eval_batch_size=8)
  config.batch_size = 100
  config.eval_batch_size = 1000
  config.schedule.decay_rate = 0.96              # per epoch of 600 steps (100 epochs)
  config.schedule.transition_steps = 600
  config.log_every_steps = 600
  config.eval_every_steps = 6000
  config.checkpoint_every_steps = 6000
  return config

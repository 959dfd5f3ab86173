r"""The paper's depth experiment on the offline 8×8 digits: plain vs highway at 10 to 100 layers.

    python scripts/train.py --config=configs/digits_depth.py:num_layers=50,block=highway
    python scripts/train.py --config=configs/digits_depth.py:num_layers=50,block=plain

Srivastava et al. (2015), MNIST depth experiment, on scikit-learn's digits: one plain layer, then
``num_layers − 1`` highway layers of 50 units or plain layers of 71 units (about 5,000 parameters per layer
either way), softmax; SGD with momentum and an exponentially decaying learning rate. Compare the final
training loss (``results.json``: ``train_loss``) across depths and blocks: plain nets get worse with
depth, highway nets much less. ``configs/mnist_depth.py`` is the same on MNIST.

Any depth ``num_layers`` ≥ 2 works (``scripts/very_deep.py`` trains 200 to 1000 layers). The transform
bias starts at −1, −2, −3 for up to 10, 20, 50 layers and −4 deeper (the paper suggests more negative
biases for deeper nets); ``:transform_bias_init=…`` overrides it (0 keeps the default).
``:runlocal`` is a few steps of a small net, for tests.

Nothing is selected on held-out data (the numbers are training-set losses, as in the paper's Fig. 1):
no best checkpoint, and the periodic evaluation reports the test split.
"""

from highway_jax.training import default_config, parse_arg, runlocal

DEFAULT_TRANSFORM_BIAS = ((10, -1.0), (20, -2.0), (50, -3.0))  # (up to this depth, bias); deeper: -4


def default_transform_bias(num_layers):
  return next((bias for depth, bias in DEFAULT_TRANSFORM_BIAS if num_layers <= depth), -4.0)


def get_config(arg=None):
  arg = parse_arg(arg, num_layers=10, block='highway', transform_bias_init=0.0, runlocal=False,
                  choices={'block': ('highway', 'plain')})
  config = default_config()
  config.data.name = 'digits'

  config.model.name = 'highway_mlp'
  config.model.num_layers = arg.num_layers
  config.model.block = arg.block
  config.model.features = 50 if arg.block == 'highway' else 71
  config.model.activation = 'relu'
  config.model.transform_bias_init = arg.transform_bias_init or default_transform_bias(arg.num_layers)

  config.batch_size = 64
  config.eval_batch_size = 360
  config.num_epochs = 100.0                      # 22 steps per epoch
  config.optimizer.name = 'momentum'
  config.optimizer.learning_rate = 0.01
  config.optimizer.momentum = 0.9
  config.schedule.name = 'exponential'
  config.schedule.decay_rate = 0.97              # per epoch
  config.schedule.transition_steps = 22

  config.log_every_steps = 100
  config.eval_every_steps = 550
  config.checkpoint_every_steps = 550
  config.best_metric = ''
  config.eval_split = 'test'

  if arg.runlocal:
    config.model.num_layers = 3
    config.model.features = 8
    config.schedule.transition_steps = 2
    runlocal(config, batch_size=32, eval_batch_size=120, steps=6, every=3)
  return config

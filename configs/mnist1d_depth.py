r"""The depth experiment of ``configs/digits_depth.py`` on MNIST-1D: plain vs highway at 10 to 100 layers.

    python scripts/train.py --config=configs/mnist1d_depth.py:num_layers=100,block=highway
    python scripts/depth_sweep.py --dataset=mnist1d --trials=10 --steps=2000 --learning_rate_range=3e-3,1e-1

A second, harder dataset for the paper's Fig. 1: MNIST-1D generated locally (offline; 4,000 train /
1,000 test sequences, flattened to 40 inputs). The model, optimizer and transform biases are those of
``configs/digits_depth.py`` (one plain layer, ``num_layers − 1`` highway layers of 50 units or plain
layers of 71, ReLU, SGD with momentum 0.9, learning rate × 0.97 per epoch of 63 steps at batch 64).
Nothing is selected on held-out data: the score is the full training-set loss, as in the paper.

``:runlocal`` is a few steps of a small net on a small generated set, for tests.
"""

from highway_jax.training import load_config_file, parse_arg, runlocal


def get_config(arg=None):
  parsed = parse_arg(arg, num_layers=10, block='highway', transform_bias_init=0.0, runlocal=False,
                     choices={'block': ('highway', 'plain')})
  config = load_config_file('digits_depth.py' + (f':{arg}' if arg else ''), relative_to=__file__)
  config.data.name = 'mnist1d'
  if parsed.runlocal:  # digits_depth's small net on a small set
    config.data.num_train = 200
    config.data.num_test = 100
    return runlocal(config, batch_size=20, eval_batch_size=50, steps=6, every=3)
  config.eval_batch_size = 500
  config.schedule.transition_steps = 63          # 4,000 / 64 steps per epoch (100 epochs)
  config.eval_every_steps = 630
  config.checkpoint_every_steps = 630
  return config

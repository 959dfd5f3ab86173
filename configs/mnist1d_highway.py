r"""A 10-layer highway MLP on MNIST-1D, generated locally (offline): the highway side of "LSTM vs Highway".

    python scripts/train.py --config=configs/mnist1d_highway.py
    python scripts/loss_curves.py --workdir=runs/lstm_vs_highway

The 40 values of a sequence go to one plain layer of 64 units, 9 highway layers of 64 units
(ReLU, transform bias −2) and a softmax, trained with the same data, batch, optimizer and schedule as
``configs/mnist1d_gru.py`` so that their training curves compare directly. Published MNIST-1D anchors:
MLP 68%, GRU 91%, CNN 94% test accuracy. ``:block=plain`` gives the plain baseline.

``:runlocal`` is a few steps of a tiny net, for tests.
"""

from highway_jax.training import default_config, parse_arg


def get_config(arg=None):
  arg = parse_arg(arg, depth=10, block='highway', runlocal=False,
                  choices={'block': ('highway', 'plain', 'residual')})
  config = default_config()
  config.data.name = 'mnist1d'

  config.model.name = 'highway_mlp'
  config.model.depth = arg.depth
  config.model.features = 64
  config.model.block = arg.block
  config.model.activation = 'relu'
  config.model.transform_bias_init = -2.0

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
    config.model.depth = 3
    config.model.features = 8
    config.batch_size = 20
    config.eval_batch_size = 50
    config.num_train_steps = 4
    config.schedule.warmup_steps = 1
    config.log_every_steps = 2
    config.eval_every_steps = 2
    config.checkpoint_every_steps = 2
    config.async_checkpointing = False
  return config

r"""A 2-d Grid LSTM (time × depth) on MNIST-1D, generated locally (offline).

    python scripts/train.py --config=configs/mnist1d_grid_lstm.py

MNIST-1D (Greydanus 2020; published split of 4,000 train / 1,000 test sequences of length 40, 10
classes; published anchors: GRU 91%, CNN 94%, MLP 68% test accuracy). The grid reads one value per
time step; LSTM cells run along time and along depth (``depth`` layers, untied, depth computed after
time: ``priority_dims=(1,)``); the top layer's output at the last step goes to a softmax. Adam with a
cosine schedule, the same budget as ``configs/mnist1d_gru.py`` (100 epochs of batch 100). The result
is in ``docs/grid_lstm.md``.

Variants: ``depth``, ``features``, ``epochs``; ``:runlocal`` (a few steps of a tiny net, for tests).
"""

from highway_jax.training import default_config, parse_arg


def get_config(arg=None):
  arg = parse_arg(arg, depth=2, features=64, epochs=100.0, runlocal=False)
  config = default_config()
  config.data.name = 'mnist1d'

  config.model.name = 'grid_lstm'
  config.model.kind = '2d'
  config.model.features = arg.features
  config.model.depth = arg.depth
  config.model.priority_dims = (1,)
  config.model.pooling = 'last'

  config.batch_size = 100
  config.eval_batch_size = 500
  config.num_epochs = arg.epochs                  # 40 steps per epoch
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
    config.model.depth = 1
    config.batch_size = 20
    config.eval_batch_size = 50
    config.num_train_steps = 4
    config.schedule.warmup_steps = 1
    config.log_every_steps = 2
    config.eval_every_steps = 2
    config.checkpoint_every_steps = 2
    config.async_checkpointing = False
  return config

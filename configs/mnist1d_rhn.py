r"""A Recurrent Highway Network classifier on MNIST-1D, generated locally (offline).

    python scripts/train.py --config=configs/mnist1d_rhn.py
    python scripts/train.py --config=configs/mnist1d_rhn.py:depth=5

One RHN layer (Zilly et al. 2017) of 128 units with recurrence depth ``depth`` (micro-layers per time
step, s_l = h_l·t_l + s_{l−1}·(1 − t_l), the input entering only the first), transform bias −2; its
output at the last step goes to a softmax. Adam with a cosine schedule. MNIST-1D: 4,000 train / 1,000
test sequences of length 40; published anchors GRU 91%, CNN 94%.

``:runlocal`` is a few steps of a tiny net, for tests.
"""

from highway_jax.training import default_config, parse_arg


def get_config(arg=None):
  arg = parse_arg(arg, depth=3, runlocal=False)
  config = default_config()
  config.data.name = 'mnist1d'

  config.model.name = 'rnn_classifier'
  config.model.cell = 'rhn'
  config.model.features = 128
  config.model.rhn_depth = arg.depth
  config.model.transform_bias_init = -2.0
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
    config.model.rhn_depth = 2
    config.batch_size = 20
    config.eval_batch_size = 50
    config.num_train_steps = 4
    config.schedule.warmup_steps = 1
    config.log_every_steps = 2
    config.eval_every_steps = 2
    config.checkpoint_every_steps = 2
    config.async_checkpointing = False
  return config

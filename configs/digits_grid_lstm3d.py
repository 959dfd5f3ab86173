r"""A 3-d Grid LSTM (rows × columns × depth) on scikit-learn's 8×8 digits (offline).

    python scripts/train.py --config=configs/digits_grid_lstm3d.py

The grid runs over the 8×8 pixels (``patch_size=1``; ``:patch_size=2`` runs over 4×4 patches of 2×2
pixels): LSTM cells along rows, columns and depth, ``num_layers`` untied layers of ``features`` units,
depth computed after rows and columns (``priority_dims=(2,)``); the top layer's vector at the
bottom-right point, which has seen the whole image through the row and column memories, goes to a
softmax. 1,293 train / 144 validation / 360 test images; Adam with a cosine schedule. The result is in
``docs/grid_lstm.md``.

Variants: ``num_layers``, ``features``, ``patch_size``, ``epochs``; ``:runlocal`` (a few steps of a tiny
net, for tests).
"""

from highway_jax.training import default_config, parse_arg, runlocal


def get_config(arg=None):
  arg = parse_arg(arg, num_layers=2, features=32, patch_size=1, epochs=40.0, runlocal=False,
                  choices={'patch_size': (1, 2, 4)})
  config = default_config()
  config.data.name = 'digits'
  config.data.validation_fraction = 0.1  # eval_split and the best checkpoint

  config.model.name = 'grid_lstm'
  config.model.core = '3d'
  config.model.features = arg.features
  config.model.num_layers = arg.num_layers
  config.model.patch_size = arg.patch_size
  config.model.priority_dims = (2,)
  config.model.pooling = 'last'

  config.batch_size = 64
  config.eval_batch_size = 360
  config.num_epochs = arg.epochs                  # 20 steps per epoch
  config.optimizer.name = 'adam'
  config.optimizer.learning_rate = 2e-3
  config.optimizer.grad_clip_norm = 1.0
  config.schedule.name = 'cosine'
  config.schedule.warmup_steps = 50

  config.log_every_steps = 50
  config.eval_every_steps = 220
  config.checkpoint_every_steps = 220

  if arg.runlocal:
    config.model.features = 4
    config.model.num_layers = 1
    config.model.patch_size = 2
    runlocal(config, batch_size=16, eval_batch_size=120)
  return config

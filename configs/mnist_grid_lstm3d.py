r"""A 3-d Grid LSTM (rows × columns × depth) on MNIST (TFDS).

    python scripts/train.py --config=configs/mnist_grid_lstm3d.py

Kalchbrenner et al. (2015), section 4.5, report 0.32% test error on MNIST with a 3-d Grid LSTM over
image patches. Here: the 28×28 image is cut into 2×2 patches (a 14×14 grid of 4-value vectors,
``patch_size``), LSTM cells along rows, columns and depth, ``num_layers`` untied layers of ``features``
units, depth computed after rows and columns (``priority_dims=(2,)``); the top layer's vectors at all
points are flattened into the softmax. The paper's exact sizes and training recipe are not reproduced
(unverified here); this is a GPU-sized job: each layer is a scan over the 27 anti-diagonals of the
14×14 grid. Adam with a cosine schedule, 20 epochs.

TFDS ``mnist`` (needs the dataset prepared, see ``--config.data.data_dir``). Variants: ``num_layers``,
``features``, ``patch_size``, ``epochs``; ``:runlocal`` (a few steps of a tiny net, for tests, under
``tfds.testing.mock_data``).
"""

from highway_jax.training import default_config, parse_arg, runlocal


def get_config(arg=None):
  arg = parse_arg(arg, num_layers=2, features=64, patch_size=2, epochs=20.0, runlocal=False,
                  choices={'patch_size': (1, 2, 4, 7)})
  config = default_config()
  config.data.name = 'mnist'
  config.data.in_memory = True  # decoded once (188 MB): a batch is one gather, not a PNG decode per example
  config.data.validation_fraction = 0.1  # eval_split and the best checkpoint

  config.model.name = 'grid_lstm'
  config.model.core = '3d'
  config.model.features = arg.features
  config.model.num_layers = arg.num_layers
  config.model.patch_size = arg.patch_size
  config.model.priority_dims = (2,)
  config.model.pooling = 'flatten'

  config.batch_size = 128
  config.eval_batch_size = 1000
  config.num_epochs = arg.epochs
  config.optimizer.name = 'adam'
  config.optimizer.learning_rate = 1e-3
  config.optimizer.grad_clip_norm = 1.0
  config.schedule.name = 'cosine'
  config.schedule.warmup_steps = 500

  config.log_every_steps = 100
  config.eval_every_steps = 2000
  config.checkpoint_every_steps = 2000

  if arg.runlocal:
    config.model.features = 4
    config.model.num_layers = 1
    config.model.patch_size = 7
    runlocal(config, batch_size=8, eval_batch_size=8)
  return config

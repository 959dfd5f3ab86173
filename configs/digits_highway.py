r"""A 50-layer highway network on scikit-learn's 8×8 digits: the offline main job.

    python scripts/train.py --config=configs/digits_highway.py

One plain layer of 50 units, 49 ReLU highway layers of 50 units, softmax; Adam with warmup and a
cosine schedule, 60 epochs. The transform bias starts at −3: the paper suggests −1, −2, −3 for 10, 20,
30 layers, and at −2 this 50-layer net barely carries its signal at initialisation (each coupled layer
scales the carried input by 1 − σ(b_T) ≈ 0.88, 0.88⁴⁹ ≈ 0.002) and trains far more slowly. Needs no
download and runs in a few minutes on 2 CPU cores; test accuracy ≥ 95% (1,293 train / 144 validation /
360 test images; validation, the last 10% of the training share, picks the best checkpoint).

Variants (``:key=value,...``): ``num_layers`` (total layers), ``block`` (highway|plain|residual),
``runlocal`` (a few steps of a small net, for tests)::

    python scripts/train.py --config=configs/digits_highway.py:num_layers=20,block=plain
"""

from highway_jax.training import default_config, parse_arg, runlocal


def get_config(arg=None):
  arg = parse_arg(arg, num_layers=50, block='highway', runlocal=False,
                  choices={'block': ('highway', 'plain', 'residual')})
  config = default_config()
  config.data.name = 'digits'
  config.data.validation_fraction = 0.1

  config.model.name = 'highway_mlp'
  config.model.num_layers = arg.num_layers
  config.model.features = 50
  config.model.block = arg.block
  config.model.activation = 'relu'
  config.model.transform_bias_init = -3.0

  config.batch_size = 64
  config.eval_batch_size = 360
  config.num_epochs = 60.0
  config.optimizer.name = 'adam'
  config.optimizer.learning_rate = 1e-3
  config.schedule.name = 'cosine'
  config.schedule.warmup_steps = 100

  config.log_every_steps = 100
  config.eval_every_steps = 500
  config.checkpoint_every_steps = 500

  if arg.runlocal:
    config.model.num_layers = min(arg.num_layers, 4)
    config.model.features = 16
    runlocal(config, batch_size=32, eval_batch_size=120, steps=6, every=3)
  return config

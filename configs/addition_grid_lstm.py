r"""15-digit addition: a 2-d Grid LSTM (time × depth) against a stacked LSTM of about the same size.

    python scripts/train.py --config=configs/addition_grid_lstm.py:model=grid
    python scripts/train.py --config=configs/addition_grid_lstm.py:model=lstm

Kalchbrenner et al. (2015), section 4.2: two 15-digit numbers are read digit by digit and the sum is
written out; the 2-d Grid LSTM learns it with far fewer samples than a stacked LSTM. Here
(``highway_jax.data.algorithmic.make_addition``, offline): the inputs are the tokens
``a_1..a_15 + b_1..b_15 = BLANK×16`` (48 steps, vocabulary 13, one-hot into the first layer), the
labels the 16 digits of the sum, one per BLANK; the model reads left to right and predicts a digit at
each BLANK. The test reports per-digit ``accuracy`` and ``sequence_accuracy`` (all 16 digits right).
Digits are written least significant first (``addition_reverse``), so that the carry flows the way the
model reads; ``:reverse=false`` writes them most significant first.

``model=grid``: a 2-d Grid LSTM (``config.model.core='2d'``) of 3 layers of 32 units (LSTM cells along
time and depth, untied, depth computed after time: ``priority_dims=(1,)``), 50.7K parameters.
``model=lstm``: a stacked LSTM (``highway_jax.recurrent.LSTM``) of 3 layers of 48 units, 49.6K
parameters. ``:tied=true`` ties the grid's weights across layers (the paper's best addition model;
17.4K parameters at width 32). Both: Adam 2e-3, gradient clipping at 1, cosine schedule, 100,000
training sums, a small budget of 3,000 steps of 64 (``:steps=N``); the results are in
``docs/grid_lstm.md``.

Variants: ``digits``, ``num_layers``, ``steps``, ``reverse``, ``tied``; ``:runlocal`` (a few steps of
a tiny net, for tests).
"""

from highway_jax.training import ConfigError, default_config, parse_arg, runlocal

# Widths with about the same parameter count at 3 layers (untied): 50.7K and 49.6K.
GRID_FEATURES = 32
LSTM_FEATURES = 48


def get_config(arg=None):
  arg = parse_arg(arg, model='grid', digits=15, num_layers=3, steps=3000, reverse=True, tied=False,
                  runlocal=False, choices={'model': ('grid', 'lstm')})
  if arg.tied and arg.model != 'grid':
    raise ConfigError('config argument tied=true applies to model=grid only.')
  config = default_config()
  config.data.name = 'addition'
  config.data.addition_digits = arg.digits
  config.data.addition_reverse = arg.reverse
  config.data.num_train = 100_000
  config.data.num_test = 1000

  config.model.name = 'grid_lstm'
  config.model.num_layers = arg.num_layers
  if arg.model == 'grid':
    config.model.core = '2d'
    config.model.features = GRID_FEATURES
    config.model.tied = arg.tied
    config.model.priority_dims = (1,)
  else:
    config.model.core = 'lstm'
    config.model.features = LSTM_FEATURES

  config.batch_size = 64
  config.eval_batch_size = 500
  config.num_train_steps = arg.steps
  config.optimizer.name = 'adam'
  config.optimizer.learning_rate = 2e-3
  config.optimizer.grad_clip_norm = 1.0
  config.schedule.name = 'cosine'
  config.schedule.warmup_steps = 200
  config.best_metric = 'sequence_accuracy'

  config.log_every_steps = 100
  config.eval_every_steps = 500
  config.checkpoint_every_steps = 1000

  if arg.runlocal:
    config.data.addition_digits = min(arg.digits, 3)
    config.data.num_train = 256
    config.data.num_test = 64
    config.model.features = 8
    config.model.num_layers = 1
    runlocal(config, batch_size=16, eval_batch_size=32)
  return config

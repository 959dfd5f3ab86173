r"""k-bit parity with a tied 1-d Grid LSTM (the whole string at once), against same-size baselines.

    python scripts/train.py --config=configs/parity_grid_lstm.py
    python scripts/train.py --config=configs/parity_grid_lstm.py:model=mlp
    python scripts/train.py --config=configs/parity_grid_lstm.py:model=lstm

Kalchbrenner et al. (2015), section 4.1: a 1-d Grid LSTM ("1-LSTM"; LSTM cells along depth, weights
tied across layers) reads the whole k-bit string through one projection and learns its parity for
k up to 250. Here ``bits=50`` by default: the projection ``h_0 = W x + b`` (m_0 = 0), 6 tied
LSTM blocks of 128 units, a softmax on the top hidden vector; about 73K parameters.

Baselines of about the same size (``docs/grid_lstm.md`` lists the counts):

* ``model=mlp``: the same tied 6-layer network with the depth dimension non-LSTM, i.e. a plain tanh
  network ``h_l = tanh(V h_{l−1} + b)`` of 256 units (a 256² plain layer has as many weights as a
  128-unit LSTM block, 4·128²).
* ``model=lstm``: a stacked LSTM of 2 layers of 76 units reading the string one bit per time step
  (the usual recurrent formulation, the "2-bit problem" repeated 50 times).

Training strings (``config.data.parity_train_density``): with ``'half'`` every bit is 1 with
probability 1/2, as in the test strings; parity of 50 uniform bits is uncorrelated with every function
of fewer than 50 bits, so gradient descent gets no signal and stays at chance (see the docs). With
``'random'`` (the default here) each training string first draws its own density q ~ U(0, 1), so the
number of ones is uniform on 0…50 and strings with few ones (where parity is easy) are common; the
test split is always uniform random strings. 500,000 training strings, 1,000 test strings.
Adam 2e-3, gradient clipping at 1, cosine schedule, 50,000 steps of 64.

Variants: ``bits``, ``model`` (grid|mlp|lstm), ``density`` (random|half), ``steps``; ``:runlocal`` (a
few steps of a tiny net, for tests).
"""

from highway_jax.training import default_config, parse_arg, runlocal


def get_config(arg=None):
  arg = parse_arg(arg, bits=50, model='grid', density='random', steps=50_000, runlocal=False,
                  choices={'model': ('grid', 'mlp', 'lstm'), 'density': ('random', 'half')})
  config = default_config()
  config.data.name = 'parity'
  config.data.parity_bits = arg.bits
  config.data.parity_train_density = arg.density
  config.data.num_train = 500_000
  config.data.num_test = 1000

  config.model.name = 'grid_lstm'
  if arg.model == 'grid':
    config.model.core = '1d'
    config.model.features = 128
    config.model.num_layers = 6
    config.model.tied = True
  elif arg.model == 'mlp':
    config.model.core = '1d'
    config.model.features = 256
    config.model.num_layers = 6
    config.model.tied = True
    config.model.non_lstm_dims = (0,)
  else:
    config.model.core = 'lstm'
    config.model.features = 76
    config.model.num_layers = 2

  config.batch_size = 64
  config.eval_batch_size = 1000
  config.num_train_steps = arg.steps
  config.optimizer.name = 'adam'
  config.optimizer.learning_rate = 2e-3
  config.optimizer.grad_clip_norm = 1.0
  config.schedule.name = 'cosine'
  config.schedule.warmup_steps = 500

  config.log_every_steps = 500
  config.eval_every_steps = 5000
  config.checkpoint_every_steps = 10_000

  if arg.runlocal:
    config.data.parity_bits = min(arg.bits, 8)
    config.data.num_train = 256
    config.data.num_test = 64
    config.model.features = 8 if arg.model != 'mlp' else 16
    config.model.num_layers = 2
    runlocal(config, batch_size=16, eval_batch_size=32)
  return config

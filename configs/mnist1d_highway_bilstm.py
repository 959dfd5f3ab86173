r"""A Highway BiLSTM classifier on MNIST-1D, generated locally (offline).

    python scripts/train.py --config=configs/mnist1d_highway_bilstm.py
    python scripts/train.py --config=configs/mnist1d_highway_bilstm.py:layers=8,highway=false

``layers`` bidirectional LSTM layers of 64 units per direction with highway connections between layers,
y = BiLSTM(x)·T(x) + x·(1 − T(x)) (transform bias −2), or a plain stacked BiLSTM with ``highway=false``;
the forward output at the last step and the backward output at the first go to a softmax. Adam with a
cosine schedule. MNIST-1D: 4,000 train / 1,000 test sequences of length 40; published anchors GRU 91%,
CNN 94%.

``:runlocal`` is a few steps of a tiny net, for tests.
"""

from highway_jax.training import default_config, parse_arg


def get_config(arg=None):
  arg = parse_arg(arg, layers=4, highway=True, runlocal=False)
  config = default_config()
  config.data.name = 'mnist1d'

  config.model.name = 'rnn_classifier'
  config.model.cell = 'lstm'
  config.model.features = 64
  config.model.num_layers = arg.layers
  config.model.bidirectional = True
  config.model.highway = arg.highway
  config.model.transform_bias_init = -2.0
  config.model.pooling = 'last'

  config.batch_size = 100
  config.eval_batch_size = 500
  config.num_epochs = 60.0                       # 40 steps per epoch
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
    config.model.features = 4
    config.model.num_layers = min(arg.layers, 2)
    config.batch_size = 20
    config.eval_batch_size = 50
    config.num_train_steps = 4
    config.schedule.warmup_steps = 1
    config.log_every_steps = 2
    config.eval_every_steps = 2
    config.checkpoint_every_steps = 2
    config.async_checkpointing = False
  return config

r"""The seed's Highway BiLSTM sentiment classifier on IMDB reviews or SST-2.

    python scripts/train.py --config=configs/sentiment_highway_bilstm.py
    python scripts/train.py --config=configs/sentiment_highway_bilstm.py:dataset=sst2,num_layers=10
    python scripts/train.py --config=configs/sentiment_highway_bilstm.py:num_layers=10,highway=false

A stack of ``num_layers`` bidirectional LSTM layers (128 units per direction) with highway connections
between layers, y = BiLSTM(x)·T(x) + x·(1 − T(x)) (``highway=true``), or a plain stacked BiLSTM
(``highway=false``); word embeddings of 128; the forward state at the last token and the backward
state at the first go to a softmax over {negative, positive}. Adam, gradient clipping at 5.

The seed's blog (probably on SST-2): plain stacked BiLSTMs stopped converging at about 10 layers (chance
accuracy) while highway BiLSTMs degraded much more slowly with depth. The vocabulary (20,000 ids) is
built from the training split and cached in the work directory.

TFDS ``imdb_reviews`` (default) or ``glue/sst2`` (``:dataset=sst2``; its labelled validation split is
our test split). Both need network access to download and TensorFlow to prepare (``pip install -e
".[tf]"``), or a prepared ``--config.data.data_dir``. ``:runlocal`` is a few steps of a tiny net, for
tests (under ``tfds.testing.mock_data``).
"""

from highway_jax.training import default_config, parse_arg, runlocal

DATASETS = {'imdb_reviews': 'imdb_reviews', 'sst2': 'glue/sst2'}


def get_config(arg=None):
  arg = parse_arg(arg, dataset='imdb_reviews', num_layers=4, highway=True, runlocal=False,
                  choices={'dataset': tuple(DATASETS)})
  config = default_config()
  config.data.name = DATASETS[arg.dataset]
  config.data.vocab_size = 20_000
  config.data.max_length = 256 if arg.dataset == 'imdb_reviews' else 64
  config.data.validation_fraction = 0.1  # sst2 too: its own validation split is our test split

  config.model.name = 'rnn_classifier'
  config.model.cell = 'lstm'
  config.model.features = 128
  config.model.num_layers = arg.num_layers
  config.model.bidirectional = True
  config.model.highway = arg.highway
  config.model.transform_bias_init = -2.0
  config.model.embedding_features = 128
  config.model.layer_dropout_rate = 0.2
  config.model.head_dropout_rate = 0.3
  config.model.pooling = 'last'

  config.batch_size = 64
  config.eval_batch_size = 500
  config.num_epochs = 5.0
  config.optimizer.name = 'adam'
  config.optimizer.learning_rate = 1e-3
  config.optimizer.grad_clip_norm = 5.0
  config.schedule.name = 'cosine'
  config.schedule.warmup_steps = 200

  config.log_every_steps = 50
  config.eval_every_steps = 1000
  config.checkpoint_every_steps = 1000

  if arg.runlocal:
    config.data.vocab_size = 50
    config.data.max_length = 12
    config.model.features = 4
    config.model.embedding_features = 4
    config.model.num_layers = min(arg.num_layers, 2)
    runlocal(config, batch_size=4, eval_batch_size=4)
  return config

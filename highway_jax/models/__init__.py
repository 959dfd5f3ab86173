"""Task models built from the layer library, chosen by ``config.model.name``.

    'highway_mlp'     fully connected highway/plain/residual classifier (the depth experiment)
    'highway_cnn'     convolutional highway classifier (the CIFAR 19-layer and MNIST 10-layer nets)
    'rnn_classifier'  LSTM/GRU/RHN/simple-RNN sequence classifier, incl. the Highway BiLSTM
    'grid_lstm'       Grid LSTM models (``models/grid_lstm.py``)

Every model module defines ``DEFAULTS`` (its ``config.model`` fields), a Flax ``Model`` and
``from_config(model_config, dataset, dtype=None) -> Model``. Every model is called as
``model.apply(variables, inputs, train=bool, lengths=None | (B,) ints, rngs={'dropout': key})`` and
returns logits ``(B, num_classes)``, or ``(B, T_out, num_classes)`` for sequence targets.

Example::

    from highway_jax import data, models
    ds = data.load(config.data)
    model = models.get_model(config.model, ds, dtype='bfloat16')
"""

from __future__ import annotations

import importlib

from highway_jax.errors import choice_error

_MODULES = {
    'highway_mlp': 'highway_jax.models.highway_mlp',
    'highway_cnn': 'highway_jax.models.highway_cnn',
    'rnn_classifier': 'highway_jax.models.rnn_classifier',
    'grid_lstm': 'highway_jax.models.grid_lstm',
}
MODEL_NAMES = tuple(_MODULES)


def get_model(model_config, dataset, dtype=None):
  """The Flax module named by ``model_config.name``, sized for ``dataset``.

  Args:
    model_config: ``config.model`` (a ConfigDict with ``name`` and the model's fields).
    dataset: a ``highway_jax.data.Dataset`` (num_classes, input and label shapes, vocab_size).
    dtype: computation dtype ('float32', 'bfloat16', a dtype, or None for float32); parameters
      stay float32.

  Raises:
    ConfigError (a ValueError): an unknown model name or model field, or a model that can't take
      this dataset; the message names the config key and the allowed values.
  """
  name = model_config.name
  if name not in _MODULES:
    raise choice_error('config.model.name', name, MODEL_NAMES)
  module = importlib.import_module(_MODULES[name])
  return module.from_config(model_config, dataset, dtype=dtype)

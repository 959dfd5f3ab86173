"""Task models built from the layer library, chosen by ``config.model.name``.

    'highway_mlp'     fully connected highway/plain/residual classifier (the depth experiment)
    'highway_cnn'     convolutional highway classifier (the CIFAR 19-layer and MNIST 10-layer nets)
    'rnn_classifier'  LSTM/GRU/RHN/simple-RNN sequence classifier, incl. the Highway BiLSTM
    'grid_lstm'       Grid LSTM models and their stacked-LSTM baseline (``models/grid.py``)

Every model module defines a Flax ``Model`` whose fields are the ``config.model`` keys (defaults, types, allowed
values and bounds: the schema ``errors.build`` checks; the words are defined in ``docs/vocabulary.md``), and
``RENAMED``: old key -> new key (a config still using an old key stops with one line naming the new key);
``get_model`` builds the model. Every model is called as
``model.apply(variables, inputs, train=bool, lengths=None | (B,) ints, rngs={'dropout': key})`` and returns logits
``(B, num_classes)``, or ``(B, T_out, num_classes)`` for sequence targets.

Example::

    from highway_jax import data, models
    ds = data.load(config.data)
    model = models.get_model(config.model, ds, dtype='bfloat16')
"""

from __future__ import annotations

import dataclasses

import jax.numpy as jnp

from highway_jax.errors import ConfigError, build, choice_error
from highway_jax.models import grid, highway_cnn, highway_mlp, rnn_classifier, shared

MODELS = {'highway_mlp': highway_mlp, 'highway_cnn': highway_cnn, 'rnn_classifier': rnn_classifier, 'grid_lstm': grid}
MODEL_NAMES = tuple(MODELS)


def get_model(model_config, dataset, dtype=None):
  """The Flax module named by ``model_config.name``, sized for ``dataset``.

  Args:
    model_config: ``config.model`` (a ConfigDict or dict with ``name`` and the model's fields).
    dataset: a ``highway_jax.data.Dataset``; gives ``num_classes`` and, to a model with these fields,
      ``vocab_size`` (token inputs) and ``output_length`` (sequence targets, ``shared.output_length``).
    dtype: computation dtype ('float32', 'bfloat16', a dtype, or None for float32); parameters
      stay float32.

  Raises:
    ConfigError (a ValueError): an unknown model name, an unknown, renamed or bad model field, or a
      dataset the model can't read; the message names the config key. Combinations of fields and
      input shapes are checked by the model's first call.
  """
  fields = dict(model_config)
  name = fields.pop('name', None)
  if name not in MODELS:
    raise choice_error('config.model.name', name, MODEL_NAMES)
  module = MODELS[name]
  own = {f.name for f in dataclasses.fields(module.Model)}
  given = dict(vocab_size=dataset.vocab_size, output_length=shared.output_length(dataset))
  if any(value is not None and key not in own for key, value in given.items()):
    raise ConfigError(
        f'config.model.name={name!r} needs real-valued inputs and one label per example; dataset '
        f'{dataset.name!r} has {"token ids" if dataset.vocab_size else "inputs"} of shape '
        f'{dataset.input_shape} and labels of shape {dataset.label_shape}. Use \'rnn_classifier\' or '
        "'grid_lstm' for token or sequence data.")
  return build(module.Model, fields, 'config.model', renamed=module.RENAMED,
               num_classes=dataset.num_classes, dtype=None if dtype is None else jnp.dtype(dtype),
               **{key: value for key, value in given.items() if key in own})


def renamed_key(key: str) -> str | None:
  """The one-line message for an old ``config.model`` key given on the command line, or None.

  ``key`` is the part after ``config.model.``. An old key may have been renamed differently per model
  (``dropout_rate``), so every new name is listed.
  """
  new = sorted({module.RENAMED[key] for module in MODELS.values() if key in module.RENAMED})
  if not new:
    return None
  return f'config.model.{key} was renamed to ' + ' or '.join(f'config.model.{n}' for n in new) + (
      ' (depending on config.model.name)' if len(new) > 1 else '') + '.'

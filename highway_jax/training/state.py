"""The train state: step, parameters and optimizer state; and its initialisation from a dataset.

``TrainState`` is Flax's ``flax.training.train_state.TrainState``: the arrays ``step`` (int32),
``params`` and ``opt_state`` are its pytree leaves (what a checkpoint stores); ``apply_fn`` and
``tx`` are static. It holds no PRNG keys: the dropout key of step t is
``fold_in(dropout_root, t)`` with ``dropout_root`` derived from ``config.seed``, so a resumed run
draws the same dropout masks without storing keys.

``init_state(model, tx, dataset, key)`` initialises the parameters from a dummy batch of two
examples shaped like the dataset's (``lengths`` included for variable-length sequences). It is pure,
so ``jax.eval_shape(init_state, ...)`` gives the abstract state a checkpoint is restored into, and
``jax.jit(init_state, out_shardings=...)`` creates it directly with its sharding.

Example::

    init = functools.partial(init_state, model, tx, dataset)
    abstract = jax.eval_shape(init, key)
    state = jax.jit(init, out_shardings=replicated(mesh))(key)
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import optax
from flax import linen as nn
from flax.training import train_state

TrainState = train_state.TrainState


def dummy_inputs(dataset, batch: int = 2) -> tuple[jax.Array, jax.Array | None]:
  """Zeros shaped like ``batch`` examples of ``dataset``, and full lengths when it has lengths."""
  inputs = jnp.zeros((batch, *dataset.input_shape), dtype=np.dtype(dataset.input_dtype))
  lengths = None
  if dataset.has_lengths:
    lengths = jnp.full((batch,), dataset.input_shape[0], dtype=jnp.int32)
  return inputs, lengths


def init_state(model: nn.Module, tx: optax.GradientTransformation, dataset,
               key: jax.Array) -> TrainState:
  """A fresh train state at step 0 (module docstring)."""
  inputs, lengths = dummy_inputs(dataset)
  variables = model.init({'params': key}, inputs, train=False, lengths=lengths)
  return TrainState.create(apply_fn=model.apply, params=variables['params'], tx=tx)


def count_params(params) -> int:
  return int(sum(np.prod(x.shape) for x in jax.tree.leaves(params)))

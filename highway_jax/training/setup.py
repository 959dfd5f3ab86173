"""What a run is built from: ``setup(config, workdir) -> Setup``, its train state, and evaluation.

``Setup`` holds what a validated config gives before any step runs: mesh, dataset, model, optimizer
and schedule, step budget, and the keys ``init_key`` (parameters) and ``dropout_root`` (dropout keys
``fold_in(dropout_root, t)``). Training and evaluating a saved run both start here, so a restored
checkpoint always meets the train state its run was trained with.

    total_steps = config.num_train_steps, or ⌈num_epochs · ⌊N_train / batch_size⌋⌉ when it is -1

``TrainState`` is Flax's; a checkpoint stores its arrays ``step``, ``params``, ``opt_state`` (no PRNG
keys: dropout keys come from the seed and the step). ``init_state`` is pure, so its ``jax.eval_shape``
is the abstract state a checkpoint restores into (``Setup.abstract_state``).

``evaluate(setup, state, split)`` is the exact mean loss and accuracy over every example of a split:
per-batch sums of the real examples (``batch['mask'] == 1``; ``losses.py``), added on the host.

Example::

    s = setup(config, workdir=None)
    state = s.init_state()
    evaluate(s, state, 'test')      # {'loss': ..., 'accuracy': ...}
"""

from __future__ import annotations

import dataclasses
import math

import jax
import jax.numpy as jnp
import ml_collections
import numpy as np
import optax
from flax import linen as nn
from flax.training.train_state import TrainState
from jax.sharding import Mesh

from highway_jax import data, models
from highway_jax.errors import ConfigError
from highway_jax.training import losses, parallel
from highway_jax.training.defaults import validate_config
from highway_jax.training.optimizers import create_optimizer


def init_state(model: nn.Module, tx: optax.GradientTransformation, dataset: data.Dataset, key: jax.Array) -> TrainState:
  """A fresh train state at step 0, initialised on two zero examples shaped like ``dataset``'s."""
  inputs = jnp.zeros((2, *dataset.input_shape), dtype=np.dtype(dataset.input_dtype))
  lengths = jnp.full((2,), dataset.input_shape[0], jnp.int32) if dataset.has_lengths else None
  variables = model.init({'params': key}, inputs, train=False, lengths=lengths)
  return TrainState.create(apply_fn=model.apply, params=variables['params'], tx=tx)


def count_params(params) -> int:
  return int(sum(np.prod(x.shape) for x in jax.tree.leaves(params)))


@dataclasses.dataclass(frozen=True)
class Setup:
  """A run's dataset, model, optimizer, step budget and keys (module docstring)."""

  config: ml_collections.ConfigDict
  mesh: Mesh
  dataset: data.Dataset
  model: nn.Module
  tx: optax.GradientTransformation
  schedule: optax.Schedule
  total_steps: int
  steps_per_epoch: int
  init_key: jax.Array
  dropout_root: jax.Array

  def _init(self, key: jax.Array) -> TrainState:
    return init_state(self.model, self.tx, self.dataset, key)

  def init_state(self) -> TrainState:
    """The train state at step 0, replicated over the mesh."""
    return jax.jit(self._init, out_shardings=parallel.replicated(self.mesh))(self.init_key)

  def abstract_state(self) -> TrainState:
    """Shapes, dtypes and shardings of the train state: the target a checkpoint restores into."""
    sharding = parallel.replicated(self.mesh)
    return jax.tree.map(lambda x: jax.ShapeDtypeStruct(x.shape, x.dtype, sharding=sharding),
                        jax.eval_shape(self._init, self.init_key))


def check_split(dataset: data.Dataset, split: str) -> None:
  if split not in dataset.splits:
    hint = ' Set config.data.validation_fraction=0.1 to hold one out of train.' if split == 'validation' else ''
    raise ConfigError(f'split {split!r} is not in dataset {dataset.name!r}; it has '
                      f'{", ".join(sorted(dataset.splits))}.{hint}')


def setup(config: ml_collections.ConfigDict, workdir: str | None) -> Setup:
  """Validates ``config`` and builds the run's parts (module docstring)."""
  validate_config(config)
  for key in ('batch_size', 'eval_batch_size'):
    parallel.check_batch_size(f'config.{key}', config[key])
  try:
    dataset = data.load(config.data, workdir=workdir)
  except ValueError as e:  # the data package's errors for bad config.data fields
    raise ConfigError(str(e)) from e
  check_split(dataset, config.eval_split)
  steps_per_epoch = dataset.num_examples['train'] // config.batch_size
  if steps_per_epoch < 1:
    raise ConfigError(f"config.batch_size={config.batch_size} is larger than the training split "
                      f"({dataset.num_examples['train']} examples).")
  total_steps = (config.num_train_steps if config.num_train_steps > 0
                 else max(1, math.ceil(config.num_epochs * steps_per_epoch)))
  tx, schedule = create_optimizer(config, total_steps)
  init_key, dropout_root = jax.random.split(jax.random.key(config.seed))
  return Setup(config=config, mesh=parallel.create_mesh(), dataset=dataset,
               model=models.get_model(config.model, dataset, dtype=config.dtype), tx=tx, schedule=schedule,
               total_steps=total_steps, steps_per_epoch=steps_per_epoch, init_key=init_key, dropout_root=dropout_root)


@jax.jit
def eval_step(state: TrainState, batch: dict[str, jax.Array]) -> dict[str, jax.Array]:
  """Summed loss and accuracy of one evaluation batch (padding masked out)."""
  logits = state.apply_fn({'params': state.params}, batch['inputs'], train=False, lengths=batch.get('length'))
  return losses.metric_sums(logits, batch['label'], batch['mask'])


def evaluate(s: Setup, state: TrainState, split: str) -> dict[str, float]:
  """Loss and accuracy of ``state`` over every example of ``split``; each process its shard."""
  check_split(s.dataset, split)
  batches = data.eval_batches(s.dataset, split, batch_size=s.config.eval_batch_size // jax.process_count(),
                              shard_index=jax.process_index(), shard_count=jax.process_count())
  sums = jax.device_get([eval_step(state, parallel.shard_batch(b, s.mesh)) for b in batches])
  return losses.normalize(sums)

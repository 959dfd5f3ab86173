"""Data parallelism over every device of every process, with ``jax.jit`` and ``NamedSharding``.

One mesh axis, ``'data'``, spans all devices (``jax.devices()``, across hosts). The train state is
replicated (``PartitionSpec()``); each batch is split along its leading axis (``PartitionSpec('data')``).
Under ``jax.jit`` the gradient of the mean loss is then computed per shard and all-reduced by XLA,
so N devices compute the same update as one device, up to float summation order.

Each process loads only its share of a batch: ``batch_size // jax.process_count()`` examples from
its data shard (``shard_index=jax.process_index()``), and ``shard_batch`` assembles the global array
with ``jax.make_array_from_process_local_data``.

Multi-host runs: the scripts call ``jax.distributed.initialize()`` first (``highway_jax/cli.py``).

Example::

    mesh = create_mesh()
    state = jax.device_put(state, replicated(mesh))
    batch = shard_batch(numpy_batch, mesh)      # leading dim: the global batch
"""

from __future__ import annotations

import jax
import numpy as np
from jax.sharding import Mesh, NamedSharding, PartitionSpec

from highway_jax.errors import ConfigError

DATA_AXIS = 'data'


def create_mesh() -> Mesh:
  """A 1-D mesh over every device of every process, axis ``'data'``."""
  return Mesh(np.asarray(jax.devices()), (DATA_AXIS,))


def replicated(mesh: Mesh) -> NamedSharding:
  return NamedSharding(mesh, PartitionSpec())


def shard_batch(batch: dict[str, np.ndarray], mesh: Mesh) -> dict[str, jax.Array]:
  """Global arrays from this process's part of a batch, split over ``'data'`` along axis 0.

  With one process its part is the whole batch, put on the devices by one ``jax.device_put`` of the
  tree (half the host time of an array-by-array assembly: it is paid every training step)."""
  sharding = NamedSharding(mesh, PartitionSpec(DATA_AXIS))
  if jax.process_count() == 1:
    return jax.device_put(batch, sharding)
  return jax.tree.map(lambda x: jax.make_array_from_process_local_data(sharding, np.asarray(x)), batch)


def check_batch_size(name: str, batch_size: int) -> None:
  """Raises ConfigError unless ``batch_size`` splits evenly over devices and processes."""
  devices, processes = jax.device_count(), jax.process_count()
  if batch_size < 1 or batch_size % devices or batch_size % processes:
    raise ConfigError(f'{name}={batch_size} must be a positive multiple of the number of devices ({devices}) and of '
                      f'processes ({processes}).')

"""Timing, memory and reporting utilities shared by the benchmarks.

Every benchmark times *candidates*: zero-argument callables that run one step to completion (JAX
callables end with ``jax.block_until_ready``). ``compare`` warms every candidate up (the first call
compiles), then runs them **interleaved**, round after round, so that a burst of load from another
process hits all of them alike; it reports each candidate's median time and, for ratios, the median of
the per-round paired ratios. Side-by-side ratios in one process are what these benchmarks are about:
the absolute numbers move with the machine's load. ``compare_isolated`` does the same with every
candidate in its own fresh process (what ``benchmarks.recurrent`` does by default: candidates from
different frameworks disturb each other inside one process).

``Trainer`` is the training step the model benchmarks time: a loss built from ``model.apply``, one
jitted optax update with the state donated, and ``block()`` waiting for the *full* new state
(parameters, optimizer state, RNG), not just the loss.

``write_json(name, payload)`` stores a result under ``benchmarks/results/<name>.json`` (git-ignored)
together with ``machine_info()`` (CPU model, core count, load average, backend, library versions).

Example::

    from benchmarks import common
    res = common.compare({'a': step_a, 'b': step_b}, rounds=10)
    res['a'].median_ms, common.paired_ratio(res['a'], res['b'])
"""

from __future__ import annotations

import dataclasses
import datetime
import json
import os
import platform
import statistics
import subprocess
import sys
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
import optax

RESULTS_DIR = Path(__file__).resolve().parent / 'results'


def num_threads() -> int:
  """CPU threads available to this process (XLA's CPU thread pool uses as many)."""
  try:
    return len(os.sched_getaffinity(0))
  except AttributeError:
    return os.cpu_count() or 1


@dataclasses.dataclass
class Timing:
  """Times of one candidate, in seconds, one per round (warm-up excluded).

  ``times`` is wall-clock time; ``cpu_times`` is this process's CPU time (all threads) over the same
  interval, which other processes' load disturbs less (but idle-spinning threads inflate it).
  """

  name: str
  times: list[float]
  cpu_times: list[float] = dataclasses.field(default_factory=list)

  @property
  def median_ms(self) -> float:
    return 1e3 * statistics.median(self.times)

  @property
  def cpu_median_ms(self) -> float:
    return 1e3 * statistics.median(self.cpu_times) if self.cpu_times else float('nan')

  @property
  def min_ms(self) -> float:
    return 1e3 * min(self.times)

  @property
  def iqr_ms(self) -> float:
    q1, _, q3 = np.percentile(self.times, [25, 50, 75])
    return 1e3 * float(q3 - q1)


def time_once(fn: Callable[[], Any]) -> tuple[float, float]:
  """``(wall seconds, process CPU seconds)`` of one call of ``fn``, waiting for its result."""
  cpu_start, start = time.process_time(), time.perf_counter()
  jax.block_until_ready(fn())
  return time.perf_counter() - start, time.process_time() - cpu_start


def compare(candidates: Mapping[str, Callable[[], Any]], *, rounds: int = 10, warmup: int = 2,
            min_time_s: float = 0.0) -> dict[str, Timing]:
  """Times each candidate ``rounds`` times, interleaved, after ``warmup`` untimed calls each.

  With ``min_time_s > 0`` rounds continue (up to 10x ``rounds``) until every candidate has run for
  that long in total, so that fast candidates get enough samples.
  """
  for fn in candidates.values():
    for _ in range(warmup):
      time_once(fn)
  timings = {name: Timing(name, []) for name in candidates}
  r = 0
  while r < rounds or (min_time_s > 0 and r < 10 * rounds
                       and min(sum(t.times) for t in timings.values()) < min_time_s):
    for name, fn in candidates.items():
      wall, cpu = time_once(fn)
      timings[name].times.append(wall)
      timings[name].cpu_times.append(cpu)
    r += 1
  return timings


def compare_isolated(names: Sequence[str], worker_argv: Callable[[str], list[str]], *,
                     rounds: int = 3) -> tuple[dict[str, Timing], dict[str, dict]]:
  """Times each candidate in its own fresh process, ``rounds`` times, interleaved.

  ``worker_argv(name)`` is the command line (after ``python -m``) of a worker that builds candidate
  ``name``, warms it up, times some steps and prints as its last stdout line a JSON object with
  ``times`` and ``cpu_times`` (seconds per step). Round ``r`` runs one worker per candidate, the order
  rotated by ``r`` so that no candidate always follows the same one. A candidate's time for a round is
  the median of its worker's steps, so ``paired_ratio`` pairs processes of the same round. Nothing is
  shared between candidates: no thread pools (PyTorch's OpenMP threads, XLA's), no allocator, no
  compilation cache. Returns ``(timings, report)``: the last report of each candidate's worker.
  """
  root = Path(__file__).resolve().parent.parent
  env = dict(os.environ, PYTHONPATH=os.pathsep.join(filter(None, [str(root), os.environ.get('PYTHONPATH')])))
  timings = {name: Timing(name, []) for name in names}
  reports = {}
  for r in range(rounds):
    for name in list(names)[r % len(names):] + list(names)[:r % len(names)]:
      out = subprocess.run([sys.executable, '-m', *worker_argv(name)], capture_output=True, text=True,
                           cwd=root, env=env)
      if out.returncode != 0:
        raise RuntimeError(f'benchmark worker for {name!r} failed (exit {out.returncode}):\n'
                           f'{out.stderr[-2000:]}')
      reports[name] = json.loads(out.stdout.strip().splitlines()[-1])
      timings[name].times.append(statistics.median(reports[name]['times']))
      timings[name].cpu_times.append(statistics.median(reports[name]['cpu_times']))
  return timings, reports


def spread(values: Sequence[float]) -> dict[str, float]:
  """``{'median', 'min', 'max'}`` of ``values``: how a per-round quantity is reported."""
  return {'median': statistics.median(values), 'min': min(values), 'max': max(values)}


def random_params(init: Callable[..., Any], *args, seed: int = 0) -> Any:
  """Parameters shaped like ``init(key, *args)``'s, with every leaf random (biases too), as NumPy.

  Normal, scaled by 1/sqrt(fan-in) for matrices and kernels (0.5 for vectors). ``init`` is only
  traced for its shapes, not compiled: on a small CPU an init program compiles for seconds, and
  parameter values (short of denormals, which this scaling avoids) don't change step times.
  """
  shapes = jax.eval_shape(init, jax.random.key(0), *args)
  rng = np.random.default_rng(seed)

  def draw(leaf):
    scale = 1 / np.sqrt(np.prod(leaf.shape[:-1])) if len(leaf.shape) >= 2 else 0.5
    return (scale * rng.standard_normal(leaf.shape)).astype(leaf.dtype)
  return jax.tree.map(draw, shapes)


def softmax_cross_entropy(logits: jax.Array, labels: jax.Array) -> jax.Array:
  """Mean softmax cross-entropy of integer ``labels`` (any leading shape), computed in float32."""
  return optax.softmax_cross_entropy_with_integer_labels(logits.astype(jnp.float32), labels).mean()


class Trainer:
  """A jitted training step and the state it advances, for timing whole steps.

  ``loss_fn(params, batch, rng) -> scalar``; each step splits a fresh dropout key off the state's
  RNG, takes ``value_and_grad``, applies ``tx`` and returns the new ``(params, opt_state, rng)``, with
  the old state donated. ``trainer(batch)`` only dispatches a step; ``trainer.block()`` waits for the
  whole new state (a step is finished when its parameter and optimizer updates are, not its loss).
  ``key_impl`` is the dropout key's PRNG (None: JAX's default, as in training; ``'rbg'`` compiles
  in a second where threefry takes several on a small CPU: smoke tests use it).

  Example::

      trainer = Trainer(lambda p, b, r: softmax_cross_entropy(apply(p, b['inputs']), b['label']),
                        params, optax.adam(1e-3))
      compile_s = trainer.compile(batch)
      for _ in range(10):
        trainer(batch)
      trainer.block()
  """

  def __init__(self, loss_fn: Callable[[Any, Any, jax.Array], jax.Array], params: Any,
               tx: optax.GradientTransformation, seed: int = 0, key_impl: str | None = None):
    def step(state, batch):
      params, opt_state, rng = state
      rng, dropout_rng = jax.random.split(rng)
      loss, grads = jax.value_and_grad(loss_fn)(params, batch, dropout_rng)
      updates, opt_state = tx.update(grads, opt_state, params)
      return (optax.apply_updates(params, updates), opt_state, rng), loss

    params = jax.device_put(params)
    self.state = (params, jax.jit(tx.init)(params), jax.random.key(seed, impl=key_impl))
    self._jitted = jax.jit(step, donate_argnums=(0,))
    self._step, self.compiled = self._jitted, None

  def compile(self, batch: Any) -> float:
    """Compiles the step for ``batch``'s shapes ahead of time; returns the seconds it took."""
    self.compiled, seconds = timed(lambda: self._jitted.lower(self.state, batch).compile())
    self._step = self.compiled
    return seconds

  def __call__(self, batch: Any) -> jax.Array:
    self.state, loss = self._step(self.state, batch)
    return loss

  def block(self) -> Any:
    return jax.block_until_ready(self.state)


def paired_ratio(a: Timing, b: Timing) -> float:
  """Median over rounds of ``a/b`` measured in the same round (robust to load that changes slowly)."""
  n = min(len(a.times), len(b.times))
  return statistics.median(x / y for x, y in zip(a.times[:n], b.times[:n]))


def timed(fn: Callable[[], Any]) -> tuple[Any, float]:
  """``(fn(), wall seconds)``."""
  start = time.perf_counter()
  out = fn()
  return out, time.perf_counter() - start


def timed_cpu(fn: Callable[[], Any]) -> tuple[Any, float, float]:
  """``(fn(), wall seconds, process CPU seconds)``."""
  cpu_start, start = time.process_time(), time.perf_counter()
  out = fn()
  return out, time.perf_counter() - start, time.process_time() - cpu_start


def warm_up_compiler() -> float:
  """Compiles and runs an unrelated small program, so one-off XLA/LLVM start-up costs don't land on
  the first compile that a benchmark measures. Returns the seconds it took."""
  def f(x, w):
    return jax.nn.relu(x @ w).sum()
  x = jax.numpy.ones((8, 16))
  w = jax.numpy.ones((16, 16))
  start = time.perf_counter()
  jax.block_until_ready(jax.jit(jax.grad(f, argnums=1)).lower(x, w).compile()(x, w))
  return time.perf_counter() - start


def memory_analysis(compiled) -> dict[str, int] | None:
  """Sizes in bytes from XLA's compiled memory analysis, or None if the backend gives none.

  ``peak_bytes`` estimates the program's footprint: arguments + outputs + temporaries − aliased
  (donated) buffers. ``temp_bytes`` (the temporaries: activations kept for the backward pass, scan
  buffers, workspace) is the part that remat and donation change.
  """
  stats = compiled.memory_analysis()
  if stats is None:
    return None
  out = {
      'argument_bytes': int(stats.argument_size_in_bytes),
      'output_bytes': int(stats.output_size_in_bytes),
      'temp_bytes': int(stats.temp_size_in_bytes),
      'alias_bytes': int(stats.alias_size_in_bytes),
      'code_bytes': int(getattr(stats, 'generated_code_size_in_bytes', 0)),
  }
  out['peak_bytes'] = (out['argument_bytes'] + out['output_bytes'] + out['temp_bytes']
                       - out['alias_bytes'])
  return out


def rss_bytes() -> int:
  """Resident set size of this process now (Linux /proc), in bytes."""
  with open('/proc/self/statm') as f:
    pages = int(f.read().split()[1])
  return pages * os.sysconf('SC_PAGE_SIZE')


def max_rss_bytes() -> int:
  """Peak resident set size of this process so far, in bytes."""
  import resource
  return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


def _cpu_model() -> str:
  try:
    out = subprocess.run(['lscpu'], capture_output=True, text=True, check=True).stdout
    for line in out.splitlines():
      if line.startswith('Model name:'):
        return line.split(':', 1)[1].strip()
  except (OSError, subprocess.CalledProcessError):
    pass
  return platform.processor() or 'unknown'


def machine_info() -> dict[str, Any]:
  """What the numbers depend on: CPU, cores, load, backend and device, library versions."""
  import flax
  import optax
  info = {
      'date': datetime.datetime.now().isoformat(timespec='seconds'),
      'cpu_model': _cpu_model(),
      'cpu_threads': num_threads(),
      'load_average_1_5_15': [round(x, 2) for x in os.getloadavg()],
      'backend': jax.default_backend(),
      'devices': [d.device_kind for d in jax.devices()],
      'python': platform.python_version(),
      'jax': jax.__version__,
      'jaxlib': getattr(jax.lib, '__version__', None) or _jaxlib_version(),
      'flax': flax.__version__,
      'optax': optax.__version__,
      'xla_flags': os.environ.get('XLA_FLAGS', ''),
  }
  info['torch'] = torch_version()
  return info


def torch_version() -> str | None:
  """PyTorch's installed version without importing it (the import takes seconds), or None."""
  import importlib.metadata
  try:
    return importlib.metadata.version('torch')
  except importlib.metadata.PackageNotFoundError:
    return None


def _jaxlib_version() -> str | None:
  try:
    import jaxlib
    return jaxlib.__version__
  except ImportError:
    return None


def maybe_torch():
  """The ``torch`` module if it is installed (it is optional, never a dependency), else None."""
  try:
    import torch
  except ImportError:
    return None
  return torch


def write_json(name: str, payload: Mapping[str, Any], results_dir: Path | None = None) -> Path:
  """Writes ``payload`` plus machine info and the command line to ``<results_dir>/<name>.json``."""
  results_dir = Path(results_dir) if results_dir is not None else RESULTS_DIR
  results_dir.mkdir(parents=True, exist_ok=True)
  path = results_dir / f'{name}.json'
  record = {'command': ' '.join([Path(sys.executable).name, *sys.argv]), 'machine': machine_info(),
            **payload}
  path.write_text(json.dumps(record, indent=2, default=_json_default) + '\n')
  return path


def _json_default(obj):
  if isinstance(obj, (np.integer, np.floating)):
    return obj.item()
  if isinstance(obj, np.ndarray):
    return obj.tolist()
  raise TypeError(f'not JSON serialisable: {type(obj)}')


def format_table(rows: Sequence[Mapping[str, Any]], columns: Sequence[str], *,
                 floatfmt: str = '.1f') -> str:
  """A Markdown table of ``rows`` (dicts) restricted to ``columns``; missing values print as '–'."""
  def cell(v):
    if v is None:
      return '–'
    if isinstance(v, float):
      return format(v, floatfmt)
    return str(v)
  lines = ['| ' + ' | '.join(columns) + ' |', '|' + '---|' * len(columns)]
  for row in rows:
    lines.append('| ' + ' | '.join(cell(row.get(c)) for c in columns) + ' |')
  return '\n'.join(lines)


def header(title: str) -> str:
  info = machine_info()
  return (f'\n## {title}\n\n{info["cpu_model"]}, {info["cpu_threads"]} threads, backend '
          f'{info["backend"]} ({", ".join(sorted(set(info["devices"])))}), jax {info["jax"]}, '
          f'flax {info["flax"]}, torch {info["torch"]}, load {info["load_average_1_5_15"]}\n')

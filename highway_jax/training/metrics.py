"""Where training metrics go: ``metrics.jsonl``, TensorBoard event files and a console progress line.

``MetricWriter(workdir)`` appends one JSON object per call to ``workdir/metrics.jsonl``::

    {"step": 1200, "split": "train", "loss": 0.123, "accuracy": 0.965, "learning_rate": 0.05, ...}

and writes the same scalars as ``<split>/<name>`` to TensorBoard event files in ``workdir`` (via
tensorboardX, which needs no TensorFlow). A resumed run appends; readers keep the last record per
(split, step). Only process 0 writes (``enabled=False`` elsewhere).

``ProgressReporter`` formats the console line, with the speed measured since its previous report::

    step  1200/5000 | loss 0.1234 | accuracy 96.50% | 812.3 steps/s | ETA 0:00:04

Example::

    writer = MetricWriter(workdir)
    progress = ProgressReporter(total_steps=5000, start_step=0)
    writer.write_scalars(1200, 'train', {'loss': 0.12, 'accuracy': 0.96})
    logging.info(progress.line(1200, {'loss': 0.12, 'accuracy': 0.96}))
    writer.close()
"""

from __future__ import annotations

import datetime
import json
import logging
import math
import os
import time
from collections.abc import Mapping
from typing import Any

from absl import logging as absl_logging

METRICS_FILE = 'metrics.jsonl'


class MetricWriter:
  """Appends scalars to ``metrics.jsonl`` and TensorBoard event files in ``workdir``."""

  def __init__(self, workdir: str, *, enabled: bool = True):
    self.workdir = workdir
    self.enabled = enabled
    self._jsonl = None
    self._tensorboard = None
    if enabled:
      # Imported here: tensorboardX is only needed by the process that writes.
      import tensorboardX  # pylint: disable=g-import-not-at-top
      os.makedirs(workdir, exist_ok=True)
      self._jsonl = open(os.path.join(workdir, METRICS_FILE), 'a', encoding='utf-8')
      self._tensorboard = tensorboardX.SummaryWriter(logdir=workdir, flush_secs=30)

  def write_scalars(self, step: int, split: str, scalars: Mapping[str, float]) -> None:
    if not self.enabled:
      return
    record = {'step': int(step), 'split': split, **{k: float(v) for k, v in scalars.items()}}
    self._jsonl.write(json.dumps(record) + '\n')
    self._jsonl.flush()
    for name, value in scalars.items():
      self._tensorboard.add_scalar(f'{split}/{name}', float(value), int(step))

  def write_text(self, tag: str, text: str, step: int = 0) -> None:
    if self.enabled:
      self._tensorboard.add_text(tag, text, step)

  def flush(self) -> None:
    if self.enabled:
      self._jsonl.flush()
      self._tensorboard.flush()

  def close(self) -> None:
    if self.enabled:
      self._jsonl.close()
      self._tensorboard.close()
      self.enabled = False


def read_metrics(workdir: str) -> list[dict[str, Any]]:
  """The records of ``workdir/metrics.jsonl``, keeping the last one per (split, step), by step."""
  path = os.path.join(workdir, METRICS_FILE)
  latest = {}
  with open(path, encoding='utf-8') as f:
    for line in f:
      line = line.strip()
      if line:
        record = json.loads(line)
        latest[(record['split'], record['step'])] = record
  return sorted(latest.values(), key=lambda r: (r['step'], r['split']))


def _format_metric(name: str, value: float) -> str:
  if 'accuracy' in name:
    return f'{name} {100 * value:.2f}%'
  return f'{name} {value:.4g}'


def format_metrics(metrics: Mapping[str, float]) -> str:
  """``'loss 0.1234 | accuracy 96.50%'``."""
  return ' | '.join(_format_metric(k, v) for k, v in metrics.items())


class _BelowWarningFrom(logging.Filter):
  def __init__(self, packages):
    super().__init__()
    self._markers = tuple(f'{os.sep}{p}{os.sep}' for p in packages)

  def filter(self, record):
    return record.levelno >= logging.WARNING or not any(m in record.pathname for m in self._markers)


def quiet_library_logs(packages=('orbax', 'grain', 'jax')) -> None:
  """Drops INFO logs of ``packages`` (Orbax logs every save in detail) from absl's handler.

  For entry points (scripts); warnings and errors still show.
  """
  handler = absl_logging.get_absl_handler()
  handler.addFilter(_BelowWarningFrom(packages))


class ProgressReporter:
  """Console progress lines with steps/s since the previous line and the ETA."""

  def __init__(self, total_steps: int, start_step: int = 0):
    self.total_steps = total_steps
    self._last_step = start_step
    self._last_time = time.perf_counter()

  def line(self, step: int, metrics: Mapping[str, float]) -> str:
    now = time.perf_counter()
    elapsed = now - self._last_time
    steps_per_second = (step - self._last_step) / elapsed if elapsed > 0 else math.nan
    self._last_step, self._last_time = step, now
    remaining = self.total_steps - step
    if steps_per_second > 0 and math.isfinite(steps_per_second):
      eta = str(datetime.timedelta(seconds=round(remaining / steps_per_second)))
    else:
      eta = '?'
    width = len(str(self.total_steps))
    parts = [f'step {step:>{width}}/{self.total_steps}']
    parts += [format_metrics(metrics)] if metrics else []
    parts += [f'{steps_per_second:.1f} steps/s', f'ETA {eta}']
    return ' | '.join(parts)

  def reset_clock(self, step: int) -> None:
    """Restarts the speed measurement (e.g. after an evaluation or a checkpoint)."""
    self._last_step, self._last_time = step, time.perf_counter()

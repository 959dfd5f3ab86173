"""Console output of a run: formatted metrics and a progress line with speed and ETA.

``ProgressReporter`` formats the console line, with the speed measured since its previous report::

    step  1200/5000 | loss 0.1234 | accuracy 96.50% | 812.3 steps/s | ETA 0:00:04

The metrics files of a run (``metrics.jsonl``, TensorBoard) are written by
``highway_jax.training.workdir.MetricWriter``.

Example::

    progress = ProgressReporter(total_steps=5000, start_step=0)
    logging.info(progress.line(1200, {'loss': 0.12, 'accuracy': 0.96}))
"""

from __future__ import annotations

import datetime
import logging
import math
import os
import time
from collections.abc import Mapping

from absl import logging as absl_logging


def format_metrics(metrics: Mapping[str, float]) -> str:
  """``'loss 0.1234 | accuracy 96.50%'``."""
  return ' | '.join(f'{k} {100 * v:.2f}%' if 'accuracy' in k else f'{k} {v:.4g}'
                    for k, v in metrics.items())


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

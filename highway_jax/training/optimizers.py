"""Optax optimizers and learning-rate schedules built from ``config.optimizer`` and ``config.schedule``.

The learning rate at step t (0-based) is

    lr(t) = learning_rate · t / warmup_steps                        for t < warmup_steps
    lr(t) = learning_rate · decay(t − warmup_steps)                 afterwards

with ``decay(s)``, over the ``D = total_steps − warmup_steps`` decay steps, one of

    'constant'     1
    'cosine'       alpha + (1 − alpha) · ½ (1 + cos(π s / D))
    'exponential'  decay_rate ** (s / transition_steps)             (floor(s / transition_steps) if staircase)
    'step'         decay_factor ** (number of boundaries b with s ≥ b · D)
                   where ``boundaries`` are fractions of D, e.g. (0.5, 0.75)

The update chain is: clip the gradient's global norm to ``grad_clip_norm`` (if > 0), then

    'sgd'       u = −lr · (g + wd · w)
    'momentum'  heavy-ball momentum on (g + wd · w)     (Caffe's SGD with L2 weight decay)
    'nesterov'  Nesterov momentum on (g + wd · w)
    'adam'      Adam on (g + wd · w)                    (L2 regularisation)
    'adamw'     Adam with decoupled weight decay wd · lr · w

Weight decay applies only to parameters named ``kernel`` or ``embedding``. Biases stay undecayed,
which matters for highway gates: decaying the transform bias b_T would pull it away from its negative initialisation.

Example::

    config = default_config()
    config.optimizer.name, config.schedule.name = 'nesterov', 'step'
    tx, schedule = create_optimizer(config, total_steps=1000)
    schedule(999)  # learning_rate · 0.1 ** 2
"""

from __future__ import annotations

import jax
import ml_collections
import optax

from highway_jax.errors import ConfigError, choice_error

OPTIMIZERS = ('sgd', 'momentum', 'nesterov', 'adam', 'adamw')
SCHEDULES = ('constant', 'cosine', 'exponential', 'step')
DECAYED_PARAMETER_NAMES = ('kernel', 'embedding')


def create_learning_rate_schedule(config: ml_collections.ConfigDict, total_steps: int) -> optax.Schedule:
  """The schedule of module docstring, from ``config.optimizer.learning_rate`` and ``config.schedule``."""
  sched = config.schedule
  base = float(config.optimizer.learning_rate)
  warmup_steps = int(sched.warmup_steps)
  if not 0 <= warmup_steps < total_steps:
    raise ConfigError(f'config.schedule.warmup_steps={warmup_steps} must be in [0, total steps={total_steps}).')
  decay_steps = total_steps - warmup_steps
  if sched.name == 'constant':
    decayed = optax.constant_schedule(base)
  elif sched.name == 'cosine':
    decayed = optax.cosine_decay_schedule(base, decay_steps, alpha=float(sched.alpha))
  elif sched.name == 'exponential':
    if sched.transition_steps <= 0 or not 0.0 < sched.decay_rate <= 1.0:
      raise ConfigError('config.schedule.name=\'exponential\' needs config.schedule.transition_steps > 0 and config.'
                        f'schedule.decay_rate in (0, 1]; got {sched.transition_steps} and {sched.decay_rate}.')
    decayed = optax.exponential_decay(base, transition_steps=int(sched.transition_steps),
                                      decay_rate=float(sched.decay_rate), staircase=bool(sched.staircase))
  elif sched.name == 'step':
    boundaries = tuple(float(b) for b in sched.boundaries)
    if any(not 0.0 < b < 1.0 for b in boundaries) or list(boundaries) != sorted(set(boundaries)):
      raise ConfigError('config.schedule.boundaries must be increasing fractions of the decay steps in (0, 1), '
                        f'got {boundaries}.')
    scales = {}
    for b in boundaries:
      step = max(1, round(b * decay_steps))
      scales[step] = scales.get(step, 1.0) * float(sched.decay_factor)
    decayed = optax.piecewise_constant_schedule(base, scales)
  else:
    raise choice_error('config.schedule.name', sched.name, SCHEDULES)
  if warmup_steps == 0:
    return decayed
  warmup = optax.linear_schedule(0.0, base, warmup_steps)
  return optax.join_schedules([warmup, decayed], [warmup_steps])


def decay_mask(params):
  """True for the leaves weight decay acts on: those named ``kernel`` or ``embedding``."""
  return jax.tree_util.tree_map_with_path(lambda path, _: getattr(
      path[-1], 'key', getattr(path[-1], 'name', None)) in DECAYED_PARAMETER_NAMES, params)


def create_optimizer(config: ml_collections.ConfigDict,
                     total_steps: int) -> tuple[optax.GradientTransformation, optax.Schedule]:
  """The optax transformation and its learning-rate schedule (module docstring)."""
  opt = config.optimizer
  schedule = create_learning_rate_schedule(config, total_steps)
  if opt.name in ('momentum', 'nesterov') and not 0.0 <= opt.momentum < 1.0:
    raise ConfigError(f'config.optimizer.momentum must be in [0, 1), got {opt.momentum}.')
  chain = [optax.clip_by_global_norm(float(opt.grad_clip_norm))] if opt.grad_clip_norm > 0 else []
  if opt.weight_decay > 0 and opt.name != 'adamw':  # L2 on the gradient; adamw decouples it
    chain.append(optax.add_decayed_weights(float(opt.weight_decay), mask=decay_mask))
  chain.append({
      'sgd': lambda: optax.sgd(schedule),
      'momentum': lambda: optax.sgd(schedule, momentum=float(opt.momentum)),
      'nesterov': lambda: optax.sgd(schedule, momentum=float(opt.momentum), nesterov=True),
      'adam': lambda: optax.adam(schedule, b1=opt.b1, b2=opt.b2, eps=opt.eps),
      'adamw': lambda: optax.adamw(schedule, b1=opt.b1, b2=opt.b2, eps=opt.eps, weight_decay=float(opt.weight_decay),
                                   mask=decay_mask),
  }[opt.name]())
  return optax.chain(*chain), schedule

"""The paper's experiments as functions: each trains (or reuses) its runs and writes numbers and figures.

* :func:`run_depth_sweep` — plain vs highway fully connected nets at several depths, a random search
  over the learning rate (log-uniform) and, for highway nets, the transform bias (uniform in
  [−10, −1]); the best full training-set loss per depth and family (paper Fig. 1).
  Writes ``sweep.csv``, ``results.json``, ``depth_sweep.png`` and ``best_curves.png``.
* :func:`lesion_run` — a trained run's full training-set loss and accuracy with each highway layer
  lesioned (T = 0) in turn, one compiled program (paper Fig. 4). Writes ``lesion.csv``, ``lesion.png``.
* :func:`analyze_gates_run` — transform biases at init (re-initialised from the run's config and
  seed) vs trained, mean / per-example / class-conditional gate activity (paper Figs. 2–3).
  Writes ``gates.csv``, ``gate_classes.csv``, ``gates.json`` and four PNGs per gate site.
* :func:`run_depth_study` — test accuracy vs depth of two model families (e.g. plain vs Highway
  BiLSTM). Writes ``depth_study.csv``, ``results.json``, ``accuracy_vs_depth.png``.
* :func:`train_or_reuse` — trains one config into a work directory, or reads back the results of
  a finished run with the same config (so rerunning an experiment skips finished runs).

Configs come from a callable (``make_config(depth, family) -> ConfigDict``), so the experiments don't
depend on where config files live; ``scripts/`` load ``configs/*.py`` and pass them in.

Example::

    from highway_jax.analysis import experiments
    result = experiments.lesion_run('runs/digits_highway')      # writes lesion.csv, lesion.png
    result.loss_increase                                       # (num_layers,)
"""

from __future__ import annotations

import csv
import dataclasses
import json
import math
import os
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import jax
import ml_collections
import numpy as np

from highway_jax import data
from highway_jax.analysis import gates as gates_lib
from highway_jax.analysis import lesion as lesion_lib
from highway_jax.analysis import plots
from highway_jax.training import evaluation
from highway_jax.errors import NonFiniteLossError

RESULTS_FILE = 'results.json'
DIVERGED_FILE = 'diverged.json'
TRAIN_EVAL_FILE = 'train_eval.json'

LEARNING_RATE_RANGE = (1e-3, 1e-1)
TRANSFORM_BIAS_RANGE = (-10.0, -1.0)


# --------------------------------------------------------------------------- one run


def _config_json(config: ml_collections.ConfigDict) -> dict[str, Any]:
  return json.loads(config.to_json())


def _read_json(path: str) -> dict[str, Any]:
  with open(path, encoding='utf-8') as f:
    return json.load(f)


def _write_json(path: str, payload: Any) -> str:
  os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
  tmp = path + '.tmp'
  with open(tmp, 'w', encoding='utf-8') as f:
    json.dump(payload, f, indent=2, sort_keys=True, default=_json_default)
    f.write('\n')
  os.replace(tmp, path)
  return path


def _json_default(value):
  if isinstance(value, np.generic):
    return value.item()
  if isinstance(value, np.ndarray):
    return value.tolist()
  raise TypeError(f'not JSON serialisable: {type(value).__name__}')


def with_step_budget(config: ml_collections.ConfigDict, steps: int | None) -> ml_collections.ConfigDict:
  """A copy of ``config`` trained for ``steps`` optimizer steps (None: unchanged).

  Warmup is capped at a tenth of the budget, evaluation and checkpoints happen only at the end, and
  the training loss is logged about 25 times, enough for a curve.
  """
  config = ml_collections.ConfigDict(config.to_dict())
  if steps is None:
    return config
  if steps < 1:
    raise ValueError(f'steps must be >= 1, got {steps}.')
  config.num_train_steps = int(steps)
  config.schedule.warmup_steps = min(config.schedule.warmup_steps, steps // 10)
  config.log_every_steps = max(1, min(config.log_every_steps, steps // 25))
  config.eval_every_steps = 0
  config.checkpoint_every_steps = 0
  return config


def train_or_reuse(config: ml_collections.ConfigDict, workdir: str) -> dict[str, Any]:
  """Trains ``config`` in ``workdir``, or returns the results of a finished run of the same config.

  A finished run is a ``results.json`` (or ``diverged.json``) next to a ``config.json`` equal to
  ``config``. A loss that becomes NaN/Inf is recorded in ``diverged.json`` and returned as
  ``{'diverged': True, 'error': message}`` instead of raising, so a search can go on.

  Raises:
    ValueError: ``workdir`` holds a finished run of a different config.
  """
  # Imported here: the training package imports data and models, which tests may not need.
  from highway_jax.training import train_and_evaluate  # pylint: disable=g-import-not-at-top

  config_path = os.path.join(workdir, evaluation.CONFIG_FILE)
  for name in (RESULTS_FILE, DIVERGED_FILE):
    path = os.path.join(workdir, name)
    if os.path.exists(path):
      if not os.path.exists(config_path) or _read_json(config_path) != _config_json(config):
        raise ValueError(
            f'{workdir} holds a finished run of a different config; remove it or use another '
            'work directory.')
      return _read_json(path)
  try:
    return train_and_evaluate(config, workdir)
  except NonFiniteLossError as e:
    payload = {'diverged': True, 'error': ' '.join(str(e).split())}
    _write_json(config_path, _config_json(config))
    _write_json(os.path.join(workdir, DIVERGED_FILE), payload)
    return payload


@dataclasses.dataclass
class LoadedRun:
  """A trained run restored from its work directory.

  Attributes:
    workdir: the run's work directory.
    config: its ``config.json``.
    dataset: the dataset rebuilt from the config.
    model: the Flax model.
    params: the restored parameters.
    step: the checkpoint's step.
    setup: the ``highway_jax.training.train.Setup`` (``init_fn``, ``init_key`` re-create the init).
  """

  workdir: str
  config: ml_collections.ConfigDict
  dataset: Any
  model: Any
  params: Any
  step: int
  setup: Any

  def init_params(self) -> Any:
    """The parameters the run started from (same config and seed)."""
    return jax.jit(self.setup.init_fn)(self.setup.init_key).params


def load_run(workdir: str, checkpoint: str | int = 'latest') -> LoadedRun:
  """Restores the checkpoint (``'latest'``, ``'best'`` or a step) of the run in ``workdir``.

  Raises:
    CheckpointError: no ``config.json``, no checkpoint, or one that doesn't fit the config.
  """
  config, setup, state, step = evaluation.restore_run(workdir, checkpoint)
  return LoadedRun(workdir=workdir, config=config, dataset=setup.dataset, model=setup.model,
                   params=state.params, step=step, setup=setup)


def num_lesion_layers(model) -> int:
  """The length of ``model``'s lesion mask; ValueError if it has no highway stack to lesion."""
  layers = getattr(model, 'num_lesion_layers', None)
  if layers is None or getattr(model, 'block', None) != 'highway' or layers < 1:
    raise ValueError(
        f'the model ({type(model).__module__}, block={getattr(model, "block", None)!r}) has no '
        "highway stack to lesion; use a run of a 'highway_mlp' or 'highway_cnn' model with "
        "block 'highway'.")
  return int(layers)


def _split_batches(run: LoadedRun, split: str, batch_size: int | None):
  if split not in run.dataset.splits:
    raise ValueError(f'split {split!r} is not in dataset {run.dataset.name!r}; it has '
                     f'{", ".join(run.dataset.splits)}.')
  size = batch_size or run.config.eval_batch_size
  return data.eval_batches(run.dataset, split, batch_size=min(size, run.dataset.num_examples[split]))


# --------------------------------------------------------------------------- lesioning


def lesion_run(workdir: str, output_dir: str | None = None, *, split: str = 'train',
               batch_size: int | None = None, checkpoint: str | int = 'latest',
               run: LoadedRun | None = None) -> lesion_lib.LesionResult:
  """Lesions each highway layer of a trained run in turn over ``split``; writes CSV and figure.

  Writes ``lesion.csv`` and ``lesion.png`` to ``output_dir`` (default: ``workdir``).
  """
  run = run or load_run(workdir, checkpoint)
  layers = num_lesion_layers(run.model)
  model = run.model

  def apply_fn(params, batch, lesion):
    return model.apply({'params': params}, batch['inputs'], train=False,
                       lengths=batch.get('length'), lesion=lesion)

  result = lesion_lib.lesion_sweep(apply_fn, run.params, _split_batches(run, split, batch_size),
                                   num_layers=layers)
  output_dir = output_dir or workdir
  lesion_lib.write_lesion_csv(result, os.path.join(output_dir, 'lesion.csv'))
  plots.plot_lesion(result, os.path.join(output_dir, 'lesion.png'), dpi=80, title=(
      f'Lesioning {os.path.basename(os.path.normpath(workdir))}: {split} set, '
      f'{result.num_examples} examples, step {run.step}'))
  return result


# --------------------------------------------------------------------------- gate analysis


GATE_CLASS_CSV_FIELDS = ('site', 'class', 'layer', 'mean_gate_activity', 'deviation_from_mean')


@dataclasses.dataclass(frozen=True)
class GateAnalysis:
  """Per gate site: bias distributions at init and trained, and gate statistics over the data."""

  bias_init: dict[str, gates_lib.BiasDistribution]
  bias_trained: dict[str, gates_lib.BiasDistribution]
  statistics: dict[str, gates_lib.GateStatistics]
  files: list[str]


def _site_suffix(name: str, names: Sequence[str]) -> str:
  return '' if len(names) == 1 else '_' + name.replace('/', '-')


def analyze_gates_run(workdir: str, output_dir: str | None = None, *, split: str = 'train',
                      num_examples: int = 4, batch_size: int | None = None,
                      checkpoint: str | int = 'latest', run: LoadedRun | None = None) -> GateAnalysis:
  """Transform-gate analysis of a trained run (module docstring); returns the numbers and files.

  Per gate site (one for the MLP; one per stage for the CNN, files suffixed by site):
  ``gates.csv`` (per layer: bias mean/std/median at init and trained, mean gate activity),
  ``gate_classes.csv`` (per class and layer: mean gate and its deviation from the overall mean),
  ``gates.json`` (the same per layer and the example labels), and the figures ``gate_biases.png``,
  ``gate_activity.png``, ``gate_examples.png``, ``gate_classes.png``.
  """
  run = run or load_run(workdir, checkpoint)
  output_dir = output_dir or workdir
  compared = gates_lib.compare_transform_biases(run.init_params(), run.params)
  model = run.model

  def apply_fn(variables, batch):
    _, state = model.apply(variables, batch['inputs'], train=False, lengths=batch.get('length'),
                           mutable=['intermediates'])
    return state['intermediates']

  num_classes = run.dataset.num_classes if run.dataset.label_shape == () else None
  statistics = gates_lib.gate_statistics(
      apply_fn, {'params': run.params}, _split_batches(run, split, batch_size),
      num_classes=num_classes, num_kept_examples=num_examples)
  names = list(compared)
  files = []
  summary = {}
  class_rows = []
  name = os.path.basename(os.path.normpath(workdir))
  for site in names:
    init, trained = compared[site]
    stats = statistics[site]
    suffix = _site_suffix(site, names)
    files.append(gates_lib.write_layer_summary_csv(
        os.path.join(output_dir, f'gates{suffix}.csv'), bias_init=init, bias_trained=trained,
        gates=stats))
    files.append(plots.plot_transform_biases(
        init, trained, os.path.join(output_dir, f'gate_biases{suffix}.png'), dpi=80,
        title=f'{name} {site}: transform biases, init vs step {run.step}'))
    files.append(plots.plot_gate_activity(
        stats, os.path.join(output_dir, f'gate_activity{suffix}.png'), dpi=80,
        title=f'{name} {site}: mean transform gate over {stats.num_examples} {split} examples'))
    if stats.example_gates.shape[0]:
      files.append(plots.plot_example_gates(
          stats, os.path.join(output_dir, f'gate_examples{suffix}.png'), dpi=80,
          title=f'{name} {site}: transform gates of single {split} examples'))
    site_summary = {
        'bias_mean_init': init.mean, 'bias_mean_trained': trained.mean,
        'bias_median_trained': np.median(trained.bias, axis=1),
        'fraction_biases_decreased': float(np.mean(trained.bias < init.bias)),
        'layer_mean_activity': stats.layer_mean_activity,
        'example_labels': stats.example_labels,
        'num_examples': stats.num_examples,
    }
    if num_classes is not None:
      files.append(plots.plot_class_gates(
          stats, os.path.join(output_dir, f'gate_classes{suffix}.png'), dpi=60,  # a wide figure
          title=f'{name} {site}: class mean minus overall mean gate'))
      class_layer = stats.class_layer_mean_activity
      deviation = class_layer - stats.layer_mean_activity[None]
      for c in range(class_layer.shape[0]):
        for layer in range(class_layer.shape[1]):
          class_rows.append([site, c, layer, repr(float(class_layer[c, layer])),
                             repr(float(deviation[c, layer]))])
      site_summary['class_layer_mean_activity'] = class_layer
      site_summary['class_counts'] = stats.class_counts
    summary[site] = site_summary
  if class_rows:
    path = os.path.join(output_dir, 'gate_classes.csv')
    with open(path, 'w', newline='', encoding='utf-8') as f:
      writer = csv.writer(f)
      writer.writerow(GATE_CLASS_CSV_FIELDS)
      writer.writerows(class_rows)
    files.append(path)
  files.append(_write_json(os.path.join(output_dir, 'gates.json'),
                           {'step': run.step, 'split': split, 'sites': summary}))
  return GateAnalysis(bias_init={s: compared[s][0] for s in names},
                      bias_trained={s: compared[s][1] for s in names}, statistics=statistics,
                      files=files)


# --------------------------------------------------------------------------- depth sweep


@dataclasses.dataclass(frozen=True)
class Trial:
  """One random-search setting: a family ('plain' | 'highway'), a depth and its hyperparameters."""

  family: str
  depth: int
  index: int
  learning_rate: float
  transform_bias_init: float | None  # None for plain nets

  @property
  def name(self) -> str:
    return f'{self.family}_depth{self.depth}_trial{self.index}'


def sample_trials(depths: Sequence[int], families: Sequence[str], num_trials: int, seed: int, *,
                  learning_rate_range: tuple[float, float] = LEARNING_RATE_RANGE,
                  transform_bias_range: tuple[float, float] = TRANSFORM_BIAS_RANGE) -> list[Trial]:
  """``num_trials`` random settings per (family, depth).

  The learning rate is log-uniform in ``learning_rate_range``; highway nets also draw the transform
  bias uniformly from ``transform_bias_range``. Each (family, depth) has its own random stream
  seeded by ``(seed, depth, family)``, so asking for more trials keeps the earlier ones (and their
  finished runs).
  """
  if num_trials < 1:
    raise ValueError(f'num_trials must be >= 1, got {num_trials}.')
  low, high = learning_rate_range
  if not 0 < low <= high:
    raise ValueError(f'learning_rate_range must satisfy 0 < low <= high, got {learning_rate_range}.')
  trials = []
  for family in families:
    for depth in depths:
      rng = np.random.default_rng([seed, depth, sum(map(ord, family))])
      for index in range(num_trials):
        lr = float(math.exp(rng.uniform(math.log(low), math.log(high))))
        bias = float(rng.uniform(*transform_bias_range))  # drawn for both, so streams stay aligned
        trials.append(Trial(family, int(depth), index, lr,
                            round(bias, 4) if family == 'highway' else None))
  return trials


SWEEP_CSV_FIELDS = ('family', 'depth', 'trial', 'learning_rate', 'transform_bias_init', 'status',
                    'train_loss', 'train_accuracy', 'last_logged_train_loss', 'test_loss',
                    'test_accuracy', 'steps', 'num_params', 'run')


def best_trials(rows: Sequence[Mapping[str, Any]], key: str = 'train_loss') -> dict[str, dict[int, dict]]:
  """The row with the lowest finite ``key`` per family and depth: ``{family: {depth: row}}``.

  A (family, depth) whose trials all diverged is absent.
  """
  best: dict[str, dict[int, dict]] = {}
  for row in rows:
    value = row.get(key)
    if value is None or not math.isfinite(value):
      continue
    family = best.setdefault(row['family'], {})
    current = family.get(row['depth'])
    if current is None or value < current[key]:
      family[row['depth']] = dict(row)
  return best


def _train_set_metrics(run_dir: str) -> dict[str, float]:
  """Loss and accuracy of a finished run's final checkpoint over its whole training split (cached)."""
  path = os.path.join(run_dir, TRAIN_EVAL_FILE)
  if os.path.exists(path):
    return _read_json(path)
  metrics = evaluation.evaluate_checkpoint(run_dir, 'latest', split='train')
  _write_json(path, metrics)
  return metrics


def _write_csv(path: str, fields: Sequence[str], rows: Sequence[Mapping[str, Any]]) -> str:
  os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
  with open(path, 'w', newline='', encoding='utf-8') as f:
    writer = csv.DictWriter(f, fieldnames=fields, extrasaction='ignore')
    writer.writeheader()
    for row in rows:
      writer.writerow({k: '' if row.get(k) is None else row.get(k) for k in fields})
  return path


def _train_curve(run_dir: str) -> tuple[list[int], list[float]]:
  records = [r for r in plots.read_metrics_jsonl(run_dir) if r['split'] == 'train' and 'loss' in r]
  return [r['step'] for r in records], [r['loss'] for r in records]


def run_depth_sweep(make_config: Callable[[int, str], ml_collections.ConfigDict], workdir: str, *,
                    depths: Sequence[int] = (10, 20, 50, 100),
                    families: Sequence[str] = ('plain', 'highway'), num_trials: int = 3,
                    steps: int | None = None, seed: int = 0,
                    learning_rate_range: tuple[float, float] = LEARNING_RATE_RANGE,
                    transform_bias_range: tuple[float, float] = TRANSFORM_BIAS_RANGE,
                    log: Callable[[str], None] = lambda message: None) -> dict[str, Any]:
  """Random search per depth and family; best full training-set loss vs depth (module docstring).

  Args:
    make_config: ``make_config(depth, family)`` -> the config of that net (e.g.
      ``configs/digits_depth.py:depth=…,block=…``); each trial overrides its learning rate, transform
      bias (highway), ``seed`` and, with ``steps``, its budget (:func:`with_step_budget`).
    workdir: trials go to ``workdir/trials/<trial name>``, reused when finished.
    steps: optimizer steps per trial (None: the config's own budget).
    log: called with one line per trial.

  Returns:
    The content of ``results.json``: ``trials`` (one row per trial), ``best`` (``{family: {depth:
    row}}``) and ``settings``.
  """
  trials = sample_trials(depths, families, num_trials, seed, learning_rate_range=learning_rate_range,
                         transform_bias_range=transform_bias_range)
  rows = []
  for trial in trials:
    config = with_step_budget(make_config(trial.depth, trial.family), steps)
    config.seed = seed
    config.optimizer.learning_rate = trial.learning_rate
    if trial.transform_bias_init is not None:
      config.model.transform_bias_init = trial.transform_bias_init
    run_dir = os.path.join(workdir, 'trials', trial.name)
    results = train_or_reuse(config, run_dir)
    row = dict(family=trial.family, depth=trial.depth, trial=trial.index,
               learning_rate=trial.learning_rate, transform_bias_init=trial.transform_bias_init,
               run=os.path.relpath(run_dir, workdir))
    if results.get('diverged'):
      row.update(status='diverged', train_loss=math.inf, train_accuracy=None)
    else:
      train_metrics = _train_set_metrics(run_dir)
      row.update(status='ok', train_loss=train_metrics['loss'],
                 train_accuracy=train_metrics['accuracy'],
                 last_logged_train_loss=results.get('train_loss'),
                 test_loss=results.get('test_loss'), test_accuracy=results.get('test_accuracy'),
                 steps=results.get('step'), num_params=results.get('num_params'))
    log(f"{trial.name}: lr {trial.learning_rate:.3g}"
        + (f', transform bias {trial.transform_bias_init:.2f}' if trial.transform_bias_init
           is not None else '') + f", {row['status']}, train loss {row['train_loss']:.4g}")
    rows.append(row)

  best = best_trials(rows)
  _write_csv(os.path.join(workdir, 'sweep.csv'), SWEEP_CSV_FIELDS, rows)
  settings = dict(depths=list(depths), families=list(families), num_trials=num_trials, steps=steps,
                  seed=seed, learning_rate_range=list(learning_rate_range),
                  transform_bias_range=list(transform_bias_range))
  payload = {'settings': settings,
             'trials': [{k: (None if isinstance(v, float) and not math.isfinite(v) else v)
                         for k, v in r.items()} for r in rows],
             'best': {f: {str(d): r for d, r in by_depth.items()} for f, by_depth in best.items()}}
  _write_json(os.path.join(workdir, RESULTS_FILE), payload)
  if best:
    best_loss = {f: {d: r['train_loss'] for d, r in by_depth.items()} for f, by_depth in best.items()}
    curves = {f: {d: _train_curve(os.path.join(workdir, r['run'])) for d, r in by_depth.items()}
              for f, by_depth in best.items()}
    plots.plot_depth_sweep(best_loss, os.path.join(workdir, 'depth_sweep.png'), curves=curves,
                           ylabel='best full training-set loss', dpi=80)
    plots.plot_metric_curves(
        {f'{f} {d} layers': os.path.join(workdir, r['run'])
         for f, by_depth in best.items() for d, r in sorted(by_depth.items())},
        os.path.join(workdir, 'best_curves.png'), title='Training loss of the best trial per depth',
        dpi=80)
  return payload


# --------------------------------------------------------------------------- depth study


STUDY_CSV_FIELDS = ('family', 'depth', 'status', 'test_accuracy', 'test_loss', 'train_loss',
                    'train_accuracy', 'steps', 'num_params', 'run')


def run_depth_study(make_config: Callable[[int, str], ml_collections.ConfigDict], workdir: str, *,
                    depths: Sequence[int], families: Sequence[str], steps: int | None = None,
                    seed: int = 0, chance: float | None = None, title: str | None = None,
                    log: Callable[[str], None] = lambda message: None) -> dict[str, Any]:
  """Test accuracy vs depth of several families (e.g. plain vs Highway BiLSTM), one run each.

  Runs go to ``workdir/runs/<family>_depth<depth>`` (spaces in the family as ``_``) and are reused when finished. Writes
  ``depth_study.csv``, ``results.json`` (``rows`` and ``settings``) and ``accuracy_vs_depth.png``.
  """
  rows = []
  for family in families:
    for depth in depths:
      config = with_step_budget(make_config(depth, family), steps)
      config.seed = seed
      run_dir = os.path.join(workdir, 'runs', f"{family.replace(' ', '_')}_depth{depth}")
      results = train_or_reuse(config, run_dir)
      row = dict(family=family, depth=int(depth), run=os.path.relpath(run_dir, workdir))
      if results.get('diverged'):
        row.update(status='diverged', test_accuracy=None)
      else:
        row.update(status='ok', test_accuracy=results['test_accuracy'],
                   test_loss=results['test_loss'], train_loss=results.get('train_loss'),
                   train_accuracy=results.get('train_accuracy'), steps=results['step'],
                   num_params=results['num_params'])
      log(f"{family}, {depth} layers: {row['status']}, test accuracy {row['test_accuracy']}")
      rows.append(row)
  _write_csv(os.path.join(workdir, 'depth_study.csv'), STUDY_CSV_FIELDS, rows)
  payload = {'settings': dict(depths=list(depths), families=list(families), steps=steps, seed=seed),
             'rows': rows}
  _write_json(os.path.join(workdir, RESULTS_FILE), payload)
  accuracy = {f: {r['depth']: r['test_accuracy'] for r in rows
                  if r['family'] == f and r['test_accuracy'] is not None} for f in families}
  plots.plot_metric_vs_depth({f: v for f, v in accuracy.items() if v},
                             os.path.join(workdir, 'accuracy_vs_depth.png'), chance=chance,
                             title=title, dpi=80)
  return payload

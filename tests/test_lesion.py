"""The lesioning contrast (paper Fig. 4, easy vs harder task): summary numbers, CSV, figure, script.

The summary is checked against hand-computed numbers and against a loop over a random LesionResult;
the script on a tiny trained run (lesioned there) and a lesion CSV (reused).
"""

import csv
import os
import subprocess
import sys

import numpy as np
import pytest

from highway_jax.analysis import lesion, runs
from highway_jax.training import ConfigError, load_config_file

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def read_csv(path):
  with open(path, newline='') as f:
    return list(csv.DictReader(f))


def hand_result(**changes):
  """Six layers; ratios 15, 2.5, 1.05, 1.9, 1, 1.09; drops 0.4, 0.05, 0, 0.005, 0, 0."""
  values = dict(layers=np.arange(6), loss=np.array([1.5, 0.25, 0.105, 0.19, 0.1, 0.109]),
                accuracy=np.array([0.5, 0.85, 0.9, 0.895, 0.9, 0.9]), baseline_loss=0.1,
                baseline_accuracy=0.9, num_examples=10)
  return lesion.LesionResult(**{**values, **changes})


def test_contrast_summary_hand_computed_and_against_a_loop():
  summary = lesion.contrast_summary(hand_result(), first=2)
  assert summary == pytest.approx(dict(
      num_layers=6, baseline_loss=0.1, baseline_accuracy=0.9,
      **{'layers_loss_below_1.1x': 3, 'fraction_loss_below_1.1x': 0.5,
         'layers_loss_below_2x': 4, 'fraction_loss_below_2x': 4 / 6,
         'layers_loss_below_10x': 5, 'fraction_loss_below_10x': 5 / 6,
         'layers_loss_below_100x': 6, 'fraction_loss_below_100x': 1.0},
      layers_accuracy_drop_below_1pt=4, fraction_accuracy_drop_below_1pt=4 / 6,
      mean_accuracy_drop_first_2=0.225, mean_accuracy_drop_from_2=0.00125, all_below_1pt_from_layer=2))
  # The last layer costing 1 point or more: no layer from which all are idle; no layer costing any.
  late = lesion.contrast_summary(hand_result(accuracy=np.array([0.9] * 5 + [0.88])))
  assert late['all_below_1pt_from_layer'] == 6 and late['mean_accuracy_drop_from_15'] is None
  assert late['mean_accuracy_drop_first_15'] == pytest.approx(0.02 / 6)
  assert lesion.contrast_summary(hand_result(accuracy=np.full(6, 0.9)))['all_below_1pt_from_layer'] == 0

  rng = np.random.default_rng(0)
  layers = np.arange(3, 40)  # a subset, not starting at 0
  result = lesion.LesionResult(layers=layers, loss=0.02 * rng.lognormal(1.0, 1.5, size=37),
                               accuracy=0.97 - rng.exponential(0.01, size=37), baseline_loss=0.02,
                               baseline_accuracy=0.97, num_examples=100)
  summary = lesion.contrast_summary(result, first=15)
  ratios = [l / 0.02 for l in result.loss]
  drops = [0.97 - a for a in result.accuracy]
  for r, name in [(1.1, '1.1x'), (2.0, '2x'), (10.0, '10x'), (100.0, '100x')]:
    assert summary[f'layers_loss_below_{name}'] == sum(x < r for x in ratios)
  assert summary['layers_accuracy_drop_below_1pt'] == sum(d < 0.01 for d in drops)
  early = [d for l, d in zip(layers, drops) if l < 15]
  late = [d for l, d in zip(layers, drops) if l >= 15]
  assert summary['mean_accuracy_drop_first_15'] == pytest.approx(sum(early) / len(early))
  assert summary['mean_accuracy_drop_from_15'] == pytest.approx(sum(late) / len(late))
  costly = [l for l, d in zip(layers, drops) if d >= 0.01]
  assert costly and summary['all_below_1pt_from_layer'] == costly[-1] + 1


def test_lesion_contrast_writes_csv_and_figure_from_lesion_csvs(tmp_path):
  easy = hand_result()
  hard = hand_result(loss=easy.loss * 5, baseline_accuracy=0.95)  # every lesion costs 1 point or more
  sources = {name: lesion.write_lesion_csv(r, tmp_path / f'{name}.csv') for name, r in
             [('easy', easy), ('hard', hard)]}
  summaries = lesion.lesion_contrast(sources, str(tmp_path / 'out'), first=2)
  rows = read_csv(tmp_path / 'out' / 'lesion_contrast.csv')
  assert [r['run'] for r in rows] == ['easy', 'hard'] == list(summaries)
  assert rows[1]['layers_loss_below_1.1x'] == '0' and rows[1]['all_below_1pt_from_layer'] == '6'
  for row, name in zip(rows, ('easy', 'hard')):
    assert row['name'] == name
    assert {k: float(v) for k, v in row.items() if k not in ('name', 'run')} == pytest.approx(summaries[name])
    np.testing.assert_allclose(lesion.read_lesion_csv(tmp_path / 'out' / name / 'lesion.csv').loss,
                               (easy if name == 'easy' else hard).loss)
  with open(tmp_path / 'out' / 'lesion_contrast.png', 'rb') as f:
    assert f.read(8) == b'\x89PNG\r\n\x1a\n'
  assert not (tmp_path / 'out' / 'lesion_contrast_pooled.csv').exists()


def test_lesion_contrast_pools_seeds_into_mean_and_std(tmp_path):
  rng = np.random.default_rng(1)
  seeds = [hand_result(loss=0.1 * rng.lognormal(0.5, 1.0, size=6), accuracy=0.9 - rng.exponential(0.01, size=6),
                       baseline_loss=0.1) for _ in range(3)]
  sources = {'easy': [lesion.write_lesion_csv(r, tmp_path / f'easy{i}.csv') for i, r in enumerate(seeds)],
             'hand': lesion.write_lesion_csv(hand_result(), tmp_path / 'hand.csv')}
  summaries = lesion.lesion_contrast(sources, str(tmp_path / 'out'), first=2)
  rows = read_csv(tmp_path / 'out' / 'lesion_contrast.csv')
  assert [(r['name'], r['run']) for r in rows] == [('easy', 'easy/0'), ('easy', 'easy/1'), ('easy', 'easy/2'),
                                                   ('hand', 'hand')]
  for i, r in enumerate(seeds):
    np.testing.assert_allclose(lesion.read_lesion_csv(tmp_path / 'out' / 'easy' / str(i) / 'lesion.csv').loss, r.loss)
  # Independent reference: the counts and means per seed by hand, then numpy's mean and sample std.
  idle = [sum(a > 0.9 - 0.01 for a in r.accuracy) for r in seeds]
  below_2x = [sum(l / 0.1 < 2 for l in r.loss) for r in seeds]
  early_drop = [(0.9 - r.accuracy[0] + 0.9 - r.accuracy[1]) / 2 for r in seeds]
  pooled = {(r['name'], r['statistic']): r for r in read_csv(tmp_path / 'out' / 'lesion_contrast_pooled.csv')}
  assert set(pooled) == {('easy', 'mean'), ('easy', 'std')} and pooled['easy', 'mean']['runs'] == '3'
  for key, values in [('layers_accuracy_drop_below_1pt', idle), ('layers_loss_below_2x', below_2x),
                      ('mean_accuracy_drop_first_2', early_drop)]:
    assert float(pooled['easy', 'mean'][key]) == pytest.approx(np.mean(values))
    assert float(pooled['easy', 'std'][key]) == pytest.approx(np.std(values, ddof=1))
    assert summaries['easy']['mean'][key] == pytest.approx(np.mean(values))
  assert [s['layers_accuracy_drop_below_1pt'] for s in summaries['easy']['runs']] == idle
  assert summaries['hand'] == pytest.approx(lesion.contrast_summary(hand_result(), first=2))

  shallow = lesion.write_lesion_csv(hand_result(layers=np.arange(3) + 3, loss=np.ones(3), accuracy=np.ones(3)),
                                    tmp_path / 'shallow.csv')
  with pytest.raises(ConfigError, match="pooled as 'easy' lesion different layers"):
    lesion.lesion_contrast({'easy': [sources['easy'][0], shallow]}, str(tmp_path / 'bad'))


@pytest.fixture(scope='module')
def tiny_run(tmp_path_factory):
  """A tiny trained highway MLP on digits (3 stacked layers of 16 units), 6 steps."""
  workdir = str(tmp_path_factory.mktemp('digits_highway'))
  runs.train_or_reuse(load_config_file(os.path.join(REPO, 'configs', 'digits_highway.py:runlocal')), workdir)
  return workdir


def run_script(*flags):
  return subprocess.run([sys.executable, os.path.join(REPO, 'scripts', 'lesion_contrast.py'), *flags],
                        capture_output=True, text=True, cwd=REPO, timeout=180)


def test_lesion_contrast_script_on_a_run_and_a_csv(tiny_run, tmp_path):
  out, hand_csv = tmp_path / 'contrast', lesion.write_lesion_csv(hand_result(), tmp_path / 'hand.csv')
  result = run_script(f'--runs=digits={tiny_run},hand={hand_csv}', f'--output_dir={out}', '--first=1')
  assert result.returncode == 0, result.stderr
  assert result.stdout.startswith('digits: unlesioned loss') and 'hand: unlesioned loss 0.1 ' in result.stdout
  rows = read_csv(out / 'lesion_contrast.csv')
  assert [r['run'] for r in rows] == ['digits', 'hand'] and (out / 'digits' / 'lesion.png').stat().st_size > 0
  assert (out / 'lesion_contrast.png').stat().st_size > 0
  for row, num_layers in zip(rows, (3, 6)):
    summary = lesion.contrast_summary(lesion.read_lesion_csv(out / row['run'] / 'lesion.csv'), first=1)
    assert summary['num_layers'] == num_layers
    assert {k: float(v) for k, v in row.items() if k not in ('name', 'run')} == pytest.approx(summary)

  # A repeated name pools runs: of one architecture (two hand CSVs of 6 layers), not of two.
  hand2 = lesion.write_lesion_csv(hand_result(baseline_loss=0.2), tmp_path / 'hand2.csv')
  result = run_script(f'--runs=hand={hand_csv},hand={hand2}', f'--output_dir={out}', '--first=1')
  assert result.returncode == 0, result.stderr
  assert result.stdout.startswith('hand (2 runs, mean ± std): unlesioned loss 0.15 ± 0.0707 ')
  assert (out / 'lesion_contrast_pooled.csv').exists() and (out / 'hand' / '1' / 'lesion.csv').exists()
  for flags, message in [((f'--runs=a={tiny_run},a={hand_csv}',), "Config error: the runs pooled as 'a' lesion "
                          'different layers'),
                         ((f'--runs=a={hand_csv},a={hand_csv}',), 'Config error: --runs names a run twice'),
                         (('--runs=a',), 'Config error: --runs must be name=source pairs')]:
    result = run_script(*flags, f'--output_dir={out}')
    assert result.returncode == 1
    assert result.stderr.strip().splitlines()[-1].startswith(message), result.stderr

"""Smoke test of the benchmark scripts: ``python -m benchmarks.run_all --tiny`` end to end.

Tiny shapes and one or two candidates per benchmark, so that the scripts can't rot; no timing
assertions (speed and memory goals live in the benchmarks' own output, see docs/performance.md).
The checks are on what the scripts compute besides times: every variant of the recurrent step agrees
with the library's gradients, the matmul FLOP count matches a hand count, the JSON files are written,
the accelerator check's numerics pass (CPU as both device and reference) and its error measure is
right, and the pipeline benchmark's per-example arm serves the training loader's batches.
"""

import json

import grain
import numpy as np

from benchmarks import accelerator, conv_unroll, levers, pipeline, recurrent, run_all
from highway_jax import data
from highway_jax.recurrent import BACKEND_DEFAULTS


def test_matmul_flops_by_hand():
  # One LSTM layer: forward 2·B·T·(I+H)·4H; backward 2× that for the weights plus 2·B·T·H·4H for dh.
  b, t, i, h = 64, 100, 128, 256
  flops = recurrent.matmul_flops('lstm', b, t, i, h)
  assert flops['forward'] == 2 * b * t * (i + h) * 4 * h
  assert flops['train'] == 3 * flops['forward'] - 2 * b * t * i * 4 * h
  # Second layer of a bidirectional stack reads 2H features and needs d(input) too.
  two = recurrent.matmul_flops('gru', b, t, i, h, layers=2, bidirectional=True)
  second = 2 * (3 * 2 * b * t * (2 * h + h) * 3 * h)
  first = 2 * (3 * 2 * b * t * (i + h) * 3 * h - 2 * b * t * i * 3 * h)
  assert two['train'] == first + second


def test_conv_unroll_splits_depth_over_stages():
  assert [conv_unroll.split_depth(d, 3) for d in (10, 19, 100)] == [(3, 3, 4), (6, 6, 7), (33, 33, 34)]


def test_run_all_tiny(tmp_path):
  results = run_all.main(['--tiny', '--results-dir', str(tmp_path)])
  names = {p.stem for p in tmp_path.glob('*.json')}
  assert names == {'peak_tiny', 'recurrent_tiny', 'levers_tiny', 'depth_tiny', 'throughput_tiny',
                   'breakdown_tiny', 'conv_unroll_tiny', 'pipeline_tiny'}
  record = json.loads((tmp_path / 'recurrent_tiny.json').read_text())
  assert record['machine']['jax'] and record['single_layer']
  assert record['harness']['isolate']  # one fresh process per candidate and round
  for row in record['single_layer']:
    assert len(row['times_s']) == 2 and row['median_ms'] > 0, row
    if row['candidate'] == 'ours LSTM' and 'vs_torch' in row:
      assert row['vs_torch_min'] <= row['vs_torch'] <= row['vs_torch_max']
  for row in results['levers']['rows']:
    assert row['max_grad_rel_err'] < 1e-4, row['variant']
  assert any('backward_chunk' in row['variant'] for row in results['levers']['rows'])
  assert set(results['levers']['suggested_defaults']) == set(BACKEND_DEFAULTS['cpu'])  # a whole entry
  depth_rows = results['depth']['rows']
  assert {(r['kind'], r['depth'], r['remat']) for r in depth_rows} >= {('stack', 8, True), ('loop', 4, False)}
  assert all(r['step_ms'] > 0 for r in depth_rows)
  assert results['throughput']['rows'][0]['examples_per_s'] > 0
  for row in results['breakdown']['rows']:
    assert row['train_step_ms'] > 0 and row['forward_ms'] > 0, row
  assert len(results['conv_unroll']['rows']) == 4
  sweep = {row['unroll']: row for row in results['conv_unroll']['depth_sweep']}
  assert set(sweep) == {'1', 'full'} and sweep['full']['vs_full'] == 1
  assert all(row['compile_s'] > 0 and row['step_ms'] > 0 for row in sweep.values())
  rows = {row['case']: row for row in results['pipeline']['rows']}
  assert set(rows) == {'digits_highway', 'cifar10_tfds'}
  assert rows['cifar10_tfds']['data'] == 'cifar10 (tfds mock)'
  for row in rows.values():
    assert row['synthetic_examples_per_s'] > 0 and row['pipeline_examples_per_s'] > 0, row
    assert row['overhead_min_pct'] <= row['overhead_pct'] <= row['overhead_max_pct']
    assert {len(t) for t in row['times_s'].values()} == {row['rounds']}
    assert len(row['sweep']) == len(pipeline.SWEEP_READ_OPTIONS) + 2


def test_levers_decision_picks_the_fastest_setting_per_cell():
  rows = [{'kind': 'library', 'cell': c, 'options': o, 'vs_ours': r} for c, o, r in [
      ('lstm', {}, 1.0), ('gru', {}, 1.0), ('lstm', {'unroll': 2}, 0.8), ('gru', {'unroll': 2}, 1.1),
      ('lstm', {'unroll': 4}, 0.9), ('gru', {'unroll': 4}, 0.9)]]
  rows.append({'kind': 'fused', 'cell': 'lstm', 'options': {'unroll': 8}, 'vs_ours': 0.1})  # not a library setting
  assert levers.cell_defaults('lstm')['unroll'] == levers.cell_defaults('gru')['unroll'] == 1
  current = BACKEND_DEFAULTS['cpu']  # the tests run on CPU
  table, suggested = levers.decision(rows)
  # The measured cells' unroll changes; the rest of the entry (the simple RNN's unroll too) stays.
  assert suggested == {**current, 'unroll': {**current['unroll'], 'LSTMCell': 2, 'GRUCell': 4}}
  # Settings are full option sets (each cell's defaults filled in); the fastest first.
  assert [r['geomean'] for r in table] == sorted(r['geomean'] for r in table) and table[0]['lstm'] == 0.8
  _, suggested = levers.decision(rows[:2] + [dict(rows[4], vs_ours=0.98), dict(rows[5], vs_ours=0.98)])
  assert suggested == current  # a 2% win is within noise: keep the defaults


def test_levers_chunk_sizes_tiny(tmp_path):
  rows = levers.main(['--chunk-sizes', '--tiny', '--results-dir', str(tmp_path)])['rows']
  assert [(r['hidden'], r['bidirectional']) for r in rows] == [(8, False), (8, True), (16, False), (16, True)]
  for row in rows:
    assert 0 < row['ratio_min'] <= row['ratio'] <= row['ratio_max'] and row['chunk0_ms'] > 0, row
  assert json.loads((tmp_path / 'levers_chunk_sizes_tiny.json').read_text())['rows'] == rows


def test_levers_xla_sweep_tiny_reports_rejected_flags():
  rows = levers.xla_sweep('rnn', rounds=1, flags=('', '--xla_no_such_flag=1'), tiny=True)
  assert rows[0]['xla_flags'] == '(none)' and rows[0]['ours/torch rnn'] > 0
  assert 'error' in rows[1]


def test_pipeline_per_example_arm_serves_the_loaders_batches():
  ds = data.load({'name': 'digits', 'augment': True, 'augment_padding': 2})
  before = pipeline.per_example_loader(ds, batch_size=64, seed=3,
                                       read_options=grain.ReadOptions(num_threads=0))
  after = data.train_loader(ds, batch_size=64, seed=3)
  for _ in range(25):  # across the first epoch boundary
    a, b = next(before), next(after)
    for key in a:
      np.testing.assert_array_equal(a[key], b[key])


def test_accelerator_worst_error_is_per_leaf():
  ref = {'a': np.array([3.0, -4.0]), 'b': np.array([100.0, 0.0])}
  got = {'a': np.array([3.0, -4.5]), 'b': np.array([101.0, 0.0])}
  abs_err, rel_err = accelerator.worst_error(got, ref)
  assert np.isclose(abs_err, 1.0) and np.isclose(rel_err, 0.1)  # |0.5| / |(3, -4)| beats 1/100


def test_accelerator_tiny(tmp_path):
  payload = accelerator.main(['--tiny', '--budget-s', '3600', '--out', str(tmp_path)])
  record = json.loads((tmp_path / 'accelerator_tiny.json').read_text())
  assert (tmp_path / 'accelerator_tiny.md').read_text().count('**') >= 8
  assert record['ok'] and payload['ok']
  parts = record['parts']
  assert set(parts) == {'numerics', 'recurrent', 'depth', 'cifar'}
  assert {p['status'] for p in parts.values()} == {'ok'}, parts
  numerics = parts['numerics']['rows']
  assert {(r['layer'], r['variant']) for r in numerics} == {
      (layer, variant) for layer in accelerator.layer_cases(True) for variant in ('float32', 'bfloat16')}
  assert all(r['passed'] for r in numerics)
  # bfloat16 must differ from the float32 reference (else the dtype was not applied).
  assert all(r['out_rel'] > 0 and r['grad_rel'] > 0 for r in numerics if r['variant'] == 'bfloat16')
  recurrent_rows = {r['name']: r for r in parts['recurrent']['rows']}
  assert recurrent_rows['ours LSTM']['median_ms'] > 0
  assert recurrent_rows['jax.experimental.rnn LSTM']['status'] == 'unavailable'  # CPU: no cuDNN
  if recurrent_rows.get('torch LSTM', {}).get('status') == 'ok':
    assert parts['recurrent']['ratios']['ours LSTM / torch LSTM'] > 0
  assert {(r['depth'], r['remat']) for r in parts['depth']['rows']} == {
      (d, m) for d in (2, 8) for m in (False, True)}
  assert all(r['step_ms'] > 0 and r['xla_peak_mb'] > 0 for r in parts['depth']['rows'])
  assert parts['cifar']['bfloat16_speedup'] > 0

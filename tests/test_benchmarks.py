"""Smoke test of the benchmark scripts: ``python -m benchmarks.run_all --tiny`` end to end.

Tiny shapes and one or two candidates per benchmark, so that the scripts can't rot; no timing
assertions (speed and memory goals live in the benchmarks' own output, see docs/performance.md).
The checks are on what the scripts compute besides times: every variant of the recurrent step agrees
with the library's gradients, the matmul FLOP count matches a hand count, the JSON files are written.
"""

import json

from benchmarks import recurrent, run_all


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


def test_run_all_tiny(tmp_path):
  results = run_all.main(['--tiny', '--results-dir', str(tmp_path)])
  names = {p.stem for p in tmp_path.glob('*.json')}
  assert names == {'peak_tiny', 'recurrent_tiny', 'levers_tiny', 'depth_tiny', 'throughput_tiny',
                   'breakdown_tiny', 'conv_unroll_tiny'}
  record = json.loads((tmp_path / 'recurrent_tiny.json').read_text())
  assert record['machine']['jax'] and record['single_layer']
  for row in results['levers']['rows']:
    assert row['max_grad_rel_err'] < 1e-4, row['variant']
  depth_rows = results['depth']['rows']
  assert {(r['kind'], r['depth'], r['remat']) for r in depth_rows} >= {('stack', 8, True), ('loop', 4, False)}
  assert all(r['step_ms'] > 0 for r in depth_rows)
  assert results['throughput']['rows'][0]['examples_per_s'] > 0
  for row in results['breakdown']['rows']:
    assert row['train_step_ms'] > 0 and row['forward_ms'] > 0, row
  assert len(results['conv_unroll']['rows']) == 4

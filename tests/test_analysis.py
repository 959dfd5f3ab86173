"""Lesioning, gate statistics and plots against a NumPy forward pass of a tiny hand-set network.

The network: inputs (B, P, D) -> a single Highway layer 'pre' (a one-layer gate site) -> a 3-layer
HighwayStack 'stack' (a scanned site) -> mean over the P positions = logits (B, D). D = 3 classes.
"""

import json

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from flax import linen as nn

from highway_jax.analysis import depth_sweep, gates, lesion, runs
from highway_jax.errors import ConfigError
from highway_jax.highway import Highway
from highway_jax.stack import HighwayStack
from highway_jax.training.plots import plot_curves
from highway_jax.training.workdir import read_metrics

L, D, P, B = 3, 3, 2, 4


class TinyNet(nn.Module):

  @nn.compact
  def __call__(self, x, lesion=None):
    x = Highway(features=D, activation=nn.tanh, name='pre')(x)
    x = HighwayStack(num_layers=L, features=D, activation=nn.tanh, name='stack')(x, lesion=lesion)
    return x.mean(axis=1)


def hand_params():
  """Hand-set parameters; the stack's layer 1 has a gate bias of −30, so its gate is ~0 (a no-op)."""
  rng = np.random.RandomState(0)
  def dense(scale, bias):
    return {'kernel': (scale * rng.normal(size=(D, D))).astype(np.float32),
            'bias': np.asarray(bias, np.float32)}
  pre = {'H': dense(1.0, [0.1, -0.2, 0.3]), 'T': dense(0.5, [-1.0, 0.0, 1.0])}
  layers = [{'H': dense(1.5, [0.2 * l, -0.1, 0.0]), 'T': dense(1.0, [0.5, -0.5, 1.0])}
            for l in range(L)]
  layers[1]['T']['bias'] = np.full(D, -30.0, np.float32)
  stacked = jax.tree.map(lambda *a: np.stack(a), *layers)
  return {'pre': pre, 'stack': {'layers': stacked}}


def sigmoid(z):
  return 1.0 / (1.0 + np.exp(-z))


def reference_forward(params, x, lesioned=None):
  """Returns logits (B, D) and the gates: pre (B, P, D), stack (L, B, P, D)."""
  x = np.asarray(x, np.float64)
  def highway(p, x, lesion=False):
    h = np.tanh(x @ p['H']['kernel'] + p['H']['bias'])
    t = 0.0 * x if lesion else sigmoid(x @ p['T']['kernel'] + p['T']['bias'])
    return h * t + x * (1 - t), t
  x, pre_gate = highway(params['pre'], x)
  stack_gates = []
  for l in range(L):
    p_l = jax.tree.map(lambda a: np.asarray(a[l], np.float64), params['stack']['layers'])
    x, t = highway(p_l, x, lesion=l == lesioned)
    stack_gates.append(t)
  return x.mean(axis=1), pre_gate, np.stack(stack_gates)


def make_batches():
  rng = np.random.RandomState(1)
  x = rng.normal(size=(2 * B, P, D)).astype(np.float32)
  mask = np.array([1, 1, 1, 0, 1, 1, 0, 0], np.float32)
  # Padding carries out-of-range labels: they must never be read.
  y = np.array([0, 1, 2, 99, 2, 0, -5, 99], np.int32)
  return [{'inputs': x[:B], 'label': y[:B], 'mask': mask[:B]},
          {'inputs': x[B:], 'label': y[B:], 'mask': mask[B:]}]


def reference_lesion(params, batches, lesioned):
  losses, hits = [], []
  for batch in batches:
    logits, _, _ = reference_forward(params, batch['inputs'], lesioned)
    for n in np.flatnonzero(batch['mask']):
      z = logits[n] - logits[n].max()
      log_probs = z - np.log(np.exp(z).sum())
      losses.append(-log_probs[batch['label'][n]])
      hits.append(float(np.argmax(logits[n]) == batch['label'][n]))
  return np.mean(losses), np.mean(hits)


@pytest.fixture(scope='module')
def model_and_params():
  model = TinyNet()
  init = model.init(jax.random.key(0), jnp.zeros((B, P, D)))['params']
  params = hand_params()
  assert jax.tree.map(np.shape, init) == jax.tree.map(np.shape, params)
  return model, params, init


# --------------------------------------------------------------------------- lesioning


def test_lesion_sweep_matches_numpy_and_compiles_once(model_and_params, tmp_path):
  model, params, _ = model_and_params
  batches = make_batches()
  traces = []

  def apply_fn(p, batch, lesion_mask):
    traces.append(1)
    return model.apply({'params': p}, batch['inputs'], lesion=lesion_mask)

  step = lesion.make_lesion_eval_step(apply_fn)
  result = lesion.lesion_sweep(apply_fn, params, batches, num_layers=L, eval_step=step)
  # A second sweep with other parameter values reuses the program too.
  other = jax.tree.map(lambda a: a * 0.9, params)
  other_result = lesion.lesion_sweep(apply_fn, other, iter(batches), num_layers=L, eval_step=step)
  assert step._cache_size() == 1  # pylint: disable=protected-access
  assert len(traces) == 1  # The model was traced once: all masks and batches share one program.

  assert result.num_examples == 5
  np.testing.assert_array_equal(result.layers, [0, 1, 2])
  base_loss, base_acc = reference_lesion(params, batches, None)
  np.testing.assert_allclose(result.baseline_loss, base_loss, rtol=1e-5)
  assert result.baseline_accuracy == pytest.approx(base_acc)
  for l in range(L):
    ref_loss, ref_acc = reference_lesion(params, batches, l)
    np.testing.assert_allclose(result.loss[l], ref_loss, rtol=1e-5)
    assert result.accuracy[l] == pytest.approx(ref_acc)
    np.testing.assert_allclose(other_result.loss[l], reference_lesion(other, batches, l)[0], rtol=1e-5)
  # Layer 1's gate is closed by its bias (−30): lesioning it changes nothing. The others matter.
  np.testing.assert_allclose(result.loss[1], result.baseline_loss, rtol=1e-6)
  assert abs(result.loss[0] - result.baseline_loss) > 1e-3
  np.testing.assert_allclose(result.loss_increase, result.loss - result.baseline_loss)

  path = lesion.write_lesion_csv(result, tmp_path / 'out' / 'lesion.csv')
  lines = open(path).read().splitlines()
  assert lines[0] == ','.join(lesion.CSV_FIELDS) and lines[1].startswith('none,')
  back = lesion.read_lesion_csv(path, num_examples=5)
  np.testing.assert_array_equal(back.layers, result.layers)
  np.testing.assert_array_equal(back.loss, result.loss)
  assert back.baseline_loss == result.baseline_loss


def test_lesion_sweep_sequence_targets_and_subset():
  # Labels (B, T_out): every target position is one prediction. Logits are the inputs themselves.
  logits = np.array([[[2.0, 0.0], [0.0, 1.0]], [[0.0, 3.0], [1.0, 1.5]]], np.float32)  # (2, 2, 2)
  labels = np.array([[0, 0], [1, 0]], np.int32)

  def apply_fn(params, batch, lesion_mask):
    # Lesioning layer 0 scales the logits by 0, so every prediction costs log 2.
    return batch['inputs'] * params * (1.0 - lesion_mask[0])

  result = lesion.lesion_sweep(apply_fn, jnp.float32(1.0), [{'inputs': logits, 'label': labels}],
                               num_layers=2, layers=[0])
  log_probs = logits - np.log(np.exp(logits).sum(-1, keepdims=True))
  expected = -np.mean([log_probs[0, 0, 0], log_probs[0, 1, 0], log_probs[1, 0, 1], log_probs[1, 1, 0]])
  np.testing.assert_allclose(result.baseline_loss, expected, rtol=1e-6)
  assert result.baseline_accuracy == pytest.approx(0.5)  # (0,0) and (1,0) right.
  np.testing.assert_allclose(result.loss, [np.log(2.0)], rtol=1e-6)
  assert result.num_examples == 4


def test_lesion_errors():
  with pytest.raises(ValueError, match='num_layers'):
    lesion.lesion_masks(0)
  with pytest.raises(ValueError, match=r'layers must be indices in \[0, 3\)'):
    lesion.lesion_masks(3, [3])
  np.testing.assert_array_equal(lesion.lesion_masks(3, [2]), [[0, 0, 0], [0, 0, 1]])
  apply_fn = lambda p, b, m: b['inputs']
  with pytest.raises(ValueError, match='batches is empty'):
    lesion.lesion_sweep(apply_fn, None, [], num_layers=2)
  masked = {'inputs': np.zeros((2, 3), np.float32), 'label': np.array([0, 1]), 'mask': np.zeros(2)}
  with pytest.raises(ValueError, match='every example is masked out'):
    lesion.lesion_sweep(apply_fn, None, [masked], num_layers=2)
  with pytest.raises(ValueError, match="'inputs' and 'label'"):
    lesion.lesion_sweep(apply_fn, None, [{'inputs': np.zeros((2, 3))}], num_layers=2)
  bad = {'inputs': np.zeros((2, 3), np.float32), 'label': np.array([1, 3], np.int32)}
  with pytest.raises(ValueError, match=r'batch 0 has 1 real labels outside \[0, num_classes=3\)'):
    lesion.lesion_sweep(apply_fn, None, [bad], num_layers=2)
  with pytest.raises(ValueError, match='integer class ids'):
    lesion.lesion_sweep(apply_fn, None, [{'inputs': np.zeros((2, 3)), 'label': np.zeros(2)}], 2)


# --------------------------------------------------------------------------- gates


def test_find_transform_gates_and_biases(model_and_params):
  model, params, init = model_and_params
  x = make_batches()[0]['inputs']
  _, state = model.apply({'params': params}, x, mutable=['intermediates'])
  found = gates.find_transform_gates(state['intermediates'], params)
  assert list(found) == ['pre', 'stack/layers']
  _, pre_gate, stack_gates = reference_forward(params, x)
  np.testing.assert_allclose(found['pre'], pre_gate[None], rtol=1e-5, atol=1e-6)
  np.testing.assert_allclose(found['stack/layers'], stack_gates, rtol=1e-5, atol=1e-6)

  biases = gates.find_transform_biases(init)
  assert {k: v.shape for k, v in biases.items()} == {'pre': (1, D), 'stack/layers': (L, D)}
  np.testing.assert_array_equal(biases['stack/layers'], -2.0)

  with pytest.raises(ValueError, match="no 'pre/T/bias'"):
    gates.find_transform_gates(state['intermediates'], {'params': params})
  with pytest.raises(ValueError, match=r"no 'intermediates/pre/T/bias'.*state\['intermediates'\]"):
    gates.find_transform_gates(state, params)
  with pytest.raises(ValueError, match="no 'transform_gate'"):
    gates.find_transform_gates({'Dense_0': {}}, params)
  with pytest.raises(ValueError, match='no transform bias'):
    gates.find_transform_biases({'Dense_0': {'kernel': np.zeros((2, 2))}})


def test_bias_distribution_hand_computed():
  bias = np.array([[-3.0, -2.0, -1.0, 0.0], [-2.0, -2.0, -2.0, -2.0]])
  dist = gates.bias_distribution(bias, bin_edges=np.array([-3.0, -2.0, -1.0, 0.0]),
                                 percentile_levels=(0.0, 50.0, 100.0))
  np.testing.assert_allclose(dist.mean, [-1.5, -2.0])
  np.testing.assert_allclose(dist.std, [np.sqrt(1.25), 0.0])
  np.testing.assert_allclose(dist.percentiles, [[-3.0, -2.0], [-1.5, -2.0], [0.0, -2.0]])
  # numpy's last bin is closed: [-3,-2) [-2,-1) [-1,0].
  np.testing.assert_array_equal(dist.histogram, [[1, 1, 2], [0, 4, 0]])

  init, trained = gates.compare_transform_biases(
      {'s': {'T': {'bias': np.full((2, 4), -2.0)}}}, {'s': {'T': {'bias': bias}}}, bins=3)['s']
  np.testing.assert_array_equal(init.bin_edges, trained.bin_edges)
  np.testing.assert_allclose(trained.bin_edges, [-3.0, -2.0, -1.0, 0.0])
  np.testing.assert_array_equal(init.histogram, [[0, 4, 0], [0, 4, 0]])
  with pytest.raises(ValueError, match='strictly increasing'):
    gates.bias_distribution(bias, bin_edges=np.array([0.0, 0.0]))


def test_gate_statistics_match_numpy(model_and_params, tmp_path):
  model, params, init = model_and_params
  batches = make_batches()
  traces = []

  def apply_fn(variables, batch):
    traces.append(1)
    _, state = model.apply(variables, batch['inputs'], mutable=['intermediates'])
    return state['intermediates']

  step = gates.make_gate_statistics_step(apply_fn, num_classes=D)
  stats = gates.gate_statistics(apply_fn, {'params': params}, batches, num_classes=D,
                                num_kept_examples=4, step=step)
  assert step._cache_size() == 1 and len(traces) == 1  # pylint: disable=protected-access

  # Reference: per-example gate maps (positions averaged) of the real examples, in order.
  maps = {'pre': [], 'stack/layers': []}
  labels = []
  for batch in batches:
    _, pre_gate, stack_gates = reference_forward(params, batch['inputs'])
    for n in np.flatnonzero(batch['mask']):
      maps['pre'].append(pre_gate[n].mean(axis=0)[None])          # (1, D)
      maps['stack/layers'].append(stack_gates[:, n].mean(axis=1))  # (L, D)
      labels.append(batch['label'][n])
  labels = np.array(labels)
  assert labels.tolist() == [0, 1, 2, 2, 0]
  for name, site_maps in maps.items():
    site_maps = np.stack(site_maps)
    site = stats[name]
    assert site.num_examples == 5
    np.testing.assert_allclose(site.mean_activity, site_maps.mean(axis=0), rtol=1e-5, atol=1e-7)
    # The first 4 real examples: 3 from the first batch, 1 from the second (padding skipped).
    np.testing.assert_allclose(site.example_gates, site_maps[:4], rtol=1e-5, atol=1e-7)
    np.testing.assert_array_equal(site.example_labels, labels[:4])
    np.testing.assert_array_equal(site.class_counts, [2, 1, 2])
    for c in range(D):
      np.testing.assert_allclose(site.class_mean_activity[c], site_maps[labels == c].mean(axis=0),
                                 rtol=1e-5, atol=1e-7)
    np.testing.assert_allclose(site.class_deviation,
                               site.class_mean_activity - site.mean_activity[None], atol=1e-12)
  stack = stats['stack/layers']
  np.testing.assert_allclose(stack.layer_mean_activity, maps_mean := np.stack(
      maps['stack/layers']).mean(axis=(0, 2)), rtol=1e-5)
  assert stack.mean_activity[1].max() < 1e-9  # Bias −30: the gate is closed.

  init_dist, trained_dist = gates.compare_transform_biases(init, params)['stack/layers']
  path = gates.write_layer_summary_csv(tmp_path / 'layers.csv', bias_init=init_dist,
                                       bias_trained=trained_dist, gates=stack)
  rows = [line.split(',') for line in open(path).read().splitlines()]
  assert rows[0] == list(gates.LAYER_CSV_FIELDS) and len(rows) == 1 + L
  assert float(rows[2][1]) == -2.0 and float(rows[2][4]) == -30.0
  np.testing.assert_allclose([float(r[-1]) for r in rows[1:]], maps_mean, rtol=1e-5)

  with pytest.raises(ValueError, match=r'labels of shape \(batch,\) in \[0, num_classes=2\)'):
    gates.gate_statistics(apply_fn, {'params': params}, batches, num_classes=2)
  with pytest.raises(ValueError, match="'params' collection"):
    gates.gate_statistics(apply_fn, params, batches)


# --------------------------------------------------------------------------- plots


def assert_png(path):
  from matplotlib import image  # pylint: disable=g-import-not-at-top
  with open(path, 'rb') as f:
    assert f.read(8) == b'\x89PNG\r\n\x1a\n'
  pixels = image.imread(path)
  assert pixels.shape[0] > 50 and pixels.shape[1] > 50
  assert pixels[..., :3].std() > 0.01  # Something was drawn.


def test_plots_write_pngs(tmp_path):
  rng = np.random.RandomState(0)
  result = lesion.LesionResult(layers=np.arange(5), loss=np.array([0.5, 0.2, 0.11, 0.1, 0.1]),
                               accuracy=np.array([0.8, 0.9, 0.95, 0.96, 0.96]), baseline_loss=0.1,
                               baseline_accuracy=0.96, num_examples=100)
  init = gates.bias_distribution(np.full((5, 6), -2.0))
  trained = gates.bias_distribution(-2.0 + rng.normal(size=(5, 6)), bin_edges=init.bin_edges)
  mean = rng.uniform(size=(5, 6))
  stats = gates.GateStatistics(
      name='stack/layers', mean_activity=mean, example_gates=rng.uniform(size=(2, 5, 6)),
      example_labels=np.array([0, 2]), num_examples=30,
      class_mean_activity=np.clip(mean[None] + 0.1 * rng.normal(size=(3, 5, 6)), 0, 1),
      class_counts=np.array([10, 10, 10]))
  run = tmp_path / 'run'
  run.mkdir()
  with open(run / 'metrics.jsonl', 'w') as f:
    for step, loss in [(0, 2.0), (10, 1.0), (10, 0.5), (20, 0.25)]:  # Step 10 repeated (a resume).
      f.write(json.dumps({'step': step, 'split': 'train', 'loss': loss}) + '\n')
  records = read_metrics(run)
  assert [(r['step'], r['loss']) for r in records] == [(0, 2.0), (10, 0.5), (20, 0.25)]

  paths = [
      lesion.plot_lesion(result, tmp_path / 'figs' / 'lesion.png'),
      lesion.plot_lesion(result, tmp_path / 'lesion_linear.png', log_scale=False),
      gates.plot_transform_biases(init, trained, tmp_path / 'bias.png'),
      gates.plot_gate_activity(stats, tmp_path / 'activity.png'),
      gates.plot_example_gates(stats, tmp_path / 'examples.png', class_names=['a', 'b', 'c']),
      gates.plot_class_gates(stats, tmp_path / 'classes.png'),
      depth_sweep.plot_depth_sweep(
          {'plain': {10: 1e-4, 20: 1e-3}, 'highway': {10: 1e-4, 20: 1e-4}}, tmp_path / 'depth.png',
          curves={'plain': {10: ([0, 1, 2], [1.0, 0.5, 0.1])},
                  'highway': {10: ([0, 1, 2], [1.0, 0.1, 0.01])}}),
      runs.plot_metric_curves({'highway': run, 'LSTM': [{'step': 0, 'split': 'train', 'loss': 3.0},
                                                       {'step': 20, 'split': 'train', 'loss': 1.0}]},
                              tmp_path / 'curves.png'),
  ]
  for path in paths:
    assert_png(path)
  with pytest.raises(ConfigError, match="no 'accuracy' for split 'train'"):
    runs.plot_metric_curves({'highway': run}, tmp_path / 'x.png', metric='accuracy')
  with pytest.raises(ConfigError, match=r'no metrics file at \S*nowhere'):
    runs.plot_metric_curves({'highway': tmp_path / 'nowhere'}, tmp_path / 'x.png')
  with pytest.raises(ValueError, match=r'num_examples must be in \[1, 2\]'):
    gates.plot_example_gates(stats, tmp_path / 'x.png', num_examples=3)


def test_plot_metric_curves_mean_and_min_max_band_over_runs(tmp_path, monkeypatch):
  def records(losses, steps=(0, 10, 20)):
    return [{'step': step, 'split': 'train', 'loss': loss} for step, loss in zip(steps, losses)]
  seeds = [records([2.0, 1.0, 0.5]), records([3.0, 0.5, 0.25]), records([1.0, 1.5, 0.75])]
  run = tmp_path / 'run'
  run.mkdir()
  with open(run / 'metrics.jsonl', 'w') as f:
    f.writelines(json.dumps(r) + '\n' for r in records([1.0, 0.5, 0.25]))

  drawn = {}
  monkeypatch.setattr(runs, 'plot_curves', lambda curves, path, **kwargs: drawn.update(curves=curves, **kwargs))
  runs.plot_metric_curves({'seeds': seeds, 'one': run, 'one in a list': [run], 'twice': [run, run]},
                          tmp_path / 'x.png')
  once = ([0, 10, 20], [1.0, 0.5, 0.25])
  assert drawn['curves'] == {'seeds': ([0, 10, 20], [2.0, 1.0, 0.5]), 'one': once, 'one in a list': once,
                             'twice': once}
  assert drawn['bands'] == {'seeds': ([1.0, 0.5, 0.25], [3.0, 1.5, 0.75]),  # min and max per step
                            'twice': (once[1], once[1])}
  monkeypatch.undo()

  # The mean's line alone, and with its band.
  plain = runs.plot_metric_curves({'seeds': records([2.0, 1.0, 0.5])}, tmp_path / 'plain.png')
  banded = runs.plot_metric_curves({'seeds': seeds}, tmp_path / 'banded.png')
  assert_png(banded)
  from matplotlib import image  # pylint: disable=g-import-not-at-top
  assert not np.array_equal(image.imread(plain), image.imread(banded))
  with pytest.raises(ConfigError, match=r"runs of 'seeds' logged train loss at different steps.*records #1 "
                                        r'\(3 at steps 0\.\.30\)'):
    runs.plot_metric_curves({'seeds': [seeds[0], records([1.0, 1.0, 1.0], steps=(0, 10, 30))]}, tmp_path / 'x.png')
  with pytest.raises(ValueError, match=r"band 'a' must be \(low, high\) at the steps of the curve"):
    plot_curves({'a': ([0, 1], [1.0, 2.0])}, tmp_path / 'x.png', ylabel='loss', bands={'a': ([1.0], [2.0])})
  # A band at a single step (an error bar) whose low edge is 0 (so a linear y axis).
  assert_png(plot_curves({'a': ([5], [0.5])}, tmp_path / 'point.png', ylabel='loss', bands={'a': ([0.0], [1.0])}))

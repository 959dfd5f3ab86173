"""What the model and config tests share: a config loader, a toy dataset, random parameters.

Imported by the test files (``from helpers import ...``); no test file imports another.
"""

import importlib.util
import os
import sys

import grain
import jax
import numpy as np

from highway_jax import data

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
CONFIG_DIR = os.path.join(REPO, 'configs')


def load_config(name, arg=None):
  """Loads ``configs/<name>.py`` by path, as ``--config=configs/<name>.py[:arg]`` does."""
  spec = importlib.util.spec_from_file_location(f'{name}_config',
                                                os.path.join(CONFIG_DIR, f'{name}.py'))
  module = importlib.util.module_from_spec(spec)
  spec.loader.exec_module(module)
  return module.get_config(arg), module


def toy_dataset(inputs, labels, num_classes, vocab_size=None, lengths=None):
  """A ``data.Dataset`` whose train and test splits are ``inputs``/``labels`` (and ``lengths``)."""
  arrays = {'inputs': inputs, 'label': labels}
  if lengths is not None:
    arrays['length'] = lengths
  split = grain.MapDataset.source(data.ArraySource(arrays))
  return data.Dataset(
      name='toy', num_classes=num_classes, input_shape=inputs.shape[1:], input_dtype=inputs.dtype,
      label_shape=labels.shape[1:], vocab_size=vocab_size, splits={'train': split, 'test': split},
      num_examples={'train': len(labels), 'test': len(labels)})


def randomize(variables, seed=1, scale=0.5):
  """``variables`` with every array, biases included, replaced by N(0, scale²) values (float32)."""
  leaves, treedef = jax.tree.flatten(variables)
  rng = np.random.default_rng(seed)
  return jax.tree.unflatten(
      treedef, [(scale * rng.standard_normal(np.shape(x))).astype(np.float32) for x in leaves])


def train_script(workdir, *flags, config='digits_highway.py:runlocal', patch=''):
  """The command running ``scripts/train.py --config=configs/<config> --workdir=<workdir> <flags>`` (use
  ``cwd=REPO``), after the Python source ``patch`` (e.g. a monkeypatch of a library function)."""
  script = os.path.join(REPO, 'scripts', 'train.py')
  code = f'{patch}\nimport runpy, sys\nsys.argv = sys.argv[1:]\nrunpy.run_path({script!r}, run_name="__main__")'
  return [sys.executable, '-c', code, script, f'--config={os.path.join(CONFIG_DIR, config)}',
          f'--workdir={workdir}', *flags]

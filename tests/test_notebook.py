"""notebooks/colab_tpu.ipynb runs top to bottom on a CPU in small mode, in this interpreter's kernel."""

import json
import os
import sys

import nbformat
from jupyter_client.kernelspec import KernelSpecManager
from jupyter_client.manager import KernelManager
from nbclient import NotebookClient

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
NOTEBOOK = os.path.join(REPO, 'notebooks', 'colab_tpu.ipynb')


def this_interpreters_kernel(directory):
  """A kernel spec named python3 that starts ipykernel with sys.executable (not a system Python)."""
  spec_dir = os.path.join(directory, 'python3')
  os.makedirs(spec_dir)
  with open(os.path.join(spec_dir, 'kernel.json'), 'w') as f:
    json.dump({'argv': [sys.executable, '-m', 'ipykernel_launcher', '-f', '{connection_file}'],
               'display_name': 'Python 3', 'language': 'python'}, f)
  return KernelManager(kernel_name='python3',
                       kernel_spec_manager=KernelSpecManager(kernel_dirs=[directory]))


def outputs_text(cell):
  return ''.join(o.get('text', '') for o in cell.get('outputs', []) if o.get('name') == 'stdout')


def test_colab_notebook_runs_on_cpu_in_small_mode(tmp_path, monkeypatch):
  monkeypatch.setenv('HIGHWAY_NOTEBOOK_SMALL', '1')
  monkeypatch.setenv('HIGHWAY_NOTEBOOK_WORKDIR', str(tmp_path / 'run'))
  # CIFAR-10 cannot be downloaded here: choose the offline config explicitly, as the notebook says.
  monkeypatch.setenv('HIGHWAY_NOTEBOOK_CONFIG', 'configs/digits_highway.py')
  monkeypatch.setenv('JAX_DISABLE_MOST_OPTIMIZATIONS', '1')
  monkeypatch.setenv('JAX_PLATFORMS', 'cpu')
  notebook = nbformat.read(NOTEBOOK, as_version=4)
  km = this_interpreters_kernel(str(tmp_path / 'kernels'))
  client = NotebookClient(notebook, km=km, timeout=240,
                          resources={'metadata': {'path': os.path.dirname(NOTEBOOK)}})
  client.execute()
  text = '\n'.join(outputs_text(c) for c in notebook.cells if c.cell_type == 'code')
  assert f'Python {sys.executable}' in text
  assert 'skipping the clone' in text
  assert 'TPU not found' in text
  assert 'Training configs/digits_highway.py:runlocal: dataset digits' in text
  assert 'unlesioned training loss' in text
  for name in ('loss.png', 'accuracy.png', 'lesion.png', 'lesion.csv'):
    assert (tmp_path / 'run' / name).exists()
  images = [o for c in notebook.cells for o in c.get('outputs', []) if 'image/png' in o.get('data', {})]
  assert len(images) == 3

"""The README's Quickstart is what CI runs and what a new user types: keep them in sync."""

import pathlib
import re

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[1]


def quickstart_commands():
  readme = (ROOT / 'README.md').read_text()
  section = readme.split('## Quickstart', 1)[1].split('\n## ', 1)[0]
  blocks = re.findall(r'```(?:bash|sh)?\n(.*?)```', section, flags=re.S)
  return [line.strip() for block in blocks for line in block.splitlines()
          if line.strip() and not line.strip().startswith('#')]


def test_quickstart_has_two_commands():
  commands = quickstart_commands()
  assert len(commands) == 2, commands
  assert 'scripts/train.py' in commands[0]
  assert 'pytest' in commands[1]


def test_ci_runs_the_readme_test_command():
  ci = (ROOT / '.ci' / 'run').read_text()
  assert quickstart_commands()[1] in ci.splitlines()


def test_quickstart_files_exist():
  for path in re.findall(r'(?:scripts|configs)/[\w/]+\.py', ' '.join(quickstart_commands())):
    assert (ROOT / path).exists(), path


def test_readme_python_examples_run():
  """The README's Python blocks run as written, in order (one namespace)."""
  readme = (ROOT / 'README.md').read_text()
  code = '\n'.join(re.findall(r'```python\n(.*?)```', readme, flags=re.S))
  assert 'hj.HighwayStack' in code and 'hj.LSTM' in code
  namespace = {}
  exec(compile(code, 'README.md', 'exec'), namespace)  # pylint: disable=exec-used
  assert namespace['y'].shape == (4, 20, 64)   # the last example: a 4-layer bidirectional LSTM of 32


def test_ci_installs_with_the_constraints_file_that_pins_every_dependency():
  tomllib = pytest.importorskip('tomllib')  # Python >= 3.11
  ci = (ROOT / '.ci' / 'run').read_text()
  assert 'export PIP_CONSTRAINT="$PWD/constraints.txt"' in ci.splitlines()
  pins = {}
  for line in (ROOT / 'constraints.txt').read_text().splitlines():
    if line and not line.startswith('#'):
      name, version = line.split('==')
      pins[re.sub(r'[-_.]+', '-', name).lower()] = version
  project = tomllib.loads((ROOT / 'pyproject.toml').read_text())['project']
  required = project['dependencies'] + project['optional-dependencies']['test']
  names = {re.sub(r'[-_.]+', '-', re.match(r'[A-Za-z0-9_.-]+', r).group()).lower() for r in required}
  assert not names - set(pins), f'not pinned in constraints.txt: {sorted(names - set(pins))}'

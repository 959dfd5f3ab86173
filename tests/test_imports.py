"""The package imports one way: no module cycle, no upward import, no private name across modules.

Layers, bottom up (a module may import its own layer's package-mates and any lower layer)::

    0 errors
    1 gating                      the equations, pure functions
    2 highway, cells              layers and cells
    3 stack, recurrent            depth scan; time runner and sequence layers
    4 grid_lstm
    5 highway_jax (the public API: highway_jax/__init__.py)
    6 models, data, interop
    7 training
    8 analysis
    9 cli                         the command-line error policy
   10 train                       python -m highway_jax.train (scripts/train.py runs it too)

The checks read the source with ``ast`` (nothing is imported), so a new module must be given its layer
in ``LAYERS`` below before the test passes. Every import counts, also one inside a function: a lazy
import must not dodge a cycle.
"""

import ast
import pathlib

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[1]
PACKAGE = 'highway_jax'

LAYERS = {
    'errors': 0,
    'gating': 1,
    'highway': 2,
    'cells': 2,
    'stack': 3,
    'recurrent': 3,
    'grid_lstm': 4,
    '': 5,  # highway_jax/__init__.py
    'models': 6,
    'data': 6,
    'interop': 6,
    'training': 7,
    'analysis': 8,
    'cli': 9,
    'train': 10,
}


def module_name(path: pathlib.Path) -> str:
  parts = list(path.relative_to(ROOT).with_suffix('').parts)
  if parts[-1] == '__init__':
    parts.pop()
  return '.'.join(parts)


def package_modules() -> dict[str, pathlib.Path]:
  return {module_name(p): p for p in sorted((ROOT / PACKAGE).rglob('*.py'))}


def layer_of(module: str) -> tuple[str, int]:
  """The layer key ('' for the package itself) and rank of a highway_jax module."""
  key = module.split('.')[1] if '.' in module else ''
  if key not in LAYERS:
    pytest.fail(f'{module}: not in tests/test_imports.py LAYERS; give the new module its layer there.')
  return key, LAYERS[key]


def imports_of(path: pathlib.Path, modules: dict[str, pathlib.Path]) -> list[tuple[str, list[str], int]]:
  """(imported highway_jax module, names taken from it, line) for every import in ``path``."""
  found = []
  for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
    if isinstance(node, ast.Import):
      for alias in node.names:
        if alias.name.split('.')[0] == PACKAGE:
          found.append((alias.name, [], node.lineno))
    elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
      if node.module.split('.')[0] != PACKAGE:
        continue
      names = []
      for alias in node.names:
        child = f'{node.module}.{alias.name}'
        if child in modules:  # `from highway_jax.training import losses` imports a module
          found.append((child, [], node.lineno))
        else:
          names.append(alias.name)
      if names:
        found.append((node.module, names, node.lineno))
  return found


def import_graph() -> dict[str, set[str]]:
  modules = package_modules()
  return {name: {target for target, _, _ in imports_of(path, modules) if target != name}
          for name, path in modules.items()}


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
  """A cycle of ``graph`` as a list of nodes (first == last), or None."""
  state = {}

  def visit(node, trail):
    state[node] = 'open'
    for nxt in sorted(graph.get(node, ())):
      if state.get(nxt) == 'open':
        return trail[trail.index(nxt):] + [nxt]
      if nxt not in state:
        cycle = visit(nxt, trail + [nxt])
        if cycle:
          return cycle
    state[node] = 'done'
    return None

  for start in sorted(graph):
    if start not in state:
      cycle = visit(start, [start])
      if cycle:
        return cycle
  return None


def test_no_module_imports_a_cycle():
  graph = import_graph()
  # A package's __init__ runs before any of its modules, so `a.b` importing `a` and `a` importing
  # `a.b` is the usual re-export, not a cycle; every other edge counts.
  for name, targets in graph.items():
    targets.discard(name.rpartition('.')[0])
  cycle = find_cycle(graph)
  assert cycle is None, 'import cycle: ' + ' -> '.join(cycle)


def test_layers_import_downward_only():
  modules = package_modules()
  upward = []
  for name, path in modules.items():
    key, rank = layer_of(name)
    for target, _, line in imports_of(path, modules):
      target_key, target_rank = layer_of(target)
      if target_key != key and target_rank >= rank:
        upward.append(f'{path.relative_to(ROOT)}:{line} ({key or PACKAGE}, layer {rank}) imports '
                      f'{target} ({target_key or PACKAGE}, layer {target_rank})')
  assert not upward, 'upward or sideways imports:\n' + '\n'.join(upward)


def test_no_private_name_is_imported_across_modules():
  modules = package_modules()
  offenders = []
  for path in [*modules.values(), *sorted((ROOT / 'scripts').glob('*.py')),
               *sorted((ROOT / 'benchmarks').glob('*.py'))]:
    tree = ast.parse(path.read_text(), filename=str(path))
    aliases = {}
    for target, names, line in imports_of(path, modules):
      for n in names:
        if n.startswith('_'):
          offenders.append(f'{path.relative_to(ROOT)}:{line} imports {target}.{n}')
      if target.rsplit('.', 1)[-1].startswith('_'):
        offenders.append(f'{path.relative_to(ROOT)}:{line} imports private module {target}')
    for node in ast.walk(tree):
      if isinstance(node, (ast.Import, ast.ImportFrom)):
        for alias in node.names:
          full = alias.name if isinstance(node, ast.Import) else f'{node.module}.{alias.name}'
          if full.split('.')[0] == PACKAGE:
            aliases[alias.asname or alias.name.split('.')[0]] = full
    for node in ast.walk(tree):
      if (isinstance(node, ast.Attribute) and node.attr.startswith('_')
          and not node.attr.startswith('__') and isinstance(node.value, ast.Name)
          and node.value.id in aliases):
        offenders.append(f'{path.relative_to(ROOT)}:{node.lineno} uses {aliases[node.value.id]}.{node.attr}')
  assert not offenders, 'private names used across modules:\n' + '\n'.join(offenders)


def private_definitions(path: pathlib.Path) -> set[str]:
  return {node.name for node in ast.walk(ast.parse(path.read_text()))
          if isinstance(node, (ast.FunctionDef, ast.ClassDef)) and node.name.startswith('_')
          and not node.name.startswith('__')}


def test_no_private_method_of_another_module_is_called():
  """``obj._name`` where ``_name`` is defined in another module only (e.g. a cell's private step)."""
  modules = package_modules()
  defined = {name: private_definitions(path) for name, path in modules.items()}
  offenders = []
  for name, path in modules.items():
    elsewhere = set().union(*(d for other, d in defined.items() if other != name)) - defined[name]
    for node in ast.walk(ast.parse(path.read_text())):
      if (isinstance(node, ast.Attribute) and node.attr in elsewhere
          and not (isinstance(node.value, ast.Name) and node.value.id in ('self', 'cls'))):
        owners = sorted(other for other, d in defined.items() if node.attr in d)
        offenders.append(f'{path.relative_to(ROOT)}:{node.lineno} uses .{node.attr} of {", ".join(owners)}')
  assert not offenders, 'private methods used across modules:\n' + '\n'.join(offenders)


def test_the_checks_can_fail(tmp_path):
  """The cycle finder and the import reader on a made-up package."""
  assert find_cycle({'a': {'b'}, 'b': {'c'}, 'c': {'a'}}) == ['a', 'b', 'c', 'a']
  assert find_cycle({'a': {'b'}, 'b': {'c'}, 'c': set()}) is None
  source = tmp_path / 'm.py'
  source.write_text('def f():\n  from highway_jax.cells import _promote\n')
  assert imports_of(source, {}) == [('highway_jax.cells', ['_promote'], 2)]


def test_no_two_modules_share_a_file_name():
  names = {}
  for name, path in package_modules().items():
    if path.name != '__init__.py':
      names.setdefault(path.name, []).append(name)
  shared = {file: modules for file, modules in names.items() if len(modules) > 1}
  assert not shared, f'modules with the same file name: {shared}'

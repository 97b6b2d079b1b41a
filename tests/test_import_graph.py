"""The package's import graph stays a one-way street.

Every `import` and `from ... import` in the sources (inside functions too: a lazy import is
still a dependency) is read with `ast`, and each module is reduced to its unit: a
subpackage (`keras_ecgpe.training`, `keras_ecgpe.data`, ...) or a top-level module
(`keras_ecgpe.run_directory`, `keras_ecgpe.errors`, ...). Two rules hold:

- no cycle between units (training -> inference -> training once made the contract's
  two halves unusable apart);
- the library never imports `keras_ecgpe.cli` or `keras_ecgpe.export` (cli -> export ->
  keras_ecgpe is the only direction).
"""

from __future__ import annotations

import ast
from collections import defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
# Where each installed package's sources live (see setup.cfg's package_dir).
SOURCES = {
    "keras_ecgpe": ROOT / "keras_ecgpe",
    "keras_ecgpe.cli": ROOT / "cli",
    "keras_ecgpe.export": ROOT / "export",
}
OUTSIDE_THE_LIBRARY = ("keras_ecgpe.cli", "keras_ecgpe.export")


def module_files(sources: dict) -> dict:
    """`{dotted module name: source file}` of every `.py` under the given packages."""
    modules = {}
    for package, folder in sources.items():
        for path in sorted(folder.rglob("*.py")):
            parts = list(path.relative_to(folder).with_suffix("").parts)
            if parts[-1] == "__init__":
                parts.pop()
            modules[".".join([package, *parts])] = path
    return modules


def _imported(tree: ast.AST, module: str, is_package: bool):
    """`(dotted name, line)` of every import in `tree`, relative imports resolved."""
    package = module if is_package else module.rpartition(".")[0]
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield alias.name, node.lineno
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join(anchor + ([base] if base else []))
            # `from pkg import name`: name may be a submodule; both are dependencies.
            yield base, node.lineno
            for alias in node.names:
                yield f"{base}.{alias.name}", node.lineno


def unit_of(name: str, modules: dict) -> str | None:
    """The unit a dotted name belongs to, or None for names outside the packages.

    The longest known package prefix wins (`keras_ecgpe.export.qat.worker` belongs to
    `keras_ecgpe.export`); inside `keras_ecgpe`, the unit is the first component below it.
    A name that is not a module (`keras_ecgpe.__version__`) belongs to its package.
    """
    while name and name not in modules:
        name = name.rpartition(".")[0]
    if not name:
        return None
    for package in sorted(SOURCES, key=len, reverse=True):
        if package != "keras_ecgpe" and (name == package or name.startswith(package + ".")):
            return package
    parts = name.split(".")
    return ".".join(parts[:2])


def import_graph(sources: dict) -> dict:
    """`{(unit, imported unit): [(file, line), ...]}` over every module of `sources`."""
    modules = module_files(sources)
    edges = defaultdict(list)
    for module, path in modules.items():
        tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
        here = unit_of(module, modules)
        for name, line in _imported(tree, module, path.name == "__init__.py"):
            there = unit_of(name, modules)
            if there is not None and there != here:
                edges[(here, there)].append((path, line))
    return dict(edges)


def find_cycles(edges: dict) -> list:
    """Every strongly connected group of two or more units, as one concrete cycle each.

    Returns:
        A list of unit lists `[a, b, ..., a]`, each closed by its first unit.
    """
    graph = defaultdict(set)
    for a, b in edges:
        graph[a].add(b)
    index, low, stack, on_stack, groups = {}, {}, [], set(), []

    def connect(node):  # Tarjan's strongly connected components
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for nxt in sorted(graph[node]):
            if nxt not in index:
                connect(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in on_stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            group = []
            while True:
                top = stack.pop()
                on_stack.discard(top)
                group.append(top)
                if top == node:
                    break
            if len(group) > 1:
                groups.append(set(group))

    for node in sorted(set(graph) | {b for targets in graph.values() for b in targets}):
        if node not in index:
            connect(node)
    return [_cycle_through(group, graph) for group in groups]


def _cycle_through(group: set, graph) -> list:
    """A shortest cycle inside one strongly connected group, from its first unit."""
    start = min(group)
    paths = {start: [start]}
    frontier = [start]
    while frontier:  # breadth first, back to `start`
        following = []
        for node in frontier:
            for nxt in sorted(graph[node] & group):
                if nxt == start:
                    return paths[node] + [start]
                if nxt not in paths:
                    paths[nxt] = paths[node] + [nxt]
                    following.append(nxt)
        frontier = following
    raise AssertionError(f"no cycle through {start} in {sorted(group)}")  # not reachable


def describe(cycle: list, edges: dict) -> str:
    """`a -> b (file:line) -> a (file:line)`: each step with the import that makes it."""
    steps = [cycle[0]]
    for a, b in zip(cycle[:-1], cycle[1:], strict=True):
        path, line = edges[(a, b)][0]
        steps.append(
            f"{b} ({path.relative_to(ROOT) if path.is_relative_to(ROOT) else path}:{line})"
        )
    return " -> ".join(steps)


def test_no_import_cycle_between_units():
    edges = import_graph(SOURCES)
    cycles = [describe(cycle, edges) for cycle in find_cycles(edges)]
    assert not cycles, "import cycles between units:\n  " + "\n  ".join(cycles)


def test_the_library_never_imports_the_cli_or_export():
    edges = import_graph(SOURCES)
    wrong = [
        f"{a} imports {b} at {path.relative_to(ROOT)}:{line}"
        for (a, b), places in sorted(edges.items())
        if a not in OUTSIDE_THE_LIBRARY and b in OUTSIDE_THE_LIBRARY
        for path, line in places
    ]
    assert not wrong, "\n".join(wrong)


def test_the_graph_sees_the_known_edges():
    edges = import_graph(SOURCES)
    # Lazy (in-function) and `from keras_ecgpe import module` imports both count.
    assert ("keras_ecgpe.training", "keras_ecgpe.run_directory") in edges
    assert ("keras_ecgpe.inference", "keras_ecgpe.run_directory") in edges
    assert ("keras_ecgpe.export", "keras_ecgpe.inference") in edges
    assert ("keras_ecgpe.cli", "keras_ecgpe.export") in edges


def test_a_cycle_is_found_and_named(tmp_path):
    package = tmp_path / "keras_ecgpe"
    for folder, text in {
        "training": "from keras_ecgpe.inference import reader\n",
        "inference": "def load():\n    from ..training import contract\n",
        "data": "import keras_ecgpe.errors\n",
    }.items():
        (package / folder).mkdir(parents=True)
        (package / folder / "__init__.py").write_text("")
        (package / folder / ("contract.py" if folder == "training" else "reader.py")).write_text(
            text
        )
    (package / "__init__.py").write_text("")
    (package / "errors.py").write_text("")
    edges = import_graph({"keras_ecgpe": package})
    cycles = find_cycles(edges)
    assert cycles == [["keras_ecgpe.inference", "keras_ecgpe.training", "keras_ecgpe.inference"]]
    text = describe(cycles[0], edges)
    assert "inference/reader.py:2" in text and "training/contract.py:1" in text

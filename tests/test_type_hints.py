"""Every public function and method of the installed packages carries type hints.

ruff's ANN201 (enabled in pyproject.toml) checks the return annotation of public
functions; its ANN001 cannot be limited to public functions (it also covers private
helpers and closures), so the parameters are checked here, with `ast`:

- a public function is a top-level `def` whose name has no leading underscore, or a
  method of such a top-level class whose name has none (`__init__` included: its
  parameters are the constructor's), in a module whose path has no private part;
- every parameter but a method's `self`/`cls` (and `*args`/`**kwargs`) is annotated,
  and every public function but `__init__` has a return annotation.

The annotations are never evaluated (`from __future__ import annotations`), so types
from TensorFlow or Keras are imported under `if TYPE_CHECKING:` only.
"""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = (ROOT / "keras_ecgpe", ROOT / "cli", ROOT / "export")


def _is_private(name: str) -> bool:
    return name.startswith("_") and not (name.startswith("__") and name.endswith("__"))


def public_functions(tree: ast.Module) -> list[tuple[ast.FunctionDef, ast.ClassDef | None]]:
    """`(function, its class or None)` for every public function and method of a module."""
    found = []
    for node in tree.body:
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            if not _is_private(node.name):
                found.append((node, None))
        elif isinstance(node, ast.ClassDef) and not _is_private(node.name):
            for item in node.body:
                if isinstance(item, (ast.FunctionDef, ast.AsyncFunctionDef)):
                    if not item.name.startswith("_") or item.name == "__init__":
                        found.append((item, node))
    return found


def missing_hints(function: ast.FunctionDef, owner: ast.ClassDef | None) -> list[str]:
    """Names of the parameters without an annotation, and "return" if that lacks one."""
    args = function.args
    positional = args.posonlyargs + args.args
    static = any(
        isinstance(d, ast.Name) and d.id == "staticmethod" for d in function.decorator_list
    )
    if owner is not None and not static and positional:
        positional = positional[1:]  # self or cls
    params = positional + args.kwonlyargs
    params += [a for a in (args.vararg, args.kwarg) if a is not None]
    missing = [p.arg for p in params if p.annotation is None]
    if function.returns is None and function.name != "__init__":
        missing.append("return")
    return missing


def unannotated(folders: tuple[Path, ...]) -> list[str]:
    """`path:line name (missing, ...)` for every public function lacking a hint."""
    problems = []
    for folder in folders:
        for path in sorted(folder.rglob("*.py")):
            parts = path.relative_to(folder).parts
            if any(_is_private(part) and part != "__init__.py" for part in parts):
                continue
            tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
            for function, owner in public_functions(tree):
                missing = missing_hints(function, owner)
                if missing:
                    name = f"{owner.name}.{function.name}" if owner else function.name
                    where = (
                        path.relative_to(folder.parent) if folder.parent in path.parents else path
                    )
                    problems.append(f"{where}:{function.lineno} {name} ({', '.join(missing)})")
    return problems


def test_every_public_function_is_annotated():
    problems = unannotated(PACKAGES)
    assert not problems, "public functions without type hints:\n  " + "\n  ".join(problems)


def test_a_missing_hint_is_found_and_private_code_is_not_checked(tmp_path):
    package = tmp_path / "pkg"
    (package / "_private").mkdir(parents=True)
    (package / "_private" / "helpers.py").write_text("def anything(x):\n    return x\n")
    (package / "module.py").write_text(
        "def typed(x: int, *, y: str = '') -> int:\n    return x\n"
        "def untyped(x, y: int = 0):\n    return x\n"
        "def _helper(x):\n    return x\n"
        "class Thing:\n"
        "    def __init__(self, size):\n        self.size = size\n"
        "    def method(self, other: int) -> int:\n        return other\n"
        "    @staticmethod\n    def make(size) -> 'Thing':\n        return Thing(size)\n"
        "    def _private(self, x):\n        return x\n"
        "class _Hidden:\n    def method(self, x):\n        return x\n"
    )
    problems = unannotated((package,))
    assert [p.split(" ", 1)[1] for p in problems] == [
        "untyped (x, return)",
        "Thing.__init__ (size)",
        "Thing.make (size)",
    ]

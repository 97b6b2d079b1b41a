"""Nothing unpickles or executes files it did not write: a guard over the source tree.

A prepared cache, a run directory or an exported model may come from someone else. Loading
one must never run code from it, so the package never unpickles (`allow_pickle=True`,
`pickle.load`, `torch.load`, `joblib.load`, ...), never loads YAML with a loader that
builds arbitrary objects, never loads a Keras model with `safe_mode=False` (which
deserialises lambdas) and never calls `eval`/`exec`. The scan reads the syntax tree, so
comments and docstrings that mention these names are not flagged.
"""

from __future__ import annotations

import ast
import pathlib

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[1]
SCANNED = ("keras_ecgpe", "export", "cli", "benchmarks")
_UNPICKLERS = {
    ("pickle", "load"),
    ("pickle", "loads"),
    ("pickle", "Unpickler"),
    ("cPickle", "load"),
    ("dill", "load"),
    ("dill", "loads"),
    ("joblib", "load"),
    ("torch", "load"),
    ("marshal", "load"),
    ("marshal", "loads"),
    ("shelve", "open"),
    ("pd", "read_pickle"),
    ("pandas", "read_pickle"),
}
_YAML_LOADS = {"load", "load_all", "unsafe_load", "unsafe_load_all", "full_load", "full_load_all"}
# The package's own strict loader is a SafeLoader subclass (checked below), so it is safe too.
_SAFE_YAML_LOADERS = {"SafeLoader", "CSafeLoader", "BaseLoader", "CBaseLoader", "StrictSafeLoader"}


def _dotted(node) -> tuple:
    """`a.b.c` as ("a", "b", "c"); () for anything that is not a plain dotted name."""
    if isinstance(node, ast.Name):
        return (node.id,)
    if isinstance(node, ast.Attribute):
        inner = _dotted(node.value)
        return inner + (node.attr,) if inner else ()
    return ()


def unsafe_calls(source: str) -> list:
    """`(line, reason)` for every call in `source` that could run code from a file."""
    found = []
    for node in ast.walk(ast.parse(source)):
        if not isinstance(node, ast.Call):
            continue
        name = _dotted(node.func)
        keywords = {k.arg: k.value for k in node.keywords if k.arg}
        flag = keywords.get("allow_pickle")
        if isinstance(flag, ast.Constant) and flag.value is True:
            found.append((node.lineno, "allow_pickle=True"))
        mode = keywords.get("safe_mode")
        if mode is not None and not (isinstance(mode, ast.Constant) and mode.value is True):
            found.append((node.lineno, "safe_mode other than True"))
        if name[-2:] in _UNPICKLERS:
            found.append((node.lineno, ".".join(name)))
        if name[:1] == ("yaml",) and name[-1] in _YAML_LOADS:
            loader = _dotted(keywords.get("Loader")) if "Loader" in keywords else ()
            if name[-1] not in ("load", "load_all") or loader[-1:] not in [
                (safe,) for safe in _SAFE_YAML_LOADERS
            ]:
                found.append((node.lineno, f"{'.'.join(name)} without SafeLoader"))
        if name in (("eval",), ("exec",)):
            found.append((node.lineno, f"{name[0]}()"))
    return found


@pytest.mark.parametrize(
    "snippet",
    [
        "np.load(path, allow_pickle=True)",
        "numpy.load(f, mmap_mode='r', allow_pickle=True)",
        "pickle.load(handle)",
        "pickle.loads(data)",
        "torch.load('x.pt')",
        "joblib.load(p)",
        "yaml.load(text)",
        "yaml.load(text, Loader=yaml.FullLoader)",
        "yaml.unsafe_load(text)",
        "yaml.full_load(text)",
        "keras.saving.load_model(p, safe_mode=False)",
        "keras.saving.load_model(p, safe_mode=flag)",
        "eval(row['scp_codes'])",
        "exec(code)",
        "np.savez(buffer, allow_pickle=True, **arrays)",
        "pd.read_pickle(p)",
    ],
)
def test_the_scan_flags_each_unsafe_call(snippet):
    assert unsafe_calls(snippet), snippet


@pytest.mark.parametrize(
    "snippet",
    [
        "np.load(path, allow_pickle=False)",
        "np.load(path)",
        "yaml.safe_load(text)",
        "yaml.load(text, Loader=yaml.SafeLoader)",
        "keras.saving.load_model(p, safe_mode=True)",
        "ast.literal_eval(text)",
        "model.eval()",
        "'pickle.load(x) and eval(y)'",
        "# allow_pickle=True\nx = 1",
    ],
)
def test_the_scan_passes_safe_calls(snippet):
    assert unsafe_calls(snippet) == [], snippet


def test_no_unsafe_loading_in_the_source_tree():
    files = [path for folder in SCANNED for path in sorted((ROOT / folder).rglob("*.py"))]
    assert len(files) > 50  # the scan really reads the package
    problems = [
        f"{path.relative_to(ROOT)}:{line}: {reason}"
        for path in files
        for line, reason in unsafe_calls(path.read_text("utf-8"))
    ]
    assert problems == []


def test_the_package_yaml_loader_is_a_safe_loader():
    import yaml

    from keras_ecgpe.evaluation.analysis_plan import StrictSafeLoader

    assert issubclass(StrictSafeLoader, yaml.SafeLoader)

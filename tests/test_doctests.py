"""Every docstring example (`>>>`) of keras_ecgpe, its CLI and its export package runs.

Modules are found by reading the source tree (any file with a `>>>` line), then imported by
their installed name (`cli/` is `keras_ecgpe.cli`, `export/` is `keras_ecgpe.export`) and
run through `doctest.testmod`. Modules that import tf_keras or tensorflow-model-optimization
(the QAT worker's) run in a child process: those imports switch a process to legacy Keras
for good. An example that needs files it cannot have (a trained run,
a prepared cache) is written as a plain code block, not as `>>>` with `+SKIP`: an example
either runs here or is not an example.
"""

from __future__ import annotations

import doctest
import importlib
import importlib.util
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
# Source folder -> installed package name (setup.cfg's package_dir).
PACKAGES = {"keras_ecgpe": "keras_ecgpe", "cli": "keras_ecgpe.cli", "export": "keras_ecgpe.export"}
FLAGS = doctest.NORMALIZE_WHITESPACE | doctest.ELLIPSIS
_PROMPT = re.compile(r"^\s*>>> ", re.MULTILINE)
_LEGACY = re.compile(r"^import (tf_keras|tensorflow_model_optimization)\b", re.MULTILINE)
LEGACY_PACKAGES = ("tf_keras", "tensorflow_model_optimization")


def modules_with_examples() -> tuple:
    """`(in_process, legacy)` module names whose source holds a `>>>` line."""
    names, legacy = [], []
    for folder, package in PACKAGES.items():
        for path in sorted((ROOT / folder).rglob("*.py")):
            source = path.read_text(encoding="utf-8")
            if not _PROMPT.search(source):
                continue
            parts = path.relative_to(ROOT / folder).with_suffix("").parts
            if parts[-1] == "__init__":
                parts = parts[:-1]
            (legacy if _LEGACY.search(source) else names).append(".".join((package, *parts)))
    return names, legacy


MODULES, LEGACY_MODULES = modules_with_examples()


def run_examples(name: str) -> tuple:
    """`doctest.testmod` over module `name`: `(failed, attempted)`; failures go to stdout."""
    module = importlib.import_module(name)
    return tuple(doctest.testmod(module, optionflags=FLAGS, verbose=False, report=True))


def test_examples_were_found():
    assert len(MODULES) > 30 and "keras_ecgpe.models.registry" in MODULES
    assert "keras_ecgpe.export.qat.twin" in LEGACY_MODULES


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples_run(name):
    failed, attempted = run_examples(name)
    assert attempted > 0, f"{name}: no example ran"
    assert failed == 0, f"{name}: {failed} of {attempted} examples failed (see stdout)"


@pytest.mark.slow
@pytest.mark.skipif(
    any(importlib.util.find_spec(p) is None for p in LEGACY_PACKAGES),
    reason="needs the optional QAT extra (tf_keras, tfmot)",
)
@pytest.mark.parametrize("name", LEGACY_MODULES)
def test_legacy_keras_examples_run_in_a_child(name):
    code = (
        f"import sys; sys.path.insert(0, {str(ROOT / 'tests')!r}); "
        f"from test_doctests import run_examples; "
        f"failed, attempted = run_examples({name!r}); "
        f"sys.exit(1 if failed or not attempted else 0)"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-1000:]


def test_no_example_is_skipped():
    skipped = [
        f"{path.relative_to(ROOT)}:{number}"
        for folder in PACKAGES
        for path in sorted((ROOT / folder).rglob("*.py"))
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1)
        if "doctest: +SKIP" in line
    ]
    assert not skipped, f"examples that never run (make them run or a code block): {skipped}"

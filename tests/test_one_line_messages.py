"""Messages are one line for the user, and the library never names a CLI flag.

The library names a setting by its Python keyword in backquotes (`overwrite=True`); the
CLI shows the failing command's flag instead (cli/option_words.py). Keras' multi-line
refusals, TensorFlow's start-up lines and Python warnings are details behind -v. A script
calling the package without the `__main__` guard is told so.
"""

from __future__ import annotations

import ast
import os
import pathlib
import re
import subprocess
import sys
import textwrap

import pytest
from click.testing import CliRunner

from keras_ecgpe.cli.main import cli
from keras_ecgpe.cli.option_words import cli_wording
from keras_ecgpe.run_directory import keras_refusal

PACKAGE = pathlib.Path(__file__).resolve().parents[1] / "keras_ecgpe"
FLAG = re.compile(r"(?<![\w`-])--[a-z][a-z-]*")


def _error_strings(tree: ast.AST):
    """(line, text) of every string literal inside `raise SomethingError(...)`."""
    for node in ast.walk(tree):
        if isinstance(node, ast.Raise) and isinstance(node.exc, ast.Call):
            for part in ast.walk(node.exc):
                if isinstance(part, ast.Constant) and isinstance(part.value, str):
                    yield part.lineno, part.value


def test_library_errors_name_no_cli_flag():
    found = []
    for path in sorted(PACKAGE.rglob("*.py")):
        if "cli" in path.relative_to(PACKAGE).parts:
            continue
        for line, text in _error_strings(ast.parse(path.read_text("utf-8"))):
            if FLAG.search(text):
                found.append(f"{path.relative_to(PACKAGE.parent)}:{line}: {text!r}")
    assert found == [], "name the Python keyword in backquotes instead:\n" + "\n".join(found)


def _command(*names):
    command = cli
    for name in names:
        command = command.commands[name]
    return command


def test_keywords_become_the_failing_commands_flags():
    evaluate, train = _command("evaluate"), _command("train")
    text = "scored before; give a reason (`declare_new_model=REASON`) or `overwrite=True`"
    assert cli_wording(text, evaluate) == (
        "scored before; give a reason (--declare-new-model REASON) or --overwrite"
    )
    assert cli_wording("use `k=3`, or `regenerate_folds=True`", train) == (
        "use --cv 3, or --regenerate-folds"
    )
    # Not an option of that command, or a config key: left as written.
    assert cli_wording("`prevalence` and `data.cache`", train) == "`prevalence` and `data.cache`"
    assert cli_wording("`prevalence`", evaluate) == "--prevalence"


def test_keras_refusals_are_one_short_line():
    config = "{" + ", ".join(f"'layer{i}': {{'units': {i}}}" for i in range(400)) + "}"
    long = ValueError(
        f"Could not locate class 'Mystery'.\n  Make sure ...\nFull object config: {config}"
    )
    assert keras_refusal(long) == "Could not locate class 'Mystery'. Make sure ..."
    lambda_refusal = ValueError(
        "Requested the deserialization of a `Lambda` layer whose `function` is a Python "
        "lambda. This carries a potential risk of arbitrary code execution and thus it is "
        "disallowed by default. If you trust the source of the artifact, you can override "
        "this error by passing `safe_mode=False`\n to the loading function."
    )
    short = keras_refusal(lambda_refusal)
    assert "\n" not in short and "serialized Python code" in short and len(short) < 200


def test_cli_usage_errors_and_unexpected_failures_are_one_line(tmp_path):
    afile = tmp_path / "afile"
    afile.write_text("x")
    runner = CliRunner()
    usage = runner.invoke(cli, ["models", "list", "--input-len", "x"])
    assert usage.exit_code == 2 and usage.stderr.count("\n") == 1, usage.stderr
    assert "--input-len" in usage.stderr and "Usage:" not in usage.stderr
    below = runner.invoke(cli, ["data", "demo", str(afile / "out"), "--no-prepare"])
    assert below.exit_code == 1 and below.stderr.count("\n") == 1, below.stderr
    assert "afile/out: Not a directory" in below.stderr and "Traceback" not in below.output
    verbose = runner.invoke(cli, ["-v", "data", "demo", str(afile / "out"), "--no-prepare"])
    assert "Traceback" in verbose.stderr  # -v shows the details


@pytest.mark.slow  # starts a process that imports TensorFlow (about 12 s)
def test_tensorflow_start_up_lines_only_with_verbose():
    def run():
        command = [sys.executable, "-c", "from keras_ecgpe.cli.main import main; main()"]
        return subprocess.run(
            [*command, "models", "list", "--model", "resnet1d18", "--json"],
            capture_output=True,
            text=True,
            check=True,
            env={k: v for k, v in os.environ.items() if k != "TF_CPP_MIN_LOG_LEVEL"},
        )

    quiet = run()  # (-v leaves TensorFlow's own lines alone: not run, it costs a process)
    assert quiet.stderr == "", quiet.stderr
    assert quiet.stdout.lstrip().startswith("[")


@pytest.mark.slow  # starts a Python process and a worker process (about 5 s)
def test_a_script_without_the_main_guard_is_told_so(tmp_path):
    script = tmp_path / "no_guard.py"
    script.write_text(
        textwrap.dedent(
            """
            from keras_ecgpe.data.isolation import map_isolated
            from keras_ecgpe.data.readers import inspect_record
            print(list(map_isolated(inspect_record, ["nothing"])))
            """
        )
    )
    result = subprocess.run([sys.executable, str(script)], capture_output=True, text=True)
    assert result.returncode != 0
    assert "no_guard.py runs this call again" in result.stderr
    assert 'if __name__ == "__main__":' in result.stderr
    assert "bootstrapping phase" not in result.stderr  # multiprocessing's own text

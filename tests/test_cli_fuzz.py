"""CLI fuzz: every command, whatever the input, exits non-zero with one line, no traceback.

The click group is walked recursively, so a new command is covered without a change
here. For each command, every parameter in turn gets hostile values while the required
others get placeholders (an empty folder, a garbage file, a choice's first value):
- paths: missing, below a regular file, a symbolic link loop, a name too long for the
  file system, a garbage file, a sparse 2 GB file, a JSON/YAML file nested 100,000 deep,
  an empty folder, a folder 1,200 levels deep, a cohort holding a link loop;
- numbers: 1e20, -1e20, nan, inf, 10^23, text;
- strings: empty, NUL, 10,000 characters, a path climbing out, YAML 5,000 deep.
Each run must end with a non-zero exit code, no "Traceback" anywhere, and one error line
(on stderr; `data inspect` and `predict` report per record on stdout) that names the
option or a file of the invocation. Every numeric option must have a finite range.
Commands run in-process through click's CliRunner (no process start per case).
"""

from __future__ import annotations

import os
import pathlib

import click
import pytest
from click.testing import CliRunner

from keras_ecgpe.cli.main import cli

NUMBERS = ["1e20", "-1e20", "nan", "inf", "100000000000000000000000", "abc"]
STRINGS = ["", "a\x00b", "x" * 10_000, "../../../etc/passwd", "[" * 5_000 + "]" * 5_000]
# Commands whose every case would start worker processes or read many records: their
# cases run in the slow tier (the fast tier still covers every other command).
SLOW_COMMANDS = {"data inspect", "predict"}


def leaf_commands(group: click.Group, path: tuple = ()) -> list:
    """`(name path, command)` of every runnable command under `group`, recursively."""
    found = []
    for name, command in sorted(group.commands.items()):
        if isinstance(command, click.Group):
            found += leaf_commands(command, path + (name,))
        else:
            found.append((path + (name,), command))
    return found


COMMANDS = leaf_commands(cli)


@pytest.fixture(scope="module")
def hostile(tmp_path_factory):
    """Malformed inputs, made once (SYNTHETIC: nothing here is an ECG)."""
    root = tmp_path_factory.mktemp("hostile")
    garbage = root / "garbage.bin"
    garbage.write_bytes(bytes(range(256)) * 4)
    (root / "empty").mkdir()
    (root / "loop").symlink_to(root / "loop")
    deep_json = root / "deep.json"
    deep_json.write_text("[" * 100_000 + "]" * 100_000)
    deep_yaml = root / "deep.yaml"
    deep_yaml.write_text("a: " + "[" * 100_000 + "]" * 100_000)
    sparse = root / "sparse.yaml"
    with open(sparse, "wb") as handle:
        handle.write(b"training:\n")
        handle.truncate(2 * 2**30)
    tree = root / "tree"
    level = tree
    for _ in range(1_201):  # a folder 1,200 levels deep (os.makedirs would recurse)
        level.mkdir()
        level = level / "d"
    cohort = root / "cohort"
    cohort.mkdir()
    (cohort / "manifest.csv").write_text("record,label,patient_id\nrec,1,p1\n")
    (cohort / "rec.hea").symlink_to(cohort / "rec.hea")  # a link loop as a record file
    paths = {
        "missing": root / "missing",
        "below a file": garbage / "sub",
        "link loop": root / "loop",
        "name too long": root / ("n" * 300),
        "garbage file": garbage,
        "sparse 2 GB file": sparse,
        "JSON 100,000 deep": deep_json,
        "YAML 100,000 deep": deep_yaml,
        "empty folder": root / "empty",
        "folder 1,200 deep": tree,
        "cohort with a link loop": cohort,
    }
    yield {"paths": paths, "garbage": garbage, "empty": root / "empty"}
    # Removed here, bottom up: shutil.rmtree (pytest's clean-up) recurses once per level.
    for depth in range(1_200, -1, -1):
        (tree / "/".join(["d"] * depth)).rmdir()


def _flag(param: click.Parameter) -> str:
    return max(param.opts, key=len)


def _placeholder(param: click.Parameter, hostile: dict) -> list:
    """Arguments giving `param` a plausible value (not a valid input: nothing may run)."""
    kind = param.type
    if isinstance(kind, click.Path):
        value = str(hostile["empty"] if not kind.file_okay else hostile["garbage"])
    elif isinstance(kind, click.Choice):
        value = str(kind.choices[0])
    elif isinstance(kind, (click.IntRange, click.FloatRange)):
        value = str(kind.min if kind.min is not None else 1)
    else:
        value = "pe" if param.name == "source" else "x"
    if isinstance(param, click.Argument):
        return [value]
    if getattr(param, "is_flag", False):
        return [_flag(param)]
    return [_flag(param), value]


# Where a command writes, a missing or empty folder is a valid place: only broken ones.
BAD_OUTPUTS = ("below a file", "link loop", "name too long", "garbage file")


def _hostile_values(param: click.Parameter, hostile: dict) -> list:
    kind = param.type
    if getattr(param, "is_flag", False) or isinstance(kind, click.Choice):
        return []
    if isinstance(kind, click.Path):
        output = not kind.exists and not kind.file_okay
        return [
            (str(path), name)
            for name, path in hostile["paths"].items()
            if not output or name in BAD_OUTPUTS
        ]
    if isinstance(kind, (click.IntRange, click.FloatRange)) or kind in (click.INT, click.FLOAT):
        return [(value, value) for value in NUMBERS]
    if param.name == "assignments":  # --set
        return [
            ("training.batch_size=100000000000000000000", "batch_size 1e20"),
            ("training.epochs=" + "[" * 5000 + "]" * 5000, "--set 5,000 deep"),
            ("no-equals-sign", "--set without ="),
        ]
    return [(value, f"string {value[:12]!r}") for value in STRINGS]


def cases(path: tuple, command: click.Command, hostile: dict) -> list:
    """`(description, args, names)` for every hostile value of every parameter."""
    found = []
    for param in command.params:
        for value, what in _hostile_values(param, hostile):
            options, arguments = [], []
            for other in command.params:
                if other is param:
                    given = [value] if isinstance(other, click.Argument) else [_flag(other), value]
                elif other.required:
                    given = _placeholder(other, hostile)
                else:
                    continue
                (arguments if isinstance(other, click.Argument) else options).extend(given)
            args = [*path, *options, *arguments]
            # An error may rightly name any option of the command (one that is missing),
            # a file of the invocation, or the value itself (as given or quoted).
            names = {os.path.basename(a.rstrip("/")) for a in args if os.sep in a}
            names |= {_flag(p) for p in command.params if isinstance(p, click.Option)}
            names |= {value[:20], repr(value)[:20], value.split("=")[0]}
            found.append((f"{' '.join(path)} {param.name}={what}", args, names))
    return found


def _check(result, args, names) -> str | None:
    """Why `result` breaks the rules, or None."""
    if not isinstance(result.exception, SystemExit) or result.exit_code == 0:
        return f"exit {result.exit_code}, exception {result.exception!r}"
    if "Traceback" in result.output:
        return "a traceback"
    errors = [line for line in result.stderr.splitlines() if line.startswith("Error:")]
    if errors:
        lines = [line for line in result.stderr.splitlines() if line.strip()]
        if len(errors) != 1 or lines[-1] != errors[0]:
            return f"not one error line at the end of stderr: {result.stderr[-600:]!r}"
        text = errors[0]
    else:
        reported = [line for line in result.stdout.splitlines() if "ERROR" in line]
        if not reported:
            return f"no error line: {result.output[-600:]!r}"
        text = " ".join(reported)
    if not any(name and name in text for name in names):
        return f"names none of {sorted(names)[:6]}: {text[:300]!r}"
    return None


def _run_all(selected: list, hostile: dict) -> list:
    runner, failures, count = CliRunner(), [], 0
    for path, command in selected:
        for what, args, names in cases(path, command, hostile):
            count += 1
            problem = _check(runner.invoke(cli, args), args, names)
            if problem:
                failures.append(f"{what}: {problem}")
    return failures, count


def test_every_numeric_option_has_a_finite_range():
    unbounded = [
        f"{' '.join(path)} {_flag(param)}"
        for path, command in COMMANDS
        for param in command.params
        if param.type in (click.INT, click.FLOAT)
        or (
            isinstance(param.type, (click.IntRange, click.FloatRange))
            and (param.type.min is None or param.type.max is None)
        )
    ]
    assert unbounded == [], "give these a range with both ends (keras_ecgpe/limits.py)"


@pytest.mark.slow  # a few hundred in-process invocations, some importing TensorFlow
def test_fuzzed_commands_fail_in_one_line(hostile):
    selected = [(p, c) for p, c in COMMANDS if " ".join(p) not in SLOW_COMMANDS]
    failures, count = _run_all(selected, hostile)
    assert count > 300
    assert failures == [], f"{len(failures)} of {count} cases:\n" + "\n".join(failures)


@pytest.mark.slow  # every case starts a worker process or loads records
def test_fuzzed_record_commands_fail_in_one_line(hostile):
    selected = [(p, c) for p, c in COMMANDS if " ".join(p) in SLOW_COMMANDS]
    failures, count = _run_all(selected, hostile)
    assert failures == [], f"{len(failures)} of {count} cases:\n" + "\n".join(failures)


def test_every_command_is_fuzzed(hostile):
    """The walk reaches every command, and each gets at least one hostile case."""
    names = {" ".join(path) for path, _ in COMMANDS}
    assert {"data prepare", "data demo", "train", "export", "evaluate"} <= names
    assert all(cases(path, command, hostile) for path, command in COMMANDS)


def count_cases(hostile: dict) -> int:
    """How many cases the fuzz runs (quoted in README)."""
    return sum(len(cases(path, command, hostile)) for path, command in COMMANDS)


def test_named_examples_of_the_issue(hostile, tmp_path):
    """The reported examples, each reaching the code path that failed."""
    runner = CliRunner()
    paths = hostile["paths"]
    examples = [
        (["train", "--config", str(paths["JSON 100,000 deep"])], "deep.json"),
        (["train", "--set", "training.batch_size=100000000000000000000"], "batch_size"),
        (["data", "demo", str(paths["below a file"]), "--no-prepare"], "garbage.bin/sub"),
        (
            ["data", "prepare", "--source", "pe", "--root", str(paths["cohort with a link loop"])]
            + ["--out", str(tmp_path / "c"), "--workers", "1"],
            "rec",
        ),
        (
            ["data", "prepare", "--source", "cinc", "--root", str(paths["folder 1,200 deep"])]
            + ["--out", str(tmp_path / "d")],
            "levels below the dataset root",
        ),
        (
            ["data", "prepare", "--source", "pe", "--root", str(paths["empty folder"])]
            + ["--out", str(tmp_path / "e"), "--target-fs", "1e9"],
            "--target-fs",
        ),
    ]
    for args, named in examples:
        result = runner.invoke(cli, args)
        assert _check(result, args, {named}) is None, (args, result.output[-500:])
    assert not pathlib.Path(tmp_path / "c").exists() or not any((tmp_path / "c").iterdir())

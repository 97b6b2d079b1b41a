"""Progress and diagnostics go through `keras_ecgpe.messages`: stderr, levels set by the CLI."""

from __future__ import annotations

import io
import json
import logging

import pytest
from click.testing import CliRunner

from keras_ecgpe import messages
from keras_ecgpe.cli.main import cli


def test_levels_decide_what_is_shown():
    out = io.StringIO()
    try:
        for level, shown in [
            (messages.QUIET, ["warn"]),
            (messages.NORMAL, ["info", "warn"]),
            (messages.VERBOSE, ["debug", "info", "warn"]),
        ]:
            messages.configure(level, out)
            log = logging.getLogger("keras_ecgpe.some.module")
            log.debug("debug")
            messages.progress_reporter("keras_ecgpe.some.module")("info")
            log.warning("warn")
            assert out.getvalue().split() == shown
            assert messages.progress_enabled() is (level != messages.QUIET)
            out.seek(0)
            out.truncate()
        assert messages.progress_reporter("keras_ecgpe.x", enabled=False)("x") is None
        assert out.getvalue() == ""
    finally:
        messages.reset()


def test_quiet_and_verbose_exclude_each_other():
    result = CliRunner().invoke(cli, ["-q", "-v", "models", "--help"])
    assert result.exit_code == 2 and "exclude each other" in result.output


@pytest.mark.slow  # prepare and inspect read records in worker processes
def test_cli_levels_and_json_on_stdout(tmp_path, real_ecg):
    runner = CliRunner()
    demo = runner.invoke(
        cli,
        ["data", "demo", str(tmp_path / "demo"), "--n-ptbxl", "20", "--n-pe", "24", "--no-prepare"],
    )
    assert demo.exit_code == 0, demo.output
    manifest = str(tmp_path / "demo" / "pe_synthetic" / "manifest.csv")

    def prepare(*flags, out):
        args = [
            *flags,
            "data",
            "prepare",
            "--source",
            "pe",
            "--root",
            manifest,
            "--out",
            str(tmp_path / out),
            "--workers",
            "1",
            "--folds",
            "0",
        ]
        result = runner.invoke(cli, args)
        assert result.exit_code == 0, result.output
        return result

    normal, quiet, verbose = prepare(out="a"), prepare("-q", out="b"), prepare("-v", out="c")
    assert "Preparing pe" in normal.stderr and "Preparing pe" not in normal.stdout
    assert "Preparing pe" not in quiet.stderr and "source pe" not in quiet.stderr
    assert "source pe at" in verbose.stderr and "source pe at" not in normal.stderr
    for result in (normal, quiet, verbose):
        assert "Prepared" in result.stdout  # the result itself, whatever the level
    inspected = runner.invoke(
        cli, ["-v", "data", "inspect", "--json", str(real_ecg / "cinc" / "JS00001")]
    )
    assert inspected.exit_code == 0, inspected.output
    assert json.loads(inspected.stdout)[0]["format"] == "cinc-mat"

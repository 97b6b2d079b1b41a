"""`ecgpe-keras data ...` through click's CliRunner, on real records and SYNTHETIC demo data."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest
from click.testing import CliRunner

from keras_ecgpe.cli.main import cli

# Slow tier: every test starts processes: `data inspect` and `prepare` read records in
# isolated workers, and one test runs a fresh interpreter.
pytestmark = pytest.mark.slow


def run(*args):
    result = CliRunner().invoke(cli, [str(arg) for arg in args])
    return result


def test_help_does_not_import_tensorflow():
    code = (
        "import sys, keras_ecgpe.cli.main as m; "
        "print('tensorflow' in sys.modules or 'keras' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def test_inspect_json_on_real_records(real_ecg):
    result = run(
        "data",
        "inspect",
        "--json",
        real_ecg / "cinc" / "E00666",
        real_ecg / "ptb" / "s0010_re.hea",
        real_ecg / "cpsc2018" / "A1981.mat",
    )
    assert result.exit_code == 0, result.output
    entries = json.loads(result.output)
    assert [entry["format"] for entry in entries] == ["cinc-mat", "wfdb", "cpsc2018-mat"]
    assert entries[0]["record"].endswith("E00666")  # the path as given
    assert entries[1]["fs"] == 1000.0 and entries[1]["n_samples"] == 38400
    assert entries[1]["lead_policy"] == "dropped vx,vy,vz"
    assert entries[2]["duration_s"] == 15.9
    for entry in entries:
        assert entry["leads"][0] == "I" and entry["leads"][-1] == "V6" and entry["units"] == "mV"


def test_inspect_reports_bad_record_and_still_shows_others(real_ecg, tmp_path):
    broken = tmp_path / "broken.hea"
    broken.write_text("broken 12 -500 5000\n")
    result = run("data", "inspect", real_ecg / "cinc" / "JS00001", broken)
    assert result.exit_code == 1
    assert "JS00001: cinc-mat, 500 Hz" in result.output
    assert "broken" in result.output and "ERROR" in result.output
    assert "Traceback" not in result.output


def test_prepare_real_ptbxl_and_clean_errors(real_ecg, tmp_path):
    out = tmp_path / "cache"
    result = run(
        "data",
        "prepare",
        "--source",
        "ptbxl",
        "--root",
        real_ecg / "ptbxl",
        "--out",
        out,
        "--sampling-rate",
        "500",
        "--folds",
        "0",
        "--workers",
        "1",
    )
    assert result.exit_code == 0, result.output
    assert "Prepared" in result.output and "10 records at 500 Hz" in result.output
    assert "skipped 1: file missing" in result.output
    again = run(
        "data",
        "prepare",
        "--source",
        "ptbxl",
        "--root",
        real_ecg / "ptbxl",
        "--out",
        out,
        "--sampling-rate",
        "500",
        "--folds",
        "0",
        "--low-hz",
        "0.5",
    )
    assert again.exit_code == 1 and "other settings" in again.output
    assert "Traceback" not in again.output
    bad = run(
        "data",
        "prepare",
        "--source",
        "ptbxl",
        "--root",
        real_ecg / "ptbxl",
        "--out",
        tmp_path / "x",
        "--high-hz",
        "400",
        "--sampling-rate",
        "500",
    )
    assert bad.exit_code == 1 and "high_hz" in bad.output and "Traceback" not in bad.output


def test_demo_writes_synthetic_data_and_prepares_caches(tmp_path):
    result = run("data", "demo", tmp_path / "demo", "--n-ptbxl", "40", "--n-pe", "40")
    assert result.exit_code == 0, result.output
    assert "SYNTHETIC" in result.output
    assert (tmp_path / "demo" / "cache" / "pe" / "manifest.json").exists()
    assert (tmp_path / "demo" / "cache" / "ptbxl" / "manifest.json").exists()
    # A second run over the same folder replaces the demo (and its now stale caches).
    again = run("data", "demo", tmp_path / "demo", "--n-ptbxl", "40", "--n-pe", "40")
    assert again.exit_code == 0, again.output
    refused = run("data", "demo", tmp_path / "demo" / "cache")  # not a demo folder
    assert refused.exit_code == 1 and "Traceback" not in refused.output

"""Reader calls in worker processes: a native crash costs one item, in order, with a reason."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner

from crashing_source import read_or_crash
from keras_ecgpe.cli.main import cli
from keras_ecgpe.data.isolation import CRASH_REASON, map_isolated, ordered_process_map

# Slow tier: every test starts worker processes.
pytestmark = pytest.mark.slow


def test_a_crash_and_an_error_each_cost_one_item_and_order_is_kept():
    items = ["a", "crash-1", "bad-2", "b", "crash-3", "c"]
    results = list(map_isolated(read_or_crash, items))
    assert [item for item, _, _ in results] == items
    assert [value for _, value, _ in results] == ["A", None, None, "B", None, "C"]
    assert results[1][2] == f"crash-1: {CRASH_REASON}"
    assert results[2][2] == "bad-2: not a record"


def test_two_workers_with_more_items_than_in_flight_keep_order():
    items = [f"r{k}" for k in range(9)] + ["crash"] + [f"s{k}" for k in range(9)]
    results = list(ordered_process_map(read_or_crash, items, 2, on_crash=lambda item: None))
    assert [item for item, _ in results] == items
    assert [value for _, value in results] == [i.upper() if i != "crash" else None for i in items]


def test_cli_inspect_survives_the_scipy_corrupt_mat(real_ecg, tmp_path):
    # SYNTHETIC corrupt .mat on which scipy 1.17 segfaults or raises, depending on memory.
    corrupt = tmp_path / "A0001.mat"
    shutil.copy(Path(__file__).parent / "data" / "scipy_segfault.mat", corrupt)
    result = CliRunner().invoke(
        cli, ["data", "inspect", str(corrupt), str(real_ecg / "cpsc2018" / "A1980.mat")]
    )
    assert result.exit_code == 1, result.output
    first, second = result.output.strip().splitlines()
    assert first.startswith(f"{corrupt}: ERROR {corrupt}: ")
    assert "crashed the worker process" in first or "cannot read MATLAB file" in first
    assert second.endswith("lead policy: as recorded") and "A1980.mat: cpsc2018-mat" in second

"""Crash hygiene (issue 10, class 6): a SIGKILLed prepare leaves no process and no folder
that the next prepare of the same cache does not clean up.

The killed command is a real process running `prepare_dataset` on two real CPSC2018
records plus a copy whose reader stalls (tests/stalling_source.py): the test waits until
the cache's partial folder exists and the stalling worker has started, records every
descendant of the process (reader workers, multiprocessing's resource tracker), sends
SIGKILL, and checks that every descendant ends by itself; then a new prepare of the same
folder takes over the lock, removes the partial folder and says so.
"""

from __future__ import annotations

import logging
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from keras_ecgpe.data.locks import lock_path
from keras_ecgpe.data.prepare import SplitSettings, prepare_dataset
from keras_ecgpe.data.preprocessing import PreprocessConfig
from keras_ecgpe.data.sources.cpsc2018 import CPSC2018Source

CONFIG = PreprocessConfig(target_fs=None, filter="none", normalize="none")
SPLIT = SplitSettings(fractions=(1.0, 0.0, 0.0), folds=0)

PREPARE = """
import sys
sys.path.insert(0, sys.argv[4])
from stalling_source import StallingCPSC2018Source
from keras_ecgpe.data.prepare import SplitSettings, prepare_dataset
from keras_ecgpe.data.preprocessing import PreprocessConfig

source = StallingCPSC2018Source(sys.argv[1], stall_on={"A1982"}, marker=sys.argv[3])
prepare_dataset(source, sys.argv[2], PreprocessConfig(target_fs=None, filter="none",
                normalize="none"), workers=1, split=SplitSettings((1.0, 0.0, 0.0), 0, 0))
"""


def _children() -> dict:
    """{pid: parent pid} of every process, from /proc."""
    table = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            table[int(entry.name)] = int(stat.rsplit(")", 1)[1].split()[1])
    return table


def _descendants(pid: int) -> set:
    table, found, frontier = _children(), set(), {pid}
    while frontier:
        frontier = {child for child, parent in table.items() if parent in frontier} - found
        found |= frontier
    return found


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"  # a zombie has ended; only its exit status is left to collect


def _wait_for(condition, limit_s: float = 60.0) -> bool:
    deadline = time.monotonic() + limit_s
    while not condition():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.1)
    return True


@pytest.fixture
def cpsc_root(real_ecg, tmp_path):
    root = tmp_path / "cpsc"
    root.mkdir()
    for name, copy in (("A1980", "A1980"), ("A1981", "A1981"), ("A1981", "A1982")):
        shutil.copy(real_ecg / "cpsc2018" / f"{name}.mat", root / f"{copy}.mat")
    (root / "REFERENCE.csv").write_text(
        "Recording,First_label,Second_label,Third_label\nA1980,2,,\nA1981,1,,\nA1982,1,,\n"
    )
    return root


@pytest.mark.slow
@pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="reads /proc (Linux)")
def test_sigkilled_prepare_leaves_no_process_and_the_next_one_cleans_up(
    cpsc_root, tmp_path, caplog
):
    out, marker = tmp_path / "cache", tmp_path / "stalling"
    child = subprocess.Popen(
        [sys.executable, "-c", PREPARE, str(cpsc_root), str(out), str(marker)]
        + [str(Path(__file__).parent)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    try:
        partial = out.with_name(f"cache.partial-{child.pid}")
        started = _wait_for(
            lambda: marker.exists() and partial.is_dir() or child.poll() is not None
        )
        assert started and child.poll() is None, child.stderr.read().decode()[-2000:]
        helpers = _descendants(child.pid)
        assert len(helpers) >= 2  # reader workers and the resource tracker
    finally:
        os.kill(child.pid, signal.SIGKILL)
        child.wait()
    assert _wait_for(lambda: not any(_alive(pid) for pid in helpers), limit_s=20)
    assert partial.is_dir() and lock_path(out).exists()  # what the killed writer left

    with caplog.at_level(logging.WARNING, logger="keras_ecgpe.data.locks"):
        cache, reused = prepare_dataset(
            CPSC2018Source(cpsc_root), out, CONFIG, split=SPLIT, workers=1
        )
    assert not reused and sorted(cache.record_ids) == ["A1980", "A1981", "A1982"]
    assert not partial.exists() and not lock_path(out).exists()
    said = [r.getMessage() for r in caplog.records]
    assert any(f"pid {child.pid}" in line and "took over" in line for line in said), said
    assert any(partial.name in line and "removed" in line for line in said), said


MIDDLE = """
import subprocess, sys, time
child = subprocess.Popen([sys.executable, "-c", sys.argv[1], sys.argv[2]],
                         env={**__import__("os").environ,
                              "KERAS_ECGPE_PARENT_PID": str(__import__("os").getpid())})
print(child.pid, flush=True)
time.sleep(600)
"""
# An export child's side (export/child_process.report_errors): watch the parent, then work.
WATCHING_CHILD = """
import sys, time
from pathlib import Path
from keras_ecgpe.data.parent_watch import exit_with_parent
exit_with_parent()
Path(sys.argv[1]).write_text("watching")
time.sleep(600)
"""


@pytest.mark.slow
@pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="reads /proc (Linux)")
def test_a_child_that_watches_its_parent_ends_when_the_parent_is_killed(tmp_path):
    marker = tmp_path / "watching"
    middle = subprocess.Popen(
        [sys.executable, "-c", MIDDLE, WATCHING_CHILD, str(marker)],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        child = int(middle.stdout.readline())
        assert _wait_for(lambda: marker.exists() or not _alive(child)) and _alive(child)
    finally:
        os.kill(middle.pid, signal.SIGKILL)
        middle.wait()
    assert _wait_for(lambda: not _alive(child), limit_s=20)

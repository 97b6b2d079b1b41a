"""What the benchmark scripts share: running the CLI and writing their results file."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path


def ecgpe(*args) -> None:
    """Runs `ecgpe-keras ARGS...` from this Python's environment; output discarded."""
    command = Path(sys.executable).with_name("ecgpe-keras")  # the venv's entry point
    subprocess.run(
        [str(command), *map(str, args)],
        check=True,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


def write_results(out_dir, filename: str, results: dict) -> None:
    """Writes `results` as indented JSON to `out_dir/filename` and prints it."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    (out / filename).write_text(json.dumps(results, indent=2) + "\n")
    print(json.dumps(results, indent=2))

"""Runs an export step in a child process and turns its failure into one clear message.

Converters and tfmot can crash natively (tensorflow#75140) or switch a whole process to
legacy Keras, so conversion and fine-tuning run as `python -m <module> ...`; the child
reports its own errors as `ERROR: ...` lines and writes its outputs atomically.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from collections.abc import Callable, Sequence

from keras_ecgpe.data.parent_watch import PARENT_ENV, exit_with_parent
from keras_ecgpe.errors import ECGPEError

ERROR_PREFIX = "ERROR: "


def report_errors(work: Callable[[], None]) -> int:
    """The child's side: runs `work`; an `ECGPEError` becomes one `ERROR: ...` line on stderr.

    Returns:
        The child's exit status: 0, or 2 after an error it reported.
    """
    exit_with_parent()  # a SIGKILLed export leaves no converter running (data/parent_watch.py)
    try:
        work()
    except ECGPEError as exc:
        print(f"{ERROR_PREFIX}{exc}", file=sys.stderr)
        return 2
    return 0


def run_child(
    args: Sequence[str],
    *,
    task: str,
    timeout_s: float,
    crash_hint: str = "out of memory, or a converter crash",
    error: type[Exception] = ECGPEError,
) -> None:
    """Runs `python args...` (e.g. `-m module ...`); raises `error` naming `task` on failure.

    Args:
        args: the interpreter's arguments, e.g. ["-m", "keras_ecgpe.export.convert_worker",
            "--model", path].
        task: what the child does, for messages ("int8 conversion").
        timeout_s: a backstop; the child is killed after it.
        crash_hint: the likely cause named when the child dies from a signal.
        error: the ECGPEError subclass to raise (the export's own `ExportError`).

    Raises:
        error: the child reported an error, died from a signal, or timed out;
            nothing it was writing is left behind (it writes atomically).
    """
    command = [sys.executable, *map(str, args)]
    try:
        done = subprocess.run(
            command,
            capture_output=True,
            text=True,
            timeout=timeout_s,
            env={**os.environ, PARENT_ENV: str(os.getpid())},
        )
    except subprocess.TimeoutExpired:
        raise error(f"{task} did not finish within {timeout_s:g} s; nothing was written") from None
    if done.returncode == 0:
        return
    lines = [line for line in done.stderr.splitlines() if line.strip()]
    reported = [line[len(ERROR_PREFIX) :] for line in lines if line.startswith(ERROR_PREFIX)]
    if reported:
        raise error(reported[-1])
    if done.returncode < 0:
        name = signal.Signals(-done.returncode).name
        raise error(
            f"the {task} child process died from {name} ({crash_hint}); nothing was written"
        )
    tail = lines[-1] if lines else "no message"
    raise error(f"{task} failed in its child process (exit {done.returncode}): {tail}")

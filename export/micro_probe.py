"""TFLite Micro's own answers about a model: missing operators and the tensor arena.

This side runs in the probe's child process (`micro_worker`) and imports only numpy and
`tflite-micro`, so the child starts in about a second. TFLM's Python interpreter segfaults
when its tensor arena is too small, and it says what it needs only as text on the native
stderr (which operator its resolver lacks, what its RecordingMicroAllocator allocated):
that text is captured here and parsed.
"""

from __future__ import annotations

import contextlib
import os
import re
import sys
import tempfile
from typing import TYPE_CHECKING

import numpy as np

from keras_ecgpe.errors import ECGPEError

if TYPE_CHECKING:
    from collections.abc import Iterator
    from typing import Any

# The probe's first, generous arena; a model needing more crashes the probe child, which
# the parent reports as such.
PROBE_ARENA_BYTES = 64 * 2**20
_MISSING_OP = re.compile(r"Didn't find op for builtin opcode '(\w+)'")
_ARENA_TOTAL = re.compile(r"Arena allocation total (\d+) bytes")
_ARENA_PART = re.compile(r"Arena allocation (head|tail) (\d+) bytes")


class MicroError(ECGPEError):
    """TFLite Micro cannot load or run the model (a missing operator is named)."""


def tflm_version() -> str:
    """The installed `tflite-micro` package's version."""
    from importlib.metadata import version

    return version("tflite-micro")


@contextlib.contextmanager
def native_stderr() -> Iterator[list[str]]:
    """Captures what native code writes to file descriptor 2; the text is appended on exit."""
    sys.stderr.flush()
    saved = os.dup(2)
    captured: list[str] = []
    with tempfile.TemporaryFile() as sink:
        os.dup2(sink.fileno(), 2)
        try:
            yield captured
        finally:
            os.dup2(saved, 2)
            os.close(saved)
            sink.seek(0)
            captured.append(sink.read().decode("utf-8", errors="replace"))


def load_interpreter(blob: bytes, arena_bytes: int) -> Any:  # a tflite_micro Interpreter
    """A TFLM interpreter with an arena of `arena_bytes` (too small a one crashes).

    Raises:
        MicroError: an operator TFLM's resolver lacks (named), or another load failure.
    """
    from tflite_micro.python.tflite_micro import runtime

    with native_stderr() as log:
        try:
            return runtime.Interpreter.from_bytes(bytes(blob), arena_size=int(arena_bytes))
        except RuntimeError:
            pass
    missing = sorted(set(_MISSING_OP.findall(log[0])))
    if missing:
        raise MicroError(
            f"--target micro: TensorFlow Lite Micro's op resolver lacks {', '.join(missing)} "
            f"(tflite-micro {tflm_version()}); export another model family or replace the "
            "layers that produce them"
        )
    detail = " ".join(line.strip() for line in log[0].splitlines() if line.strip())[-300:]
    raise MicroError(f"--target micro: TensorFlow Lite Micro cannot load the model ({detail})")


def run_once(interpreter: Any, window: np.ndarray) -> np.ndarray:
    """Sets input 0, invokes, returns a copy of output 0."""
    interpreter.set_input(window, 0)
    interpreter.invoke()
    return np.array(interpreter.get_output(0))


def measure_arena(blob: bytes) -> dict:
    """The arena TFLM needs for `blob`, proved by running again with exactly that arena.

    Meant for a child process: if the figure were wrong, the second run would crash it.
    The model runs once on a zero window with a `PROBE_ARENA_BYTES` arena; TFLM's
    RecordingMicroAllocator then reports the bytes it allocated (head: the planned
    activations, reused between layers; tail: persistent structures); a second
    interpreter with an arena of exactly that total must give the same output.

    Returns:
        JSON-safe: `arena_bytes`, `arena_head_bytes`, `arena_tail_bytes`, `tflite_micro`.

    Raises:
        MicroError: an operator TFLM lacks (named), or a model TFLM cannot load or run.
    """
    interpreter = load_interpreter(blob, PROBE_ARENA_BYTES)
    detail = interpreter.get_input_details(0)
    window = np.zeros([int(n) for n in detail["shape"]], dtype=detail["dtype"])
    first = run_once(interpreter, window)
    with native_stderr() as log:
        interpreter.print_allocations()
    total = _ARENA_TOTAL.search(log[0])
    if total is None:
        raise MicroError(f"TensorFlow Lite Micro did not report its arena: {log[0][:300]!r}")
    arena = int(total.group(1))
    parts = {name: int(value) for name, value in _ARENA_PART.findall(log[0])}
    if not np.array_equal(first, run_once(load_interpreter(blob, arena), window)):
        raise MicroError(
            f"TensorFlow Lite Micro gave other outputs with a {arena}-byte arena than with "
            f"{PROBE_ARENA_BYTES} bytes; the measured arena cannot be trusted"
        )
    return {
        "arena_bytes": arena,
        "arena_head_bytes": parts.get("head"),
        "arena_tail_bytes": parts.get("tail"),
        "tflite_micro": tflm_version(),
    }

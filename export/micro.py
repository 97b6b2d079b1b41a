"""Running an exported model in TensorFlow Lite Micro (TFLM), the microcontroller runtime.

The `tflite-micro` package wraps TFLM's C++ interpreter (reference kernels, and an op
resolver holding every builtin TFLM has) for Python. It segfaults when the tensor arena
is too small, so `probe` measures the arena in a child process (`micro_worker`, through
`micro_probe.measure_arena`), and `MicroRunner` is only ever given an arena that child
has proved sufficient by running with exactly it.
"""

from __future__ import annotations

import json
import tempfile
from pathlib import Path

import numpy as np

from keras_ecgpe.data.atomic import atomic_write_bytes
from keras_ecgpe.errors import ConfigError
from keras_ecgpe.export.child_process import run_child
from keras_ecgpe.export.micro_probe import (
    PROBE_ARENA_BYTES,
    MicroError,
    load_interpreter,
    run_once,
)
from keras_ecgpe.export.tflite import ExportError
from keras_ecgpe.inference.tflite_runner import quantized_logits

PROBE_TIMEOUT_S = 600


def probe(blob: bytes) -> dict:
    """Loads `blob` in TFLM in a child process: refuses missing operators, measures the arena.

    Returns:
        The dict of `micro_probe.measure_arena` (`arena_bytes`, ...).

    Raises:
        ExportError: an operator TFLM's resolver lacks (named), a model TFLM cannot run,
            or the child crashed (an arena over `PROBE_ARENA_BYTES`, or a TFLM bug).
    """
    with tempfile.TemporaryDirectory(prefix="ecgpe-micro-") as tmp:
        model, facts = Path(tmp) / "model.tflite", Path(tmp) / "facts.json"
        atomic_write_bytes(model, bytes(blob))
        run_child(
            ["-m", "keras_ecgpe.export.micro_worker", "--model", model, "--out", facts],
            task="TensorFlow Lite Micro probe",
            timeout_s=PROBE_TIMEOUT_S,
            error=ExportError,
            crash_hint=f"a tensor arena over {PROBE_ARENA_BYTES // 2**20} MiB, or a TFLM crash",
        )
        return json.loads(facts.read_text(encoding="utf-8"))


class MicroRunner:
    """Float32 windows in, float32 logits out, through TFLM (as `TFLiteRunner` through LiteRT).

    Args:
        blob: the `.tflite` bytes.
        arena_bytes: the tensor arena `probe` measured (a smaller one crashes the process).

    Raises:
        ExportError: TFLM cannot load the model.

    Example:

    ```python
    runner = MicroRunner(blob, probe(blob)["arena_bytes"])
    runner.logits(windows).shape
    # (n, 1)
    ```
    """

    runtime = "TFLite Micro"

    def __init__(self, blob: bytes, arena_bytes: int):
        try:
            self.interpreter = load_interpreter(blob, arena_bytes)
        except MicroError as exc:
            raise ExportError(str(exc)) from None
        self.input = self.interpreter.get_input_details(0)
        self.output = self.interpreter.get_output_details(0)
        shape = [int(n) for n in self.input["shape"]]
        if len(shape) != 3 or shape[0] != 1:
            raise ConfigError(f"TFLite Micro: input must be [1, time, leads]; found {shape}")
        self.window, self.num_leads = shape[1], shape[2]
        self.num_classes = int(self.output["shape"][-1])

    @staticmethod
    def _quantization(detail: dict) -> tuple | None:
        if np.dtype(detail["dtype"]) == np.float32:
            return None
        parameters = detail["quantization_parameters"]
        return float(parameters["scales"][0]), int(parameters["zero_points"][0])

    @property
    def input_quantization(self) -> tuple | None:
        """`(scale, zero_point)` of an integer input, None for float input."""
        return self._quantization(self.input)

    @property
    def output_quantization(self) -> tuple | None:
        return self._quantization(self.output)

    def logits(self, windows: np.ndarray) -> np.ndarray:
        """Runs `(n, T, leads)` float32 windows one by one; returns `(n, C)` float32 logits."""
        return quantized_logits(self, windows, lambda window: run_once(self.interpreter, window))

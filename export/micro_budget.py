"""What a microcontroller must hold for a model, and the refusal of one that does not fit.

RAM: TFLite Micro keeps every tensor it computes in one tensor arena, sized at build time;
its figure comes from TFLM itself (`micro.probe`). Flash: the `.tflite` is compiled into
flash as a byte array (`--c-array`), so flash holds the whole file, embedded description
included. Both are given in bytes in `model.json` under `micro`; `--mcu-ram` and
`--mcu-flash` take KB of 1,024 bytes. The firmware's own code, the TFLM library and the
buffers of the signal before preprocessing come on top of these figures.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from keras_ecgpe.export.tflite import ExportError

if TYPE_CHECKING:
    from keras_ecgpe.inference.tflite_runner import TFLiteRunner

KB = 1024
ARENA_NOTE = (
    "tensor arena in bytes as TFLite Micro's RecordingMicroAllocator reported it after one "
    "invoke, proved by a run with exactly this arena; it holds the input and output "
    "tensors and every intermediate activation (head, planned and reused between layers) "
    "and TFLM's persistent structures (tail); allocate it 16-byte aligned"
)
FLASH_NOTE = (
    "bytes of the .tflite (weights, graph and the embedded description): what the C array "
    "of --c-array puts in flash; the TFLM library and your firmware come on top"
)
# The small family the refusals point to (models/dscnn1d.py).
SMALL_FAMILY = "dscnn1d"


def _tensor_bytes(detail: dict) -> int:
    return int(np.prod(detail["shape"])) * np.dtype(detail["dtype"]).itemsize


def micro_budget(runner: TFLiteRunner, facts: dict, flash_bytes: int) -> dict:
    """The `micro` section of `model.json` (without its verification).

    Args:
        runner: the model in LiteRT (tensors and operators are read from it).
        facts: what `micro.probe` measured.
        flash_bytes: the size of the `.tflite` that will be shipped.

    Example:

    ```python
    micro_budget(runner, probe(blob), len(blob))["arena_bytes"]
    # 28096
    ```
    """
    return {
        "runtime": f"TensorFlow Lite Micro (tflite-micro {facts['tflite_micro']})",
        "arena_bytes": int(facts["arena_bytes"]),
        "arena_head_bytes": facts.get("arena_head_bytes"),
        "arena_tail_bytes": facts.get("arena_tail_bytes"),
        "arena_note": ARENA_NOTE,
        "flash_bytes": int(flash_bytes),
        "flash_note": FLASH_NOTE,
        "input_bytes": _tensor_bytes(runner.input),
        "output_bytes": _tensor_bytes(runner.output),
        "ops": list(runner.ops),
    }


def _kb(n_bytes: float) -> str:
    return f"{n_bytes / KB:,.1f} KB"


def check_budget(
    budget: dict,
    *,
    window: int,
    fs: float,
    mcu_ram_kb: float | None = None,
    mcu_flash_kb: float | None = None,
) -> None:
    """Refuses a model whose arena exceeds `mcu_ram_kb` or whose file exceeds `mcu_flash_kb`.

    Raises:
        ExportError: saying by how much it is over and what would fit.

    Example:
    >>> budget = {"arena_bytes": 300 * 1024, "arena_head_bytes": 280 * 1024,
    ...           "arena_tail_bytes": 20 * 1024, "flash_bytes": 90 * 1024}
    >>> check_budget(budget, window=1000, fs=250.0, mcu_ram_kb=512, mcu_flash_kb=1024)
    """
    problems = []
    if mcu_ram_kb is not None and budget["arena_bytes"] > mcu_ram_kb * KB:
        problems.append(_ram_problem(budget, mcu_ram_kb, window, fs))
    if mcu_flash_kb is not None and budget["flash_bytes"] > mcu_flash_kb * KB:
        over = budget["flash_bytes"] - mcu_flash_kb * KB
        problems.append(
            f"--mcu-flash {mcu_flash_kb:g}: the model file is {_kb(budget['flash_bytes'])}, "
            f"{_kb(over)} over. Flash holds the weights, which do not shrink with the window "
            f"or fs: a smaller family or width would fit (e.g. {SMALL_FAMILY}), or int8 if "
            "this is a float export"
        )
    if problems:
        raise ExportError("; ".join(problems) + " (KB of 1,024 bytes); nothing was written")


def _ram_problem(budget: dict, mcu_ram_kb: float, window: int, fs: float) -> str:
    arena, ram = budget["arena_bytes"], mcu_ram_kb * KB
    text = (
        f"--mcu-ram {mcu_ram_kb:g}: the model needs a {_kb(arena)} tensor arena (measured "
        f"by TFLite Micro), {_kb(arena - ram)} more than allowed. What would fit: "
    )
    head = budget.get("arena_head_bytes") or arena
    tail = arena - head
    if ram > tail:  # the activations (head) scale with the window; TFLM's structures do not
        shorter = int(window * (ram - tail) / head)
        text += (
            f"a window of about {shorter} samples instead of {window} ({shorter / fs:.2f} s "
            f"at {fs:g} Hz), or the same {window / fs:.2f} s at about "
            f"{fs * shorter / window:.0f} Hz (the activations, {_kb(head)} of the arena, "
            "scale with the samples per window), or "
        )
    return text + f"a smaller family or width (e.g. {SMALL_FAMILY})"

"""`export --target micro`: the steps the bundle adds for TensorFlow Lite Micro.

In export order: `check_request` (options that need the target), `measure` (TFLM loads the
model in a child process: operators it lacks are refused by name, its arena is measured,
the RAM and flash budgets are checked before any parity work), `verify` (the parity gate
again, with TFLM as the runtime, and its distance from LiteRT), `embed_with_flash` (the
shipped file's own size stated inside it) and `run_golden` (TFLM on the golden vectors,
within their tolerance).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from keras_ecgpe.export.micro import MicroRunner, probe
from keras_ecgpe.export.micro_budget import check_budget, micro_budget
from keras_ecgpe.export.tflite import ExportError
from keras_ecgpe.export.verify import verify_tflite
from keras_ecgpe.inference import contract_io

if TYPE_CHECKING:
    from collections.abc import Callable

    import keras

    from keras_ecgpe.data.prepared_cache import PreparedCache
    from keras_ecgpe.export.verify import ParityReport
    from keras_ecgpe.inference.tflite_runner import TFLiteRunner

REPORT_STEM = "parity_micro"  # parity_micro.json / .txt beside LiteRT's parity.json / .txt


def check_request(
    target: str | None, mcu_ram_kb: float | None = None, mcu_flash_kb: float | None = None
) -> None:
    """Refuses `--mcu-ram`/`--mcu-flash` without `--target micro`, and non-positive sizes."""
    for option, value in (("--mcu-ram", mcu_ram_kb), ("--mcu-flash", mcu_flash_kb)):
        if value is None:
            continue
        if target != "micro":
            raise ExportError(f"{option} needs --target micro. Received: --target {target}")
        if not value > 0:
            raise ExportError(f"{option} must be a positive number of KB. Received: {value}")


def measure(
    blob: bytes,
    runner: TFLiteRunner,
    contract: dict,
    *,
    mcu_ram_kb: float | None = None,
    mcu_flash_kb: float | None = None,
) -> dict:
    """Probes `blob` in TFLM and checks the budgets; returns the `micro` budget section.

    Flash is checked here on the model before its description is embedded, and again by
    `embed_with_flash` on the file that is shipped.

    Raises:
        ExportError: an operator TFLM lacks (named), or a budget exceeded (by how much,
            and what would fit).
    """
    budget = micro_budget(runner, probe(blob), len(blob))
    _check(budget, contract, mcu_ram_kb, mcu_flash_kb)
    return budget


def _check(budget, contract, mcu_ram_kb, mcu_flash_kb) -> None:
    check_budget(
        budget,
        window=contract_io.window(contract),
        fs=contract_io.fs(contract),
        mcu_ram_kb=mcu_ram_kb,
        mcu_flash_kb=mcu_flash_kb,
    )


def verify(
    blob: bytes,
    budget: dict,
    litert: TFLiteRunner,
    model: keras.Model,
    cache: PreparedCache,
    contract: dict,
    *,
    mode: str,
    max_auroc_drop: float | None = None,
) -> ParityReport:
    """The parity gate with the model running in TFLM (arena as measured), beside LiteRT."""
    return verify_tflite(
        MicroRunner(blob, budget["arena_bytes"]),
        model,
        cache,
        contract,
        mode=mode,
        max_auroc_drop=max_auroc_drop,
        litert=litert,
    )


def section(budget: dict, report: ParityReport) -> dict:
    """The `micro` entry of `model.json`: the budget and the TFLM gate's verdict."""
    return {
        **budget,
        "verification": {
            "passed": report.passed,
            "auroc_drop": report.auroc_drop,
            "max_auroc_drop": report.max_auroc_drop,
            "decision_agreement": report.decision_agreement,
            "max_abs_window_logit_error": report.max_abs_window_logit_error,
            "max_abs_window_logit_error_vs_litert": report.max_abs_window_logit_error_vs_litert,
            "report": f"{REPORT_STEM}.json",
        },
    }


def embed_with_flash(
    payload: dict,
    embed: Callable[[dict], bytes],
    contract: dict,
    *,
    mcu_flash_kb: float | None = None,
) -> bytes:
    """Embeds `payload` with `micro.flash_bytes` equal to the size of the result.

    The size depends on the digits written into it, so this repeats until it is stable
    (twice in practice); then the flash budget is checked on the file that ships.
    """
    final = embed(payload)
    for _ in range(8):
        if payload["micro"]["flash_bytes"] == len(final):
            _check(payload["micro"], contract, None, mcu_flash_kb)
            return final
        payload["micro"]["flash_bytes"] = len(final)
        final = embed(payload)
    raise ExportError("the model's size did not settle while embedding its description")


def run_golden(final: bytes, budget: dict, golden: dict, force: bool = False) -> np.ndarray:
    """TFLM's logits on the golden inputs; refused beyond the vectors' tolerance `atol`
    from LiteRT's unless `force` (deep int8 models can round further apart in TFLM's
    reference kernels than `atol` allows; the device then tests against these logits).

    The shipped file is probed again first (in a child process: an arena too small would
    crash this one): its embedded description must not change the arena it needs.
    """
    arena = probe(final)["arena_bytes"]
    if arena != budget["arena_bytes"]:
        raise ExportError(
            f"embedding the description changed TFLite Micro's arena from "
            f"{budget['arena_bytes']} to {arena} bytes; not written"
        )
    logits = MicroRunner(final, arena).logits(golden["inputs"])
    error = float(np.max(np.abs(logits - golden["expected_logits"])))
    if not error <= float(golden["atol"]) and not force:
        raise ExportError(
            f"TFLite Micro's logits on the golden vectors differ from LiteRT's by {error:.3g} "
            f"(tolerance {float(golden['atol']):g}); not written (--force writes it anyway)"
        )
    return logits

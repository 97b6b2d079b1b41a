"""The parity gate: the exported model must rank and decide like the Keras model.

On the run's VALIDATION windows (sliding, aggregated per record as the contract says) the
`.tflite` runs in LiteRT and the Keras model in Keras; the report gives the largest
absolute logit difference (window and record level), the share of record decisions that
agree at the stored logit cuts, and each class's record-level AUROC on logits for both.
The export passes when no class loses more AUROC than `max_auroc_drop`.
"""

from __future__ import annotations

import dataclasses
from typing import TYPE_CHECKING

import numpy as np

from keras_ecgpe.data.atomic import atomic_write_bytes, atomic_write_json
from keras_ecgpe.evaluation import aggregate_windows, auroc
from keras_ecgpe.evaluation.inputs import json_float
from keras_ecgpe.export.representative import read_windows, split_plan
from keras_ecgpe.export.tflite import ExportError
from keras_ecgpe.inference import contract_io
from keras_ecgpe.inference.tflite_runner import TFLiteRunner

if TYPE_CHECKING:
    import os

    import keras

    from keras_ecgpe.data.prepared_cache import PreparedCache
    from keras_ecgpe.export.micro import MicroRunner

_CHUNK = 256


def default_max_auroc_drop(mode: str) -> float:
    """0.01 for the calibrated integer modes, 0.005 for float32, float16 and dynamic."""
    return 0.01 if mode in ("int8", "int16x8") else 0.005


class ParityError(ExportError):
    """The exported model failed the parity gate; `report` says by how much."""

    def __init__(self, message: str, report: ParityReport):
        super().__init__(message)
        self.report = report


@dataclasses.dataclass
class ParityReport:
    """What the gate measured (record-level unless named window-level)."""

    mode: str
    split: str
    label_names: list[str]
    n_records: int
    n_windows: int
    max_abs_window_logit_error: float
    max_abs_record_logit_error: float
    decision_agreement: float
    auroc_keras: list[float | None]
    auroc_tflite: list[float | None]
    auroc_drop: float | None
    max_auroc_drop: float
    passed: bool
    reason: str
    forced: bool = False
    # The runtime the exported model ran in; for TFLite Micro also how far its window
    # logits were from LiteRT's on the same windows.
    runtime: str = "LiteRT"
    max_abs_window_logit_error_vs_litert: float | None = None

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)

    def to_text(self) -> str:
        lines = [
            f"TFLite parity ({self.mode}, {self.runtime}) on {self.n_records} {self.split} "
            f"records, "
            f"{self.n_windows} windows: {'PASSED' if self.passed else 'FAILED'}"
            f"{' (written anyway: --force)' if self.forced and not self.passed else ''}",
            f"  {self.reason}",
            f"  max |logit error|: windows {self.max_abs_window_logit_error:.3g}, "
            f"records {self.max_abs_record_logit_error:.3g}",
            f"  decision agreement at the stored logit cuts: {self.decision_agreement:.4f}",
        ]
        if self.max_abs_window_logit_error_vs_litert is not None:
            lines.append(
                f"  max |logit difference| vs LiteRT, windows: "
                f"{self.max_abs_window_logit_error_vs_litert:.3g}"
            )
        for name, a, b in zip(self.label_names, self.auroc_keras, self.auroc_tflite):
            lines.append(f"  AUROC {name}: keras {_four(a)}, tflite {_four(b)}")
        return "\n".join(lines) + "\n"


def _four(value) -> str:
    """Four decimals: parity differences are read at the 1e-4 level."""
    return "n/a" if value is None else f"{value:.4f}"


def keras_logits(model: keras.Model, windows: np.ndarray, batch_size: int = 64) -> np.ndarray:
    """Logits `(n, C)` of the Keras model on float32 windows, in inference mode."""
    import keras

    parts = [
        keras.ops.convert_to_numpy(model(windows[k : k + batch_size], training=False))
        for k in range(0, len(windows), batch_size)
    ]
    return np.concatenate(parts).astype(np.float32)


def _aurocs(labels, mask, logits) -> list[float | None]:
    values = []
    for c in range(labels.shape[1]):
        keep = mask[:, c] > 0
        values.append(json_float(auroc(labels[keep, c], logits[keep, c])) if keep.any() else None)
    return values


def verify_tflite(
    tflite: TFLiteRunner | MicroRunner | bytes | os.PathLike | str,
    model: keras.Model,
    cache: PreparedCache,
    contract: dict,
    *,
    mode: str,
    max_auroc_drop: float | None = None,
    split: str = "validation",
    litert: TFLiteRunner | None = None,
) -> ParityReport:
    """Compares a `.tflite` with the Keras model on one split of the run's cache.

    Args:
        tflite: the flatbuffer bytes, a path, a `TFLiteRunner`, or a `MicroRunner`
            (TFLite Micro).
        model: the run's Keras model (the reference).
        cache: the run's `PreparedCache`.
        contract: the run's contract (window, stride, aggregation, logit cuts).
        mode: the export mode (for the default `max_auroc_drop` and the report).
        max_auroc_drop: the largest AUROC loss allowed for any class.
        split: the split to compare on.
        litert: for a `MicroRunner`, the same model in LiteRT: the report then also gives
            the largest window logit difference between the two runtimes.

    Returns:
        A `ParityReport`; `passed` is False when a class loses more AUROC than allowed,
        when no class has both positive and negative records to measure it on, or when
        LiteRT returns NaN/inf.

    Example:

    ```python
    report = verify_tflite(blob, model, cache, contract, mode="int8")
    report.passed, report.auroc_drop
    # (True, 0.002)
    ```
    """
    runner = tflite if hasattr(tflite, "logits") else TFLiteRunner(tflite)
    runtime = getattr(runner, "runtime", "LiteRT")
    allowed = default_max_auroc_drop(mode) if max_auroc_drop is None else float(max_auroc_drop)
    rows, starts = split_plan(cache, contract, split)
    reference, exported, versus_litert = [], [], 0.0
    for k in range(0, rows.size, _CHUNK):
        windows = read_windows(cache, contract, rows[k : k + _CHUNK], starts[k : k + _CHUNK])
        reference.append(keras_logits(model, windows))
        exported.append(runner.logits(windows))
        if litert is not None:
            difference = np.abs(exported[-1] - litert.logits(windows))
            versus_litert = max(versus_litert, float(np.max(difference, initial=0.0)))
    reference, exported = np.concatenate(reference), np.concatenate(exported)
    if not np.isfinite(exported).all():
        raise ExportError(
            f"the {mode} model returns NaN/inf logits in {runtime} on real "
            f"{split} windows; the conversion is broken"
        )
    how = contract_io.aggregate(contract)
    records, z_keras = aggregate_windows(reference, rows, how)
    _, z_tflite = aggregate_windows(exported, rows, how)
    labels, mask = cache.labels[records], cache.label_mask[records]
    agree = contract_io.decisions(contract, z_keras) == contract_io.decisions(contract, z_tflite)
    a_keras, a_tflite = _aurocs(labels, mask, z_keras), _aurocs(labels, mask, z_tflite)
    drops = [a - b for a, b in zip(a_keras, a_tflite) if a is not None and b is not None]
    drop = max(drops) if drops else None
    if drop is None:
        passed, reason = (
            False,
            (
                f"no class has both positive and negative {split} records: "
                "the AUROC drop cannot be measured"
            ),
        )
    else:
        passed = drop <= allowed + 1e-12
        reason = (
            f"largest AUROC drop {drop:+.4f} {'within' if passed else 'exceeds'} "
            f"the allowed {allowed:.4f}"
        )
    return ParityReport(
        mode=mode,
        split=split,
        label_names=contract_io.label_names(contract),
        n_records=int(records.size),
        n_windows=int(rows.size),
        max_abs_window_logit_error=float(np.max(np.abs(reference - exported))),
        max_abs_record_logit_error=float(np.max(np.abs(z_keras - z_tflite))),
        decision_agreement=float(agree[mask > 0].mean()) if (mask > 0).any() else 1.0,
        auroc_keras=a_keras,
        auroc_tflite=a_tflite,
        auroc_drop=drop,
        max_auroc_drop=allowed,
        passed=bool(passed),
        reason=reason,
        runtime=runtime,
        max_abs_window_logit_error_vs_litert=versus_litert if litert is not None else None,
    )


def write_parity(report: ParityReport, out_dir: os.PathLike | str, stem: str = "parity") -> None:
    """Writes `<stem>.json` and `<stem>.txt` into `out_dir` (atomically)."""
    from pathlib import Path

    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    atomic_write_json(out_dir / f"{stem}.json", report.to_dict())
    atomic_write_bytes(out_dir / f"{stem}.txt", report.to_text().encode("utf-8"))

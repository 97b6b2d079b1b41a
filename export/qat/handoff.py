"""The parent's side of QAT and pruning: settings, the child process, the converted model.

`fine_tune_and_convert` is what `export_run` calls instead of `tflite.convert` when
`--qat` or `--prune` is given: it checks the family and the optional dependencies,
resolves the fine-tune settings from the run, runs `keras_ecgpe.export.qat.worker` in a
child process and returns the flatbuffer with the facts `model.json` records. It never
imports tfmot or tf_keras (tfmot switches a process to legacy Keras for good).
"""

from __future__ import annotations

import json
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from keras_ecgpe import run_directory
from keras_ecgpe.errors import ConfigError
from keras_ecgpe.export.child_process import run_child
from keras_ecgpe.export.qat import check_supported, require_tfmot
from keras_ecgpe.export.tflite import ExportError

if TYPE_CHECKING:
    import os

    import keras

    from keras_ecgpe.data.prepared_cache import PreparedCache
    from keras_ecgpe.run_directory import RunFiles

DEFAULT_LEARNING_RATE = 1e-4  # runs without config.yaml
LEARNING_RATE_SHARE = 0.1  # else a tenth of the run's peak learning rate
DEFAULT_BATCH_SIZE = 32
CHILD_TIMEOUT_S = 24 * 3600  # a fine-tune scales with the training set: only a backstop


def qat_mode(mode: str) -> str:
    """QAT always produces full int8: "none" (the default) and "int8" mean int8.

    Raises:
        ConfigError: any other `--quantize`.
    """
    if mode not in ("none", "int8"):
        raise ConfigError(
            f"--qat produces a full-int8 model; it cannot be combined with "
            f"--quantize {mode} (use --quantize int8 or leave it out)"
        )
    return "int8"


def finetune_settings(
    run_dir: os.PathLike | str, cache: PreparedCache, learning_rate: float | None = None
) -> dict:
    """The fine-tune's loss, learning rate and batch size, from the run's `config.yaml`.

    Without one (a model trained elsewhere), plain BCE on logits, 1e-4 and 32.

    Returns:
        `{"loss": {...}, "learning_rate": float, "batch_size": int, "source": str}`.
    """
    path = Path(run_dir) / run_directory.CONFIG
    if path.is_file():
        from keras_ecgpe.training.config import TrainConfig
        from keras_ecgpe.training.run_data import positive_weights

        config = TrainConfig.from_file(path)
        weights = config.loss.pos_weight
        if weights == "auto":
            weights = positive_weights(cache, cache.indices("train"))
        settings = {
            "loss": {
                "name": config.loss.name,
                "alpha": config.loss.alpha,
                "gamma": config.loss.gamma,
                "pos_weight": weights,
            },
            "learning_rate": LEARNING_RATE_SHARE * config.optimizer.learning_rate,
            "batch_size": int(config.training.batch_size),
            "source": str(path),
        }
    else:
        settings = {
            "loss": {"name": "bce", "pos_weight": None},
            "learning_rate": DEFAULT_LEARNING_RATE,
            "batch_size": DEFAULT_BATCH_SIZE,
            "source": "defaults (no config.yaml in the run directory)",
        }
    if learning_rate is not None:
        if not float(learning_rate) > 0:
            raise ConfigError(f"--finetune-lr must be positive. Received: {learning_rate!r}")
        settings["learning_rate"] = float(learning_rate)
    return settings


def run_worker(params: dict, representative: np.ndarray | None = None) -> tuple:
    """Runs one task in the child process and returns `(flatbuffer bytes, facts)`.

    Args:
        params: the worker's parameters without the file paths it writes (see
            `worker.py`); "out", "facts" and "representative" are filled in here.
        representative: calibration windows `(n, T, leads)` for the child, or None.

    Raises:
        ExportError: the child reported a problem, crashed or timed out.
    """
    task = params["task"]
    with tempfile.TemporaryDirectory(prefix=f"ecgpe-{task}-") as tmp:
        tmp = Path(tmp)
        params = {**params, "out": str(tmp / "model.tflite"), "facts": str(tmp / "facts.json")}
        if representative is not None:
            np.save(tmp / "representative.npy", np.asarray(representative, np.float32))
            params["representative"] = str(tmp / "representative.npy")
        (tmp / "params.json").write_text(json.dumps(params), encoding="utf-8")
        run_child(
            ["-m", "keras_ecgpe.export.qat.worker", tmp / "params.json"],
            task=task,
            timeout_s=CHILD_TIMEOUT_S,
            error=ExportError,
        )
        return (
            Path(params["out"]).read_bytes(),
            json.loads(Path(params["facts"]).read_text(encoding="utf-8")),
        )


def check_finetune_request(
    model: keras.Model, *, qat: bool, prune: float | None, qat_epochs: int, prune_epochs: int
) -> int:
    """Refuses an unsupported family, combination or setting; returns the fine-tune epochs.

    Raises:
        ConfigError: naming the option, before any work is done.
    """
    if qat and prune is not None:
        raise ConfigError(
            "--qat and --prune cannot be combined yet (the QAT fine-tune would "
            "refill the pruned weights); export one or the other"
        )
    if prune is not None and not 0.0 < float(prune) < 1.0:
        raise ConfigError(f"--prune must be a sparsity in (0, 1). Received: {prune!r}")
    epochs = qat_epochs if qat else prune_epochs
    # At least one step: tfmot sets the kernels' int8 ranges (and pruning masks) in training.
    if isinstance(epochs, bool) or not isinstance(epochs, int) or epochs < 1:
        raise ConfigError(
            f"--{'qat' if qat else 'prune'}-epochs must be an integer >= 1. Received: {epochs!r}"
        )
    check_supported(model, qat=qat, prune=prune)
    require_tfmot()
    return epochs


def fine_tune_and_convert(
    files: RunFiles,
    contract: dict,
    cache: PreparedCache,
    model: keras.Model,
    *,
    mode: str,
    int8_io: bool,
    representative: np.ndarray | None,
    qat: bool,
    qat_epochs: int,
    prune: float | None,
    prune_epochs: int,
    learning_rate: float | None = None,
) -> tuple:
    """QAT (mode int8) or pruning (any mode) in a child process, then conversion.

    Args:
        files: the run's `RunFiles` (model, contract, run directory).
        contract, cache, model: the run's contract, `PreparedCache` and Keras model.
        mode, int8_io: the export mode ("int8" for QAT).
        representative: calibration windows of the training split, or None.
        qat, qat_epochs: quantisation-aware fine-tune and its epochs.
        prune, prune_epochs: target sparsity (or None) and its fine-tune's epochs.
        learning_rate: the fine-tune's learning rate (default from the run).

    Returns:
        `(flatbuffer bytes, {"qat": facts} or {"pruning": facts})`.

    Raises:
        ConfigError: unsupported family or combination, tfmot missing, bad settings.
        ExportError: the child's own error, crash or timeout.
    """
    epochs = check_finetune_request(
        model, qat=qat, prune=prune, qat_epochs=qat_epochs, prune_epochs=prune_epochs
    )
    settings = finetune_settings(files.run_dir, cache, learning_rate)
    params = {
        "task": "qat" if qat else "prune",
        "model": str(files.model),
        "contract": str(files.contract),
        "cache": str(cache.path),
        "mode": mode,
        "int8_io": bool(int8_io),
        "epochs": int(epochs),
        "learning_rate": settings["learning_rate"],
        "batch_size": settings["batch_size"],
        "loss": settings["loss"],
        "seed": 0,
    }
    if prune is not None:
        params["sparsity"] = float(prune)
    blob, facts = run_worker(params, representative)
    facts["settings_from"] = settings["source"]
    return blob, {"qat" if qat else "pruning": facts}

"""The one place that knows the keys of a run's `contract.json`.

A training run writes `contract.json` beside `best.keras`: what a window is (fs, length,
lead order, units), the preprocessing and standardiser the model was trained behind, the
labels, logit cuts and temperature chosen on validation data, how windows aggregate, and
where the data came from. Export and inference read it only through the functions here,
so adapting to a change of the training side's contract is a change of this file alone.
Files are found and read by `keras_ecgpe.run_directory` (`locate_run`, `load_contract`).
"""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from keras_ecgpe import run_directory, schemas
from keras_ecgpe.errors import ConfigError
from keras_ecgpe.evaluation.thresholds import ThresholdChoice, decide
from keras_ecgpe.leads import CANONICAL_LEADS

if TYPE_CHECKING:
    import os
    from typing import Any

    from numpy.typing import ArrayLike

    from keras_ecgpe.data.normalization import DatasetStandardizer
    from keras_ecgpe.data.preprocessing import PreprocessConfig

REQUIRED = (
    "fs",
    "window",
    "lead_order",
    "units",
    "preprocess",
    "label_names",
    "thresholds",
    "aggregate",
    "eval_stride",
)
AGGREGATIONS = ("mean", "max")
EVAL_MODES = ("sliding", "centre")


def load_contract(path: os.PathLike | str) -> dict:
    """Reads a contract file (or the contract of a run directory) and checks the fields
    export and inference rely on (`run_directory.load_contract`, then `check_contract`)."""
    path = Path(path)
    path = path / run_directory.CONTRACT if path.is_dir() else path
    return check_contract(run_directory.load_contract(path), where=str(path))


def check_contract(contract: object, where: str = "contract") -> dict:
    """Validates the fields export and inference rely on; returns the dict unchanged.

    The contract schema (`keras_ecgpe.schemas`) is checked first, so every value below
    has its type before it is used, whatever the dict came from (a file, a `.tflite`).

    Raises:
        ConfigError: naming `where` and the problem.
    """
    if not isinstance(contract, dict):
        raise ConfigError(f"{where}: a contract must be a JSON object")
    missing = [key for key in REQUIRED if key not in contract]
    if missing:
        raise ConfigError(f"{where}: contract lacks {', '.join(missing)}")
    schemas.validate(contract, "contract", where, error_type=ConfigError)
    if contract["preprocess"] is None:
        raise ConfigError(
            f"{where}: the contract has no preprocessing settings; inference "
            "cannot prepare records the way the model was trained"
        )
    if list(contract["lead_order"]) != list(CANONICAL_LEADS):
        raise ConfigError(
            f"{where}: lead_order must be {list(CANONICAL_LEADS)}. "
            f"Received: {contract['lead_order']}"
        )
    if contract["units"] != "mV":
        raise ConfigError(f"{where}: units must be 'mV'. Received: {contract['units']!r}")
    for key in ("window", "eval_stride"):
        value = contract[key]
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise ConfigError(f"{where}: `{key}` must be a positive integer. Received: {value!r}")
    if not contract["fs"] or float(contract["fs"]) <= 0:
        raise ConfigError(f"{where}: `fs` must be positive. Received: {contract['fs']!r}")
    if eval_mode(contract) not in EVAL_MODES:
        raise ConfigError(
            f"{where}: `eval_mode` must be one of {EVAL_MODES}. "
            f"Received: {contract.get('eval_mode')!r}"
        )
    if contract["aggregate"] not in AGGREGATIONS:
        raise ConfigError(
            f"{where}: `aggregate` must be one of {AGGREGATIONS}. "
            f"Received: {contract['aggregate']!r}"
        )
    try:
        cuts = logit_cuts(contract)
    except ConfigError as exc:
        raise ConfigError(f"{where}: {exc}") from None
    if len(cuts) != len(label_names(contract)):
        raise ConfigError(
            f"{where}: {len(cuts)} logit cuts for {len(label_names(contract))} labels"
        )
    if not temperature(contract) > 0:
        raise ConfigError(f"{where}: `temperature` must be positive")
    if len(calibration_bias(contract)) != len(label_names(contract)):
        raise ConfigError(
            f"{where}: {len(calibration_bias(contract))} calibration biases for "
            f"{len(label_names(contract))} labels"
        )
    try:  # the settings' own checks (band below Nyquist, std >= 0, ...) name no file
        preprocess(contract)
        fitted = standardizer(contract)
    except ConfigError as exc:
        raise ConfigError(f"{where}: {exc}") from None
    if fitted is not None and len(fitted.mean) != len(CANONICAL_LEADS):
        raise ConfigError(
            f"{where}: the standardizer has {len(fitted.mean)} leads, the input "
            f"{len(CANONICAL_LEADS)}"
        )
    return contract


def fs(contract: dict[str, Any]) -> float:
    return float(contract["fs"])


def window(contract: dict[str, Any]) -> int:
    return int(contract["window"])


def stride(contract: dict[str, Any]) -> int:
    return int(contract["eval_stride"])


def eval_mode(contract: dict[str, Any]) -> str:
    """ "sliding" (windows every `eval_stride` samples) or "centre" (one middle window)."""
    return str(contract.get("eval_mode", "sliding"))


def aggregate(contract: dict[str, Any]) -> str:
    return str(contract["aggregate"])


def label_names(contract: dict[str, Any]) -> list:
    return [str(name) for name in contract["label_names"]]


def threshold_choice(contract: dict[str, Any]) -> ThresholdChoice:
    """The stored operating point: logit cuts, method, target (see `ThresholdChoice`).

    A contract written before cuts were stored as logits holds only probability
    `thresholds`; they are converted once by `thresholds.legacy_probability_to_cut`.
    """
    return ThresholdChoice.from_dict(contract["thresholds"])


def logit_cuts(contract: dict[str, Any]) -> np.ndarray:
    """`(C,)` cuts on the RAW record logit: positive when `logit >= cut` (`decide`)."""
    return threshold_choice(contract).cuts


def temperature(contract: dict[str, Any]) -> float:
    value = contract.get("temperature")
    return 1.0 if value is None else float(value)


def calibration_bias(contract: dict[str, Any]) -> np.ndarray:
    """Per-class bias added after the temperature (zeros in contracts that predate it)."""
    value = contract.get("calibration_bias")
    return (
        np.zeros(len(label_names(contract)))
        if value is None
        else np.asarray(value, dtype=np.float64)
    )


def probabilities(contract: dict[str, Any], logits: ArrayLike) -> np.ndarray:
    """Calibrated probabilities `sigmoid(logit / temperature + calibration_bias)` of record
    logits `(n, C)`."""
    z = np.asarray(logits, dtype=np.float64) / temperature(contract) + calibration_bias(contract)
    return np.exp(-np.logaddexp(0.0, -z))


def decisions(contract: dict[str, Any], logits: ArrayLike) -> np.ndarray:
    """0/1 decisions `(n, C)` of RAW record logits at the stored operating point.

    The rule is `evaluation.decide` (`logit >= cut`), the same one `evaluate` applies; the
    temperature and bias only calibrate the probability shown, so they never move a decision.
    """
    return decide(logits, threshold_choice(contract)).astype(np.int64)


def preprocess(contract: dict[str, Any]) -> PreprocessConfig:
    """The `PreprocessConfig` the model's training data went through."""
    from keras_ecgpe.data.preprocessing import PreprocessConfig

    return PreprocessConfig.from_dict(dict(contract["preprocess"]))


def inference_preprocess(contract: dict[str, Any]) -> PreprocessConfig:
    """The preprocessing to apply to a new record: the training one, always resampled to fs.

    A contract whose preprocessing kept each record's rate (`target_fs` None) still
    expects windows at `fs`, so records at any other rate are resampled to it.
    """
    return dataclasses.replace(preprocess(contract), target_fs=fs(contract))


def standardizer(contract: dict[str, Any]) -> DatasetStandardizer | None:
    """The fitted `DatasetStandardizer`, or None when the run used none."""
    from keras_ecgpe.data.normalization import DatasetStandardizer

    value = contract.get("standardizer")
    return None if value is None else DatasetStandardizer.from_dict(dict(value))


def model_name(contract: dict[str, Any]) -> str | None:
    return contract.get("model_name")


def package_version(contract: dict[str, Any]) -> str | None:
    return contract.get("keras_ecgpe_version")


def data_info(contract: dict[str, Any]) -> dict:
    return dict(contract.get("data") or {})


def cache_path(contract: dict[str, Any], run_dir: os.PathLike | str | None = None) -> Path | None:
    """The prepared cache the model was trained on, resolved (see `resolve_recorded_path`)."""
    value = data_info(contract).get("cache_path")
    return None if value is None else resolve_recorded_path(value, run_dir)


def resolve_recorded_path(value: os.PathLike | str, run_dir: os.PathLike | str | None) -> Path:
    """A path a run recorded, found from whatever folder the command now runs in.

    New contracts store the cache's absolute path. Older ones (and `config.yaml`'s
    `data.cache`) store it as it was typed, relative to the folder training ran in, which
    is usually the run directory or one of its ancestors (`runs/x` next to `caches/y`):
    those folders are tried, then the current one. A path found nowhere is returned as
    recorded (relative to the run's parent), so the message names a plausible place.

    Example:
    >>> resolve_recorded_path("/data/cache", "runs/x").as_posix()
    '/data/cache'
    """
    path = Path(value)
    if path.is_absolute() or run_dir is None:
        return path
    run = Path(run_dir).absolute()
    for base in (run, *run.parents):
        if (base / path).is_dir():
            return base / path
    return path if path.is_dir() else run.parent / path


def cache_key(contract: dict[str, Any]) -> str | None:
    return data_info(contract).get("cache_key")

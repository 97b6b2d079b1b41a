"""The input contract stored with every trained model (`contract.json` in the run dir).

A model is only meaningful on data prepared the way it was trained on: the same sampling
rate, window, lead order and units, the same filter and per-lead normalisation, the same
dataset standardiser. The contract records all of it, plus what a user of the model needs
to turn logits into decisions: label names, the temperature and logit cuts chosen on
VALIDATION data with their operating point, and how window outputs are aggregated per
record. `check_compatible` refuses a cache that would silently change the meaning of the
inputs. The same file travels with exported models (issue 5); its keys are flat
(`fs`, `window`, `lead_order`, `units`, `preprocess`, `standardizer`, `label_names`,
`thresholds`, `temperature`, `eval_mode`, `eval_stride`, `aggregate`, ...). The file is
written and read by `keras_ecgpe.run_directory` (`save_contract`, `load_contract`).
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

import keras_ecgpe
from keras_ecgpe.errors import ConfigError
from keras_ecgpe.evaluation.inputs import sigmoid
from keras_ecgpe.evaluation.thresholds import RULE, ThresholdChoice
from keras_ecgpe.leads import CANONICAL_LEADS
from keras_ecgpe.run_directory import CONTRACT_FORMAT

if TYPE_CHECKING:
    from collections.abc import Sequence

    from keras_ecgpe.data.prepared_cache import PreparedCache

# Preprocessing settings whose change alters what the model sees (not just record length).
_MEANINGFUL = ("target_fs", "filter", "low_hz", "high_hz", "normalize")
_SYNTHETIC_MARKER = "SYNTHETIC_DATA.txt"


def is_synthetic(cache: PreparedCache) -> bool:
    """True when the cache was made from SYNTHETIC data.

    Either its source description says so (`{"synthetic": true}`) or the source root, or
    a folder up to two levels above it, holds the demo's `SYNTHETIC_DATA.txt` marker.
    """
    source = cache.source if isinstance(cache.source, dict) else {}
    if source.get("synthetic") is True:
        return True
    root = source.get("root")
    if not root:
        return False
    path = Path(root)
    return any((folder / _SYNTHETIC_MARKER).is_file() for folder in [path, *list(path.parents)[:2]])


def data_description(cache: PreparedCache) -> dict:
    """What data a model was trained on: cache key, path, source and the SYNTHETIC flag."""
    source = cache.source if isinstance(cache.source, dict) else {}
    return {
        "cache_key": cache.key,
        # Absolute: the run is used later from other working folders (export, evaluate).
        "cache_path": str(Path(cache.path).absolute()),
        "source": {k: source[k] for k in ("name", "root", "options") if k in source},
        "synthetic": is_synthetic(cache),
    }


def make_contract(
    *,
    cache: PreparedCache,
    model_name: str,
    window: int,
    stride: int,
    eval_mode: str,
    aggregate: str,
    label_names: Sequence[str],
    threshold_choice: ThresholdChoice | dict,
    temperature: float,
    standardizer: dict | None,
    calibration_bias: Sequence[float] | None = None,
) -> dict:
    """Assembles the contract of a model trained on `cache` (a flat, JSON-safe dict).

    Decision rule (`evaluation.decide`): class `c` is positive when the RAW record logit
    `z_c >= thresholds.logit_cuts[c]`. The cut is stored as a logit because a probability
    saturates (`sigmoid(z)` is exactly 1.0 above z of about 37). The temperature and
    per-class bias only calibrate the probability shown
    (`sigmoid(logit / temperature + calibration_bias)`), so they never move a decision;
    `calibrated_thresholds` are the cuts on that calibrated scale, for display only.

    Args:
        cache: the `PreparedCache` the model was trained on.
        model_name: the registered architecture name.
        window: input window in samples.
        stride: sliding-window stride in samples (kept in "centre" mode too).
        eval_mode: "sliding" or "centre"; aggregate: "max" or "mean".
        label_names: the output labels, in logit order.
        threshold_choice: a `ThresholdChoice` (or its `to_dict()`), chosen on validation
            raw logits.
        temperature: fitted on validation logits (1: none).
        calibration_bias: per-class biases fitted with it (None: zeros).
        standardizer: `DatasetStandardizer.to_dict()` or None.
    """
    if not isinstance(threshold_choice, ThresholdChoice):
        threshold_choice = ThresholdChoice.from_dict(threshold_choice)
    cuts = threshold_choice.cuts
    bias = [0.0] * len(cuts) if calibration_bias is None else [float(b) for b in calibration_bias]
    calibrated = sigmoid(cuts / float(temperature) + np.asarray(bias, dtype=np.float64))
    return {
        "format": CONTRACT_FORMAT,
        "keras_ecgpe_version": keras_ecgpe.__version__,
        "model_name": model_name,
        "fs": float(cache.fs),
        "window": int(window),
        "window_s": float(window) / float(cache.fs),
        "lead_order": list(cache.manifest.get("lead_order", CANONICAL_LEADS)),
        "units": "mV",
        "layout": "(batch, window, leads) float32",
        "preprocess": cache.settings.get("preprocess"),
        "standardizer": standardizer,
        "label_names": list(label_names),
        "output": "logits",
        "thresholds": {**threshold_choice.to_dict(), "rule": RULE},
        "calibrated_thresholds": [float(p) for p in calibrated],
        "temperature": float(temperature),
        "calibration_bias": bias,
        "temperature_fitted_on": "validation",
        "eval_mode": eval_mode,
        "eval_stride": int(stride),
        "aggregate": aggregate,
        "data": data_description(cache),
    }


def contract_mismatches(contract: dict, cache: PreparedCache, *, check_labels: bool = True) -> list:
    """Lists every way `cache` differs from what the model expects (empty: compatible)."""
    problems = []
    if abs(float(contract["fs"]) - float(cache.fs)) > 1e-6:
        problems.append(f"fs: model {contract['fs']:g} Hz, cache {cache.fs:g} Hz")
    leads = list(cache.manifest.get("lead_order", CANONICAL_LEADS))
    if list(contract["lead_order"]) != leads:
        problems.append(f"leads: model {contract['lead_order']}, cache {leads}")
    shortest = int(cache.lengths.min()) if cache.n_records else 0
    if shortest < int(contract["window"]):
        problems.append(
            f"window: model needs {contract['window']} samples, the cache's "
            f"shortest record has {shortest}"
        )
    model_pre = contract.get("preprocess") or {}
    cache_pre = cache.settings.get("preprocess") or {}
    for key in _MEANINGFUL:
        if model_pre.get(key) != cache_pre.get(key):
            problems.append(
                f"preprocessing {key}: model {model_pre.get(key)!r}, cache {cache_pre.get(key)!r}"
            )
    if check_labels:
        names = list(contract["label_names"])
        if names != list(cache.label_names):
            problems.append(f"labels: model {names}, cache {list(cache.label_names)}")
    return problems


def check_compatible(contract: dict, cache: PreparedCache, *, check_labels: bool = True) -> None:
    """Refuses a cache whose data would change the meaning of the model's inputs.

    Checked: sampling rate, lead order, records at least one window long, the
    preprocessing settings that change the signal (target fs, filter and its band, per-lead
    normalisation) and, with `check_labels`, the label names and their order.

    Raises:
        ConfigError: naming the cache and each mismatch.
    """
    problems = contract_mismatches(contract, cache, check_labels=check_labels)
    if problems:
        raise ConfigError(
            f"{cache.path}: incompatible with the model's contract: " + "; ".join(problems)
        )

"""Scoring held-out folds and summarising them: per-fold metrics, mean and SD, pooled CIs.

Each fold's best model scores its held-out records exactly as its contract says (windows,
aggregation, the thresholds chosen on that fold's inner validation part) and the result
goes to `<fold run>/heldout.json`, the mark of a finished fold.

Pooling: the held-out records of one repeat cover every non-test record once, each scored
by the model that never saw it. Before pooling, each fold's logits are shifted by its own
threshold logit, so that "logit >= 0" is every record's own fold decision: thresholded
metrics of the pool then follow each fold's rule, and the ranking metrics (AUROC, AP)
compare records across folds on that common anchor (a convention: fold models do not share
a scale). 95 % intervals are percentile bootstraps that resample PATIENTS, with the
trained models held fixed (they do not include the variation of retraining).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from keras_ecgpe import run_directory
from keras_ecgpe.data.atomic import atomic_write_json
from keras_ecgpe.evaluation import (
    METRIC_NAMES,
    ThresholdChoice,
    bootstrap_ci,
    compute_metrics,
    metrics_with_ci,
    patient_groups,
)
from keras_ecgpe.evaluation.ranking import auroc

if TYPE_CHECKING:
    import os
    from collections.abc import Mapping, Sequence
    from typing import Any

    from keras_ecgpe.data.prepared_cache import PreparedCache
    from keras_ecgpe.studies.cv_plan import Fold
    from keras_ecgpe.training.config import TrainConfig

HELDOUT_FILE = "heldout.json"


def score_heldout(
    run_dir: os.PathLike | str, cache: PreparedCache, fold: Fold, config: TrainConfig
) -> dict:
    """Scores `fold.heldout` with the fold run's best model; writes `heldout.json`."""
    from keras_ecgpe.training.run_data import WindowPlan, predict_records

    model, contract, _ = run_directory.load_run(run_dir)
    y, logits, mask, ids = predict_records(
        model, cache, fold.heldout, WindowPlan.from_contract(contract)
    )
    choice = ThresholdChoice.from_dict(contract["thresholds"])
    metrics = compute_metrics(
        y,
        logits,
        choice,
        mask=mask,
        label_names=list(cache.label_names),
        fixed_specificity=config.evaluation.fixed_specificity,
        fixed_sensitivity=config.evaluation.fixed_sensitivity,
    )
    # Logit minus the fold's own cut (never through a probability, which saturates).
    centred = logits - choice.cuts
    result = {
        "fold": fold.name,
        "repeat": fold.repeat + 1,
        "n_heldout": int(len(ids)),
        "n_train": int(len(fold.train)),
        "n_validation": int(len(fold.validation)),
        "macro": metrics["macro"],
        "thresholds": contract["thresholds"],
        "records": [str(cache.record_ids[i]) for i in ids],
        "centred_logits": centred.tolist(),
    }
    atomic_write_json(Path(run_dir) / HELDOUT_FILE, result)
    return result


def read_heldout(run_dir: os.PathLike | str) -> dict:
    return json.loads((Path(run_dir) / HELDOUT_FILE).read_text("utf-8"))


def pooled_arrays(
    results: Sequence[Mapping[str, Any]], cache: PreparedCache, repeats: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """`(rows (n,), y (n, C), mask (n, C), logits (n, R, C))` aligned by record; every
    repeat must cover the same records (it does: each holds out every record once)."""
    index = {str(r): i for i, r in enumerate(cache.record_ids)}
    rows = np.array(
        sorted(index[r] for res in results if res["repeat"] == 1 for r in res["records"]),
        dtype=np.int64,
    )
    where = {int(r): j for j, r in enumerate(rows)}
    logits = np.full((rows.size, repeats, len(cache.label_names)), np.nan)
    for res in results:
        for record, z in zip(res["records"], res["centred_logits"]):
            logits[where[index[record]], res["repeat"] - 1] = z
    if np.isnan(logits).any():
        raise ValueError("the repeats of this cross-validation do not cover the same records")
    return rows, cache.labels[rows], cache.label_mask[rows], logits


def repeat_mean_auroc(y: np.ndarray, mask: np.ndarray, logits: np.ndarray) -> float:
    """Macro AUROC of the pooled logits of each repeat, averaged over repeats.

    `y`, `mask`: `(n, C)`; `logits`: `(n, R, C)`. Classes without both labels are skipped.
    """
    values = []
    for r in range(logits.shape[1]):
        per_class = [
            auroc(y[m, c] > 0.5, logits[m, r, c])
            for c in range(y.shape[1])
            for m in [mask[:, c] > 0]
        ]
        per_class = [v for v in per_class if np.isfinite(v)]
        values.append(np.mean(per_class) if per_class else np.nan)
    return float(np.mean(values))


def paired_auroc_ci(
    y: np.ndarray,
    mask: np.ndarray,
    first: np.ndarray,
    second: np.ndarray | None = None,
    *,
    groups: Sequence[str] | None,
    n_boot: int,
    seed: int,
    alpha: float = 0.05,
) -> dict[str, Any]:
    """Bootstrap (by patient) of `repeat_mean_auroc(first) - repeat_mean_auroc(second)`
    (or of `first` alone): both arms are scored on the same resampled patients."""
    n, repeats, n_classes = first.shape
    stacked = first if second is None else np.concatenate([first, second], axis=1)
    flat_y = np.repeat(y[:, None, :], stacked.shape[1], axis=1).reshape(n, -1)
    flat_m = np.repeat(mask[:, None, :], stacked.shape[1], axis=1).reshape(n, -1)

    def metric(yy, zz, mask):
        yy = yy.reshape(len(yy), -1, n_classes)[:, 0]
        mm = mask.reshape(len(yy), -1, n_classes)[:, 0]
        zz = zz.reshape(len(zz), -1, n_classes)
        value = repeat_mean_auroc(yy, mm, zz[:, :repeats])
        return value if second is None else value - repeat_mean_auroc(yy, mm, zz[:, repeats:])

    return bootstrap_ci(
        flat_y,
        stacked.reshape(n, -1),
        metric,
        n_boot=n_boot,
        seed=seed,
        groups=groups,
        mask=flat_m,
        alpha=alpha,
    )


def pooled_groups(cache: PreparedCache, rows: np.ndarray) -> tuple[list[str], int]:
    """Bootstrap clusters of `rows`: patients, a record without a patient id its own
    (`evaluation.patient_groups`); and how many records have no patient id."""
    return patient_groups(cache.patient_ids[rows], cache.record_ids[rows])


def fold_class_counts(result: dict, cache: PreparedCache) -> dict:
    """Smallest number of positive and of negative held-out records over the classes."""
    index = {str(r): i for i, r in enumerate(cache.record_ids)}
    rows = np.array([index[r] for r in result["records"]], dtype=np.int64)
    known = cache.label_mask[rows] > 0
    positive = (cache.labels[rows] > 0.5) & known
    return {
        "n_positive": int(positive.sum(axis=0).min()),
        "n_negative": int((~positive & known).sum(axis=0).min()),
    }


def summarize(
    results: Sequence[Mapping[str, Any]],
    cache: PreparedCache,
    *,
    repeats: int,
    n_boot: int,
    seed: int,
    config: TrainConfig,
    alpha: float = 0.05,
) -> dict:
    """Per-fold metrics with the corrected-t mean AUROC (primary), and pooled metrics with
    patient bootstrap CIs (secondary)."""
    from keras_ecgpe.studies.fold_statistics import fold_mean_test, fold_sizes

    folds = sorted(results, key=lambda r: (r["repeat"], r["fold"]))
    per_metric = {}
    for name in METRIC_NAMES:
        values = [f["macro"][name] for f in folds if f["macro"].get(name) is not None]
        per_metric[name] = {
            "mean": float(np.mean(values)) if values else None,
            "sd": float(np.std(values, ddof=1)) if len(values) > 1 else None,
            "n_folds": len(values),
        }
    rows, y, mask, logits = pooled_arrays(folds, cache, repeats)
    groups, without_id = pooled_groups(cache, rows)
    pooled = []
    for r in range(repeats):
        common = dict(
            mask=mask,
            label_names=list(cache.label_names),
            fixed_specificity=config.evaluation.fixed_specificity,
            fixed_sensitivity=config.evaluation.fixed_sensitivity,
        )
        m = (
            metrics_with_ci(
                y,
                logits[:, r],
                0.5,
                n_boot=n_boot,
                seed=seed,
                groups=groups,
                alpha=alpha,
                **common,
            )
            if n_boot
            else compute_metrics(y, logits[:, r], 0.5, **common)
        )
        pooled.append(
            {
                "repeat": r + 1,
                "macro": m["macro"],
                "macro_ci": m.get("macro_ci"),
                "n_records": int(rows.size),
            }
        )
    over = (
        paired_auroc_ci(y, mask, logits, groups=groups, n_boot=n_boot, seed=seed, alpha=alpha)
        if n_boot
        else {"value": repeat_mean_auroc(y, mask, logits)}
    )
    per_fold = [
        {
            **{k: f[k] for k in ("fold", "repeat", "n_train", "n_validation", "n_heldout")},
            **fold_class_counts(f, cache),
            "macro": f["macro"],
        }
        for f in folds
    ]
    return {
        "per_fold": per_fold,
        "primary": {
            "what": "mean per-fold held-out macro AUROC",
            **fold_mean_test(
                {f["fold"]: f["macro"].get("auroc") for f in folds},
                fold_sizes(per_fold),
                alpha=alpha,
            ),
        },
        "fold_mean_sd": per_metric,
        "pooled_per_repeat": pooled,
        "pooled_auroc_mean_over_repeats": over,
        "resampled_by": "patient",
        "records_without_patient_id": without_id,
    }

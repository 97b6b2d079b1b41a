"""The primary statistics of a study: per-fold values tested with retraining variance.

A cross-validation retrains the model on every fold, so the spread of per-fold values
carries the variance of retraining as well as of the held-out sample. The per-fold values
are therefore the primary result:

- one recipe (`train --cv`): the mean per-fold AUROC with the Nadeau-Bengio corrected
  resampled t interval, and its test against chance (AUROC 0.5);
- arms against a reference (`compare`): the per-fold paired differences, their mean with
  the corrected t-test and interval, beside the exact sign test; the corrected p-values
  of all arms compared with the reference are Holm-adjusted together.

Folds share training records, which is what the correction (1/n + n_test/n_train) is for
(see `keras_ecgpe.evaluation.fold_comparison` and docs/statistics.md). The pooled AUROC
over all held-out records is a secondary figure: its patient bootstrap holds the trained
models fixed.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np

from keras_ecgpe.evaluation import corrected_resampled_ttest, holm_adjust, sign_test

CHANCE_AUROC = 0.5
FEW_FOLDS = "fewer than 2 folds with a defined AUROC"


def fold_sizes(per_fold: Sequence[Mapping]) -> dict:
    """`{fold: (n_train, n_test)}`: the records a fold's model was fitted and selected on
    (inner train + inner validation) and the held-out records it was scored on."""
    return {
        f["fold"]: (int(f["n_train"]) + int(f["n_validation"]), int(f["n_heldout"]))
        for f in per_fold
    }


def _corrected(values, folds, sizes, alpha) -> dict:
    return corrected_resampled_ttest(
        values,
        n_train=[sizes[f][0] for f in folds],
        n_test=[sizes[f][1] for f in folds],
        alpha=alpha,
    )


def fold_mean_test(
    per_fold_auroc: Mapping[str, float | None], sizes: Mapping, *, alpha: float = 0.05
) -> dict:
    """Mean per-fold AUROC with the corrected t interval and its test against chance.

    Args:
        per_fold_auroc: `{fold: AUROC or None}` (None: the fold had one class only).
        sizes: `fold_sizes(...)` of the same folds.
        alpha: 1 - confidence level.

    Returns:
        `{"mean", "sd", "n_folds", "ci_low", "ci_high", "t", "df", "p_value" (against
        AUROC 0.5), "method", "folds_without_auroc"}`; the test fields are None with
        "undefined": reason when fewer than 2 folds have an AUROC or all are equal.

    Example:
    >>> sizes = {f"f{i}": (80, 20) for i in range(5)}
    >>> r = fold_mean_test({"f0": .7, "f1": .8, "f2": .75, "f3": .72, "f4": .78}, sizes)
    >>> round(r["mean"], 3), r["df"]
    (0.75, 4)
    """
    folds = [f for f, v in per_fold_auroc.items() if v is not None]
    values = np.array([per_fold_auroc[f] for f in folds], dtype=np.float64)
    out = {
        "mean": float(values.mean()) if values.size else None,
        "sd": float(values.std(ddof=1)) if values.size > 1 else None,
        "n_folds": int(values.size),
        "folds_without_auroc": [f for f, v in per_fold_auroc.items() if v is None],
        "null": CHANCE_AUROC,
    }
    if values.size < 2:
        return {
            **out,
            **dict.fromkeys(("ci_low", "ci_high", "t", "df", "p_value", "method")),
            "undefined": FEW_FOLDS,
        }
    test = _corrected(values - CHANCE_AUROC, folds, sizes, alpha)
    out.update(
        ci_low=CHANCE_AUROC + test["ci_low"],
        ci_high=CHANCE_AUROC + test["ci_high"],
        t=test["t"],
        df=test["df"],
        p_value=test["p_value"],
        test_train_ratio=test["test_train_ratio"],
        method=test["method"] + ", against AUROC 0.5",
    )
    if "undefined" in test:
        out["undefined"] = test["undefined"]
    return out


def paired_fold_difference(
    mine: Mapping[str, float | None],
    reference: Mapping[str, float | None],
    sizes: Mapping,
    *,
    alpha: float = 0.05,
) -> dict:
    """Per-fold paired differences `mine - reference` with the corrected t-test and the
    sign test (folds where either AUROC is undefined are left out and named).

    Returns:
        `{"differences": {fold: d}, "mean", "sd", "n_folds", "better", "worse", "ties",
        "corrected_t": corrected_resampled_ttest(...) or None, "sign_test": sign_test(...)
        or None, "folds_left_out", "undefined" (when a test could not be run)}`.

    Example:
    >>> sizes = {f: (80, 20) for f in "abc"}
    >>> d = paired_fold_difference({"a": .8, "b": .7, "c": .9}, {"a": .7, "b": .7, "c": .8},
    ...                            sizes)
    >>> d["better"], d["ties"], round(d["mean"], 3)
    (2, 1, 0.067)
    """
    folds = [f for f in mine if mine[f] is not None and reference.get(f) is not None]
    d = np.array([mine[f] - reference[f] for f in folds], dtype=np.float64)
    out = {
        "differences": {f: float(v) for f, v in zip(folds, d, strict=True)},
        "mean": float(d.mean()) if d.size else None,
        "sd": float(d.std(ddof=1)) if d.size > 1 else None,
        "n_folds": int(d.size),
        "better": int((d > 0).sum()),
        "worse": int((d < 0).sum()),
        "ties": int((d == 0).sum()),
        "folds_left_out": [f for f in mine if f not in folds],
        "corrected_t": _corrected(d, folds, sizes, alpha) if d.size >= 2 else None,
        "sign_test": sign_test(d) if d.size else None,
    }
    if d.size < 2:
        out["undefined"] = FEW_FOLDS
    return out


def holm_over_arms(differences: Sequence[dict]) -> None:
    """Adds `corrected_t["p_holm"]` to each of `differences` (the comparisons against one
    reference), Holm-adjusted over those with a defined p-value; others get None and the
    reason."""
    tested = [
        d["corrected_t"]
        for d in differences
        if (d.get("corrected_t") or {}).get("p_value") is not None
    ]
    adjusted = holm_adjust([t["p_value"] for t in tested]) if tested else []
    for test, p in zip(tested, adjusted, strict=True):
        test["p_holm"] = p
        test["holm_family"] = len(tested)
    for d in differences:
        test = d.get("corrected_t")
        if test is not None and "p_holm" not in test:
            test["p_holm"] = None
            test["holm_undefined"] = test.get("undefined", "no p-value")

"""`cross_validate`: repeated patient-level k-fold training for small cohorts.

Layout of `out_dir`:

    config.yaml          the configuration every fold trains with
    cv_plan.json         options and, per fold, the record ids of train/validation/heldout
    cv/r{r}-f{k}/        one ordinary run directory per fold (config, history, best.keras,
                         contract.json, validation reports, run.json) + heldout.json
    cv_summary.json      per-fold held-out metrics; the primary result, the mean per-fold
    cv_summary.txt       AUROC with the corrected resampled t interval; pooled metrics with
    report.{txt,html,json}  patient bootstrap intervals as secondary figures (`cv_summary.py`,
                         `fold_statistics.py`, `cv_report.py`)

Folds are the cache's own when its source supplied a `fold` column (see `cv_plan.py`),
unless `regenerate_folds`; the summary and the report say which.

The cache's `test` split is not touched (see `cv_plan.py`): cross-validation estimates how
well the recipe works; the final model is trained the ordinary way and scored once on
the test split with `evaluate_run`. Continuing (`resume=True`) skips every fold whose run
directory holds `heldout.json`, resumes an unfinished fold run from its last epoch and
starts the others.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING

from keras_ecgpe import messages, run_directory
from keras_ecgpe.data.atomic import atomic_write_bytes, atomic_write_json
from keras_ecgpe.errors import ConfigError
from keras_ecgpe.formatting import format_interval, format_number

if TYPE_CHECKING:
    import os
    from collections.abc import Callable

    from keras_ecgpe.evaluation.analysis_plan import AnalysisPlan
    from keras_ecgpe.training.config import TrainConfig

PLAN_FILE = "cv_plan.json"
SUMMARY_FILE = "cv_summary.json"
SUMMARY_TEXT = "cv_summary.txt"


def _open_out(out: Path, plan: dict, *, overwrite: bool, resume: bool) -> dict | None:
    """Prepares `out`; returns the finished summary when there is nothing left to do."""
    if (out / PLAN_FILE).is_file() and not overwrite:
        if not resume:
            done = "a finished" if (out / SUMMARY_FILE).is_file() else "an unfinished"
            raise ConfigError(
                f"{out}: holds {done} cross-validation; "
                f"{'continue it with `resume=True` or ' if done != 'a finished' else ''}"
                "replace it (`overwrite=True`)"
            )
        saved = json.loads((out / PLAN_FILE).read_text("utf-8"))
        if saved != plan:
            raise ConfigError(
                f"{out}: the cross-validation there was planned with other "
                "data, folds or settings; use the same ones, or `overwrite=True`"
            )
        if (out / SUMMARY_FILE).is_file():
            return json.loads((out / SUMMARY_FILE).read_text("utf-8"))
        return None
    run_directory.prepare_run_dir(out, overwrite=overwrite, marker=PLAN_FILE)
    return None


def study_statistics(
    config: TrainConfig, analysis_plan: AnalysisPlan | None, n_boot: int | None
) -> dict:
    """Interval level, bootstrap resamples and seed, small-sample limit: from the analysis
    plan when one is given, else the run config's `evaluation.bootstrap` and seed."""
    if analysis_plan is None:
        return {
            "alpha": 0.05,
            "n_boot": config.evaluation.bootstrap if n_boot is None else int(n_boot),
            "seed": config.training.seed,
            "small_sample_min": 10,
            "analysis_plan_sha256": None,
            "analysis_plan": None,
        }
    return {
        "alpha": round(1.0 - analysis_plan.interval_level, 12),
        "n_boot": analysis_plan.bootstrap_resamples if n_boot is None else int(n_boot),
        "seed": analysis_plan.seed,
        "small_sample_min": analysis_plan.small_sample_min,
        "analysis_plan_sha256": analysis_plan.sha256,
        "analysis_plan": analysis_plan.to_dict(),
        "analysis_plan_source": analysis_plan.source,
    }


def cross_validate(
    config: TrainConfig,
    out_dir: os.PathLike | str,
    *,
    k: int,
    repeats: int = 1,
    max_train_records: int | None = None,
    inner_validation: float = 0.2,
    n_boot: int | None = None,
    progress: bool = True,
    overwrite: bool = False,
    resume: bool = False,
    regenerate_folds: bool = False,
    analysis_plan: AnalysisPlan | None = None,
    write_reports: bool = True,
    train_fold: Callable | None = None,
) -> dict:
    """Trains and scores every fold of a repeated patient-level k-fold; writes a summary.

    Args:
        config: the `TrainConfig` of every fold run (its `data` must name a cache).
        out_dir: the cross-validation directory (layout above).
        k, repeats: folds per repeat and repeats (folds from `training.seed`).
        max_train_records: cap on each fold's training part (see `cv_plan.plan_folds`).
        inner_validation: share of the training part used for selection.
        n_boot: bootstrap resamples of the pooled intervals (default
            `evaluation.bootstrap`; 0: none).
        progress: print progress.
        overwrite: replace a previous cross-validation in `out_dir`.
        resume: continue one: finished folds are skipped, an unfinished one resumed.
        regenerate_folds: deal new patient-level folds even when the cache has its own.
        analysis_plan: an `AnalysisPlan`: its interval level, bootstrap resamples and seed,
            and small-sample limit are used, and its hash is recorded; None: defaults.
        write_reports: write `report.{txt,html,json}` (a comparison writes its own).
        train_fold: `train_fold(config, run_dir, fold, resume=, progress=)` leaves a
            finished run in `run_dir` (a study's hyperparameter search); None trains it
            with `train_run` on the fold's inner parts.

    Returns:
        The summary dict written to `cv_summary.json`.

    Raises:
        ConfigError: no cache, unusable folds, or an occupied `out_dir`.

    Example:

    ```python
    summary = cross_validate(config, "runs/cv", k=5, repeats=2)
    summary["pooled_auroc_mean_over_repeats"]["value"]
    ```
    """
    from keras_ecgpe.data.cache import PreparedCache
    from keras_ecgpe.studies.cv_plan import FOLDS_FROM_SOURCE, folds_origin, plan_folds
    from keras_ecgpe.studies.cv_summary import HELDOUT_FILE, read_heldout, score_heldout, summarize
    from keras_ecgpe.studies.report import cv_summary_text
    from keras_ecgpe.training.contract import is_synthetic
    from keras_ecgpe.training.trainer import train_run

    say = messages.progress_reporter(__name__, progress)
    if config.data.cache is None:
        raise ConfigError("cross-validation needs a prepared cache (`data.cache`)")
    cache = PreparedCache.open(config.data.cache)
    seed = config.training.seed
    folds = plan_folds(
        cache,
        k=k,
        repeats=repeats,
        seed=seed,
        inner_validation=inner_validation,
        max_train_records=max_train_records,
        regenerate_folds=regenerate_folds,
    )
    k = max(f.fold for f in folds) + 1  # the cache's own folds set k
    origin = folds_origin(cache)
    own = origin == FOLDS_FROM_SOURCE and not regenerate_folds
    fold_note = {
        "from": "cache" if own else "generated",
        "cache_folds": origin,
        "description": (
            f"the cache's own {k} folds (from the fold column of its source), used as given"
            if own
            else f"{k} patient-level stratified folds dealt with seed {seed}"
            + (
                " (the cache has folds of its own; regenerated on request)"
                if origin == FOLDS_FROM_SOURCE
                else ""
            )
        ),
    }
    plan = {
        "k": int(k),
        "repeats": int(repeats),
        "folds_from": fold_note,
        "seed": seed,
        "inner_validation": inner_validation,
        "max_train_records": max_train_records,
        "cache": str(cache.path),
        "cache_key": cache.key,
        "test_split": "not used: kept for one final evaluation",
        "folds": [fold.to_dict(cache) for fold in folds],
    }
    out = Path(out_dir)
    finished = _open_out(out, plan, overwrite=overwrite, resume=resume)
    if finished is not None:
        say(f"{out}: cross-validation already finished; nothing to do")
        return finished
    if not (out / PLAN_FILE).is_file():
        atomic_write_bytes(out / run_directory.CONFIG, config.to_yaml().encode("utf-8"))
        atomic_write_json(out / PLAN_FILE, plan)
    synthetic = is_synthetic(cache)
    say(
        f"Cross-validation{' (SYNTHETIC data)' if synthetic else ''}: {repeats} x {k} folds "
        f"over {sum(len(f.heldout) for f in folds[:k])} non-test records of {cache.path}; "
        "the test split is not used"
    )
    results = []
    for fold in folds:
        run_dir = out / "cv" / fold.name
        if (run_dir / HELDOUT_FILE).is_file():
            say(f"[{fold.name}] finished earlier: skipped")
            results.append(read_heldout(run_dir))
            continue
        status = run_directory.run_status(run_dir)
        if status != "finished":
            say(
                f"[{fold.name}] {'resuming' if status == 'unfinished' else 'training'}: "
                f"{len(fold.train)} train / {len(fold.validation)} validation / "
                f"{len(fold.heldout)} held-out records"
            )
            if train_fold is not None:
                train_fold(config, run_dir, fold, resume=resume, progress=progress)
            else:
                train_run(
                    config,
                    run_dir,
                    progress=progress,
                    rows=(fold.train, fold.validation),
                    resume=resume,
                )
        result = score_heldout(run_dir, cache, fold, config)
        say(f"[{fold.name}] held-out macro AUROC {format_number(result['macro']['auroc'])}")
        results.append(result)
    statistics = study_statistics(config, analysis_plan, n_boot)
    summary = summarize(
        results,
        cache,
        repeats=repeats,
        n_boot=statistics["n_boot"],
        seed=statistics["seed"],
        config=config,
        alpha=statistics["alpha"],
    )
    summary.update(
        synthetic=synthetic,
        k=int(k),
        repeats=int(repeats),
        folds_from=fold_note,
        max_train_records=max_train_records,
        cache=str(cache.path),
        label_names=list(cache.label_names),
        test_split="not used: kept for one final evaluation of the final model",
        statistics=statistics,
    )
    atomic_write_bytes(out / SUMMARY_TEXT, cv_summary_text(summary).encode("utf-8"))
    if write_reports:
        from keras_ecgpe.reporting import write_report
        from keras_ecgpe.studies.cv_report import cv_report

        write_report(cv_report(summary, out), out)
    atomic_write_json(out / SUMMARY_FILE, summary)  # last: marks the cross-validation done
    over = format_interval(summary["pooled_auroc_mean_over_repeats"], label="95 % CI")
    say(
        f"Cross-validation done{' (SYNTHETIC)' if synthetic else ''}: pooled macro AUROC "
        f"{over}; {out / SUMMARY_TEXT}"
    )
    return summary

"""`evaluate_run`: score a trained model once on a split it never saw (by default: test).

The order matters and is the point of this module:

1. settle everything before the evaluated split is read: the analysis plan and its
   overrides, the leakage check (refused by default), the test-split ledger check (a new
   model needs a declaration), and the operating points, locked on the VALIDATION split;
2. score the split exactly as the model's contract states (compatible cache, unaugmented
   windows aggregated per record, the contract's decision rule `logit >= cut`);
3. record the look in the ledger, then write `metrics.json` (schema-checked),
   `summary.txt`, `predictions.csv`, the plots, the error gallery (`gallery/`) and the
   study report (`report.txt`, `report.html`, `report.json`).

Nothing is fitted or chosen on the evaluated data. docs/study.md describes the study.
"""

from __future__ import annotations

import datetime
from typing import TYPE_CHECKING

import keras_ecgpe
from keras_ecgpe import run_directory
from keras_ecgpe.data import locks
from keras_ecgpe.data.leakage import find_leaks
from keras_ecgpe.data.prepared_cache import PreparedCache
from keras_ecgpe.errors import ConfigError
from keras_ecgpe.evaluation import (
    Ledger,
    ThresholdChoice,
    apply_temperature,
    compute_metrics,
    metrics_with_ci,
)
from keras_ecgpe.evaluation.ledger import summarise
from keras_ecgpe.evaluation.participant_flow import (
    baseline_characteristics,
    cache_demographics,
    participant_flow,
)
from keras_ecgpe.evaluation.study import class_study
from keras_ecgpe.explain.gallery import write_gallery
from keras_ecgpe.inference import contract_io
from keras_ecgpe.training.config import TrainConfig
from keras_ecgpe.training.contract import check_compatible, is_synthetic
from keras_ecgpe.training.evaluation_files import write_evaluation
from keras_ecgpe.training.finish import calibration_summary
from keras_ecgpe.training.study_inputs import (
    fingerprints,
    locked_operating_points,
    pretraining_caches,
    resolve_settings,
    validation_predictions,
)

if TYPE_CHECKING:
    import os
    from collections.abc import Sequence

    from keras_ecgpe.evaluation.analysis_plan import AnalysisPlan

LEDGER_SPLIT = "test"  # the sealed split; validation chose the thresholds and is not sealed


def _run_settings(files: run_directory.RunFiles) -> dict:
    """The run's `evaluation` section (bootstrap, fixed operating points), if it has one."""
    if not files.config.is_file():
        return {}
    return TrainConfig.from_file(files.config).evaluation.to_dict()


def _excludes_flagged(files: run_directory.RunFiles) -> bool:
    """Whether the run left quality-flagged records out (`data.exclude_flagged`): the
    evaluated split and the validation records that lock its thresholds follow it."""
    if not files.config.is_file():
        return False
    return TrainConfig.from_file(files.config).data.exclude_flagged


def _leak_check(cache, split, pretrain, derived_notes, accept):
    """`find_leaks` for the evaluated split; refuses by default, naming the option."""
    if split not in ("train", "validation", "test"):
        return {"checked": False, "reason": f"split {split!r} is not checked for leakage"}
    report = find_leaks(cache, pretrain, split)
    try:
        report = report.raise_unless(accept)
    except ConfigError as error:
        raise ConfigError(f"{error}; to score it anyway pass `accept_leakage=True`") from None
    return {"checked": True, **report.to_dict(), "derivation_notes": list(derived_notes)}


def _headline(study: dict) -> dict:
    """The few figures the ledger keeps per class."""
    out = {}
    for name, entry in study.items():
        auroc = entry["discrimination"]["auroc"]
        primary = entry["operating_points"][0]
        out[name] = {
            "n": entry["n"],
            "n_positive": entry["n_positive"],
            "auroc": auroc["value"],
            "auroc_ci": [auroc["ci_low"], auroc["ci_high"]],
            "sensitivity": (primary.get("sensitivity") or {}).get("value"),
            "specificity": (primary.get("specificity") or {}).get("value"),
        }
    return out


def evaluate_run(
    model_or_run: os.PathLike | str,
    cache_path: os.PathLike | str,
    *,
    split: str = "test",
    out_dir: os.PathLike | str | None = None,
    n_boot: int | None = None,
    prevalence: float | None = None,
    seed: int | None = None,
    overwrite: bool = False,
    plots: bool = True,
    plan: AnalysisPlan | os.PathLike | str | None = None,
    interval: str | None = None,
    declare_new_model: str | None = None,
    accept_leakage: bool = False,
    pretrain_caches: Sequence[os.PathLike | str] = (),
    gallery: int = 0,
) -> dict:
    """Evaluates a trained model on one split of a prepared cache; writes the study report.

    Args:
        model_or_run: a run directory or a `.keras` file with `contract.json` beside it.
        cache_path: a prepared cache compatible with the model's contract.
        split: the split to score ("test" by default; "validation", "train" or "" too).
        out_dir: where to write; default `<run>/eval-<split>`. Must be new or empty
            (or `overwrite`).
        n_boot: patient bootstrap resamples (default: the plan's when a plan is given,
            else the run's `evaluation.bootstrap`, else the default plan's; 0: none).
        prevalence: the target population's prevalence in (0, 1): PPV/NPV are given at it
            beside the cohort's (default: the plan's `target_prevalence`).
        seed: bootstrap seed (default: the plan's).
        overwrite: replace a previous evaluation in `out_dir`.
        plots: write the ROC, PR, reliability and decision-curve plots.
        plan: an `AnalysisPlan` or the path of a plan file; None: the defaults (the
            report says so).
        interval: "clopper-pearson" or "wilson" (default: the plan's).
        declare_new_model: why a model other than those that already scored this test
            split may score it (recorded in the ledger); None refuses such a look.
        accept_leakage: score despite shared patients or recordings (the report says so).
        pretrain_caches: caches the model was pretrained on, beside those found through
            the run's `transfer.init_from` chain.
        gallery: the error gallery's cap: this many most confident false positives and
            false negatives (and half as many true positives) drawn with their
            attributions into `gallery/` (`keras_ecgpe.explain.gallery`); 0 (the default
            here, so library callers and tests stay cheap): none. The CLI draws
            `explain.gallery.DEFAULT_PER_KIND` (4) unless told `--gallery 0`.

    Returns:
        The metrics dict (as `metrics.json`) with "files" added.

    Raises:
        ConfigError: a missing model/contract, an incompatible cache (each mismatch
            named), an empty split, a bad plan or option, leakage (unless accepted), a new
            model on a scored test split without a declaration.
    """
    model, contract, files = run_directory.load_run(model_or_run)
    cache = PreparedCache.open(cache_path)
    check_compatible(contract, cache)
    exclude_flagged = _excludes_flagged(files)
    rows = cache.indices(split, exclude_flagged=exclude_flagged)
    if rows.size == 0:
        raise ConfigError(f"{cache.path}: no records in split {split!r}")
    run_settings = _run_settings(files)
    settings = resolve_settings(
        plan,
        prevalence=prevalence,
        seed=seed,
        n_boot=n_boot,
        interval=interval,
        run_bootstrap=run_settings.get("bootstrap"),
    )
    derived, notes = pretraining_caches(files)
    given = [str(PreparedCache.open(p, verify=False).path) for p in pretrain_caches]
    pretrain = list(dict.fromkeys(given + [p for p in derived if p not in given]))
    leakage = _leak_check(cache, split, pretrain, notes, accept_leakage)
    prints = fingerprints(files, contract)
    ledger = Ledger.open(cache.path) if split == LEDGER_SPLIT else None
    if ledger is not None:
        ledger.check_new_look(split, prints["model_sha256"], declare_new_model)
    target = run_directory.eval_dir(files.run_dir, split) if out_dir is None else out_dir
    # One writer per evaluation folder (data/locks.py): a second evaluate of it is refused.
    with locks.writing(target, "evaluation folder"):
        out = run_directory.prepare_run_dir(
            target,
            overwrite=overwrite,
            marker=run_directory.METRICS,
        )
        # Operating points are locked on validation BEFORE the evaluated split is scored.
        validation = validation_predictions(model, contract, cache, exclude_flagged=exclude_flagged)
        points = locked_operating_points(contract, settings.plan, validation)

        from keras_ecgpe.training.run_data import WindowPlan, predict_records

        names = list(contract["label_names"])
        y, logits, mask, ids = predict_records(
            model, cache, rows, WindowPlan.from_contract(contract)
        )
        temperature = contract_io.temperature(contract)
        bias = contract_io.calibration_bias(contract)
        choice = ThresholdChoice.from_dict(contract["thresholds"])
        # Raw patient ids: a record without one is its own cluster (never a switch to records).
        groups = cache.patient_ids[ids]
        fixed = dict(
            fixed_specificity=float(run_settings.get("fixed_specificity", 0.9)),
            fixed_sensitivity=float(run_settings.get("fixed_sensitivity", 0.9)),
        )
        common = dict(mask=mask, label_names=names, prevalence=settings.prevalence, **fixed)
        metrics = (
            metrics_with_ci(
                y,
                logits,
                choice,
                n_boot=settings.n_boot,
                seed=settings.seed,
                alpha=settings.alpha,
                groups=groups,
                **common,
            )
            if settings.n_boot > 0
            else compute_metrics(y, logits, choice, **common)
        )
        calibrated = apply_temperature(logits, temperature, bias)
        ages, sexes, demographics_reason = cache_demographics(cache)
        study = {}
        for c, name in enumerate(names):
            keep = mask[:, c] > 0
            study[name] = class_study(
                y[keep, c],
                logits[keep, c],
                calibrated[keep, c],
                points[c],
                plan=settings.plan,
                groups=groups[keep],
                prevalence=settings.prevalence,
                n_boot=settings.n_boot,
                seed=settings.seed,
                interval=settings.interval,
                sexes=None if sexes is None else sexes[ids][keep],
                ages=None if ages is None else ages[ids][keep],
                demographics_reason=demographics_reason,
            )
        looks = {
            "recorded": False,
            "reason": f"looks at the {split or 'unsplit'} split are not "
            "recorded; only the sealed test split has a ledger",
        }
        if ledger is not None:
            entry = ledger.append(
                split=split,
                model_sha256=prints["model_sha256"],
                config_sha256=prints["config_sha256"],
                analysis_plan_sha256=settings.plan.sha256,
                declaration=declare_new_model,
                metrics=_headline(study),
            )
            looks = {
                "recorded": True,
                "ledger": str(ledger.path),
                "this_look": {
                    "sequence": entry.sequence,
                    "sha256": entry.sha256,
                    "time": entry.time,
                },
                **summarise(ledger.entries(), split),
            }
        synthetic = is_synthetic(cache)
        metrics.update(
            split=split,
            synthetic=synthetic,
            model=str(files.model),
            cache=str(cache.path),
            model_name=contract["model_name"],
            written_at=datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
            keras_ecgpe_version=keras_ecgpe.__version__,
            calibration=calibration_summary(y, logits, mask, temperature, bias, names),
            settings=settings.to_dict(),
            fingerprints=prints,
            leakage=leakage,
            looks=looks,
            flow=participant_flow(cache, split),
            baseline=baseline_characteristics(
                cache.splits, ages, sexes, reason=demographics_reason
            ),
            validation_source=validation[3],
            study=study,
        )
        if gallery > 0:
            metrics["gallery"] = write_gallery(
                out,
                model,
                contract,
                cache,
                ids,
                y,
                logits,
                mask,
                choice,
                per_kind=gallery,
                synthetic=synthetic,
            )
        metrics["files"] = write_evaluation(
            out, metrics, y, logits, calibrated, mask, ids, cache, choice, plots=plots
        )
        return metrics


def demo_declaration(cache_path: os.PathLike | str, model_path: os.PathLike | str) -> str | None:
    """The declaration the SYNTHETIC demo gives when its test split was already scored by
    another model (a re-run of the demo retrains), else None."""
    ledger = Ledger.open(cache_path)
    models = {e.model_sha256 for e in ledger.entries() if e.split == LEDGER_SPLIT}
    from keras_ecgpe.training.study_inputs import file_sha256

    if not models or file_sha256(model_path) in models:
        return None
    return (
        "SYNTHETIC demo run again in the same folder: the demo retrains its model on "
        "synthetic data, which no study reports"
    )

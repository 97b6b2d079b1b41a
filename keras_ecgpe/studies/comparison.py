"""`compare_arms`: does pretraining help? Scratch vs linear probe vs full fine-tuning.

Every arm is a `cross_validate` run under `<out>/<arm>/` with the same folds, the same
seed, the same (optionally capped) training records and the same settings; only the
initialisation differs:

- "scratch": the pretrained model's architecture (name and overrides from its run's
  `config.yaml`), freshly initialised;
- "linear": the pretrained backbone frozen, a new head trained (linear probe);
- "full" / "gradual": the pretrained backbone fine-tuned (see `training/transfer.py`).

The inputs are identical in every arm: the same cache (so the same sampling rate and
preprocessing), the pretrained contract's window, and the pretrained run's dataset
standardiser - the scratch arm takes it through `data.standardizer_from` instead of
fitting its own on each fold. `comparison.json` records what the arms share and what
differs.

Results (`comparison.json`, `comparison.md`, `report.{txt,html,json}`), against the
reference arm (scratch):

- PRIMARY: the per-fold paired AUROC differences: their mean with the Nadeau-Bengio
  corrected resampled t-test and its interval (it counts the variance of retraining and
  the overlap of training sets between folds), the exact sign test beside it, and the
  corrected p-values Holm-adjusted over the arms compared with the reference
  (`fold_statistics.py`);
- SECONDARY: the paired difference of the pooled held-out AUROC with a paired patient
  bootstrap interval; it holds the trained models fixed, so it shows the noise of the
  finite held-out sample only.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from keras_ecgpe import messages, run_directory
from keras_ecgpe.data.atomic import atomic_write_bytes, atomic_write_json
from keras_ecgpe.errors import ConfigError

if TYPE_CHECKING:
    import os

    from keras_ecgpe.data.prepared_cache import PreparedCache
    from keras_ecgpe.evaluation.analysis_plan import AnalysisPlan
    from keras_ecgpe.training.config import TrainConfig

ARMS = ("scratch", "linear", "full", "gradual")


def arm_configs(config: TrainConfig, init_from: os.PathLike | str, arms: Sequence[str]) -> dict:
    """`{arm: TrainConfig}` derived from `config` and the pretrained run `init_from`.

    Every arm gets the pretrained contract's window and standardisation; the scratch arm
    takes the pretrained run's standardiser itself (`data.standardizer_from`).
    """
    from keras_ecgpe.training.config import TrainConfig

    unknown = [a for a in arms if a not in ARMS]
    if unknown or not arms:
        raise ConfigError(
            f"`arms` must be among {', '.join(ARMS)}. Received: arms={','.join(arms)!r}"
        )
    path = Path(init_from)
    run = path if path.is_dir() else path.parent
    if not (run / run_directory.BEST_MODEL).is_file() and not path.is_file():
        raise ConfigError(f"{init_from}: not a pretrained run directory or .keras file")
    contract = run_directory.load_contract(run)
    standardized = contract.get("standardizer") is not None
    common = {
        "data.window_s": float(contract["window"]) / float(contract["fs"]),
        "data.standardize": standardized,
        "data.standardizer_from": None,
    }
    model = {"model.name": contract["model_name"], "model.overrides": {}}
    if (run / run_directory.CONFIG).is_file():
        pretrained = TrainConfig.from_file(run / run_directory.CONFIG).model
        model = {"model.name": pretrained.name, "model.overrides": pretrained.overrides}
    out = {}
    for arm in arms:
        if arm == "scratch":
            out[arm] = config.with_values(
                {
                    **common,
                    **model,
                    "transfer.init_from": None,
                    "data.standardizer_from": str(run) if standardized else None,
                }
            )
        else:
            out[arm] = config.with_values(
                {**common, "transfer.init_from": str(init_from), "transfer.finetune": arm}
            )
    return out


def shared_inputs(contract: dict, cache: PreparedCache, init_from: os.PathLike | str) -> dict:
    """What every arm shares and what differs, for the report."""
    std = contract.get("standardizer")
    return {
        "window_samples": int(contract["window"]),
        "fs": float(contract["fs"]),
        "window_s": float(contract["window"]) / float(contract["fs"]),
        "preprocessing": cache.settings.get("preprocess"),
        "cache": str(cache.path),
        "standardizer": (
            f"the pretrained run's dataset standardiser ({init_from}/contract.json), "
            "in every arm (the scratch arm through data.standardizer_from)"
            if std is not None
            else "none in any arm (the pretrained run used none)"
        ),
        "same": [
            "records of every fold (cv_plan.json)",
            "training settings and seed",
            "window and sampling rate",
            "preprocessing (one cache)",
            "dataset standardiser",
        ],
        "differs": "initialisation only: fresh weights (scratch) or the pretrained backbone "
        "(linear probe: frozen; full/gradual: fine-tuned)",
    }


def _fold_auroc(summary) -> dict:
    return {f["fold"]: f["macro"]["auroc"] for f in summary["per_fold"]}


def compare_arms(
    config: TrainConfig,
    out_dir: os.PathLike | str,
    *,
    init_from: os.PathLike | str,
    arms: Sequence[str] = ("scratch", "linear", "full"),
    k: int,
    repeats: int = 1,
    max_train_records: int | None = None,
    n_boot: int | None = None,
    progress: bool = True,
    overwrite: bool = False,
    resume: bool = False,
    regenerate_folds: bool = False,
    analysis_plan: AnalysisPlan | None = None,
    accept_leakage: bool = False,
) -> dict:
    """Cross-validates every arm on the same folds and writes the comparison.

    Args:
        config: the base `TrainConfig` (data, loss, optimizer, epochs, seed ...).
        out_dir: `<out>/<arm>/` per arm, `comparison.{md,json}`, `report.{txt,html,json}`.
        init_from: the pretrained run directory (or `.keras` with its contract).
        arms: some of "scratch", "linear", "full", "gradual" ("scratch" is the reference
            of the paired differences when present).
        k, repeats, max_train_records, regenerate_folds: as `cross_validate`.
        n_boot: bootstrap resamples (default: the plan's, else `evaluation.bootstrap`).
        progress, overwrite, resume: as `cross_validate` (resume skips finished folds).
        analysis_plan: an `AnalysisPlan` (interval level, bootstrap, small-sample limit;
            its hash is recorded), or None.
        accept_leakage: go on when the fine-tuning cache shares patients between splits
            or recordings with the pretraining cache (the report says so).

    Returns:
        The dict written to `comparison.json`.

    Raises:
        ConfigError: bad arms or pretrained run, an occupied `out_dir`, or leakage.

    Example:

    ```python
    table = compare_arms(config, "runs/cmp", init_from="runs/ptbxl", k=5,
                         max_train_records=150)
    ```
    """
    from keras_ecgpe.data.cache import PreparedCache
    from keras_ecgpe.reporting import write_report
    from keras_ecgpe.studies.comparison_report import comparison_report
    from keras_ecgpe.studies.cross_validation import cross_validate, study_statistics
    from keras_ecgpe.studies.cv_summary import (
        paired_auroc_ci,
        pooled_arrays,
        pooled_groups,
        read_heldout,
        repeat_mean_auroc,
    )
    from keras_ecgpe.studies.fold_statistics import (
        fold_sizes,
        holm_over_arms,
        paired_fold_difference,
    )
    from keras_ecgpe.studies.report import comparison_markdown
    from keras_ecgpe.studies.transfer_leakage import check_transfer_leakage

    configs = arm_configs(config, init_from, list(arms))
    if config.data.cache is None:
        raise ConfigError("a comparison needs a prepared cache (`data.cache`)")
    # Every fine-tuning record is held out in some fold, so none may be a pretraining one.
    leakage = check_transfer_leakage(
        init_from,
        config.data.cache,
        accept=accept_leakage,
        splits=("test", "train", "validation"),
    )
    out = Path(out_dir)
    ours = set(configs) | {"comparison.md", "comparison.json"}
    ours |= {f"report.{ext}" for ext in ("txt", "html", "json")} | {"forest.png"}
    if (
        out.is_dir()
        and any(out.iterdir())
        and not (resume or overwrite)
        and not {p.name for p in out.iterdir()} <= ours
    ):
        raise ConfigError(f"{out}: not empty and not a previous comparison")
    statistics = study_statistics(config, analysis_plan, n_boot)
    say = messages.progress_reporter(__name__, progress)
    summaries = {}
    for arm, arm_config in configs.items():
        say(f"=== arm {arm} ===")
        summaries[arm] = cross_validate(
            arm_config,
            out / arm,
            k=k,
            repeats=repeats,
            max_train_records=max_train_records,
            n_boot=n_boot,
            progress=progress,
            overwrite=overwrite,
            resume=resume,
            regenerate_folds=regenerate_folds,
            analysis_plan=analysis_plan,
            write_reports=False,
        )
    cache = PreparedCache.open(config.data.cache)
    first = summaries[next(iter(configs))]
    n_boot, seed, alpha = statistics["n_boot"], statistics["seed"], statistics["alpha"]
    pooled = {}
    for arm in configs:
        results = [
            read_heldout(p.parent) for p in sorted((out / arm / "cv").glob("*/heldout.json"))
        ]
        pooled[arm] = pooled_arrays(results, cache, first["repeats"])
    groups, without_id = pooled_groups(cache, pooled[next(iter(configs))][0])
    reference = "scratch" if "scratch" in configs else None
    sizes = fold_sizes(first["per_fold"])
    table = []
    for arm in configs:
        _, y, mask, logits = pooled[arm]
        entry = {
            "arm": arm,
            "pooled_auroc": summaries[arm]["pooled_auroc_mean_over_repeats"],
            "fold_auroc": summaries[arm]["fold_mean_sd"]["auroc"],
            "fold_mean_auroc": summaries[arm]["primary"],
            "per_fold_auroc": _fold_auroc(summaries[arm]),
        }
        if reference and arm != reference:
            entry["per_fold_difference"] = paired_fold_difference(
                entry["per_fold_auroc"], _fold_auroc(summaries[reference]), sizes, alpha=alpha
            )
            entry["pooled_difference"] = (
                paired_auroc_ci(
                    y,
                    mask,
                    logits,
                    pooled[reference][3],
                    groups=groups,
                    n_boot=n_boot,
                    seed=seed,
                    alpha=alpha,
                )
                if n_boot
                else {
                    "value": repeat_mean_auroc(y, mask, logits)
                    - repeat_mean_auroc(y, mask, pooled[reference][3])
                }
            )
        table.append(entry)
    holm_over_arms([e["per_fold_difference"] for e in table if "per_fold_difference" in e])
    contract = run_directory.load_contract(
        Path(init_from) if Path(init_from).is_dir() else Path(init_from).parent
    )
    result = {
        "synthetic": first.get("synthetic", False),
        "reference": reference,
        "k": int(first["k"]),
        "repeats": int(first["repeats"]),
        "folds_from": first["folds_from"],
        "max_train_records": max_train_records,
        "init_from": str(init_from),
        "cache": str(config.data.cache),
        "shared_inputs": shared_inputs(contract, cache, init_from),
        "primary": "per-fold paired AUROC difference against the reference arm: mean with "
        "the corrected resampled t-test (Nadeau & Bengio 2003) and its interval, exact sign "
        "test beside it, p-values Holm-adjusted over the arms",
        "secondary": "pooled held-out AUROC with a patient bootstrap (trained models fixed)",
        "arms": table,
        "per_fold": first["per_fold"],
        "development_records_per_fold": sorted(
            {f["n_train"] + f["n_validation"] for s in summaries.values() for f in s["per_fold"]}
        ),
        "resampled_by": "patient",
        "records_without_patient_id": without_id,
        "statistics": statistics,
        "leakage": leakage,
    }
    atomic_write_bytes(out / "comparison.md", comparison_markdown(result).encode("utf-8"))
    write_report(comparison_report(result, out), out)
    atomic_write_json(out / "comparison.json", result)
    say(comparison_markdown(result))
    return result

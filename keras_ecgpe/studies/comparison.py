"""`compare_arms`: does pretraining help? Scratch vs linear probe vs full fine-tuning.

Every arm is a `cross_validate` run under `<out>/<arm>/` with the same folds, the same
seed, the same (optionally capped) training records and the same settings; only the
initialisation differs:

- "scratch": the pretrained model's architecture (name and overrides from its run's
  `config.yaml`), freshly initialised;
- "linear": the pretrained backbone frozen, a new head trained (linear probe);
- "full" / "gradual": the pretrained backbone fine-tuned (see `training/transfer.py`).

All arms take the pretrained contract's window and standardisation, so they see the same
inputs. `comparison.md` and `comparison.json` give, per arm, the pooled held-out AUROC
(averaged over repeats) with a 95 % patient-bootstrap interval, and against scratch:

- the paired difference of pooled AUROC, with a PAIRED bootstrap interval (both arms
  scored on the same resampled patients); it holds the trained models fixed, so it shows
  whether the difference is larger than the noise of the finite test sample, not of
  retraining;
- the per-fold differences: mean, SD, and how many folds favour each arm with an exact
  two-sided sign-test p-value. Folds share training records, so they are not
  independent: read the sign count as descriptive, not as a formal test.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np

from keras_ecgpe import run_directory
from keras_ecgpe.data.atomic import atomic_write_bytes, atomic_write_json
from keras_ecgpe.errors import ConfigError

ARMS = ("scratch", "linear", "full", "gradual")


def arm_configs(config, init_from, arms: Sequence[str]) -> dict:
    """`{arm: TrainConfig}` derived from `config` and the pretrained run `init_from`."""
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
    common = {
        "data.window_s": float(contract["window"]) / float(contract["fs"]),
        "data.standardize": contract.get("standardizer") is not None,
    }
    model = {"model.name": contract["model_name"], "model.overrides": {}}
    if (run / run_directory.CONFIG).is_file():
        pretrained = TrainConfig.from_file(run / run_directory.CONFIG).model
        model = {"model.name": pretrained.name, "model.overrides": pretrained.overrides}
    out = {}
    for arm in arms:
        if arm == "scratch":
            out[arm] = config.with_values({**common, **model, "transfer.init_from": None})
        else:
            out[arm] = config.with_values(
                {**common, "transfer.init_from": str(init_from), "transfer.finetune": arm}
            )
    return out


def _fold_auroc(summary) -> dict:
    return {f["fold"]: f["macro"]["auroc"] for f in summary["per_fold"]}


def _sign_test(wins: int, losses: int) -> float | None:
    if wins + losses == 0:
        return None
    from scipy.stats import binomtest

    return float(binomtest(wins, wins + losses, 0.5).pvalue)


def compare_arms(
    config,
    out_dir,
    *,
    init_from,
    arms=("scratch", "linear", "full"),
    k: int,
    repeats: int = 1,
    max_train_records: int | None = None,
    n_boot: int | None = None,
    progress: bool = True,
    overwrite: bool = False,
    resume: bool = False,
) -> dict:
    """Cross-validates every arm on the same folds and writes the comparison table.

    Args:
        config: the base `TrainConfig` (data, loss, optimizer, epochs, seed ...).
        out_dir: `<out>/<arm>/` per arm, `comparison.md` and `comparison.json`.
        init_from: the pretrained run directory (or `.keras` with its contract).
        arms: some of "scratch", "linear", "full", "gradual" ("scratch" is the reference
            of the paired differences when present).
        k, repeats, max_train_records: as `cross_validate`.
        n_boot: bootstrap resamples (default `evaluation.bootstrap`).
        progress, overwrite, resume: as `cross_validate` (resume skips finished folds).

    Returns:
        The dict written to `comparison.json`.

    Example:

    ```python
    table = compare_arms(config, "runs/cmp", init_from="runs/ptbxl", k=5,
                         max_train_records=150)
    ```
    """
    from keras_ecgpe.data.cache import PreparedCache
    from keras_ecgpe.studies.cross_validation import cross_validate
    from keras_ecgpe.studies.cv_summary import (
        paired_auroc_ci,
        pooled_arrays,
        read_heldout,
        repeat_mean_auroc,
    )
    from keras_ecgpe.studies.report import comparison_markdown

    configs = arm_configs(config, init_from, list(arms))
    out = Path(out_dir)
    if (
        out.is_dir()
        and any(out.iterdir())
        and not (resume or overwrite)
        and not set(p.name for p in out.iterdir()) <= set(configs)
    ):
        raise ConfigError(f"{out}: not empty and not a previous comparison")
    summaries = {}
    for arm, arm_config in configs.items():
        if progress:
            print(f"=== arm {arm} ===", flush=True)
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
        )
    cache = PreparedCache.open(config.data.cache)
    n_boot = config.evaluation.bootstrap if n_boot is None else int(n_boot)
    pooled = {}
    for arm in configs:
        results = [
            read_heldout(p.parent) for p in sorted((out / arm / "cv").glob("*/heldout.json"))
        ]
        rows, y, mask, logits = pooled_arrays(results, cache, repeats)
        pooled[arm] = (rows, y, mask, logits)
    groups = cache.patient_ids[pooled[next(iter(configs))][0]]
    groups = groups if all(str(g) for g in groups) else None
    reference = "scratch" if "scratch" in configs else None
    table = []
    for arm in configs:
        _, y, mask, logits = pooled[arm]
        entry = {
            "arm": arm,
            "pooled_auroc": summaries[arm]["pooled_auroc_mean_over_repeats"],
            "fold_auroc": summaries[arm]["fold_mean_sd"]["auroc"],
            "per_fold_auroc": _fold_auroc(summaries[arm]),
        }
        if reference and arm != reference:
            entry["pooled_difference"] = (
                paired_auroc_ci(
                    y,
                    mask,
                    logits,
                    pooled[reference][3],
                    groups=groups,
                    n_boot=n_boot,
                    seed=config.training.seed,
                )
                if n_boot
                else {
                    "value": repeat_mean_auroc(y, mask, logits)
                    - repeat_mean_auroc(y, mask, pooled[reference][3])
                }
            )
            mine, theirs = entry["per_fold_auroc"], _fold_auroc(summaries[reference])
            diffs = np.array(
                [
                    mine[f] - theirs[f]
                    for f in mine
                    if mine[f] is not None and theirs.get(f) is not None
                ]
            )
            wins, losses = int((diffs > 0).sum()), int((diffs < 0).sum())
            entry["per_fold_difference"] = {
                "mean": float(diffs.mean()) if diffs.size else None,
                "sd": float(diffs.std(ddof=1)) if diffs.size > 1 else None,
                "n_folds": int(diffs.size),
                "better": wins,
                "worse": losses,
                "ties": int(diffs.size - wins - losses),
                "sign_test_p": _sign_test(wins, losses),
            }
        table.append(entry)
    result = {
        "synthetic": summaries[next(iter(configs))].get("synthetic", False),
        "reference": reference,
        "k": int(k),
        "repeats": int(repeats),
        "max_train_records": max_train_records,
        "init_from": str(init_from),
        "cache": str(config.data.cache),
        "arms": table,
        "development_records_per_fold": sorted(
            {f["n_train"] + f["n_validation"] for s in summaries.values() for f in s["per_fold"]}
        ),
        "resampled_by": "patient" if groups is not None else "record",
    }
    atomic_write_bytes(out / "comparison.md", comparison_markdown(result).encode("utf-8"))
    atomic_write_json(out / "comparison.json", result)
    if progress:
        print(comparison_markdown(result), flush=True)
    return result

"""`compare_models`: two trained models on the same records, with a paired DeLong test.

Both models score the same records of one split exactly as `evaluate` scores them
(`run_data.predict_records` with each model's own contract); per class, the difference of
their AUROCs gets the paired DeLong test and interval (`evaluation.delong_test`), which
uses the correlation of the two models' scores on the same records. The result is written
as `paired_delong.json` and `report.{txt,html,json}`.

Scoring the `test` split is a look at the sealed test split for BOTH models: each is
checked against the cache's ledger before anything is scored (a model that has not scored
the test split before needs a declaration when any other model has - including the other
model of this pair), and one entry per model is appended afterwards, its metrics noting
that it was a paired comparison.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from keras_ecgpe import run_directory
from keras_ecgpe.data.atomic import atomic_write_json
from keras_ecgpe.errors import ConfigError

if TYPE_CHECKING:
    import os

    from keras_ecgpe.evaluation.analysis_plan import AnalysisPlan

RESULT_FILE = "paired_delong.json"
LEDGER_SPLIT = "test"


def _check_looks(ledger, split: str, shas: list[str], declaration: str | None):
    """Refuses before scoring when either model would be a new one without a declaration
    (the first of the pair counts as having looked when the second is checked)."""
    from keras_ecgpe.evaluation.ledger import DECLARATION_OPTION

    ledger.check_new_look(split, shas[0], declaration)
    seen = {e.model_sha256 for e in ledger.entries() if e.split == split} | {shas[0]}
    if shas[1] not in seen and declaration is None:
        raise ConfigError(
            f"{ledger.path}: model {shas[1][:12]} has not scored the {split} split; after "
            f"model {shas[0][:12]} of this pair has, it is a new model. Scoring it needs a "
            f"declaration with the reason ({DECLARATION_OPTION}), recorded in the ledger"
        )


def compare_models(
    run_a: os.PathLike | str,
    run_b: os.PathLike | str,
    cache_path: os.PathLike | str,
    out_dir: os.PathLike | str,
    *,
    split: str = "test",
    declaration: str | None = None,
    analysis_plan: AnalysisPlan | None = None,
    overwrite: bool = False,
) -> dict:
    """Scores two models on the same records and tests their AUROC difference (DeLong).

    Args:
        run_a, run_b: run directories (or `.keras` files with their contracts).
        cache_path: the prepared cache; both contracts must fit it, labels included.
        out_dir: where `paired_delong.json` and `report.{txt,html,json}` go.
        split: the split scored; "test" is recorded in the cache's ledger.
        declaration: why a model new to the test split may score it (`--declare-new-model`).
        analysis_plan: an `AnalysisPlan` (interval level; its hash goes into the result
            and the ledger), or None.
        overwrite: replace a previous result in `out_dir`.

    Returns:
        The dict written to `paired_delong.json`: per class, both AUROCs, the difference
        A - B with its interval, z and p; the records scored; the ledger entries.

    Raises:
        ConfigError: a model or contract that does not fit the cache, the same model twice,
            an occupied `out_dir`, or a ledger refusal.

    Example:

    ```python
    result = compare_models("runs/a", "runs/b", "prepared/pe", "runs/a-vs-b",
                            declaration="second model of the paired comparison")
    result["classes"][0]["difference"]
    ```
    """
    from keras_ecgpe.data.cache import PreparedCache
    from keras_ecgpe.evaluation import delong_test
    from keras_ecgpe.evaluation.ledger import Ledger
    from keras_ecgpe.reporting import write_report
    from keras_ecgpe.studies.paired_report import paired_report
    from keras_ecgpe.training.contract import check_compatible, is_synthetic
    from keras_ecgpe.training.run_data import WindowPlan, predict_records
    from keras_ecgpe.training.study_inputs import fingerprints

    if split not in ("train", "validation", "test"):
        raise ConfigError(f"`split` must be train, validation or test. Received: {split!r}")
    out = Path(out_dir)
    if (out / RESULT_FILE).exists() and not overwrite:
        raise ConfigError(f"{out}: holds a paired comparison; replace it (`overwrite=True`)")
    cache = PreparedCache.open(cache_path)
    rows = cache.indices(split)
    if rows.size == 0:
        raise ConfigError(f"{cache.path}: no {split!r} records to score")
    runs = []
    for run in (run_a, run_b):
        files = run_directory.locate_run(run)
        contract = run_directory.load_contract(files.contract)
        check_compatible(contract, cache)
        runs.append((files, contract, fingerprints(files, contract)))
    shas = [prints["model_sha256"] for _, _, prints in runs]
    if shas[0] == shas[1]:
        raise ConfigError(f"{run_a} and {run_b} are the same model (SHA-256 {shas[0][:12]})")
    ledger = Ledger.open(cache.path) if split == LEDGER_SPLIT else None
    if ledger is not None:
        _check_looks(ledger, split, shas, declaration)
    scored = []
    for files, contract, _ in runs:
        model = run_directory.load_model(files.model)
        scored.append(predict_records(model, cache, rows, WindowPlan.from_contract(contract)))
    (y, logits_a, mask, ids), (_, logits_b, _, ids_b) = scored
    if list(ids) != list(ids_b):
        raise ConfigError("the two models scored different records")  # same rows, same plan
    alpha = 0.05 if analysis_plan is None else round(1.0 - analysis_plan.interval_level, 12)
    classes = []
    for c, name in enumerate(cache.label_names):
        known = mask[:, c] > 0
        labels = (y[known, c] > 0.5).astype(int)
        entry = {
            "label": name,
            "n_records": int(known.sum()),
            "n_positive": int(labels.sum()),
            "n_negative": int((labels == 0).sum()),
        }
        if entry["n_positive"] and entry["n_negative"]:
            entry.update(delong_test(labels, logits_a[known, c], logits_b[known, c], alpha=alpha))
        else:
            entry["undefined"] = f"the {split} split has only one class of {name}"
        classes.append(entry)
    plan_sha = None if analysis_plan is None else analysis_plan.sha256
    result = {
        "synthetic": is_synthetic(cache),
        "cache": str(cache.path),
        "split": split,
        "n_records": int(len(ids)),
        "model_a": {"run": str(run_a), **runs[0][2]},
        "model_b": {"run": str(run_b), **runs[1][2]},
        "classes": classes,
        "alpha": alpha,
        "analysis_plan_sha256": plan_sha,
        "method": "paired DeLong test of the AUROC difference A - B on the same records",
    }
    if ledger is not None:
        entries = []
        for which, (_, _, prints) in zip(("A", "B"), runs, strict=True):
            entry = ledger.append(
                split=split,
                model_sha256=prints["model_sha256"],
                config_sha256=prints["config_sha256"],
                analysis_plan_sha256=plan_sha,
                declaration=declaration
                if prints["model_sha256"] not in _earlier_models(ledger, entries, split)
                else None,
                metrics={
                    "paired_comparison": f"model {which} of a paired DeLong comparison",
                    **{f"auroc_{c['label']}": c.get(f"auroc_{which.lower()}") for c in classes},
                },
            )
            entries.append(entry)
        looks = ledger.looks(split)
        result["ledger"] = {
            "path": str(ledger.path),
            "entries": [{"sequence": e.sequence, "sha256": e.sha256} for e in entries],
            "n_looks": looks.n_looks,
            "n_models": looks.n_models,
            "head": ledger.head,
        }
    else:
        result["ledger"] = None
    out.mkdir(parents=True, exist_ok=True)
    write_report(paired_report(result), out)
    atomic_write_json(out / RESULT_FILE, result)
    return result


def _earlier_models(ledger, just_written, split) -> set:
    """Models that scored `split` before the entries of this comparison."""
    skip = {e.sha256 for e in just_written}
    return {e.model_sha256 for e in ledger.entries() if e.split == split and e.sha256 not in skip}

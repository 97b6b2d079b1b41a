"""The results of a study grid: one table, a forest plot, CSV, JSON and a short text.

Per cell: the mean +- SD of the held-out macro AUROC over folds with its corrected
resampled t interval (the primary figure of a cross-validation), the pooled held-out
AUROC with its patient-bootstrap interval (secondary), and, against the declared
reference cell, the per-fold paired AUROC difference with the corrected resampled t-test
(Nadeau & Bengio 2003), Holm-adjusted over every comparison with the reference
(`fold_statistics.py`, as `compare` does). Every cell's folds are checked to hold the same
records as the reference's (`cv_plan.json`) before a difference is computed.
"""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path
from typing import TYPE_CHECKING

from keras_ecgpe.data.atomic import atomic_write_bytes, atomic_write_json
from keras_ecgpe.errors import ConfigError
from keras_ecgpe.formatting import format_interval, format_number

if TYPE_CHECKING:
    from keras_ecgpe.studies.grid_spec import StudySpec

TABLE_CSV = "study_table.csv"
RESULTS_JSON = "study_results.json"
SUMMARY_TEXT = "study_summary.txt"


def _pooled(summary: dict) -> dict:
    pooled = dict(summary["pooled_auroc_mean_over_repeats"])
    statistics = summary["statistics"]
    level = f"{1.0 - statistics['alpha']:.0%}"
    pooled["method"] = (
        f"{level} percentile bootstrap over patients ({statistics['n_boot']} resamples, "
        "trained models fixed)"
        if statistics["n_boot"]
        else "no interval (evaluation.bootstrap: 0)"
    )
    return pooled


def _folds_of(cell_folder: Path) -> list:
    plan = json.loads((cell_folder / "cv_plan.json").read_text("utf-8"))
    return plan["folds"]


def study_rows(records: list, reference_id: str, folders: dict, *, alpha: float) -> list:
    """The table's rows (dicts), reference first; adds paired differences and Holm.

    Args:
        records: the cells' `cell.json` records, in grid order.
        reference_id: the reference cell's id.
        folders: `{cell id: cell folder}` (their `cv_plan.json` is compared).
        alpha: 1 - confidence level.

    Raises:
        ConfigError: a cell whose folds hold other records than the reference's.
    """
    from keras_ecgpe.studies.fold_statistics import (
        fold_sizes,
        holm_over_arms,
        paired_fold_difference,
    )

    by_id = {r["cell"]["id"]: r for r in records}
    reference = by_id[reference_id]
    ref_folds = _folds_of(folders[reference_id])
    ref_auroc = {f["fold"]: f["macro"]["auroc"] for f in reference["summary"]["per_fold"]}
    sizes = fold_sizes(reference["summary"]["per_fold"])
    ordered = [reference] + [r for r in records if r["cell"]["id"] != reference_id]
    rows = []
    for record in ordered:
        cell, summary = record["cell"], record["summary"]
        if cell["id"] != reference_id and _folds_of(folders[cell["id"]]) != ref_folds:
            raise ConfigError(
                f"{folders[cell['id']]}: the cell's folds hold other records than the "
                f"reference's ({folders[reference_id]}); its differences would not be paired"
            )
        per_fold = {f["fold"]: f["macro"]["auroc"] for f in summary["per_fold"]}
        row = {
            "cell": cell["id"],
            "label": ", ".join(f"{a}={v}" for a, v in cell["labels"].items()),
            "labels": cell["labels"],
            "transfer": cell["transfer"],
            "pretraining": cell["pretraining"],
            "init_from": record.get("init_from"),
            "reference": cell["id"] == reference_id,
            "fold_auroc": summary["primary"],
            "pooled_auroc": _pooled(summary),
            "per_fold_auroc": per_fold,
        }
        searched = sorted(folders[cell["id"]].glob("cv/*/search.json"))
        if searched:  # the hyperparameters each fold's search chose
            row["search"] = {
                p.parent.name: json.loads(p.read_text("utf-8"))["best_params"] for p in searched
            }
        if cell["id"] != reference_id:
            row["difference"] = paired_fold_difference(per_fold, ref_auroc, sizes, alpha=alpha)
        rows.append(row)
    holm_over_arms([r["difference"] for r in rows if "difference" in r])
    for row in rows:
        test = (row.get("difference") or {}).get("corrected_t") or {}
        holm = test.get("p_holm")
        row["survives_holm"] = (
            None if "difference" not in row else bool(holm is not None and holm < alpha)
        )
    return rows


def _mean_sd(entry: dict, signed: bool = False) -> str:
    mean = format_number(entry.get("mean"), signed=signed)
    return mean if entry.get("sd") is None else f"{mean} +- {format_number(entry['sd'])}"


def _ci(entry: dict, signed: bool = False) -> str:
    if entry.get("ci_low") is None or entry.get("ci_high") is None:
        return "n/a"
    return (
        f"{format_number(entry['ci_low'], signed=signed)} to "
        f"{format_number(entry['ci_high'], signed=signed)}"
    )


def markdown_table(rows: list, level: str) -> str:
    """The study table as Markdown (the README and `study_summary.txt` show it)."""
    lines = [
        f"| cell | fold AUROC mean +- SD | {level} CI (corrected t) | pooled AUROC ({level} CI) "
        f"| diff. vs reference, mean +- SD | {level} CI | p | Holm p |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for row in rows:
        diff = row.get("difference")
        test = (diff or {}).get("corrected_t") or {}
        cells = [
            row["label"] + (" (reference)" if row["reference"] else ""),
            _mean_sd(row["fold_auroc"]),
            _ci(row["fold_auroc"]),
            format_interval(row["pooled_auroc"]),
            "" if diff is None else _mean_sd(diff, signed=True),
            "" if diff is None else _ci(test, signed=True),
            "" if diff is None else format_number(test.get("p_value")),
            "" if diff is None else format_number(test.get("p_holm")),
        ]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def verdict(rows: list, alpha: float) -> str:
    """Which differences from the reference survive Holm's correction, in words."""
    compared = [r for r in rows if "difference" in r]
    reference = next(r["label"] for r in rows if r["reference"])
    if not compared:
        return "Only the reference cell was run: nothing is compared."
    tested = [r for r in compared if r["difference"]["corrected_t"] is not None]
    surviving = [r for r in compared if r["survives_holm"]]
    head = (
        f"Against the reference ({reference}), {len(compared)} per-fold paired AUROC "
        f"difference(s) were tested with the corrected resampled t-test and Holm-adjusted "
        f"together at alpha {alpha:g}."
    )
    if surviving:
        items = "; ".join(
            f"{r['label']}: {format_number(r['difference']['mean'], signed=True)} "
            f"(Holm p {format_number(r['difference']['corrected_t']['p_holm'])})"
            for r in surviving
        )
        return f"{head} {len(surviving)} survive(s) the correction: {items}."
    if not tested:
        return f"{head} None could be tested (fewer than 2 folds with an AUROC)."
    best = min(
        (r for r in tested if r["difference"]["corrected_t"].get("p_holm") is not None),
        key=lambda r: r["difference"]["corrected_t"]["p_holm"],
        default=None,
    )
    tail = (
        ""
        if best is None
        else f" (smallest Holm p {format_number(best['difference']['corrected_t']['p_holm'])}, "
        f"{best['label']}, {format_number(best['difference']['mean'], signed=True)})"
    )
    return f"{head} None survives the correction{tail}: no difference is shown."


_CSV_COLUMNS = [
    "cell",
    "label",
    "reference",
    "transfer",
    "pretraining",
    "n_folds",
    "fold_auroc_mean",
    "fold_auroc_sd",
    "fold_auroc_ci_low",
    "fold_auroc_ci_high",
    "pooled_auroc",
    "pooled_ci_low",
    "pooled_ci_high",
    "pooled_interval_method",
    "diff_mean",
    "diff_sd",
    "diff_ci_low",
    "diff_ci_high",
    "t",
    "df",
    "p",
    "p_holm",
    "folds_better",
    "folds_worse",
    "folds_tied",
    "survives_holm",
]


def table_csv(rows: list) -> str:
    """The table as CSV, one row per cell, empty where a value does not apply."""
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, _CSV_COLUMNS, lineterminator="\n")
    writer.writeheader()
    for row in rows:
        fold, pooled = row["fold_auroc"], row["pooled_auroc"]
        diff = row.get("difference") or {}
        test = diff.get("corrected_t") or {}
        values = {
            "cell": row["cell"],
            "label": row["label"],
            "reference": row["reference"],
            "transfer": row["transfer"],
            "pretraining": row["pretraining"] or "",
            "n_folds": fold["n_folds"],
            "fold_auroc_mean": fold["mean"],
            "fold_auroc_sd": fold["sd"],
            "fold_auroc_ci_low": fold.get("ci_low"),
            "fold_auroc_ci_high": fold.get("ci_high"),
            "pooled_auroc": pooled.get("value"),
            "pooled_ci_low": pooled.get("ci_low"),
            "pooled_ci_high": pooled.get("ci_high"),
            "pooled_interval_method": pooled["method"],
            "diff_mean": diff.get("mean"),
            "diff_sd": diff.get("sd"),
            "diff_ci_low": test.get("ci_low"),
            "diff_ci_high": test.get("ci_high"),
            "t": test.get("t"),
            "df": test.get("df"),
            "p": test.get("p_value"),
            "p_holm": test.get("p_holm"),
            "folds_better": diff.get("better"),
            "folds_worse": diff.get("worse"),
            "folds_tied": diff.get("ties"),
            "survives_holm": row["survives_holm"],
        }
        writer.writerow({key: "" if value is None else value for key, value in values.items()})
    return buffer.getvalue()


def summary_text(result: dict) -> str:
    """`study_summary.txt`: what was run, the table and the verdict."""
    tag = " (SYNTHETIC data)" if result["synthetic"] else ""
    folds = result["folds"]
    return "\n".join(
        [
            f"Study {result['name']}{tag}: {len(result['rows'])} cells, {folds['repeats']} x "
            f"{folds['k']} patient-level folds (the same records in every cell); the test "
            "split was not used.",
            "",
            markdown_table(result["rows"], result["level"]),
            "",
            result["verdict"],
            "",
        ]
    )


def write_results(spec: StudySpec, out: Path) -> dict:
    """Reads every cell's `cell.json` and writes the table (CSV), `study_results.json`,
    `study_summary.txt`, `forest.png` and `report.{txt,html,json}`."""
    from keras_ecgpe.reporting import write_report
    from keras_ecgpe.studies.grid_report import study_report
    from keras_ecgpe.studies.grid_runner import CELL_DONE, cell_dir

    cells = spec.cells()
    reference = spec.reference_cell()
    folders = {c.id: cell_dir(out, c) for c in cells}
    records = [json.loads((folders[c.id] / CELL_DONE).read_text("utf-8")) for c in cells]
    for record, cell in zip(records, cells):
        record["cell"]["labels"] = cell.labels  # in axis order (the JSON file sorts keys)
    statistics = records[0]["summary"]["statistics"]
    alpha = statistics["alpha"]
    rows = study_rows(records, reference.id, folders, alpha=alpha)
    result = {
        "name": spec.name,
        "study_file": spec.source,
        "synthetic": any(r["summary"].get("synthetic") for r in records),
        "folds": spec.folds,
        "reference": reference.id,
        "level": f"{1.0 - alpha:.0%}",
        "alpha": alpha,
        "primary": "per-fold paired AUROC difference against the reference cell: mean with "
        "the corrected resampled t-test (Nadeau & Bengio 2003), Holm-adjusted over the "
        "cells compared",
        "secondary": "pooled held-out AUROC with a patient bootstrap (trained models fixed)",
        "rows": rows,
        "test_split": "not used by any cell",
        "statistics": statistics,
    }
    result["verdict"] = verdict(rows, alpha)
    atomic_write_bytes(out / "study_table.csv", table_csv(rows).encode("utf-8"))
    atomic_write_bytes(out / SUMMARY_TEXT, summary_text(result).encode("utf-8"))
    write_report(study_report(result, out), out)
    atomic_write_json(out / RESULTS_JSON, result)
    return result

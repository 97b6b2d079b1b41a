"""The whole study report of one evaluation, and its lines for summary.txt."""

from __future__ import annotations

from keras_ecgpe.evaluation.study_report.accuracy import discrimination_section, points_section
from keras_ecgpe.evaluation.study_report.calibration import (
    calibration_section,
    decision_curve_section,
)
from keras_ecgpe.evaluation.study_report.cells import estimate_text
from keras_ecgpe.evaluation.study_report.design import design_section
from keras_ecgpe.evaluation.study_report.flow import baseline_section, flow_section
from keras_ecgpe.evaluation.study_report.gallery import gallery_section
from keras_ecgpe.evaluation.study_report.looks import leakage_notice, leakage_section, looks_section
from keras_ecgpe.evaluation.study_report.methods import (
    methods_section,
    secondary_section,
    warnings_section,
)
from keras_ecgpe.evaluation.study_report.subgroups import subgroups_section
from keras_ecgpe.formatting import format_number
from keras_ecgpe.reporting import Notice, Report, synthetic_banners


def build_study_report(metrics: dict) -> Report:
    """The study report of one evaluation (the dict `evaluate_run` writes to metrics.json).

    Args:
        metrics: the evaluation's metrics, with "files" naming the plots to embed.

    Returns:
        A `Report` for `keras_ecgpe.reporting.write_report`.

    Example:

    ```python
    metrics = json.loads(Path("runs/pe/eval-test/metrics.json").read_text())
    write_report(build_study_report(metrics), "runs/pe/eval-test")
    ```
    """
    split = metrics["split"] or "unsplit"
    prints, settings = metrics["fingerprints"], metrics["settings"]
    banners = synthetic_banners(metrics["synthetic"])
    if metrics["leakage"].get("accepted"):
        banners.append(leakage_notice(metrics["leakage"]))
    if split == "validation":
        banners.append(
            Notice(
                "Evaluated on the validation split, which chose the thresholds: optimistic.",
                level="warning",
            )
        )
    if not settings["plan_given"]:
        banners.append(Notice("No analysis plan given: the defaults were used.", level="note"))
    looks = metrics["looks"]
    meta = [
        f"Model: {metrics['model']} (SHA-256 {prints['model_sha256']})",
        f"Configuration SHA-256: {prints['config_sha256']} ({prints['config_hashed']})",
        f"Analysis plan SHA-256: {settings['plan_sha256']}"
        + ("" if settings["plan_given"] else " (no plan given: defaults used)"),
        f"Cache: {metrics['cache']}",
        (
            f"Looks at the test split: {looks['n_looks']} (including this one) by "
            f"{looks['n_models']} model(s); ledger head {looks['head_sha256']}"
            if looks["recorded"]
            else f"Looks: {looks['reason']}"
        ),
        f"Written {metrics.get('written_at', '')} by keras_ecgpe "
        f"{metrics.get('keras_ecgpe_version', '')}",
    ]
    report = Report(
        f"{metrics['model_name']}: diagnostic accuracy on the {split} split"
        + (" (SYNTHETIC data)" if metrics["synthetic"] else ""),
        subtitle=f"{metrics['n_records']} records of {metrics['cache']}",
        meta=meta,
        banners=banners,
    )
    return report.add(
        design_section(metrics),
        flow_section(metrics),
        baseline_section(metrics),
        looks_section(metrics),
        leakage_section(metrics),
        discrimination_section(metrics),
        points_section(metrics),
        calibration_section(metrics),
        decision_curve_section(metrics),
        subgroups_section(metrics),
        *([gallery_section(metrics)] if metrics.get("gallery") else []),
        secondary_section(metrics),
        warnings_section(metrics),
        methods_section(metrics),
    )


def study_summary_lines(metrics: dict) -> list[str]:
    """A few lines for summary.txt: looks, plan, AUROC (DeLong) and the operating points."""
    settings, looks = metrics["settings"], metrics["looks"]
    lines = [
        "Study report: report.txt / report.html / report.json in this folder.",
        f"Analysis plan SHA-256 {settings['plan_sha256']}"
        + ("" if settings["plan_given"] else " (no plan given: defaults used)"),
        (
            f"Test-split looks: {looks['n_looks']} (including this one) by "
            f"{looks['n_models']} model(s); ledger head {looks['head_sha256']}"
            if looks["recorded"]
            else f"Looks: {looks['reason']}"
        ),
    ]
    for name, entry in metrics["study"].items():
        auroc = entry["discrimination"]["auroc"]
        lines.append(
            f"{name}: AUROC {estimate_text(auroc, label='DeLong 95 % CI')}; "
            f"{entry['n_positive']} positives, {entry['n_negative']} negatives"
        )
        for point in entry["operating_points"]:
            if point.get("cut") is None:
                lines.append(f"  {point['name']}: {point['reason']}")
                continue
            lines.append(
                f"  {point['name']} (cut {format_number(point['cut'])}): sensitivity "
                f"{estimate_text(point['sensitivity'])}, specificity "
                f"{estimate_text(point['specificity'])}, PPV {estimate_text(point['ppv'])}, "
                f"NPV {estimate_text(point['npv'])} ({settings['interval_name']})"
            )
    return lines

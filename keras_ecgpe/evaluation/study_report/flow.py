"""Sections 2 and 3: participant flow (records, patients, exclusions) and baseline
characteristics per split.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from keras_ecgpe.evaluation.study_report.cells import estimate_cell
from keras_ecgpe.reporting import Cell, Column, Interval, Paragraph, Section, Table

if TYPE_CHECKING:
    from collections.abc import Mapping
    from typing import Any


def participant_flow_table(flow: dict) -> Table:
    """Records, patients, missing patient ids and positives/negatives per class and split."""
    names = flow["label_names"]
    unlabelled = any(entry["classes"][n]["unlabelled"] for entry in flow["splits"] for n in names)
    columns = [Column("Split", "text"), "Records", "Patients", "Without patient id"]
    for name in names:
        columns += [f"{name} positive", f"{name} negative"] + (
            [f"{name} unlabelled"] if unlabelled else []
        )
    rows = []
    for entry in flow["splits"]:
        label = entry["name"] + (
            " (evaluated)" if entry["split"] == flow["evaluated_split"] else ""
        )
        row = [label, entry["records"], entry["patients"], entry["records_without_patient_id"]]
        for name in names:
            counts = entry["classes"][name]
            row += [counts["positive"], counts["negative"]] + (
                [counts["unlabelled"]] if unlabelled else []
            )
        rows.append(row)
    return Table(
        "Participant flow: records and patients per split",
        columns,
        rows,
        notes=[
            "Patients: distinct patient ids; " + flow["missing_patient_id_rule"] + ".",
            "Splits are by patient (no patient in two splits; see the leakage checks).",
        ],
    )


def exclusions_block(flow: dict) -> list:
    """Records excluded when the cache was prepared, with their reasons."""
    exclusions = flow["exclusions"]
    if not exclusions.get("available"):
        return [
            Paragraph(
                f"Exclusions at prepare time: not known ({exclusions.get('reason')}). "
                f"The cache holds {flow['records_in_cache']} records."
            )
        ]
    if not exclusions["n_excluded"]:
        return [
            Paragraph(
                f"Eligible records: {flow['eligible']}; none was excluded when the cache was "
                f"prepared ({exclusions['source']})."
            )
        ]
    return [
        Paragraph(
            f"Eligible records: {flow['eligible']}; {exclusions['n_excluded']} excluded when "
            f"the cache was prepared, {flow['records_in_cache']} in the cache (reasons from "
            f"{exclusions['source']})."
        ),
        Table(
            "Records excluded at prepare time, by reason",
            [Column("Reason", "text"), "Records"],
            [[item["reason"], item["n"]] for item in exclusions["reasons"]],
        ),
    ]


def flow_section(metrics: Mapping[str, Any]) -> Section:
    flow = metrics["flow"]
    section = Section("Participant flow", "participant-flow")
    section.add(participant_flow_table(flow), *exclusions_block(flow))
    evaluated = [e for e in flow["splits"] if e["split"] == flow["evaluated_split"]]
    if evaluated and evaluated[0]["records_without_patient_id"]:
        section.add(
            Paragraph(
                f"{evaluated[0]['records_without_patient_id']} evaluated record(s) have no "
                "patient id; each counts as its own patient in the patient counts and the "
                "bootstrap."
            )
        )
    return section


def baseline_section(metrics: Mapping[str, Any]) -> Section:
    base = metrics["baseline"]
    section = Section("Baseline characteristics", "baseline")
    if not base["age_available"] and not base["sex_available"]:
        return section.add(
            Paragraph(f"Not reported: {base.get('reason', 'no age or sex in the data')}.")
        )
    no_age = no_sex = base.get("reason") or "the cache stores no age or sex"
    rows = []
    for entry in base["splits"]:
        age, sex = entry.get("age"), entry.get("sex")
        rows.append(
            [
                entry["name"],
                entry["records"],
                Cell(None, reason=no_age)
                if age is None
                else estimate_cell(
                    {"value": age["median"], "undefined": "no record with a known age"}
                ),
                Interval(None, None, reason=no_age if age is None else "no record with a known age")
                if age is None or age["q1"] is None
                else Interval(age["q1"], age["q3"]),
                Cell(None, reason=no_age) if age is None else age["missing"],
                Cell(None, reason=no_sex) if sex is None else sex["F"],
                Cell(None, reason=no_sex) if sex is None else sex["M"],
                Cell(None, reason=no_sex) if sex is None else sex["missing"],
            ]
        )
    return section.add(
        Table(
            "Baseline characteristics per split (records)",
            [
                Column("Split", "text"),
                "Records",
                Column("Age, median (years)", "one_decimal"),
                Column("Age, IQR (years)", "one_decimal"),
                "Age missing",
                "Female",
                "Male",
                "Sex missing",
            ],
            rows,
        )
    )

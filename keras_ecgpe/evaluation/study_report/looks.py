"""Sections 4 and 5: the test split's ledger of looks and the leakage checks."""

from __future__ import annotations

from typing import TYPE_CHECKING

from keras_ecgpe.reporting import Column, KeyValueList, Notice, Paragraph, Section, Table

if TYPE_CHECKING:
    from collections.abc import Mapping
    from typing import Any


def looks_section(metrics: Mapping[str, Any]) -> Section:
    looks = metrics["looks"]
    section = Section("Test-split looks", "test-looks")
    if not looks["recorded"]:
        return section.add(Paragraph(looks["reason"] + "."))
    this = looks["this_look"]
    section.add(
        KeyValueList(
            [
                ("Looks at this split (including this one)", looks["n_looks"]),
                ("Distinct models that scored it", looks["n_models"]),
                ("This look", f"entry {this['sequence']} at {this['time']}"),
                ("Ledger head SHA-256", looks["head_sha256"]),
                ("Ledger", looks["ledger"]),
            ],
            caption="Sealed test split: ledger of looks",
        ),
        Table(
            "Every look at this split",
            [
                Column("Entry", "integer"),
                Column("Time", "text"),
                Column("Model SHA-256", "text"),
                Column("Declaration", "text"),
            ],
            [
                [
                    look["sequence"],
                    look["time"],
                    look["model_sha256"][:16]
                    + (
                        " (this model)"
                        if look["model_sha256"] == metrics["fingerprints"]["model_sha256"]
                        else ""
                    ),
                    look["declaration"] or "",
                ]
                for look in looks["looks"]
            ],
            notes=["Each entry is hash-chained to the one before (docs/study.md)."],
        ),
    )
    if looks["n_looks"] > 1:
        section.add(
            Notice(
                f"The test split has been scored {looks['n_looks']} times by "
                f"{looks['n_models']} model(s): report every look, not the best one.",
                level="warning",
            )
        )
    return section


def leakage_section(metrics: Mapping[str, Any]) -> Section:
    leakage = metrics["leakage"]
    section = Section("Leakage checks", "leakage")
    if not leakage["checked"]:
        return section.add(Paragraph(leakage["reason"] + "."))
    if leakage["accepted"]:
        section.add(leakage_notice(leakage))
    pretrain = leakage["pretrain"]
    section.add(
        KeyValueList(
            [
                ("Result", leakage["summary"]),
                ("Patients in two splits", len(leakage["shared_patients"])),
                ("Recordings shared (splits or pretraining)", len(leakage["shared_recordings"])),
                ("Pretraining caches checked", ", ".join(pretrain) if pretrain else "none"),
                (
                    "Content hashes",
                    ", ".join(f"{k}: {v}" for k, v in leakage["methods"].items()),
                ),
            ],
            caption="Shared patients and recordings (checked before scoring)",
        )
    )
    for note in list(leakage.get("notes", [])) + list(leakage.get("derivation_notes", [])):
        section.add(Paragraph(f"Note: {note}."))
    return section


def leakage_notice(leakage: Mapping[str, Any]) -> Notice:
    named = []
    for p in leakage["shared_patients"]:
        named += p["record_ids"]
    for r in leakage["shared_recordings"]:
        named += [item["record_id"] for item in r["records"]]
    shown = ", ".join(dict.fromkeys(named[:20]))
    return Notice(
        f"LEAKAGE ACCEPTED (--accept-leakage): {leakage['summary']}. Records: {shown}"
        + (" ..." if len(named) > 20 else "")
        + ". These results may be optimistic.",
        level="critical",
    )

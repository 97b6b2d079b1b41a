"""The study report of one evaluation, in STARD 2015 / TRIPOD+AI order, as a `Report`.

`build_study_report(metrics)` turns the dict `evaluate_run` writes to `metrics.json` into a
`keras_ecgpe.reporting.Report`: title (with a SYNTHETIC banner), study design and analysis
plan, participant flow, baseline characteristics, test-split looks (ledger), leakage
checks, discrimination, operating points (2x2 and accuracy tables), calibration, decision
curve, subgroups, secondary figures, warnings and methods. Every undefined number is a
`Cell(None, reason=...)`, read "n/a" with its reason, never 0.

The pieces other reports reuse are public: `participant_flow_table`, `exclusions_block`,
`two_by_two_table`, `accuracy_table`, `plan_blocks`, `estimate_cell`, `interval_cell`.
"""

from __future__ import annotations

from pathlib import Path

from keras_ecgpe.evaluation.study import SECONDARY_SPECIFICITY
from keras_ecgpe.formatting import format_interval, format_number
from keras_ecgpe.reporting import (
    Cell,
    Column,
    Figure,
    Interval,
    KeyValueList,
    Notice,
    Paragraph,
    Preformatted,
    Report,
    Section,
    Table,
)

NOT_BOOTSTRAPPED = "not bootstrapped (0 resamples)"


# --- cells ------------------------------------------------------------------------------------


def estimate_cell(entry, missing: str = "not computed"):
    """A `{"value", "undefined"}` estimate as a cell: the number, or n/a with its reason."""
    if not entry:
        return Cell(None, reason=missing)
    value = entry.get("value")
    if value is None:
        return Cell(None, reason=entry.get("undefined") or missing)
    return value


def interval_cell(entry, missing: str = "not computed"):
    """The `ci_low`/`ci_high` of an estimate as an `Interval` (undefined: with the reason)."""
    if not entry or entry.get("ci_low") is None or entry.get("ci_high") is None:
        reason = (entry or {}).get("undefined") or missing
        return Interval(None, None, reason=reason)
    low, high = float(entry["ci_low"]), float(entry["ci_high"])
    return Interval(min(low, high), max(low, high))


def _estimate_text(entry, label: str = "") -> str:
    """An estimate as "value (low to high)", or "n/a (reason)" when undefined."""
    if not entry or entry.get("value") is None:
        return format_number(None, reason=(entry or {}).get("undefined") or "not computed")
    return format_interval(entry, label=label)


def _level(metrics) -> str:
    return f"{100 * metrics['settings']['level']:g} %"


# --- design and plan --------------------------------------------------------------------------


def plan_blocks(settings: dict) -> list:
    """The analysis plan as a key-value list (with its hash and where each override came
    from) and its YAML; says "no plan given: defaults used" when none was given."""
    plan, origins = settings["plan"], settings.get("origins", {})
    points = plan["operating_points"]
    source = settings.get("plan_source") if settings.get("plan_given") else None
    items = [
        (
            "Plan",
            source or ("given" if settings.get("plan_given") else "no plan given: defaults used"),
        ),
        ("Plan SHA-256", settings["plan_sha256"]),
        ("Class studied", plan["label"] or "every class"),
        ("Primary metric", plan["primary_metric"]),
        (
            "Rule-out target (chosen on validation)",
            "none"
            if points["rule_out"] is None
            else f"sensitivity >= {points['rule_out']['sensitivity']:g}",
        ),
        (
            "Rule-in target (chosen on validation)",
            "none"
            if points["rule_in"] is None
            else f"specificity >= {points['rule_in']['specificity']:g}",
        ),
        (
            "Subgroups",
            f"sex: {'yes' if plan['subgroups']['sex'] else 'no'}; age bands: "
            f"{plan['subgroups']['age_bands'] or 'none'}",
        ),
        (
            "Stated prevalence for PPV/NPV",
            Cell(None, reason="none stated: PPV/NPV at the cohort's prevalence only")
            if settings["prevalence"] is None
            else f"{settings['prevalence']:g} ({origins.get('prevalence', 'plan')})",
        ),
        ("Confidence level", f"{100 * settings['level']:g} %"),
        ("Proportion interval", f"{settings['interval_name']} ({origins.get('interval', '')})"),
        ("Bootstrap resamples", f"{settings['n_boot']} ({origins.get('n_boot', '')})"),
        ("Bootstrap seed", f"{settings['seed']} ({origins.get('seed', '')})"),
        ("Small-sample flag below", f"{plan['small_sample_min']} positives or negatives"),
    ]
    import yaml

    text = yaml.safe_dump(plan, sort_keys=False, default_flow_style=None)
    return [
        KeyValueList(items, caption="Analysis plan and overrides"),
        Preformatted(
            text, caption="The plan file's content (defaults written out; overrides above)"
        ),
    ]


def _design_section(metrics) -> Section:
    first = next(iter(metrics["study"].values()))
    points = first["operating_points"]
    primary = points[0]
    prespecified = points[1:]
    split = metrics["split"] or "unsplit"
    locked_on = metrics.get("validation_source") or "validation split"
    section = Section("Study design and analysis plan", "design")
    section.add(
        Paragraph(
            f"Index test: the {metrics['model_name']} model's output per record (its window "
            "logits aggregated as its contract states). Reference standard: the labels of "
            f"the prepared cache {metrics['cache']}. Evaluated: the {split} split, "
            f"{metrics['n_records']} records, scored once with nothing fitted or chosen on it."
        ),
        Paragraph(
            "Thresholds. A record is called positive when its raw logit is at least the cut. "
            f"The primary cut is data-driven: chosen on the training run's validation split "
            f"by {primary['method']!r}"
            + ("" if primary.get("target") is None else f" (target {primary['target']:g})")
            + ". "
            + (
                "The rule-out and rule-in cuts are prespecified by the analysis plan's "
                f"targets and were locked on the {locked_on}"
                f" before the {split} split was scored. "
                if prespecified
                else "The plan asks for no rule-out or rule-in point. "
            )
            + f"Sensitivity at {100 * SECONDARY_SPECIFICITY:g} % specificity read off the "
            f"{split} split's own ROC curve is shown only as a secondary figure."
        ),
        *plan_blocks(metrics["settings"]),
    )
    return section


# --- flow and baseline --------------------------------------------------------------------------


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


def _flow_section(metrics) -> Section:
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


def _baseline_section(metrics) -> Section:
    base = metrics["baseline"]
    section = Section("Baseline characteristics", "baseline")
    if not base["age_available"] and not base["sex_available"]:
        return section.add(
            Paragraph(f"Not reported: {base.get('reason', 'no age or sex in the data')}.")
        )
    no_age, no_sex = "the cache stores no age", "the cache stores no sex"
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
                "Age, median (years)",
                "Age, IQR",
                "Age missing",
                "Female",
                "Male",
                "Sex missing",
            ],
            rows,
        )
    )


# --- ledger and leakage -------------------------------------------------------------------------


def _looks_section(metrics) -> Section:
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


def _leakage_section(metrics) -> Section:
    leakage = metrics["leakage"]
    section = Section("Leakage checks", "leakage")
    if not leakage["checked"]:
        return section.add(Paragraph(leakage["reason"] + "."))
    if leakage["accepted"]:
        section.add(_leakage_notice(leakage))
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


def _leakage_notice(leakage) -> Notice:
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


# --- results ------------------------------------------------------------------------------------


def _discrimination_section(metrics) -> Section:
    level = _level(metrics)
    rows = []
    for name, entry in metrics["study"].items():
        d = entry["discrimination"]
        rows.append(
            [
                name,
                entry["n"],
                entry["n_positive"],
                entry["n_negative"],
                estimate_cell(d["auroc"]),
                interval_cell(d["auroc"]),
                interval_cell(d["auroc_bootstrap"]),
                estimate_cell(d["average_precision"]),
            ]
        )
    return Section("Discrimination", "discrimination").add(
        Table(
            "Discrimination on the evaluated split",
            [
                Column("Class", "text"),
                "Records",
                "Positives",
                "Negatives",
                "AUROC",
                f"{level} CI (DeLong)",
                f"{level} CI (patient bootstrap)",
                "Average precision",
            ],
            rows,
            notes=[
                "DeLong interval on the logit scale of the AUC, back-transformed; percentile "
                "patient bootstrap beside it (methods below).",
            ],
        )
    )


def _point_title(point) -> str:
    if point["kind"] == "primary":
        target = "" if point.get("target") is None else f" {point['target']:g}"
        return f"primary ({point['method']}{target}, data-driven on validation)"
    return f"{point['name']} ({point['method']} >= {point['target']:g} on validation, prespecified)"


def two_by_two_table(point: dict, label: str) -> Table:
    """The cross tabulation of test result by reference standard at one operating point."""
    t = point["table"]
    prevalence = "n/a" if t["prevalence"] is None else f"{100 * t['prevalence']:.1f} %"
    return Table(
        f"2x2 table, {label}, {_point_title(point)}: logit cut {format_number(point['cut'])}",
        [Column("", "text"), "Reference positive", "Reference negative", "Total"],
        [
            ["Test positive", t["tp"], t["fp"], t["tp"] + t["fp"]],
            ["Test negative", t["fn"], t["tn"], t["fn"] + t["tn"]],
            ["Total", t["n_positive"], t["n_negative"], t["n"]],
        ],
        notes=[f"Prevalence in the evaluated records: {prevalence}."],
    )


def accuracy_table(point: dict, label: str, *, interval_name: str, level: str) -> Table:
    """Sensitivity, specificity, PPV, NPV with the exact (or Wilson) interval, the patient
    bootstrap beside it, the value reached on validation, and PPV/NPV at a stated
    prevalence."""
    boot = point.get("bootstrap") or {}
    validation = point.get("validation") or {}
    missing_boot = NOT_BOOTSTRAPPED if not boot else "not bootstrapped"

    def reached(key):
        value = validation.get(key)
        return Cell(None, reason="not available") if value is None else value

    not_for = Cell(None, reason="cuts target sensitivity or specificity only")
    t = point["table"]
    cohort = "n/a" if t["prevalence"] is None else f"{100 * t['prevalence']:.1f} %"
    rows = [
        [
            "Sensitivity",
            estimate_cell(point["sensitivity"]),
            interval_cell(point["sensitivity"]),
            interval_cell(boot.get("sensitivity"), missing_boot),
            reached("sensitivity"),
        ],
        [
            "Specificity",
            estimate_cell(point["specificity"]),
            interval_cell(point["specificity"]),
            interval_cell(boot.get("specificity"), missing_boot),
            reached("specificity"),
        ],
        [
            f"PPV (cohort, {cohort})",
            estimate_cell(point["ppv"]),
            interval_cell(point["ppv"]),
            Interval(None, None, reason="not bootstrapped"),
            not_for,
        ],
        [
            f"NPV (cohort, {cohort})",
            estimate_cell(point["npv"]),
            interval_cell(point["npv"]),
            Interval(None, None, reason="not bootstrapped"),
            not_for,
        ],
    ]
    notes = [
        f"{interval_name} for sensitivity, specificity and the cohort's PPV/NPV "
        "(records as independent); percentile patient bootstrap beside them."
    ]
    stated = point.get("at_prevalence")
    if stated:
        for key in ("ppv", "npv"):
            rows.append(
                [
                    f"{key.upper()} (stated, {100 * stated['prevalence']:g} %)",
                    estimate_cell(stated[key]),
                    interval_cell(stated[key]),
                    Interval(None, None, reason="not bootstrapped"),
                    not_for,
                ]
            )
        notes.append(
            "PPV/NPV at the stated prevalence: Bayes from sensitivity and specificity; "
            f"estimate and interval: {stated['ppv']['method']}."
        )
        notes += [
            f"{key.upper()} at the stated prevalence without the adjustment: "
            f"{format_number(stated[key]['unadjusted_value'])}."
            for key in ("ppv", "npv")
            if stated[key].get("unadjusted_value") is not None
        ]
    notes += [f"Small sample: {w}." for w in point.get("warnings", [])]
    notes += [f"Unreliable: {w}." for w in point.get("bootstrap_warnings", [])] if boot else []
    return Table(
        f"Accuracy, {label}, {_point_title(point)}",
        [
            Column("Measure", "text"),
            "Estimate",
            f"{level} CI ({interval_name.split(' ')[0]})",
            f"{level} CI (patient bootstrap)",
            "Reached on validation",
        ],
        rows,
        notes=notes,
    )


def _points_section(metrics) -> Section:
    settings = metrics["settings"]
    section = Section("Operating points", "operating-points")
    section.add(
        Paragraph(
            "Each cut was locked on validation data before the evaluated split was scored; "
            "the values below are what it achieved on the evaluated split."
        )
    )
    summary = []
    for name, entry in metrics["study"].items():
        for point in entry["operating_points"]:
            if point.get("cut") is None:
                summary.append(
                    [name, point["name"], Cell(None, reason=point["reason"])]
                    + [Cell(None, reason=point["reason"])] * 4
                )
                continue
            summary.append(
                [
                    name,
                    point["name"],
                    point["cut"],
                    estimate_cell(point["sensitivity"]),
                    interval_cell(point["sensitivity"]),
                    estimate_cell(point["specificity"]),
                    interval_cell(point["specificity"]),
                ]
            )
    section.add(
        Table(
            "Operating points at a glance",
            [
                Column("Class", "text"),
                Column("Point", "text"),
                "Logit cut",
                "Sensitivity",
                f"{_level(metrics)} CI",
                "Specificity",
                f"{_level(metrics)} CI",
            ],
            summary,
            notes=[f"Intervals: {settings['interval_name']}."],
        )
    )
    for name, entry in metrics["study"].items():
        for point in entry["operating_points"]:
            if point.get("cut") is None:
                section.add(Paragraph(f"{name}, {point['name']}: {point['reason']}."))
                continue
            section.add(
                two_by_two_table(point, name),
                accuracy_table(
                    point,
                    name,
                    interval_name=settings["interval_name"],
                    level=_level(metrics),
                ),
            )
    return section


def _figure(metrics, key, caption, alt):
    path = metrics.get("files", {}).get(key)
    if not path or not Path(path).is_file():
        return None
    return Figure(Path(path), caption=caption, alt=alt)


def _calibration_section(metrics) -> Section:
    level = _level(metrics)
    section = Section("Calibration", "calibration")
    c = metrics["calibration"]
    section.add(
        Paragraph(
            "On the calibrated probabilities sigmoid(logit / T + b), with temperature "
            f"T = {c['temperature']:.3f} and bias b = "
            f"{', '.join(f'{b:+.3f}' for b in c['bias'])} fitted on the validation split."
        )
    )
    for name, entry in metrics["study"].items():
        cal = entry["calibration"]
        if "undefined" in cal:
            section.add(Paragraph(f"{name}: calibration not assessed ({cal['undefined']})."))
            continue
        fit, ece, floor = cal["intercept_slope"], cal["ece"], cal["ece"]["noise_floor"]
        section.add(
            Table(
                f"Calibration, {name}",
                [Column("Measure", "text"), "Estimate", f"{level} CI", Column("Ideal", "text")],
                [
                    [
                        "Calibration-in-the-large",
                        estimate_cell(fit["intercept"]),
                        interval_cell(fit["intercept"]),
                        "0",
                    ],
                    [
                        "Calibration slope",
                        estimate_cell(fit["slope"]),
                        interval_cell(fit["slope"]),
                        "1",
                    ],
                    [
                        "Brier score",
                        cal["brier"]["value"],
                        Interval(None, None, reason="no interval computed"),
                        "0",
                    ],
                    [
                        f"ECE ({ece['n_bins']} bins)",
                        ece["ece"],
                        Interval(ece["ci_low"], ece["ci_high"]),
                        "0",
                    ],
                    [
                        f"ECE noise floor at n = {entry['n']}: mean (95th percentile)",
                        floor["mean"],
                        Cell(f"95th percentile {format_number(floor['p95'])}"),
                        "-",
                    ],
                ],
                notes=[
                    "Intercept and slope: " + fit["method"] + ".",
                    "ECE interval: " + ece["method"] + f", {ece['n_boot']} resamples by "
                    f"{ece['resampled_by']}. Noise floor: {floor['method']} "
                    f"({floor['n_sim']} simulations); an ECE below its 95th percentile is no "
                    "evidence of miscalibration.",
                ],
            )
        )
    figure = _figure(
        metrics,
        "calibration",
        "Reliability diagram of the calibrated probabilities",
        "Observed positive rate against mean predicted probability per bin",
    )
    if figure:
        section.add(figure)
    return section


def _decision_section(metrics) -> Section:
    section = Section("Decision curve", "decision-curve")
    section.add(
        Paragraph(
            "Net benefit of referring a patient when the calibrated probability is at least "
            "the threshold probability, against referring everyone (treat all) and no one "
            "(treat none), over the thresholds relevant to PE work-up."
        )
    )
    single = len(metrics["study"]) == 1
    for name, entry in metrics["study"].items():
        curve = entry["decision_curve"]
        if "rows" not in curve:
            section.add(Paragraph(f"{name}: not computed ({curve['undefined']})."))
            continue
        section.add(
            Table(
                f"Net benefit, {name}",
                [
                    Column("Threshold probability", "percent"),
                    Column("Model", "signed"),
                    Column("Treat all", "signed"),
                    Column("Treat none", "signed"),
                    "Referred true positives",
                    "Referred false positives",
                ],
                [
                    [
                        r["threshold"],
                        r["net_benefit_model"],
                        r["net_benefit_treat_all"],
                        r["net_benefit_treat_none"],
                        r["tp"],
                        r["fp"],
                    ]
                    for r in curve["rows"]
                ],
                notes=[curve["method"] + "."],
            )
        )
        key = "decision_curve" if single else f"decision_curve_{name}"
        figure = _figure(
            metrics,
            key,
            f"Decision curve, {name}",
            "Net benefit of the model, treat all and treat none by threshold probability",
        )
        if figure:
            section.add(figure)
    return section


def _subgroups_section(metrics) -> Section:
    level = _level(metrics)
    section = Section("Subgroups", "subgroups")
    for name, entry in metrics["study"].items():
        for note in entry["subgroup_notes"]:
            section.add(Paragraph(f"{name}, {note}."))
        if not entry["subgroups"]:
            continue
        rows = []
        for g in entry["subgroups"]:
            rows.append(
                [
                    f"{g['kind']}: {g['group']}",
                    g["n"],
                    g["n_positive"],
                    g["n_negative"],
                    estimate_cell(g["auroc"]),
                    interval_cell(g["auroc"]),
                    estimate_cell(g["sensitivity"]),
                    interval_cell(g["sensitivity"]),
                    estimate_cell(g["specificity"]),
                    interval_cell(g["specificity"]),
                    "small: " + "; ".join(g["warnings"]) if g["small"] else "",
                ]
            )
        section.add(
            Table(
                f"Subgroups, {name} (primary operating point)",
                [
                    Column("Subgroup", "text"),
                    "Records",
                    "Positives",
                    "Negatives",
                    "AUROC",
                    f"{level} CI (DeLong)",
                    "Sensitivity",
                    f"{level} CI",
                    "Specificity",
                    f"{level} CI",
                    Column("Flag", "text"),
                ],
                rows,
                notes=[
                    f"Sensitivity and specificity: {metrics['settings']['interval_name']}. "
                    "Small subgroups are shown and flagged, not hidden."
                ],
            )
        )
    if not section.blocks:
        section.add(Paragraph("The analysis plan asks for no subgroups."))
    return section


def _secondary_section(metrics) -> Section:
    section = Section("Secondary figures", "secondary")
    rows = []
    for name, entry in metrics["study"].items():
        rows.append([name, estimate_cell(entry["secondary"]["sensitivity_at_specificity"])])
    section.add(
        Table(
            f"Secondary: sensitivity at {100 * SECONDARY_SPECIFICITY:g} % specificity",
            [Column("Class", "text"), "Sensitivity"],
            rows,
            notes=[
                "Read off the evaluated split's own ROC curve (the threshold is chosen on "
                "these data): optimistic, not an operating point."
            ],
        )
    )
    for key, caption, alt in (
        ("roc", "ROC curve (primary operating point marked)", "ROC curve per class"),
        ("pr", "Precision-recall curve", "Precision against recall per class"),
    ):
        figure = _figure(metrics, key, caption, alt)
        if figure:
            section.add(figure)
    return section


def report_warnings(metrics) -> list[str]:
    """Every warning of the evaluation, in one list (small samples, bootstrap, leakage)."""
    out = []
    if metrics["split"] == "validation":
        out.append(
            "the validation split chose the thresholds and the calibration: these figures "
            "are optimistic"
        )
    if metrics["leakage"].get("accepted"):
        out.append("leakage was accepted with --accept-leakage: " + metrics["leakage"]["summary"])
    for name, entry in metrics["study"].items():
        out += [f"{name}: {w}" for w in entry["warnings"]]
        for point in entry["operating_points"]:
            if point.get("cut") is None:
                out.append(f"{name}, {point['name']}: {point['reason']}")
        d = entry["discrimination"]["auroc"]
        if d.get("warning"):
            out.append(f"{name}: {d['warning']}")
    return out


def _warnings_section(metrics) -> Section:
    section = Section("Warnings", "warnings")
    warnings = report_warnings(metrics)
    if not warnings:
        return section.add(Paragraph("None."))
    return section.add(*[Notice(w, level="warning") for w in warnings])


def _methods_section(metrics) -> Section:
    settings = metrics["settings"]
    first = next(iter(metrics["study"].values()))
    boot = first["bootstrap"]
    level = _level(metrics)
    items = [
        ("Decision rule", "positive when the raw logit >= the logit cut (cuts stored as logits)"),
        (
            "Sensitivity, specificity, PPV, NPV",
            f"{settings['interval_name']}, {level}; records treated as independent "
            "(statsmodels proportion_confint)",
        ),
        (
            "Beside them",
            f"{boot['method']}, {boot['n_boot']} resamples, seed {boot['seed']}; "
            f"{boot['n_used']} used, {boot['n_skipped']} skipped (no positive or no negative "
            "drawn); a record without a patient id is its own patient; flagged unreliable "
            "below 30 positives or negatives",
        ),
        (
            "PPV and NPV at a stated prevalence",
            "Bayes from sensitivity and specificity; logit interval of Mercaldo, Lau & Zhou "
            "(2007), adjusted when a count is 0",
        ),
        (
            "AUROC",
            "Mann-Whitney; DeLong (1988) variance by the midrank algorithm of Sun & Xu "
            "(2014), interval on the logit scale",
        ),
        (
            "Calibration",
            "intercept (calibration-in-the-large, logit(p) as offset) and slope by logistic "
            "regression (statsmodels GLM), Wald intervals; Brier score; ECE with equal-width "
            "bins, percentile bootstrap interval and a simulated noise floor",
        ),
        ("Decision curve", "net benefit (Vickers & Elkin 2006) on calibrated probabilities"),
        ("Subgroups", "as above, at the primary operating point"),
        ("Statistics reference", "docs/statistics.md and docs/study.md of keras_ecgpe"),
    ]
    return Section("Methods", "methods").add(KeyValueList(items, caption="Every method named"))


# --- the whole report ---------------------------------------------------------------------------


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
    banners = []
    if metrics["synthetic"]:
        banners.append(
            Notice(
                "SYNTHETIC DATA: these numbers show that the pipeline works, and say nothing "
                "about how well real ECGs are read.",
                level="critical",
            )
        )
    if metrics["leakage"].get("accepted"):
        banners.append(_leakage_notice(metrics["leakage"]))
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
        _design_section(metrics),
        _flow_section(metrics),
        _baseline_section(metrics),
        _looks_section(metrics),
        _leakage_section(metrics),
        _discrimination_section(metrics),
        _points_section(metrics),
        _calibration_section(metrics),
        _decision_section(metrics),
        _subgroups_section(metrics),
        _secondary_section(metrics),
        _warnings_section(metrics),
        _methods_section(metrics),
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
            f"{name}: AUROC {_estimate_text(auroc, label='DeLong 95 % CI')}; "
            f"{entry['n_positive']} positives, {entry['n_negative']} negatives"
        )
        for point in entry["operating_points"]:
            if point.get("cut") is None:
                lines.append(f"  {point['name']}: {point['reason']}")
                continue
            lines.append(
                f"  {point['name']} (cut {format_number(point['cut'])}): sensitivity "
                f"{_estimate_text(point['sensitivity'])}, specificity "
                f"{_estimate_text(point['specificity'])}, PPV {_estimate_text(point['ppv'])}, "
                f"NPV {_estimate_text(point['npv'])} ({settings['interval_name']})"
            )
    return lines

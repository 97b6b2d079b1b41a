"""Section 1 of the study report: study design, thresholds and the analysis plan."""

from __future__ import annotations

from typing import TYPE_CHECKING

from keras_ecgpe.evaluation.study import SECONDARY_SPECIFICITY
from keras_ecgpe.reporting import Cell, KeyValueList, Paragraph, Preformatted, Section

if TYPE_CHECKING:
    from collections.abc import Mapping
    from typing import Any


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
    overrides = plan_overrides(settings)
    caption = "The plan as hashed above (defaults written out), before any override"
    caption += (
        ". Overridden for this evaluation: "
        + "; ".join(
            f"{o['key']} {_yaml_value(o['written'])} -> {_yaml_value(o['used'])} ({o['origin']})"
            for o in overrides
        )
        + "."
        if overrides
        else "; nothing overrode it."
    )
    return [
        KeyValueList(items, caption="Analysis plan and overrides"),
        Preformatted(_plan_yaml(plan, overrides), caption=caption),
    ]


# The plan's values an option or the run's configuration can replace: (plan keys, setting).
_OVERRIDABLE = (
    (("bootstrap", "resamples"), "n_boot"),
    (("bootstrap", "seed"), "seed"),
    (("intervals", "proportion"), "interval"),
    (("target_prevalence",), "prevalence"),
)


def plan_overrides(settings: dict) -> list[dict]:
    """The plan's values replaced for this evaluation, each as `{"key", "written", "used",
    "origin"}` (`key` dotted as in the plan file).

    Example:
    >>> plan = {"bootstrap": {"resamples": 2000, "seed": 0},
    ...         "intervals": {"proportion": "wilson"}, "target_prevalence": None}
    >>> plan_overrides({"plan": plan, "n_boot": 1000, "seed": 0, "interval": "wilson",
    ...                 "prevalence": None, "origins": {"n_boot": "option --bootstrap"}})
    [{'key': 'bootstrap.resamples', 'written': 2000, 'used': 1000, 'origin': 'option --bootstrap'}]
    """
    out = []
    for keys, setting in _OVERRIDABLE:
        written = settings["plan"]
        for key in keys:
            written = written[key]
        if settings[setting] != written:
            out.append(
                {
                    "key": ".".join(keys),
                    "written": written,
                    "used": settings[setting],
                    "origin": settings.get("origins", {}).get(setting, ""),
                }
            )
    return out


def _yaml_value(value) -> str:
    return "null" if value is None else f"{value:g}" if isinstance(value, float) else str(value)


def _plan_yaml(plan: dict, overrides: list[dict]) -> str:
    """The plan's YAML; a line with overridden values ends in a comment naming those used."""
    import yaml

    lines = yaml.safe_dump(plan, sort_keys=False, default_flow_style=None).splitlines()
    used: dict[str, list[str]] = {}
    for o in overrides:
        top, _, leaf = o["key"].partition(".")
        used.setdefault(top, []).append(f"{leaf or top} {_yaml_value(o['used'])}")
    for index, line in enumerate(lines):
        # Leaf mappings are written in flow style, so each top-level key is one line.
        top = line.partition(":")[0]
        if top in used and not line.startswith(" "):
            lines[index] += "  # used: " + ", ".join(used[top])
    return "\n".join(lines) + "\n"


def design_section(metrics: Mapping[str, Any]) -> Section:
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

"""`ecgpe-keras predict`: score record files with a trained or exported model."""

from __future__ import annotations

import csv
import io
import json

import click

from keras_ecgpe.cli.errors import reported_errors


@click.command()
@click.argument("model", type=click.Path(exists=True))
@click.argument("records", nargs=-1, required=True)
@click.option("--json", "as_json", is_flag=True, help="Print a JSON list.")
@click.option("--csv", "as_csv", is_flag=True, help="Print CSV.")
@click.option(
    "--explain",
    is_flag=True,
    help="Integrated gradients of the record logit: per-lead shares and top segments "
    "(a .tflite is explained through its run's .keras).",
)
@click.option(
    "--plot",
    "plot_dir",
    type=click.Path(file_okay=False),
    help="With --explain: draw each record with its attribution, DIR/<record>.png.",
)
@click.option("--label", help="With --explain: the label to explain (default PE).")
@click.option(
    "--steps",
    type=click.IntRange(8, 1024),
    default=64,
    show_default=True,
    help="With --explain: integration steps.",
)
def predict(
    model: str,
    records: tuple[str, ...],
    as_json: bool,
    as_csv: bool,
    explain: bool,
    plot_dir: str | None,
    label: str | None,
    steps: int,
) -> None:
    """Score RECORDS with MODEL (.keras + contract.json, run directory, .tflite or bundle).

    The model file is checked first: a finished run's against its checksums.json, a .tflite
    against the SHA-256 in its bundle's model.json; a mismatch is refused.

    Applies the model's recorded preprocessing, sliding windows and aggregation; a record
    is positive when its raw logit reaches the stored logit cut (the rule `evaluate`
    applies), and the calibrated probability is shown beside it. Records that do not fit
    get a message; the others are still scored (exit code 1 if any failed). --explain
    adds where the model looked (docs/explain.md).
    """
    from keras_ecgpe.inference import Predictor

    if as_json and as_csv:
        raise click.UsageError("choose one of --json and --csv")
    if (plot_dir is not None or label is not None) and not explain:
        raise click.UsageError("--plot and --label go with --explain")
    if explain and as_csv:
        raise click.UsageError("--explain prints text or --json, not --csv")
    with reported_errors():
        predictor = Predictor.load(model)
        if explain:
            from keras_ecgpe.explain import Explainer
            from keras_ecgpe.explain.files import explain_files

            explainer = Explainer.load(model)
            results = explain_files(
                predictor, explainer, records, label=label, steps=steps, plot_dir=plot_dir
            )
        else:
            results = predictor.predict_files(records)
    if as_json:
        click.echo(json.dumps(results, indent=2))
    elif as_csv:
        click.echo(_csv(results, predictor.labels), nl=False)
    else:
        for entry in results:
            click.echo(_line(entry))
    if any("error" in entry for entry in results):
        raise SystemExit(1)


def _line(entry: dict) -> str:
    if "error" in entry:
        return f"{entry['record']}: ERROR {entry['error']}"
    scores = ", ".join(
        f"{label} p={p:.3f} -> {entry['decisions'][label]}"
        for label, p in entry["probabilities"].items()
    )
    line = f"{entry['record']}: {scores} ({entry['windows']} windows)"
    return line if "explanation" not in entry else f"{line}\n{_explanation(entry['explanation'])}"


def _explanation(how: dict) -> str:
    shares = sorted(how["lead_shares"].items(), key=lambda item: -item[1])[:4]
    segments = ", ".join(
        f"{s['start_s']:g}-{s['end_s']:g} s ({100 * s['share']:.0f} %, {'/'.join(s['leads'])})"
        for s in how["top_segments"]
    )
    lines = [
        f"  {how['label']} logit {how['logit']:+.3f} from baseline {how['baseline_logit']:+.3f}"
        f" ({how['method']}, {how['steps']} steps, completeness gap "
        f"{how['completeness_gap']:+.4f})",
        "  leads: " + ", ".join(f"{lead} {100 * share:.0f} %" for lead, share in shares),
        f"  segments: {segments}",
    ]
    if "plot" in how:
        lines.append(f"  plot: {how['plot']}")
    return "\n".join(lines)


def _csv(results: list, labels: list) -> str:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(
        ["record"]
        + [f"{label}_probability" for label in labels]
        + [f"{label}_decision" for label in labels]
        + ["error"]
    )
    for entry in results:
        if "error" in entry:
            writer.writerow([entry["record"]] + [""] * (2 * len(labels)) + [entry["error"]])
        else:
            writer.writerow(
                [entry["record"]]
                + [f"{entry['probabilities'][x]:.6f}" for x in labels]
                + [entry["decisions"][x] for x in labels]
                + [""]
            )
    return buffer.getvalue()

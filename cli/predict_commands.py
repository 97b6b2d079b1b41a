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
def predict(model: str, records: tuple[str, ...], as_json: bool, as_csv: bool) -> None:
    """Score RECORDS with MODEL (.keras + contract.json, run directory, or .tflite).

    Applies the model's recorded preprocessing, sliding windows and aggregation; a record
    is positive when its raw logit reaches the stored logit cut (the rule `evaluate`
    applies), and the calibrated probability is shown beside it. Records that do not fit
    get a message; the others are still scored (exit code 1 if any failed).
    """
    from keras_ecgpe.inference import Predictor

    if as_json and as_csv:
        raise click.UsageError("choose one of --json and --csv")
    with reported_errors():
        predictor = Predictor.load(model)
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
    return f"{entry['record']}: {scores} ({entry['windows']} windows)"


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

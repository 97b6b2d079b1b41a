"""`ecgpe-keras export` (verified TFLite bundle) and `ecgpe-keras predict` (score records)."""

from __future__ import annotations

import csv
import io
import json

import click

from keras_ecgpe.cli.errors import reported_errors
from keras_ecgpe.export.qat import DEFAULT_PRUNE_EPOCHS, DEFAULT_QAT_EPOCHS

MODES = ("none", "float16", "dynamic", "int8", "int16x8")


@click.command()
@click.argument("run_or_model", type=click.Path(exists=True))
@click.option("--tflite", is_flag=True, required=True, help="Export to TFLite (required).")
@click.option(
    "--quantize",
    type=click.Choice(MODES),
    default="none",
    show_default=True,
    help="Precision; dynamic, int8 and int16x8 quantise weights (int8/int16x8 "
    "calibrate on the run's real training windows).",
)
@click.option(
    "--out",
    "out_dir",
    type=click.Path(file_okay=False),
    help="Bundle folder [default: RUN/export/<precision>].",
)
@click.option("--target", type=click.Choice(["micro"]), help="Refuse WHILE loops (TFLite Micro).")
@click.option("--int8-io", is_flag=True, help="int8 input/output tensors (--quantize int8).")
@click.option(
    "--max-auroc-drop",
    type=float,
    help="Largest AUROC loss allowed [default: 0.01 int8/int16x8, else 0.005].",
)
@click.option("--force", is_flag=True, help="Write the model even if the parity gate fails.")
@click.option(
    "--overwrite",
    is_flag=True,
    help="Replace an existing bundle folder (as a whole, once the new one is ready).",
)
@click.option("--c-array", is_flag=True, help="Also write model_data.cc/.h for TFLite Micro.")
@click.option(
    "--calibration-samples",
    type=click.IntRange(min=1),
    default=300,
    show_default=True,
    help="Training windows used for calibration.",
)
@click.option(
    "--cache",
    type=click.Path(file_okay=False),
    help="The run's prepared cache, if it moved from where contract.json says.",
)
@click.option(
    "--qat",
    is_flag=True,
    help="Quantisation-aware fine-tune on the run's training windows, then full "
    "int8 (convolutional families; needs the [qat] extra).",
)
@click.option(
    "--qat-epochs",
    type=click.IntRange(min=1),
    default=DEFAULT_QAT_EPOCHS,
    show_default=True,
    help="Epochs of the QAT fine-tune.",
)
@click.option(
    "--prune",
    type=click.FloatRange(0, 1, min_open=True, max_open=True),
    metavar="SPARSITY",
    help="Prune every kernel to this share of zeros while "
    "fine-tuning, then convert in --quantize's mode.",
)
@click.option(
    "--prune-epochs",
    type=click.IntRange(min=1),
    default=DEFAULT_PRUNE_EPOCHS,
    show_default=True,
    help="Epochs of the pruning fine-tune.",
)
@click.option(
    "--finetune-lr",
    type=click.FloatRange(0, min_open=True),
    help="Learning rate of the QAT/pruning fine-tune [default: a tenth of the "
    "run's, 1e-4 without config.yaml].",
)
def export(
    run_or_model,
    tflite,
    quantize,
    out_dir,
    target,
    int8_io,
    max_auroc_drop,
    force,
    overwrite,
    c_array,
    calibration_samples,
    cache,
    qat,
    qat_epochs,
    prune,
    prune_epochs,
    finetune_lr,
) -> None:
    """Export RUN_OR_MODEL (run directory or .keras with contract.json) to a verified .tflite.

    Writes model.tflite (contract embedded), model.json, golden.npz, parity.json and
    parity.txt, into a folder that appears whole (an existing bundle is replaced only with
    --overwrite). Exits non-zero, without writing the model, when the AUROC drop on the
    validation records exceeds --max-auroc-drop (unless --force). --qat and --prune
    fine-tune in a child process (tensorflow-model-optimization) and pass the same gate
    against the run's own model.
    """
    from keras_ecgpe.export.bundle import export_run
    from keras_ecgpe.export.verify import ParityError

    with reported_errors():
        try:
            result = export_run(
                run_or_model,
                mode=quantize,
                out_dir=out_dir,
                target=target,
                int8_io=int8_io,
                max_auroc_drop=max_auroc_drop,
                force=force,
                c_array=c_array,
                calibration_samples=calibration_samples,
                cache=cache,
                qat=qat,
                qat_epochs=qat_epochs,
                prune=prune,
                prune_epochs=prune_epochs,
                finetune_lr=finetune_lr,
                overwrite=overwrite,
            )
        except ParityError as exc:
            click.echo(exc.report.to_text(), err=True, nl=False)
            raise
    click.echo(result.report.to_text(), nl=False)
    facts = result.model_json["file"]
    click.echo(
        f"wrote {result.out_dir} ({facts['size_bytes']} bytes, sha256 "
        f"{facts['sha256'][:16]}...): {', '.join(p.name for p in result.files)}"
    )


@click.command()
@click.argument("model", type=click.Path(exists=True))
@click.argument("records", nargs=-1, required=True)
@click.option("--json", "as_json", is_flag=True, help="Print a JSON list.")
@click.option("--csv", "as_csv", is_flag=True, help="Print CSV.")
def predict(model, records, as_json, as_csv) -> None:
    """Score RECORDS with MODEL (.keras + contract.json, run directory, or .tflite).

    Applies the model's recorded preprocessing, sliding windows and aggregation, then
    sigmoid and the stored thresholds. Records that do not fit get a message; the others
    are still scored (exit code 1 if any failed).
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

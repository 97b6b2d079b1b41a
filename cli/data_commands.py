"""`ecgpe-keras data ...`: inspect records, prepare caches, write the synthetic demo."""

from __future__ import annotations

import functools
import json

import click

from keras_ecgpe.cli.errors import reported_errors
from keras_ecgpe.cli.prepare_command import prepare
from keras_ecgpe.limits import MAX_DEMO_RECORDS, MAX_SEED


@click.group()
def data() -> None:
    """Read, inspect and prepare ECG datasets."""


data.add_command(prepare)


@data.command()
@click.argument("records", nargs=-1, required=True)
@click.option("--json", "as_json", is_flag=True, help="Print a JSON list.")
@click.option(
    "--plot",
    "plot_dir",
    type=click.Path(file_okay=False),
    help="Draw each record as a 12-lead paper printout, DIR/<record>.png (never overwritten).",
)
@click.option(
    "--model",
    type=click.Path(exists=True),
    help="With --plot: also draw each record after MODEL's preprocessing "
    "(DIR/<record>_preprocessed.png).",
)
@click.option(
    "--allow-absolute-paths",
    is_flag=True,
    help="Also read files that symbolic links (or a WFDB header's signal file names) lead "
    "to outside the record's folder; by default they are refused.",
)
def inspect(
    records: tuple[str, ...],
    as_json: bool,
    plot_dir: str | None,
    model: str | None,
    allow_absolute_paths: bool,
) -> None:
    """Describe RECORD files (a path with or without extension).

    Every record is read through the package's readers: format, fs, samples, duration,
    canonical leads present, units, labels and the lead-mapping policy applied. Records
    that cannot be read get a message; the others are still shown (exit code 1). Files are
    read in a worker process, so a reader crashing on a corrupt file is reported too. Only
    files inside each record's folder are read (links resolved first).
    --plot draws the standard layout (3 x 4 leads + lead II rhythm strip, 25 mm/s,
    10 mm/mV) at the record's own fs in mV.
    """
    from keras_ecgpe.data.isolation import map_isolated
    from keras_ecgpe.data.readers import inspect_record

    if model is not None and plot_dir is None:
        raise click.UsageError("--model draws the preprocessed record: it needs --plot DIR")
    results, failures = [], 0
    read = functools.partial(inspect_record, allow_outside=allow_absolute_paths)
    for path, summary, error in map_isolated(read, records):
        if error is not None:
            failures += 1
        results.append(summary if error is None else {"record": path, "error": error})
    if plot_dir is not None:
        failures += _plot_records(records, plot_dir, model, results)
    if as_json:
        click.echo(json.dumps(results, indent=2))
    else:
        for entry in results:
            click.echo(_describe(entry))
    if failures:
        raise SystemExit(1)


def _plot_records(records: tuple[str, ...], plot_dir: str, model: str | None, results: list) -> int:
    """Draws the records into `plot_dir`, adding "plots" (and new errors) to `results`;
    returns how many records newly failed."""
    from keras_ecgpe.explain.files import plot_record_files
    from keras_ecgpe.inference import Predictor

    with reported_errors():
        predictor = None if model is None else Predictor.load(model)
        drawn = plot_record_files(records, plot_dir, predictor=predictor)
    failures = 0
    for entry, plotted in zip(results, drawn):
        entry["plots"] = plotted.get("plots", [])
        if "error" in plotted and "error" not in entry:
            entry["error"], failures = plotted["error"], failures + 1
    return failures


def _describe(entry: dict) -> str:
    if "error" in entry:
        plots = "".join(f"\n  plot: {path}" for path in entry.get("plots", []))
        return f"{entry['record']}: ERROR {entry['error']}{plots}"
    labels = ",".join(entry["labels"]) or "-"
    return (
        f"{entry['record']}: {entry['format']}, {entry['fs']:g} Hz, "
        f"{entry['n_samples']} samples ({entry['duration_s']:.2f} s), units {entry['units']}, "
        f"leads {','.join(entry['leads'])}, labels {labels}, "
        f"lead policy: {entry['lead_policy']}"
    ) + "".join(f"\n  plot: {path}" for path in entry.get("plots", []))


@data.command()
@click.argument("out", type=click.Path(file_okay=False))
@click.option(
    "--n-ptbxl",
    type=click.IntRange(1, MAX_DEMO_RECORDS),
    default=2000,
    show_default=True,
    help="Synthetic PTB-XL-style records.",
)
@click.option(
    "--n-pe",
    type=click.IntRange(1, MAX_DEMO_RECORDS),
    default=900,
    show_default=True,
    help="Synthetic PE-cohort records.",
)
@click.option("--seed", type=click.IntRange(0, MAX_SEED), default=0, show_default=True)
@click.option(
    "--prepare/--no-prepare",
    "also_prepare",
    default=True,
    show_default=True,
    help="Also prepare both sets into caches under OUT/cache (100 Hz, band-pass).",
)
def demo(out: str, n_ptbxl: int, n_pe: int, seed: int, also_prepare: bool) -> None:
    """Write the embedded SYNTHETIC demo data to OUT (real file formats, fake patients).

    A PTB-XL-style multi-label set (NORM, MI, STTC, CD, HYP) and a PE cohort shaped like
    the reference study's (about 900 records, a quarter positive), then, by default, their
    prepared caches. Every file says it is synthetic: no accuracy on it says anything
    about real ECGs.
    """
    from keras_ecgpe.data.demo import prepare_demo
    from keras_ecgpe.data.synthetic import write_demo
    from keras_ecgpe.data_quality_report import write_quality_report

    with reported_errors():
        summary = write_demo(out, n_ptbxl=n_ptbxl, n_pe=n_pe, seed=seed)
        click.echo(f"SYNTHETIC demo data written to {out} (not real patients):")
        click.echo(json.dumps(summary, indent=2, default=str))
        if also_prepare:
            for name, cache in prepare_demo(out).items():
                write_quality_report(cache.path)  # SYNTHETIC banner: the data's marker
                counts = {
                    split: int((cache.splits == split).sum())
                    for split in ("train", "validation", "test")
                }
                click.echo(
                    f"Prepared {name} cache {cache.path}: {cache.n_records} records at "
                    f"{cache.fs:g} Hz, labels {', '.join(cache.label_names)}, "
                    f"splits {counts}"
                )

"""`ecgpe-keras data prepare`: preprocess a dataset once into a cache tf.data reads fast."""

from __future__ import annotations

import json
import logging
import sys
from pathlib import Path

import click

from keras_ecgpe import messages
from keras_ecgpe.cli.errors import reported_errors
from keras_ecgpe.data.sources.registry import SOURCES
from keras_ecgpe.limits import MAX_DURATION_S, MAX_FOLDS, MAX_FS, MAX_SEED, MAX_WORKERS

_LOG = logging.getLogger("keras_ecgpe.cli.prepare")


@click.command()
@click.option(
    "--source",
    required=True,
    help=f"Dataset layout: one of {', '.join(SOURCES)}, or several joined by commas "
    "(e.g. ptbxl,cpsc2018,medalcare) for one multi-source pretraining cache on "
    "the harmonised SNOMED CT labels with per-source label masks.",
)
@click.option(
    "--root",
    "roots",
    type=click.Path(exists=True),
    required=True,
    multiple=True,
    help="Dataset folder (for pe: the manifest CSV or its folder); repeat it once "
    "per source, in the order of --source.",
)
@click.option("--out", type=click.Path(file_okay=False), required=True, help="Cache directory.")
@click.option(
    "--task",
    default="superdiagnostic",
    show_default=True,
    help="PTB-XL task: superdiagnostic, subdiagnostic, diagnostic, form, rhythm, all.",
)
@click.option(
    "--sampling-rate",
    type=click.Choice(["100", "500"]),
    default="100",
    show_default=True,
    help="PTB-XL files to read (records100 or records500).",
)
@click.option(
    "--variant",
    type=click.Choice(["noise", "raw", "filtered"]),
    default="noise",
    show_default=True,
    help="MedalCare-XL rendering to read.",
)
@click.option(
    "--target-fs",
    type=click.FloatRange(0, MAX_FS, min_open=True),
    default=None,
    help="Resample every record to this fs (default: keep each record's own fs; "
    "records whose fs differs from the first one are then skipped).",
)
@click.option(
    "--filter",
    "filter_",
    type=click.Choice(["bandpass", "paper_default", "none"]),
    default="bandpass",
    show_default=True,
)
@click.option(
    "--low-hz", type=click.FloatRange(0, MAX_FS, min_open=True), default=1.0, show_default=True
)
@click.option(
    "--high-hz", type=click.FloatRange(0, MAX_FS, min_open=True), default=45.0, show_default=True
)
@click.option(
    "--normalize",
    default="zscore",
    show_default=True,
    help="Per-lead: none, minmax, zscore, robust, log1p, l2.",
)
@click.option(
    "--duration",
    "duration_s",
    type=click.FloatRange(0, MAX_DURATION_S, min_open=True),
    default=None,
    help="Truncate (or, with --pad edge, pad) every record to this many seconds.",
)
@click.option(
    "--pad",
    type=click.Choice(["none", "edge", "zero"]),
    default="none",
    show_default=True,
    help="How records shorter than --duration are padded (none: they are skipped and reported).",
)
@click.option(
    "--crop",
    type=click.Choice(["centre", "start"]),
    default="centre",
    show_default=True,
    help="Which part of a longer record --duration keeps.",
)
@click.option(
    "--dtype", type=click.Choice(["float32", "float16"]), default="float32", show_default=True
)
@click.option(
    "--folds",
    type=click.IntRange(0, MAX_FOLDS),
    default=5,
    show_default=True,
    help="Patient-level folds to assign when the source has none (0: none).",
)
@click.option(
    "--split-fractions",
    default="0.7,0.15,0.15",
    show_default=True,
    callback=lambda context, parameter, value: _fractions(value),
    help="Train,validation,test shares of the patient-level split made when the source "
    "has none (sum 1; 0.8,0.2,0 leaves no test split, e.g. for a small folder).",
)
@click.option(
    "--all-train",
    is_flag=True,
    help="Put every record in the train split, official splits included: a "
    "pretraining-only source that is never tested on.",
)
@click.option(
    "--quality-policy",
    type=click.Choice(["keep", "flag", "skip"]),
    default="flag",
    show_default=True,
    help="Records with signal-quality problems (flat, clipped or copied leads, implausible "
    "amplitude, low QRS quality index): keep them unmarked, flag them in the cache index "
    "(training can exclude them with data.exclude_flagged), or skip them.",
)
@click.option(
    "--seed",
    type=click.IntRange(0, MAX_SEED),
    default=0,
    show_default=True,
    help="Seed of generated splits.",
)
@click.option(
    "--workers", type=click.IntRange(1, MAX_WORKERS), help="Processes (default: all cores)."
)
@click.option("--overwrite", is_flag=True, help="Replace a cache prepared with other settings.")
@click.option(
    "--allow-absolute-paths",
    is_flag=True,
    help="pe: accept absolute record paths in the manifest (by default every path "
    "must stay inside the manifest's folder).",
)
def prepare(
    source: str,
    roots: tuple[str, ...],
    out: str,
    task: str,
    sampling_rate: str,
    variant: str,
    target_fs: float | None,
    filter_: str,
    low_hz: float,
    high_hz: float,
    normalize: str,
    duration_s: float | None,
    pad: str,
    crop: str,
    dtype: str,
    folds: int,
    split_fractions: tuple[float, float, float],
    all_train: bool,
    quality_policy: str,
    seed: int,
    workers: int | None,
    overwrite: bool,
    allow_absolute_paths: bool,
) -> None:
    """Preprocess a dataset once into a checksummed cache (progress bar, skip report)."""
    from keras_ecgpe.data.prepare import SplitSettings, prepare_dataset
    from keras_ecgpe.data.preprocessing import PreprocessConfig
    from keras_ecgpe.data.quality import QualitySettings
    from keras_ecgpe.data.quality_summary import paragraph
    from keras_ecgpe.data.sources.registry import open_sources
    from keras_ecgpe.data_quality_report import read_summary, write_quality_report

    # Per-source options go only where given: `open_sources` hands each to the sources
    # that take it and refuses one that no named source takes.
    context = click.get_current_context()
    given = {
        "task": task,
        "sampling_rate": int(sampling_rate),
        "variant": variant,
        "allow_absolute_paths": allow_absolute_paths,
    }
    options = {
        name: value
        for name, value in given.items()
        if context.get_parameter_source(name) is not click.core.ParameterSource.DEFAULT
    }
    with reported_errors():
        dataset = open_sources(source, roots, split_seed=seed, **options)
        config = PreprocessConfig(
            target_fs=target_fs,
            filter=filter_,
            low_hz=low_hz,
            high_hz=high_hz,
            normalize=normalize,
            duration_s=duration_s,
            pad=pad,
            crop=crop,
        )
        index = dataset.index()
        with click.progressbar(
            length=len(index[0]),
            label=f"Preparing {source}",
            file=sys.stderr,
            hidden=not messages.progress_enabled(),
        ) as bar:
            cache, reused = prepare_dataset(
                dataset,
                out,
                config,
                split=SplitSettings(
                    fractions=split_fractions,
                    folds=folds,
                    seed=seed,
                    all_train=all_train,
                ),
                quality=QualitySettings(policy=quality_policy),
                dtype=dtype,
                workers=workers,
                overwrite=overwrite,
                progress=bar.update,
                index=index,
            )
        report = json.loads((Path(out) / "report.json").read_text())
        summary = read_summary(out)
        if summary is not None and not reused:
            write_quality_report(out)
    verb = "Reused the identical cache" if reused else "Prepared"
    click.echo(
        f"{verb} {out}: {cache.n_records} records at {cache.fs:g} Hz, "
        f"labels {', '.join(cache.label_names)}; {len(report['records_skipped'])} skipped."
    )
    for skip in report["records_skipped"][:20]:
        click.echo(f"  skipped {skip['record_id']}: {skip['reason']}")
    if len(report["records_skipped"]) > 20:
        click.echo(
            f"  ... {len(report['records_skipped']) - 20} more in {Path(out) / 'report.json'}"
        )
    if summary is not None:
        _LOG.info(
            "%s Details: %s (and .txt, .png).", paragraph(summary), Path(out) / "data_quality.json"
        )


def _fractions(text: str) -> tuple[float, float, float]:
    """`--split-fractions` as three shares; a bad value is a one-line usage error."""
    try:
        values = tuple(float(part) for part in text.split(","))
    except ValueError:
        values = ()
    if len(values) != 3 or min(values) < 0 or abs(sum(values) - 1.0) > 1e-6:
        raise click.BadParameter(
            f"{text!r}: give three non-negative shares summing to 1, train,validation,test "
            "(e.g. 0.8,0.2,0)",
            param_hint="--split-fractions",
        )
    return values  # type: ignore[return-value]

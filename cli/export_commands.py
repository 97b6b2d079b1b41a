"""`ecgpe-keras export`: a verified TFLite bundle of a trained run."""

from __future__ import annotations

import click

from keras_ecgpe.cli.errors import reported_errors
from keras_ecgpe.export.qat import DEFAULT_PRUNE_EPOCHS, DEFAULT_QAT_EPOCHS
from keras_ecgpe.limits import MAX_CALIBRATION_SAMPLES, MAX_EPOCHS, MAX_MCU_KB

MODES = ("none", "float16", "dynamic", "int8", "int16x8")


@click.command("verify")
@click.argument("bundle", type=click.Path(exists=True))
def verify(bundle: str) -> None:
    """Check an export BUNDLE folder (or its model.tflite) before shipping or using it.

    The model file must have the size and SHA-256 that model.json records, the description
    embedded in it must equal model.json, and LiteRT here must reproduce the golden vectors
    (golden.npz) within their tolerance. Prints what was checked; exits non-zero with one
    line naming the file at the first problem.
    """
    from keras_ecgpe.export.bundle_verify import verify_bundle

    with reported_errors():
        check = verify_bundle(bundle)
    click.echo(check.to_text(), nl=False)


class _ExportCommand(click.Command):
    """`export RUN ...` exports; `export verify BUNDLE` checks a bundle (`verify` above).

    A run folder that is literally named `verify` is given as `./verify`.
    """

    def make_context(
        self, info_name: str | None, args: list, parent: click.Context | None = None, **extra
    ) -> click.Context:
        if args[:1] == ["verify"]:
            return verify.make_context(f"{info_name} verify", args[1:], parent=parent, **extra)
        return super().make_context(info_name, args, parent=parent, **extra)


@click.command(cls=_ExportCommand)
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
@click.option(
    "--target",
    type=click.Choice(["micro"]),
    help="micro: run the model in TensorFlow Lite Micro too (missing operators refused "
    "by name, parity gate there as well); its arena and flash go into model.json.",
)
@click.option(
    "--mcu-ram",
    "mcu_ram_kb",
    type=click.FloatRange(0, MAX_MCU_KB, min_open=True),
    metavar="KB",
    help="With --target micro: refuse a model whose TFLM tensor arena exceeds KB (1,024 bytes).",
)
@click.option(
    "--mcu-flash",
    "mcu_flash_kb",
    type=click.FloatRange(0, MAX_MCU_KB, min_open=True),
    metavar="KB",
    help="With --target micro: refuse a model file larger than KB (1,024 bytes).",
)
@click.option("--int8-io", is_flag=True, help="int8 input/output tensors (--quantize int8).")
@click.option(
    "--max-auroc-drop",
    type=click.FloatRange(0, 1),
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
    type=click.IntRange(1, MAX_CALIBRATION_SAMPLES),
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
    type=click.IntRange(1, MAX_EPOCHS),
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
    type=click.IntRange(1, MAX_EPOCHS),
    default=DEFAULT_PRUNE_EPOCHS,
    show_default=True,
    help="Epochs of the pruning fine-tune.",
)
@click.option(
    "--finetune-lr",
    type=click.FloatRange(0, 100, min_open=True),
    help="Learning rate of the QAT/pruning fine-tune [default: a tenth of the "
    "run's, 1e-4 without config.yaml].",
)
def export(
    run_or_model: str,
    tflite: bool,
    quantize: str,
    out_dir: str | None,
    target: str | None,
    mcu_ram_kb: float | None,
    mcu_flash_kb: float | None,
    int8_io: bool,
    max_auroc_drop: float | None,
    force: bool,
    overwrite: bool,
    c_array: bool,
    calibration_samples: int,
    cache: str | None,
    qat: bool,
    qat_epochs: int,
    prune: float | None,
    prune_epochs: int,
    finetune_lr: float | None,
) -> None:
    """Export RUN_OR_MODEL (run directory or .keras with contract.json) to a verified .tflite.

    `ecgpe-keras export verify BUNDLE` checks a bundle written earlier (model file against
    model.json's SHA-256, embedded description, golden vectors).

    Writes model.tflite (contract embedded), model.json, golden.npz, parity.json and
    parity.txt, into a folder that appears whole (an existing bundle is replaced only with
    --overwrite). Exits non-zero, without writing the model, when the AUROC drop on the
    validation records exceeds --max-auroc-drop (unless --force). --target micro runs the
    model in TensorFlow Lite Micro as well (parity_micro.txt) and states its arena and
    flash; --mcu-ram/--mcu-flash refuse a model that does not fit. --qat and --prune
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
                mcu_ram_kb=mcu_ram_kb,
                mcu_flash_kb=mcu_flash_kb,
            )
        except ParityError as exc:
            click.echo(exc.report.to_text(), err=True, nl=False)
            raise
    click.echo(result.report.to_text(), nl=False)
    micro = result.model_json.get("micro")
    if micro is not None:
        click.echo((result.out_dir / "parity_micro.txt").read_text(encoding="utf-8"), nl=False)
        click.echo(
            f"TFLite Micro: tensor arena {micro['arena_bytes']} bytes, flash "
            f"{micro['flash_bytes']} bytes, input {micro['input_bytes']} bytes, "
            f"ops {', '.join(micro['ops'])}"
        )
    facts = result.model_json["file"]
    click.echo(
        f"wrote {result.out_dir} ({facts['size_bytes']} bytes, sha256 "
        f"{facts['sha256'][:16]}...): {', '.join(p.name for p in result.files)}"
    )

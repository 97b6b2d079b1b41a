"""One export, end to end: run directory in, verified app bundle out.

Order of work, and why: the contract and the run's prepared cache are checked first (no
data, no export); the model is converted (calibrated modes in a child process) and its
operators checked; the parity gate runs on real validation windows and its report is
written whatever the outcome; only a model that passed (or `force`) is written, with its
contract embedded, `model.json`, golden vectors and optionally a C array. The bundle is
built in a hidden folder and moved into place whole, so an interrupted export never leaves
a truncated model or a model beside another export's files.
"""

from __future__ import annotations

import dataclasses
import shutil
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from keras_ecgpe import run_directory
from keras_ecgpe.data import locks
from keras_ecgpe.data.atomic import (
    atomic_write_bytes,
    atomic_write_json,
    replace_directory,
    staging_directory,
)
from keras_ecgpe.export import metadata, micro_target
from keras_ecgpe.export.c_array import write_c_array
from keras_ecgpe.export.golden import golden_vectors, write_golden
from keras_ecgpe.export.qat import DEFAULT_PRUNE_EPOCHS, DEFAULT_QAT_EPOCHS
from keras_ecgpe.export.qat.handoff import (
    check_finetune_request,
    fine_tune_and_convert,
    qat_mode,
)
from keras_ecgpe.export.representative import (
    DEFAULT_CALIBRATION_SAMPLES,
    calibration_windows,
    open_run_cache,
)
from keras_ecgpe.export.tflite import (
    CALIBRATED,
    ExportError,
    check_mode,
    check_ops,
    convert,
)
from keras_ecgpe.export.verify import (
    ParityError,
    ParityReport,
    verify_tflite,
    write_parity,
)
from keras_ecgpe.inference import contract_io
from keras_ecgpe.inference.tflite_runner import TFLiteRunner

if TYPE_CHECKING:
    import os

TARGETS = (None, "micro")


@dataclasses.dataclass
class ExportResult:
    """What an export wrote: the folder, its files, the parity report and `model.json`."""

    out_dir: Path
    files: list
    report: ParityReport
    model_json: dict


def bundle_name(
    mode: str, int8_io: bool = False, qat: bool = False, prune: float | None = None
) -> str:
    """Folder name of one precision's bundle: float32, float16, dynamic, int8[_io], int16x8,
    with `_qat` and `_pruned<percent>` for the fine-tuned variants."""
    return (
        {"none": "float32"}.get(mode, mode)
        + ("_io" if int8_io else "")
        + ("_qat" if qat else "")
        + (f"_pruned{round(100 * float(prune))}" if prune is not None else "")
    )


def export_run(
    source: os.PathLike | str,
    *,
    mode: str = "none",
    out_dir: os.PathLike | str | None = None,
    target: str | None = None,
    int8_io: bool = False,
    max_auroc_drop: float | None = None,
    force: bool = False,
    c_array: bool = False,
    calibration_samples: int = DEFAULT_CALIBRATION_SAMPLES,
    cache: os.PathLike | str | None = None,
    qat: bool = False,
    qat_epochs: int = DEFAULT_QAT_EPOCHS,
    prune: float | None = None,
    prune_epochs: int = DEFAULT_PRUNE_EPOCHS,
    finetune_lr: float | None = None,
    overwrite: bool = False,
    mcu_ram_kb: float | None = None,
    mcu_flash_kb: float | None = None,
) -> ExportResult:
    """Exports a run's model to a verified TFLite bundle.

    The bundle is built in a hidden folder beside `out_dir` and moved into place whole,
    so `out_dir` never mixes files of two exports.

    Args:
        source: a run directory (`best.keras` + `contract.json`) or a `.keras` file with
            `contract.json` beside it.
        mode: "none", "float16", "dynamic", "int8" or "int16x8".
        out_dir: bundle folder; default `<run>/export/<bundle_name>`.
        target: None, or "micro": the model must load in TensorFlow Lite Micro (operators
            it lacks are refused by name, WHILE loops too), pass the parity gate there as
            well (`parity_micro.txt`), and its arena and flash go into `model.json`.
        int8_io: int8 input and output (mode int8), scale and zero point in `model.json`.
        max_auroc_drop: largest AUROC loss allowed; default 0.01 (int8, int16x8), else 0.005.
        force: write the model even if the parity gate fails.
        c_array: also write `model_data.cc` / `model_data.h`.
        calibration_samples: training windows used to calibrate int8 / int16x8.
        cache: the run's prepared cache directory, if not where the contract says.
        qat: quantisation-aware fine-tune, then full int8 (`mode` "none" or "int8").
        qat_epochs: epochs of the QAT fine-tune on the run's training windows.
        prune: target sparsity in (0, 1): prune and fine-tune, then convert in `mode`.
        prune_epochs: epochs of the pruning fine-tune.
        finetune_lr: learning rate of either fine-tune (default: a tenth of the run's).
        overwrite: replace an existing bundle in `out_dir` (a folder holding only the
            report of a rejected export is replaced without it).
        mcu_ram_kb: with target "micro", refuse a model whose TFLM arena exceeds this.
        mcu_flash_kb: with target "micro", refuse a model file larger than this.

    Returns:
        An `ExportResult`.

    Raises:
        ConfigError: no model or contract, or one that cannot be loaded (named).
        ExportError: no data, conversion failure, forbidden operators; `ParityError` when
            the gate fails without `force` (the folder then holds only parity.json and
            parity.txt); `out_dir` holds something else and `overwrite` is not set.

    Example:

    ```python
    export_run("runs/pe-resnet", mode="int8").out_dir
    # PosixPath('runs/pe-resnet/export/int8')
    ```
    """
    if qat:
        mode = qat_mode(mode)
    check_mode(mode, int8_io)
    if target not in TARGETS:
        raise ExportError(f"--target must be micro or absent. Received: {target!r}")
    micro_target.check_request(target, mcu_ram_kb, mcu_flash_kb)
    files = run_directory.locate_run(source)
    contract = contract_io.load_contract(files.contract)
    run_cache = open_run_cache(contract, cache, files.run_dir)
    out_dir = (
        Path(out_dir)
        if out_dir
        else run_directory.export_dir(files.run_dir, bundle_name(mode, int8_io, qat, prune))
    )
    model = run_directory.load_model(files.model)
    if qat or prune is not None:
        check_finetune_request(
            model, qat=qat, prune=prune, qat_epochs=qat_epochs, prune_epochs=prune_epochs
        )
    # One writer per bundle folder (data/locks.py): refused now if another export holds it,
    # and held below from the last occupancy check to the publish.
    locks.acquire(out_dir, "export bundle").release()
    _refuse_occupied(out_dir, overwrite)
    calibration = None
    representative = None
    if mode in CALIBRATED:
        representative = calibration_windows(run_cache, contract, calibration_samples)
        calibration = {
            "split": "train",
            "windows": int(len(representative)),
            "requested": int(calibration_samples),
            "cache_key": run_cache.key,
        }
    fine_tuned = {}
    if qat or prune is not None:  # in a child process: tfmot must not enter this one
        blob, fine_tuned = fine_tune_and_convert(
            files,
            contract,
            run_cache,
            model,
            mode=mode,
            int8_io=int8_io,
            representative=representative,
            qat=qat,
            qat_epochs=qat_epochs,
            prune=prune,
            prune_epochs=prune_epochs,
            learning_rate=finetune_lr,
        )
    else:
        blob = convert(
            model,
            mode,
            window=contract_io.window(contract),
            representative=representative,
            int8_io=int8_io,
            model_path=files.model,
        )
    runner = TFLiteRunner(blob)
    check_ops(runner.ops, target)
    micro = None
    if target == "micro":  # before the gate: a model TFLM cannot run or hold is refused now
        micro = micro_target.measure(
            blob, runner, contract, mcu_ram_kb=mcu_ram_kb, mcu_flash_kb=mcu_flash_kb
        )
    report = verify_tflite(
        runner, model, run_cache, contract, mode=mode, max_auroc_drop=max_auroc_drop
    )
    report.forced = bool(force)
    reports = [("parity", report)]
    if micro is not None:
        micro_report = micro_target.verify(
            blob,
            micro,
            runner,
            model,
            run_cache,
            contract,
            mode=mode,
            max_auroc_drop=max_auroc_drop,
        )
        micro_report.forced = bool(force)
        micro = micro_target.section(micro, micro_report)
        reports.append((micro_target.REPORT_STEM, micro_report))
    lock = locks.acquire(out_dir, "export bundle")
    try:
        _refuse_occupied(out_dir, overwrite)  # again: another export may have finished meanwhile
        staging = staging_directory(out_dir)
    except BaseException:
        lock.release()
        raise
    try:
        for stem, each in reports:
            write_parity(each, staging, stem)
        failed = [(stem, each) for stem, each in reports if not each.passed]
        if failed and not force:
            replace_directory(staging, out_dir)
            stem, each = failed[0]
            raise ParityError(
                f"parity gate failed for {mode} in {each.runtime}: {each.reason}; the model "
                f"was not written (see {out_dir / (stem + '.txt')}; --force writes it "
                "anyway)",
                each,
            )
        model_json = _write_model_files(
            staging,
            blob,
            runner,
            model,
            run_cache,
            contract,
            mode=mode,
            int8_io=int8_io,
            calibration=calibration,
            report=report,
            fine_tuned=fine_tuned,
            c_array=c_array,
            micro=micro,
            mcu_flash_kb=mcu_flash_kb,
            force=force,
        )
        names = sorted(path.name for path in staging.iterdir())
        replace_directory(staging, out_dir)
    finally:
        shutil.rmtree(staging, ignore_errors=True)  # gone already when it was published
        lock.release()
    return ExportResult(out_dir, [out_dir / name for name in names], report, model_json)


def _write_model_files(
    folder: Path,
    blob: bytes,
    runner,
    model,
    run_cache,
    contract,
    *,
    mode,
    int8_io,
    calibration,
    report,
    fine_tuned,
    c_array,
    micro=None,
    mcu_flash_kb=None,
    force=False,
) -> dict:
    """Writes model.tflite (contract embedded), model.json, golden.npz [, C array]."""
    payload = metadata.build_model_json(
        contract, blob, mode=mode, int8_io=int8_io, calibration=calibration, parity=report.to_dict()
    )
    payload.update(fine_tuned)  # "qat": {...} / "pruning": {...}
    if micro is None:
        final = metadata.embed(blob, payload)
    else:  # its flash figure is the size of the file that ships
        payload["micro"] = micro
        final = micro_target.embed_with_flash(
            payload,
            lambda document: metadata.embed(blob, document),
            contract,
            mcu_flash_kb=mcu_flash_kb,
        )
    golden = golden_vectors(final, model, run_cache, contract, mode=mode)
    if not np.array_equal(runner.logits(golden["inputs"]), golden["expected_logits"]):
        raise ExportError("embedding the metadata changed the model's outputs; not written")
    if micro is not None:  # what TFLM gave on the same inputs, for the device's own tests
        golden["micro_logits"] = micro_target.run_golden(final, micro, golden, force)
    model_json = metadata.file_facts(payload, final)
    atomic_write_bytes(folder / "model.tflite", final)
    atomic_write_json(folder / "model.json", model_json)
    write_golden(folder / "golden.npz", golden)
    if c_array:
        write_c_array(final, folder, sha256=model_json["file"]["sha256"])
    return model_json


# What a rejected export leaves.
REJECTED_ONLY = {"parity.json", "parity.txt", "parity_micro.json", "parity_micro.txt"}


def _refuse_occupied(out_dir: Path, overwrite: bool) -> None:
    if out_dir.exists() and not out_dir.is_dir():  # never replaced, even with --overwrite
        raise ExportError(f"--out {out_dir} is a file, not a folder")
    names = {path.name for path in out_dir.iterdir()} if out_dir.is_dir() else set()
    if names - REJECTED_ONLY and not overwrite:
        raise ExportError(
            f"{out_dir} already holds a bundle or other files; choose another "
            "--out or pass --overwrite to replace the whole folder"
        )

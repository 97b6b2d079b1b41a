"""The contract an app needs, as `model.json` and embedded in the `.tflite` itself.

`build_model_json` turns a run's contract and the converted model into the document an
app developer works from: input layout and units, labels in output order, the decision
cuts on the raw logit (`decision.logit_cuts`, the rule `evaluation.decide` applies in
`evaluate` and `predict`) and their operating point, the preprocessing to replicate step
by step with its constants, windows and aggregation, integer scale and zero point where
used, versions, operators and the parity result. `embed` stores that JSON in the
flatbuffer as a TFLite `metadata` entry (name `keras_ecgpe_contract`, pointing to a buffer
of UTF-8 JSON): LiteRT ignores it when running the model, and `read_embedded_json` gets it
back without TensorFlow. The embedded copy cannot hold the SHA-256 and size of the file
that contains it; `model.json` beside the file adds them under `file`.
"""

from __future__ import annotations

import hashlib
import json
from typing import TYPE_CHECKING

import numpy as np
from scipy import signal as sps

import keras_ecgpe
from keras_ecgpe.data.filters import wavelet_level
from keras_ecgpe.data.normalization import _FLAT_MV
from keras_ecgpe.evaluation.inputs import sigmoid
from keras_ecgpe.inference import contract_io
from keras_ecgpe.inference.tflite_runner import (
    METADATA_NAME,
    TFLiteRunner,
    read_embedded_json,
)

if TYPE_CHECKING:
    import os

FORMAT = "keras_ecgpe.model_json"
# 2: `decision.logit_cuts` and `decision.rule` decide; 1 (read by the schema still) had
# only probability thresholds and `logit_thresholds` derived from them.
FORMAT_VERSION = 2
EMBEDDED_FILE_NOTE = (
    "the copy embedded in the .tflite cannot contain the SHA-256 or size of "
    "the file holding it; model.json beside the file gives both"
)


def _tensor(detail: dict, quantization) -> dict:
    scale_zero = (
        None if quantization is None else {"scale": quantization[0], "zero_point": quantization[1]}
    )
    return {
        "shape": [int(n) for n in detail["shape"]],
        "dtype": np.dtype(detail["dtype"]).name,
        "quantization": scale_zero,
    }


def preprocessing_steps(contract: dict) -> list:
    """The ordered steps an app must apply to a raw record, with every constant."""
    config = contract_io.inference_preprocess(contract)
    fs = contract_io.fs(contract)
    steps = [
        {
            "step": "leads",
            "order": list(contract["lead_order"]),
            "units": "mV",
            "text": "12 leads in millivolts, in this order; derive III, aVR, aVL, aVF "
            "from I and II if missing; refuse records without V1-V6",
        },
        {
            "step": "resample",
            "to_hz": fs,
            "text": "polyphase resampling (scipy.signal.resample_poly, default Kaiser "
            "window beta 5) by up/down, the ratio to_hz/fs as a fraction with "
            "denominator <= 1000; nothing to do if the record is at to_hz",
        },
    ]
    if config.filter == "bandpass":
        sos = sps.butter(4, [config.low_hz, config.high_hz], btype="bandpass", fs=fs, output="sos")
        steps.append(
            {
                "step": "bandpass",
                "low_hz": config.low_hz,
                "high_hz": config.high_hz,
                "order": 4,
                "zero_phase": True,
                "sos": sos.tolist(),
                "text": "Butterworth band-pass, order 4, as these second-order sections "
                "(b0 b1 b2 a0 a1 a2, designed at to_hz), run forward then "
                "backward: scipy.signal.sosfiltfilt with its default odd "
                "extension of 3 * (2 * sections + 1) samples at each end",
            }
        )
    elif config.filter == "paper_default":
        low = (
            sps.butter(4, 50.0, btype="lowpass", fs=fs, output="sos").tolist()
            if fs > 100.0
            else None
        )
        steps.append(
            {
                "step": "paper_default",
                "lowpass_hz": 50.0,
                "order": 4,
                "sos": low,
                "wavelet": "db4",
                "level": wavelet_level(fs),
                "text": "zero-phase order-4 Butterworth low-pass at 50 Hz (sos; none at "
                "fs <= 100 Hz), then subtract the db4 reconstruction from the "
                "level-`level` approximation coefficients alone",
            }
        )
    if config.duration_s is not None:
        steps.append(
            {
                "step": "pad_or_truncate",
                "duration_s": config.duration_s,
                "crop": config.crop,
                "pad": config.pad,
                "text": "keep duration_s seconds (centre or start); shorter records are "
                "padded as `pad` says or refused when pad is none",
            }
        )
    steps.append(
        {
            "step": "normalize",
            "method": config.normalize,
            "flat_lead_mv": _FLAT_MV,
            "text": "per lead over the whole record: minmax, zscore (population std), "
            "robust (median, IQR), log1p (sign(x) log1p|x|) or l2; a lead "
            "whose spread is <= flat_lead_mv is centred, not scaled",
        }
    )
    standardizer = contract.get("standardizer")
    if standardizer is not None:
        steps.append(
            {
                "step": "standardize",
                "mean": list(standardizer["mean"]),
                "std": list(standardizer["std"]),
                "flat_lead_mv": _FLAT_MV,
                "text": "x = (x - mean[lead]) / std[lead]; std <= flat_lead_mv -> 1",
            }
        )
    steps.append(
        {
            "step": "windows",
            "mode": contract_io.eval_mode(contract),
            "window": contract_io.window(contract),
            "stride": contract_io.stride(contract),
            "text": "sliding: windows start every `stride` samples and, if a tail is "
            "left, one more ends at the last sample; centre: the one window "
            "starting at (length - window) // 2; shorter records are refused",
        }
    )
    steps.append(
        {
            "step": "aggregate",
            "how": contract_io.aggregate(contract),
            "text": "mean or max of the window logits, per class",
        }
    )
    return steps


def _decision(contract: dict) -> dict:
    """The operating point as an app applies it: compare the raw record logit with the cut.

    `thresholds` and `calibrated_thresholds` are probabilities shown beside the cuts; a
    probability saturates (sigmoid rounds to 1.0 above a logit of about 37), so an app that
    compared probabilities could call records positive that `predict` calls negative.
    """
    temperature = contract_io.temperature(contract)
    bias = contract_io.calibration_bias(contract)
    choice = contract_io.threshold_choice(contract)
    calibrated = sigmoid(choice.cuts / temperature + bias)
    return {
        **choice.to_dict(),
        "temperature": temperature,
        "calibration_bias": bias.tolist(),
        "calibrated_thresholds": calibrated.tolist(),
        "rule": "z = record logit (window logits aggregated as `aggregate` says); class c "
        "is positive when z[c] >= logit_cuts[c]. probability[c] = "
        "sigmoid(z[c] / temperature + calibration_bias[c]) is shown, never compared: "
        "`thresholds` and `calibrated_thresholds` are display only",
    }


def build_model_json(
    contract: dict,
    blob: bytes,
    *,
    mode: str,
    int8_io: bool = False,
    calibration: dict | None = None,
    parity: dict | None = None,
) -> dict:
    """The app developer's description of an exported model (without file hash and size).

    Args:
        contract: the run's contract (also stored verbatim under `contract`).
        blob: the converted flatbuffer (tensors and operators are read from it).
        mode: the quantisation mode.
        int8_io: whether input and output are int8.
        calibration: how the calibration windows were drawn, if any.
        parity: the parity report as a dict, if verified.

    Returns:
        A JSON-safe dict.
    """
    import tensorflow as tf

    runner = TFLiteRunner(blob)
    window, labels = contract_io.window(contract), contract_io.label_names(contract)
    return {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "model": {
            "name": contract_io.model_name(contract),
            "quantization": mode,
            "int8_io": bool(int8_io),
            "ops": runner.ops,
            "trained_with": {"keras_ecgpe": contract_io.package_version(contract)},
            "exported_with": {"keras_ecgpe": keras_ecgpe.__version__, "tensorflow": tf.__version__},
        },
        "input": {
            "name": "ecg",
            **_tensor(runner.input, runner.input_quantization),
            "layout": "[batch=1, time, lead]",
            "lead_order": list(contract["lead_order"]),
            "units": "mV",
            "fs": contract_io.fs(contract),
            "window": window,
            "window_s": window / contract_io.fs(contract),
            "stride": contract_io.stride(contract),
        },
        "output": {
            "name": "logits",
            **_tensor(runner.output, runner.output_quantization),
            "labels": labels,
            "meaning": "one logit per label, in this order",
        },
        "aggregate": contract_io.aggregate(contract),
        "decision": _decision(contract),
        "preprocessing": {
            "steps": preprocessing_steps(contract),
            "config": contract_io.inference_preprocess(contract).to_dict(),
        },
        "calibration": calibration,
        "verification": parity,
        "data": contract_io.data_info(contract),
        "file": {"sha256": None, "size_bytes": None, "note": EMBEDDED_FILE_NOTE},
        "contract": contract,
    }


def embed(blob: bytes, payload: dict, name: str = METADATA_NAME) -> bytes:
    """Returns `blob` with `payload` as the JSON metadata entry `name` (replacing one)."""
    import flatbuffers
    from ai_edge_litert import schema_py_generated as schema

    model = schema.ModelT.InitFromObj(schema.Model.GetRootAs(bytes(blob), 0))
    text = json.dumps(payload, sort_keys=True, ensure_ascii=False, allow_nan=False)
    buffer = schema.BufferT()
    buffer.data = np.frombuffer(text.encode("utf-8"), dtype=np.uint8)
    model.buffers = list(model.buffers or []) + [buffer]
    entry = schema.MetadataT()
    entry.name, entry.buffer = name, len(model.buffers) - 1
    kept = [
        m
        for m in (model.metadata or [])
        if (m.name.decode() if isinstance(m.name, bytes) else m.name) != name
    ]
    model.metadata = kept + [entry]
    builder = flatbuffers.Builder(len(blob) + len(text) + 1024)
    builder.Finish(model.Pack(builder), file_identifier=b"TFL3")
    return bytes(builder.Output())


def file_facts(payload: dict, final_blob: bytes) -> dict:
    """`payload` with the final file's SHA-256 and size: the content of `model.json`."""
    return {
        **payload,
        "file": {
            "sha256": hashlib.sha256(final_blob).hexdigest(),
            "size_bytes": len(final_blob),
            "note": "SHA-256 and size of the .tflite beside this file",
        },
    }


def read_metadata(model: bytes | os.PathLike | str) -> dict | None:
    """The embedded description of a `.tflite` (path or bytes), None if it has none."""
    blob = model if isinstance(model, (bytes, bytearray)) else open(model, "rb").read()
    return read_embedded_json(blob)

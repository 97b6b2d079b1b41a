"""TFLite export: every mode for three families, the parity gate, metadata, golden vectors.

Runs are tiny models trained for a few steps on a SYNTHETIC prepared cache
(`fixtures.pulse_cache`), so AUROC deltas are measured on a model that is not random.
"""

from __future__ import annotations

import hashlib
import json

import keras
import numpy as np
import pytest
from click.testing import CliRunner

from fixtures import make_run, pulse_cache
from keras_ecgpe.cli.main import cli
from keras_ecgpe.export.bundle import export_run
from keras_ecgpe.export.c_array import c_array_sources
from keras_ecgpe.export.child_process import run_child
from keras_ecgpe.export.golden import check_golden
from keras_ecgpe.export.metadata import embed, read_metadata
from keras_ecgpe.export.representative import open_run_cache
from keras_ecgpe.export.tflite import (
    ExportError,
    convert,
    convert_model,
)
from keras_ecgpe.export.verify import ParityError, verify_tflite
from keras_ecgpe.inference import TFLiteRunner, contract_io

# Slow tier: trains tiny models and converts them to TFLite (calibrated modes in a child).
pytestmark = pytest.mark.slow

FAMILIES = ("resnet1d18", "crnn_lstm", "transformer")
# Largest |logit| difference from Keras on validation windows, per mode (logits span ~+-10).
LOGIT_ATOL = {"none": 1e-4, "float16": 0.05, "dynamic": 0.5, "int8": 1.5}


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    root = tmp_path_factory.mktemp("export")
    cache = pulse_cache(root / "cache")
    return {name: make_run(root / name, cache, name)[0] for name in FAMILIES}


def _check_bundle(result, run_dir, mode):
    out = result.out_dir
    blob = (out / "model.tflite").read_bytes()
    runner = TFLiteRunner(out / "model.tflite")  # loads and runs with its metadata inside
    assert runner.interpreter.get_signature_list() == {
        "serving_default": {"inputs": ["ecg"], "outputs": ["logits"]}
    }
    assert list(runner.input["shape"]) == [1, 256, 12]
    assert not any(op.startswith("Flex") or op == "WHILE" for op in runner.ops)
    model_json = json.loads((out / "model.json").read_text())
    assert model_json["file"]["sha256"] == hashlib.sha256(blob).hexdigest()
    assert model_json["file"]["size_bytes"] == len(blob)
    embedded = read_metadata(out / "model.tflite")
    assert embedded["file"]["sha256"] is None and "cannot contain" in embedded["file"]["note"]
    assert {k: v for k, v in embedded.items() if k != "file"} == {
        k: v for k, v in model_json.items() if k != "file"
    }
    assert embedded["contract"] == contract_io.load_contract(run_dir)
    assert model_json["model"]["ops"] == runner.ops
    assert model_json["output"]["labels"] == ["PE"]
    assert model_json["input"]["lead_order"][6:] == ["V1", "V2", "V3", "V4", "V5", "V6"]
    steps = [step["step"] for step in model_json["preprocessing"]["steps"]]
    assert steps == [
        "leads",
        "resample",
        "bandpass",
        "normalize",
        "standardize",
        "windows",
        "aggregate",
    ]
    assert check_golden(runner, out / "golden.npz") <= 1e-6  # same runtime: exact
    parity = json.loads((out / "parity.json").read_text())
    assert parity["passed"] and parity["mode"] == mode
    assert "PASSED" in (out / "parity.txt").read_text()


@pytest.mark.parametrize("mode", ["none", "float16", "dynamic", "int8"])
@pytest.mark.parametrize("family", FAMILIES)
def test_export_modes(runs, family, mode):
    result = export_run(runs[family], mode=mode)
    report = result.report
    assert report.passed and report.auroc_drop <= report.max_auroc_drop
    assert report.auroc_keras[0] > 0.75  # trained, not random
    assert report.max_abs_window_logit_error <= LOGIT_ATOL[mode], report.to_text()
    assert report.decision_agreement >= (1.0 if mode == "none" else 0.9)
    _check_bundle(result, runs[family], mode)


def test_int16x8_per_family(runs):
    """16x8 works for the CNN and the unrolled CRNN; the transformer's LayerNorm NEG fails."""
    outcomes = {}
    for family in FAMILIES:
        try:
            outcomes[family] = export_run(runs[family], mode="int16x8").report.passed
        except ExportError as exc:
            outcomes[family] = str(exc)
    assert outcomes["resnet1d18"] is True and outcomes["crnn_lstm"] is True
    assert "16x8" in outcomes["transformer"] and "NEG" in outcomes["transformer"]
    assert "Traceback" not in outcomes["transformer"]


def test_gate_fails_a_broken_export(runs):
    run_dir = runs["resnet1d18"]
    contract = contract_io.load_contract(run_dir)
    cache = open_run_cache(contract)
    model = keras.saving.load_model(run_dir / "best.keras")
    broken = keras.models.clone_model(model)
    broken.set_weights(model.get_weights())
    head = broken.get_layer("head")
    head.set_weights([-w for w in head.get_weights()])  # reversed ranking
    blob = convert(broken, "none", window=256)
    report = verify_tflite(blob, model, cache, contract, mode="none")
    assert not report.passed and report.auroc_drop > 0.4
    assert "exceeds" in report.reason
    assert verify_tflite(
        convert(model, "none", window=256), model, cache, contract, mode="none"
    ).passed


def test_gate_refuses_to_write_unless_forced(runs, tmp_path):
    with pytest.raises(ParityError, match="parity gate failed"):
        export_run(runs["resnet1d18"], out_dir=tmp_path, max_auroc_drop=-1.0)
    assert not (tmp_path / "model.tflite").exists()
    assert not json.loads((tmp_path / "parity.json").read_text())["passed"]
    result = export_run(runs["resnet1d18"], out_dir=tmp_path, max_auroc_drop=-1.0, force=True)
    assert (tmp_path / "model.tflite").is_file() and result.report.forced
    assert "--force" in (tmp_path / "parity.txt").read_text()


def _folder_state(folder):
    return {path.name: path.read_bytes() for path in sorted(folder.iterdir())}


def test_a_bundle_folder_is_replaced_whole_and_only_with_overwrite(runs, tmp_path, monkeypatch):
    import keras_ecgpe.export.bundle as bundle

    out = tmp_path / "bundle"
    first = export_run(runs["resnet1d18"], out_dir=out, c_array=True)
    assert (
        {p.name for p in first.files}
        == {p.name for p in out.iterdir()}
        >= {"model.tflite", "model.json", "golden.npz", "model_data.cc", "parity.json"}
    )
    before = _folder_state(out)
    with pytest.raises(ExportError, match="already holds a bundle.*--overwrite"):
        export_run(runs["resnet1d18"], out_dir=out, mode="float16")
    assert _folder_state(out) == before
    a_file = tmp_path / "notes.txt"
    a_file.write_text("not a bundle")
    with pytest.raises(ExportError, match="is a file, not a folder"):
        export_run(runs["resnet1d18"], out_dir=a_file, overwrite=True)
    assert a_file.read_text() == "not a bundle"
    a_file.unlink()

    # A failure while the new bundle is being written leaves the old one untouched.
    def broken_golden(path, golden):
        raise OSError("disk full (injected)")

    monkeypatch.setattr(bundle, "write_golden", broken_golden)
    with pytest.raises(OSError, match="injected"):
        export_run(runs["resnet1d18"], out_dir=out, mode="float16", overwrite=True)
    monkeypatch.undo()
    assert _folder_state(out) == before
    assert [p.name for p in tmp_path.iterdir()] == ["bundle"]  # no staging folder left

    second = export_run(runs["resnet1d18"], out_dir=out, mode="float16", overwrite=True)
    assert "model_data.cc" not in {p.name for p in out.iterdir()}  # no file of the old one
    model_json = json.loads((out / "model.json").read_text())
    assert model_json == second.model_json and model_json["model"]["quantization"] == "float16"
    assert (
        model_json["file"]["sha256"]
        == hashlib.sha256((out / "model.tflite").read_bytes()).hexdigest()
    )

    # With --overwrite a rejected export replaces the folder by its report alone, so no
    # model ever sits beside a report that is not its own.
    with pytest.raises(ParityError):
        export_run(runs["resnet1d18"], out_dir=out, max_auroc_drop=-1.0, overwrite=True)
    assert sorted(p.name for p in out.iterdir()) == ["parity.json", "parity.txt"]
    assert [p.name for p in tmp_path.iterdir()] == ["bundle"]


def test_quantised_export_needs_real_data(runs, tmp_path):
    contract = contract_io.load_contract(runs["resnet1d18"])
    with pytest.raises(ExportError, match="calibration windows"):
        convert_model(
            keras.saving.load_model(runs["resnet1d18"] / "best.keras"),
            "int8",
            window=256,
            representative=None,
        )
    with pytest.raises(ExportError, match="calibration windows"):
        convert_model(
            keras.saving.load_model(runs["resnet1d18"] / "best.keras"),
            "int8",
            window=256,
            representative=np.full((4, 256, 12), np.nan, np.float32),
        )
    with pytest.raises(ExportError, match="real data"):
        export_run(runs["resnet1d18"], mode="int8", cache=tmp_path / "nowhere")
    with pytest.raises(ExportError, match="no train record"):
        validation_only = tmp_path / "validation_only"
        pulse_cache(validation_only, n_train=0, n_validation=8)
        export_run(runs["resnet1d18"], mode="int8", cache=validation_only, out_dir=tmp_path / "out")
    assert not (tmp_path / "out" / "model.tflite").exists()
    assert contract["data"]["synthetic"] is True


def test_micro_target_refuses_while_loops(runs, tmp_path):
    """A recurrent layer that is not unrolled converts to WHILE: fine for phones, not micro."""
    run_dir = tmp_path / "rnn_run"
    run_dir.mkdir()
    (run_dir / "contract.json").write_text((runs["resnet1d18"] / "contract.json").read_text())
    ecg = keras.Input((256, 12))
    steps = keras.layers.AveragePooling1D(8)(ecg)
    rnn = keras.Model(ecg, keras.layers.Dense(1)(keras.layers.LSTM(4, unroll=False)(steps)))
    rnn.save(run_dir / "best.keras")
    with pytest.raises(ExportError, match="WHILE"):
        export_run(run_dir, target="micro")
    assert "WHILE" in TFLiteRunner(convert(rnn, "none", window=256)).ops


def test_flex_operators_are_refused():
    import tensorflow as tf

    ecg = keras.Input((64, 12))
    cumprod = keras.layers.Lambda(lambda x: tf.math.cumprod(x, axis=1))(ecg)  # no builtin
    model = keras.Model(ecg, keras.layers.Dense(1)(keras.layers.GlobalAveragePooling1D()(cumprod)))
    with pytest.raises(ExportError, match=r"Flex\) operators \(Cumprod\)"):
        convert(model, "none", window=64)


def test_int8_io_and_c_array(runs):
    result = export_run(runs["crnn_lstm"], mode="int8", int8_io=True, c_array=True)
    model_json, out = result.model_json, result.out_dir
    assert out.name == "int8_io"
    for tensor in ("input", "output"):
        assert model_json[tensor]["dtype"] == "int8"
        assert model_json[tensor]["quantization"]["scale"] > 0
    runner = TFLiteRunner(out / "model.tflite")
    assert runner.input_quantization == (
        model_json["input"]["quantization"]["scale"],
        model_json["input"]["quantization"]["zero_point"],
    )
    check_golden(runner, out / "golden.npz")
    source = (out / "model_data.cc").read_text()
    assert "alignas(16) const unsigned char g_model_data[]" in source
    assert f"g_model_data_len = {model_json['file']['size_bytes']};" in source
    assert source.count("0x") == model_json["file"]["size_bytes"]
    assert "extern const unsigned int g_model_data_len;" in (out / "model_data.h").read_text()


def test_metadata_entry_is_replaced_and_model_still_runs(runs):
    blob = embed(
        convert(keras.saving.load_model(runs["resnet1d18"] / "best.keras"), "none", window=256),
        {"first": 1},
    )
    again = embed(blob, {"hello": "world"})
    assert read_metadata(again) == {"hello": "world"}
    x = np.zeros((2, 256, 12), np.float32)
    np.testing.assert_array_equal(TFLiteRunner(again).logits(x), TFLiteRunner(blob).logits(x))
    assert c_array_sources(b"\x01\x02")[1].count("0x") == 2


def test_child_crash_becomes_a_message():
    with pytest.raises(ExportError, match="int8 conversion child process died from SIGSEGV"):
        run_child(
            ["-c", "import os, signal; os.kill(os.getpid(), signal.SIGSEGV)"],
            task="int8 conversion",
            timeout_s=60,
            error=ExportError,
        )
    with pytest.raises(ExportError, match="not_a_model.keras"):
        convert(
            None,
            "int8",
            window=256,
            representative=np.zeros((2, 256, 12), np.float32),
            model_path="not_a_model.keras",
        )


def test_cli_export_and_clean_errors(runs, tmp_path):
    runner = CliRunner()
    ok = runner.invoke(
        cli, ["export", str(runs["transformer"]), "--tflite", "--out", str(tmp_path / "t")]
    )
    assert ok.exit_code == 0, ok.output
    assert "PASSED" in ok.output and (tmp_path / "t" / "model.tflite").is_file()
    again = runner.invoke(
        cli, ["export", str(runs["transformer"]), "--tflite", "--out", str(tmp_path / "t")]
    )
    assert again.exit_code == 1 and "--overwrite" in again.output
    assert "Traceback" not in again.output
    replaced = runner.invoke(
        cli,
        [
            "export",
            str(runs["transformer"]),
            "--tflite",
            "--out",
            str(tmp_path / "t"),
            "--overwrite",
        ],
    )
    assert replaced.exit_code == 0, replaced.output
    for args, message, code in (
        (["--quantize", "float16", "--int8-io"], "--int8-io needs --quantize int8", 1),
        (["--quantize", "int8", "--cache", str(tmp_path / "missing")], "real data", 1),
        # A negative tolerance is a usage error (the option's range), refused before converting.
        (["--max-auroc-drop", "-1"], "'--max-auroc-drop': -1.0 is not in the range", 2),
    ):
        result = runner.invoke(
            cli,
            ["export", str(runs["transformer"]), "--tflite", "--out", str(tmp_path / "x"), *args],
        )
        assert result.exit_code == code, result.output
        assert message in result.output and "Traceback" not in result.output
    missing = runner.invoke(cli, ["export", str(tmp_path), "--tflite"])
    assert missing.exit_code == 1 and "best.keras" in missing.output

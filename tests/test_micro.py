"""`export --target micro`: the model in TensorFlow Lite Micro, its budgets and its C array.

The TFLM interpreter is the real one (the `tflite-micro` package); the C array is compiled
with the machine's C++ compiler. The slow tests train one tiny DS-CNN-1D (the family
sized for microcontrollers) on the pulse-train cache (SYNTHETIC) and export it.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from fixtures import make_run, pulse_cache
from keras_ecgpe.export.c_array import write_c_array
from keras_ecgpe.export.micro_budget import check_budget
from keras_ecgpe.export.micro_target import check_request
from keras_ecgpe.export.tflite import ExportError

COMPILER = shutil.which("c++") or shutil.which("g++")
needs_compiler = pytest.mark.skipif(COMPILER is None, reason="no C++ compiler on this machine")
# Writes the array to stdout, byte for byte: what the compiler put in the object file.
DUMP_MAIN = """
#include <cstdio>
#include "model_data.h"
int main() {
  return std::fwrite(g_model_data, 1, g_model_data_len, stdout) == g_model_data_len ? 0 : 1;
}
"""


def test_budget_refusals_say_by_how_much_and_what_would_fit():
    budget = {
        "arena_bytes": 100 * 1024,
        "arena_head_bytes": 90 * 1024,  # activations: scale with the window
        "arena_tail_bytes": 10 * 1024,
        "flash_bytes": 300 * 1024,
    }
    check_budget(budget, window=1000, fs=250.0, mcu_ram_kb=100, mcu_flash_kb=300)  # fits
    with pytest.raises(ExportError) as ram:
        check_budget(budget, window=1000, fs=250.0, mcu_ram_kb=64)
    message = str(ram.value)
    assert "--mcu-ram 64: the model needs a 100.0 KB tensor arena" in message
    assert "36.0 KB more than allowed" in message
    # (64 - 10) / 90 of the window: 600 samples, 2.40 s at 250 Hz, or 4 s at 150 Hz.
    assert "a window of about 600 samples instead of 1000 (2.40 s at 250 Hz)" in message
    assert "the same 4.00 s at about 150 Hz" in message and "dscnn1d" in message
    with pytest.raises(ExportError) as both:
        check_budget(budget, window=1000, fs=250.0, mcu_ram_kb=8, mcu_flash_kb=256)
    message = str(both.value)
    assert "--mcu-flash 256: the model file is 300.0 KB, 44.0 KB over" in message
    assert "--mcu-ram 8" in message and "window of about" not in message  # 8 KB < tail


def test_mcu_budgets_need_the_micro_target():
    check_request("micro", 256, 1024)
    check_request(None)
    with pytest.raises(ExportError, match="--mcu-ram needs --target micro"):
        check_request(None, mcu_ram_kb=256)
    with pytest.raises(ExportError, match="--mcu-flash must be a positive"):
        check_request("micro", mcu_flash_kb=0)


def _compiled_bytes(folder: Path) -> bytes:
    (folder / "dump.cc").write_text(DUMP_MAIN)
    binary = folder / "dump"
    subprocess.run(
        [COMPILER, "-std=c++17", "-O0", "-I", folder, folder / "dump.cc", folder / "model_data.cc"]
        + ["-o", binary],
        check=True,
        capture_output=True,
        timeout=300,
    )
    return subprocess.run([binary], check=True, capture_output=True, timeout=60).stdout


@pytest.mark.slow
@needs_compiler
def test_c_array_compiles_to_the_tflite_bytes(tmp_path):
    from tflite_micro.python.tflite_micro import runtime

    blob = Path(runtime.__file__).with_name("sine_float.tflite").read_bytes()  # a real model
    write_c_array(blob, tmp_path, sha256="0" * 64)
    assert _compiled_bytes(tmp_path) == blob


@pytest.fixture(scope="module")
def micro_export(tmp_path_factory):
    from keras_ecgpe.export.bundle import export_run

    root = tmp_path_factory.mktemp("micro")
    cache = pulse_cache(root / "cache")
    run_dir = make_run(root / "dscnn1d", cache, "dscnn1d", epochs=3)[0]
    result = export_run(run_dir, mode="int8", int8_io=True, target="micro", c_array=True)
    return run_dir, result


@pytest.mark.slow
def test_micro_export_runs_in_tflm_with_parity_and_states_its_budget(micro_export):
    from keras_ecgpe.export.bundle_verify import verify_bundle
    from keras_ecgpe.export.micro import MicroRunner
    from keras_ecgpe.inference.tflite_runner import TFLiteRunner, read_embedded_json

    _, result = micro_export
    out, micro = result.out_dir, result.model_json["micro"]
    blob = (out / "model.tflite").read_bytes()
    assert micro["flash_bytes"] == len(blob) == result.model_json["file"]["size_bytes"]
    assert read_embedded_json(blob)["micro"] == micro  # the shipped file states its own size
    assert micro["arena_bytes"] == micro["arena_head_bytes"] + micro["arena_tail_bytes"] > 0
    assert micro["input_bytes"] == np.prod(result.model_json["input"]["shape"])  # int8 input
    assert micro["ops"] == TFLiteRunner(blob).ops and "DEPTHWISE_CONV_2D" in micro["ops"]
    parity = json.loads((out / "parity_micro.json").read_text())
    assert parity["runtime"] == "TFLite Micro" and parity["passed"], parity["reason"]
    assert parity["n_windows"] == result.report.n_windows
    assert micro["verification"]["passed"] and micro["verification"]["auroc_drop"] <= 0.01
    # Integer kernels of TFLM and LiteRT may round differently: a few output steps at most.
    step = result.model_json["output"]["quantization"]["scale"]
    assert parity["max_abs_window_logit_error_vs_litert"] <= 4 * step
    with np.load(out / "golden.npz") as golden:
        tflm = MicroRunner(blob, micro["arena_bytes"]).logits(golden["inputs"])
        assert np.array_equal(tflm, golden["micro_logits"])
        assert np.max(np.abs(tflm - golden["expected_logits"])) <= golden["atol"]
    verify_bundle(out)  # `export verify`: hash, embedded description (micro included), golden


@pytest.mark.slow
@needs_compiler
def test_micro_bundle_c_array_compiles_to_its_tflite(micro_export, tmp_path):
    _, result = micro_export
    for name in ("model_data.cc", "model_data.h"):
        shutil.copy(result.out_dir / name, tmp_path / name)
    assert _compiled_bytes(tmp_path) == (result.out_dir / "model.tflite").read_bytes()


ARENA_RUN = """
import sys, numpy as np
from keras_ecgpe.export.micro_probe import load_interpreter, run_once
interpreter = load_interpreter(open(sys.argv[1], "rb").read(), int(sys.argv[2]))
detail = interpreter.get_input_details(0)
run_once(interpreter, np.zeros(detail["shape"], detail["dtype"]))
"""


@pytest.mark.slow
def test_the_stated_arena_is_the_smallest_that_runs(micro_export):
    _, result = micro_export
    model, arena = result.out_dir / "model.tflite", result.model_json["micro"]["arena_bytes"]
    runs = {
        size: subprocess.run(
            [sys.executable, "-c", ARENA_RUN, model, str(size)], capture_output=True, timeout=120
        ).returncode
        for size in (arena, arena - 16)
    }
    assert runs[arena] == 0
    assert runs[arena - 16] != 0  # TFLM cannot allocate (and this wrapper then crashes)


@pytest.mark.slow
def test_an_operator_tflm_lacks_is_refused_by_name():
    import tensorflow as tf

    from keras_ecgpe.export.micro import probe

    @tf.function(input_signature=[tf.TensorSpec([1, 4], tf.float32)])
    def tile(x):
        return tf.tile(x, [1, 3])

    converter = tf.lite.TFLiteConverter.from_concrete_functions([tile.get_concrete_function()])
    with pytest.raises(ExportError, match=r"op resolver lacks TILE \(tflite-micro "):
        probe(converter.convert())


@pytest.mark.slow
def test_cli_refuses_a_model_over_budget(micro_export, tmp_path):
    from click.testing import CliRunner

    from keras_ecgpe.cli.main import cli

    run_dir, _ = micro_export
    out = tmp_path / "over"
    args = ["export", str(run_dir), "--tflite", "--target", "micro", "--out", str(out)]
    result = CliRunner().invoke(cli, args + ["--mcu-ram", "1", "--mcu-flash", "2"])
    assert result.exit_code != 0
    message = result.output.strip().splitlines()[-1]
    assert "--mcu-ram 1: the model needs a" in message and "--mcu-flash 2" in message
    assert "Traceback" not in result.output and not out.exists()
    refused = CliRunner().invoke(cli, ["export", str(run_dir), "--tflite", "--mcu-ram", "64"])
    assert refused.exit_code != 0 and "--mcu-ram needs --target micro" in refused.output


@pytest.mark.slow
def test_dscnn1d_fits_256_kb_of_arena_and_1_mb_of_flash_at_250_hz():
    """The family's claim, at its default width: 12 leads, 10 s at 250 Hz, full int8."""
    import keras

    from keras_ecgpe.export.micro import probe
    from keras_ecgpe.export.micro_budget import micro_budget
    from keras_ecgpe.export.tflite import convert_model
    from keras_ecgpe.inference.tflite_runner import TFLiteRunner
    from keras_ecgpe.models import build_model

    keras.utils.set_random_seed(0)
    model = build_model("dscnn1d", input_len=2500, num_classes=1)
    windows = np.random.default_rng(0).normal(size=(8, 2500, 12)).astype(np.float32)
    blob = convert_model(model, "int8", window=2500, representative=windows, int8_io=True)
    budget = micro_budget(TFLiteRunner(blob), probe(blob), len(blob))
    check_budget(budget, window=2500, fs=250.0, mcu_ram_kb=256, mcu_flash_kb=1024)
    assert budget["input_bytes"] == 2500 * 12  # int8 input: one byte per sample and lead
    with pytest.raises(ExportError, match="window of about"):  # and a budget it misses
        check_budget(budget, window=2500, fs=250.0, mcu_ram_kb=budget["arena_bytes"] / 2048)

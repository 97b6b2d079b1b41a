"""`predict`: real records through a `.keras` model and its float `.tflite` decide alike.

The model is a tiny ResNet trained on SYNTHETIC data (`fixtures.pulse_cache`): its decisions on
the real records mean nothing clinically; the test is that both backends share one
preprocessing path (resampling from 1000 Hz included) and agree.
"""

from __future__ import annotations

import json
import pathlib
import shutil

import numpy as np
import pytest
from click.testing import CliRunner

from fixtures import make_run, pulse_cache
from keras_ecgpe.cli.main import cli
from keras_ecgpe.export.bundle import export_run
from keras_ecgpe.export.tflite import convert
from keras_ecgpe.inference import Predictor

# Slow tier: trains and exports a tiny model.
pytestmark = pytest.mark.slow

REAL = pathlib.Path(__file__).resolve().parents[2] / "shared" / "data" / "real-ecg"
RECORDS = (
    [str(p.with_suffix("")) for p in sorted((REAL / "ptbxl/records500/06000").glob("*.hea"))]
    + [str(p.with_suffix("")) for p in sorted((REAL / "cinc").glob("*.hea"))]
    + [str(REAL / "cpsc2018/A1980.mat"), str(REAL / "ptb/s0010_re"), str(REAL / "ludb/1")]
)


@pytest.fixture(scope="module")
def bundle(tmp_path_factory):
    root = tmp_path_factory.mktemp("predict")
    run_dir, _, contract = make_run(root / "run", pulse_cache(root / "cache"), "resnet1d18")
    result = export_run(run_dir, mode="none")
    return run_dir, result.out_dir / "model.tflite", contract


def _write_csv(path, leads, seconds=10.0, fs=500.0, units="mV"):
    t = np.arange(int(seconds * fs)) / fs
    data = np.stack([np.sin(2 * np.pi * (1 + k) * t) for k in range(len(leads))], axis=1)
    lines = [f"# fs={fs:g} units={units}", ",".join(leads)]
    lines += [",".join(f"{v:.5f}" for v in row) for row in data]
    path.write_text("\n".join(lines) + "\n")
    return str(path)


def test_keras_and_tflite_decide_alike_on_real_records(bundle):
    run_dir, tflite, contract = bundle
    assert len(RECORDS) == 28  # 10 PTB-XL, 15 CinC, CPSC2018, PTB, LUDB
    keras_results = Predictor.load(run_dir / "best.keras").predict_files(RECORDS)
    tflite_results = Predictor.load(tflite).predict_files(RECORDS)
    assert [r.get("error") for r in keras_results] == [None] * len(RECORDS)
    for a, b in zip(keras_results, tflite_results):
        assert a["record"] == b["record"] and a["windows"] == b["windows"]
        assert a["decisions"] == b["decisions"]
        assert abs(a["logits"]["PE"] - b["logits"]["PE"]) < 1e-3
        # Decisions on raw logits equal calibrated probabilities at calibrated thresholds.
        assert a["decisions"]["PE"] == int(
            a["probabilities"]["PE"] >= contract["calibrated_thresholds"][0] - 1e-12
        )
    ptb = keras_results[RECORDS.index(str(REAL / "ptb/s0010_re"))]
    samples = 38400 // 10  # 38.4 s at 1000 Hz resampled to the contract's 100 Hz
    assert ptb["windows"] == (samples - 256) // 128 + 1 + ((samples - 256) % 128 != 0)


def test_records_that_do_not_fit_get_a_message(bundle, tmp_path):
    run_dir, tflite, _ = bundle
    leads = ["I", "II", "III", "aVR", "aVL", "aVF", "V1", "V2", "V3", "V4", "V5", "V6"]
    bad = {
        "limbs_only": _write_csv(tmp_path / "limbs.csv", leads[:6]),
        "too_short": _write_csv(tmp_path / "short.csv", leads, seconds=1.0),
        "wrong_units": _write_csv(tmp_path / "units.csv", leads, units="mmHg"),
    }
    # SYNTHETIC corrupt .mat on which scipy 1.17 segfaults or raises, depending on memory.
    bad["corrupt_mat"] = str(tmp_path / "A0001.mat")
    shutil.copy(pathlib.Path(__file__).parent / "data" / "scipy_segfault.mat", bad["corrupt_mat"])
    good = _write_csv(tmp_path / "good.csv", leads)
    results = Predictor.load(tflite).predict_files([good, *bad.values()])
    assert set(results[0]["decisions"]) == {"PE"} and "error" not in results[0]
    messages = [r["error"] for r in results[1:]]
    assert "V1" in messages[0] or "precordial" in messages[0]
    assert "shorter than window=256" in messages[1] and "short.csv" in messages[1]
    assert "mmHg" in messages[2]
    assert messages[3].startswith(bad["corrupt_mat"]) and (
        "crashed the worker process" in messages[3] or "cannot read MATLAB" in messages[3]
    )
    cli_result = CliRunner().invoke(cli, ["predict", str(run_dir), good, *bad.values(), "--json"])
    assert cli_result.exit_code == 1
    entries = json.loads(cli_result.stdout)
    assert [("error" in e) for e in entries] == [False, True, True, True, True]
    assert entries[0]["probabilities"]["PE"] == pytest.approx(
        results[0]["probabilities"]["PE"], abs=1e-4
    )


def test_cli_predict_formats(bundle):
    run_dir, tflite, _ = bundle
    runner = CliRunner()
    records = RECORDS[:3]
    as_csv = runner.invoke(cli, ["predict", str(tflite), *records, "--csv"])
    assert as_csv.exit_code == 0, as_csv.output
    rows = as_csv.output.strip().splitlines()
    assert rows[0] == "record,PE_probability,PE_decision,error" and len(rows) == 4
    text = runner.invoke(cli, ["predict", str(run_dir / "best.keras"), *records])
    assert text.exit_code == 0 and "PE p=" in text.output
    as_json = runner.invoke(cli, ["predict", str(run_dir), *records, "--json"])
    decisions = [e["decisions"]["PE"] for e in json.loads(as_json.output)]
    assert decisions == [int(row.split(",")[2]) for row in rows[1:]]


def test_cli_predict_model_errors_are_one_line(bundle, tmp_path):
    run_dir, _, _ = bundle
    runner = CliRunner()
    lonely = tmp_path / "lonely.keras"
    lonely.write_bytes((run_dir / "best.keras").read_bytes())
    bare = tmp_path / "bare.tflite"
    import keras

    bare.write_bytes(convert(keras.saving.load_model(lonely), "none", window=256))
    for model, message in ((lonely, "contract.json"), (bare, "no keras_ecgpe contract")):
        result = runner.invoke(cli, ["predict", str(model), RECORDS[0]])
        assert result.exit_code == 1 and message in result.output
        assert "Traceback" not in result.output and len(result.output.strip().splitlines()) == 1


def test_model_json_steps_reproduce_the_windows(bundle):
    """An app following model.json's steps (and only its constants) gets the same windows."""
    from fractions import Fraction

    from scipy import signal as sps

    from keras_ecgpe.data.readers import read_record

    _, tflite, _ = bundle
    steps = {
        s["step"]: s
        for s in json.loads((tflite.parent / "model.json").read_text())["preprocessing"]["steps"]
    }
    record = read_record(REAL / "ptb/s0010_re")  # 1000 Hz: the resampling step matters
    ratio = Fraction(steps["resample"]["to_hz"] / record.fs).limit_denominator(1000)
    x = sps.resample_poly(record.signal, ratio.numerator, ratio.denominator, axis=0)
    x = sps.sosfiltfilt(np.asarray(steps["bandpass"]["sos"]), x, axis=0)
    x = (x - x.mean(axis=0)) / x.std(axis=0)
    x = (x - np.asarray(steps["standardize"]["mean"])) / np.asarray(steps["standardize"]["std"])
    window, stride = steps["windows"]["window"], steps["windows"]["stride"]
    starts = list(range(0, len(x) - window + 1, stride))
    starts += [len(x) - window] if starts[-1] != len(x) - window else []
    expected = np.stack([x[s : s + window] for s in starts])
    np.testing.assert_allclose(Predictor.load(tflite).windows(record), expected, atol=1e-4)


EXPLAINED = [
    REAL / "ptbxl/records100/00000/00001_lr",
    REAL / "ptbxl/records500/06000/06000_hr",
    REAL / "cinc/E00666",
    REAL / "cpsc2018/A1981.mat",
    REAL / "ptb/s0010_re",
]


def test_cli_explain_real_records_through_the_tflite_run(bundle, tmp_path):
    """--explain on a .tflite uses its run's .keras; every real record kind gets a map."""
    run_dir, tflite, _ = bundle
    plots = tmp_path / "plots"
    args = ["predict", str(tflite), *map(str, EXPLAINED), "--explain", "--steps", "16"]
    result = CliRunner().invoke(cli, [*args, "--json", "--plot", str(plots)])
    assert result.exit_code == 0, result.output
    entries = json.loads(result.output)
    for entry, path in zip(entries, EXPLAINED):
        how = entry["explanation"]
        assert how["explained_model"] == str(run_dir / "best.keras")
        assert sum(how["lead_shares"].values()) == pytest.approx(1.0)
        assert len(how["top_segments"]) == 3 and how["padding_share"] == 0.0
        # Mean aggregation: the record map sums to the logit difference (16 steps).
        assert (
            abs(how["completeness_gap"]) <= 0.05 * abs(how["logit"] - how["baseline_logit"]) + 0.01
        )
        assert how["logit"] == pytest.approx(entry["logits"]["PE"], abs=1e-3)  # Keras vs LiteRT
        assert pathlib.Path(how["plot"]).name == path.name.split(".")[0] + ".png"
    ptb = entries[-1]["explanation"]["top_segments"]
    assert all(0.0 <= s["start_s"] < 38.4 for s in ptb)
    # Plots are never overwritten: the same folder again is refused, in one line.
    again = CliRunner().invoke(cli, [*args, "--plot", str(plots)])
    assert again.exit_code == 1 and "exists" in again.output and "Traceback" not in again.output


def test_explain_refuses_a_tflite_it_cannot_trace(bundle, tmp_path):
    run_dir, tflite, _ = bundle
    runner = CliRunner()
    moved = tmp_path / "bundle"  # the whole bundle, outside its run's export/ folder
    shutil.copytree(tflite.parent, moved)
    result = runner.invoke(cli, ["predict", str(moved), str(EXPLAINED[0]), "--explain"])
    assert result.exit_code == 1 and "not inside a run's export/" in result.output
    # A run retrained after the export: its contract no longer matches the embedded one.
    copy = tmp_path / "run"
    shutil.copytree(run_dir, copy)
    contract = json.loads((copy / "contract.json").read_text())
    contract["temperature"] = contract["temperature"] + 0.5
    (copy / "contract.json").write_text(json.dumps(contract))
    exported = copy / tflite.relative_to(run_dir)
    result = runner.invoke(cli, ["predict", str(exported), str(EXPLAINED[0]), "--explain"])
    assert result.exit_code == 1 and "embedded contract differs" in result.output
    assert len(result.output.strip().splitlines()) == 1

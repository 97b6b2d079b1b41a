"""`evaluate`, `predict` and the exported rule call the same records positive, for any logit.

The cut is stored as a logit (`thresholds.logit_cuts`) and applied as `logit >= cut`
(`evaluation.decide`). A probability threshold saturates: `sigmoid(37.5)` is exactly 1.0,
so validation logits [30, 35, 40, 45] with labels [0, 0, 1, 1] once gave specificity 1.0 in
`evaluate` while `predict`, clipping the probability at 1 - 1e-12 (logit 27.6), called all
four records positive.

The model is a probe whose logit is the mean of lead I over the window (a pooling layer and
a fixed dense layer), so each record's logit is chosen exactly by writing that constant.
"""

from __future__ import annotations

import copy
import csv

import keras
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from keras_ecgpe import schemas
from keras_ecgpe.data.cache import CacheWriter
from keras_ecgpe.data.readers import read_record
from keras_ecgpe.errors import ConfigError
from keras_ecgpe.evaluation import choose_thresholds, decide
from keras_ecgpe.export.metadata import _decision
from keras_ecgpe.inference import Predictor, contract_io
from keras_ecgpe.run_directory import (
    BEST_MODEL,
    CONTRACT_FORMAT,
    PREDICTIONS,
    load_contract,
    save_contract,
)
from keras_ecgpe.training.contract import make_contract
from keras_ecgpe.training.evaluate import evaluate_run

FS, WINDOW, LENGTH = 100.0, 100, 200
LABELS = [0, 0, 1, 1]
PREPROCESS = {
    "target_fs": FS,
    "filter": "none",
    "low_hz": 1.0,
    "high_hz": 45.0,
    "normalize": "none",
    "duration_s": None,
    "pad": "none",
    "crop": "centre",
}


def _signal(logit: float, tag: float = 0.0) -> np.ndarray:
    """Lead I carries the logit; lead III's level `tag` makes each recording distinct (the
    leakage check refuses one recording in two splits); the probe ignores both others."""
    x = np.zeros((LENGTH, 12), dtype=np.float32)
    x[:, 2] = tag
    x[:, 0] = logit  # lead I carries the logit; exact in float32
    x[:, 1] = np.tile([1.0, -1.0], LENGTH // 2)  # lead II moves (all-flat records are refused)
    return x


def _probe_model() -> keras.Model:
    """logit = mean over time of lead I (a window of constant lead I gives that constant)."""
    inputs = keras.Input((WINDOW, 12))
    pooled = keras.layers.GlobalAveragePooling1D()(inputs)
    dense = keras.layers.Dense(1)
    outputs = dense(pooled)
    kernel = np.zeros((12, 1), dtype=np.float32)
    kernel[0, 0] = 1.0
    dense.set_weights([kernel, np.zeros(1, dtype=np.float32)])
    return keras.Model(inputs, outputs)


def _run(tmp_path, logits):
    """A cache (validation and test records at `logits`) and a run whose cut is chosen on it."""
    writer = CacheWriter(
        tmp_path / "cache",
        key="k",
        source={},
        settings={"preprocess": PREPROCESS},
        fs=FS,
        label_names=["PE"],
    )
    for split in ("validation", "test"):
        for k, (z, label) in enumerate(zip(logits, LABELS, strict=True)):
            name = f"{split}-{k}"
            writer.add(
                _signal(z, tag=len(split) + k),
                record_id=name,
                patient_id=name,
                labels=[float(label)],
                split=split,
            )
    cache = writer.close()
    choice = choose_thresholds(np.array(LABELS)[:, None], np.array(logits)[:, None])
    run_dir = tmp_path / "run"
    run_dir.mkdir()
    _probe_model().save(run_dir / BEST_MODEL)
    contract = make_contract(
        cache=cache,
        model_name="probe",
        window=WINDOW,
        stride=WINDOW,
        eval_mode="sliding",
        aggregate="mean",
        label_names=["PE"],
        threshold_choice=choice,
        temperature=1.5,
        standardizer=None,
    )
    save_contract(contract, run_dir)
    return run_dir, cache, load_contract(run_dir)


def _csv_record(path, logit: float) -> str:
    lines = [f"# fs={FS:g} units=mV", "I,II,III,aVR,aVL,aVF,V1,V2,V3,V4,V5,V6"]
    lines += [",".join(f"{v:g}" for v in row) for row in _signal(logit)]
    path.write_text("\n".join(lines) + "\n")
    return str(path)


# The example (cut 37.5) and one whose cut's probability is exactly 1.0 (cut 44).
@pytest.mark.parametrize("logits", [[30.0, 35.0, 40.0, 45.0], [38.0, 42.0, 46.0, 50.0]])
def test_evaluate_predict_and_model_json_call_the_same_records_positive(tmp_path, logits):
    run_dir, cache, contract = _run(tmp_path, logits)
    assert contract["thresholds"]["logit_cuts"] == [(logits[1] + logits[2]) / 2]
    assert contract["thresholds"]["rule"] == "positive when logit >= logit_cut"

    metrics = evaluate_run(run_dir, cache.path, split="test", n_boot=0, plots=False)
    pe = metrics["per_label"]["PE"]
    assert pe["specificity"] == 1.0 and pe["tp"] + pe["fp"] == 2
    with open(run_dir / "eval-test" / PREDICTIONS) as handle:
        evaluated = {row["record_id"]: int(row["PE_positive"]) for row in csv.DictReader(handle)}

    predictor = Predictor.load(run_dir / BEST_MODEL)
    predicted, record_logits = {}, []
    for k, z in enumerate(logits):
        result = predictor.predict_record(read_record(_csv_record(tmp_path / f"r{k}.csv", z)))
        predicted[f"test-{k}"] = result["decisions"]["PE"]
        record_logits.append(result["logits"]["PE"])
    assert record_logits == logits
    assert predicted == {"test-0": 0, "test-1": 0, "test-2": 1, "test-3": 1}
    assert evaluated == predicted
    # What an app does with model.json: the raw logit against `decision.logit_cuts`.
    decision = _decision(contract)
    app = np.array(record_logits) >= np.array(decision["logit_cuts"])
    assert app.astype(int).tolist() == [predicted[f"test-{k}"] for k in range(4)]


def _contract_with(choice) -> dict:
    """A minimal contract holding `choice`, enough for `contract_io.decisions`."""
    return {"thresholds": choice.to_dict()}


@settings(max_examples=200, deadline=None)
@given(
    validation=st.lists(st.floats(-60, 60), min_size=2, max_size=12),
    records=st.lists(st.floats(-60, 60), min_size=1, max_size=12),
    method=st.sampled_from(["f1", "youden", "sensitivity", "specificity"]),
)
def test_predictor_rule_is_decide_for_any_logit(validation, records, method):
    labels = np.arange(len(validation)) % 2
    choice = choose_thresholds(labels[:, None], np.array(validation)[:, None], method=method)
    # The contract goes through JSON's float round trip, as a saved run's does.
    stored = _contract_with(choice)
    z = np.array(records + [float(choice.cuts[0])])[:, None]  # a record exactly on the cut
    expected = decide(z, choice)
    assert (contract_io.decisions(stored, z) == expected).all()
    assert (np.asarray(z) >= np.array(_decision_cuts(stored))).tolist() == expected.tolist()


def _decision_cuts(contract) -> list:
    return contract_io.threshold_choice(contract).to_dict()["logit_cuts"]


def test_an_old_contract_with_probability_thresholds_is_still_read():
    old = {"thresholds": {"thresholds": [0.5, 1.0], "method": "f1"}}
    cuts = contract_io.logit_cuts(old)
    assert cuts[0] == 0.0 and cuts[1] > 1e300  # p = 1: no finite logit is positive
    assert contract_io.decisions(old, [[0.0, 1e6]]).tolist() == [[1, 0]]


def test_new_contracts_must_carry_logit_cuts_old_ones_are_still_read(tmp_path):
    run_dir, _, contract = _run(tmp_path, [30.0, 35.0, 40.0, 45.0])
    assert contract["format"] == CONTRACT_FORMAT
    schemas.validate(contract, "contract", "new")
    without_cuts = copy.deepcopy(contract)
    del without_cuts["thresholds"]["logit_cuts"]
    with pytest.raises(ConfigError, match="logit_cuts"):
        schemas.validate(without_cuts, "contract", "new", error_type=ConfigError)
    old = copy.deepcopy(without_cuts)
    old["format"] = "keras_ecgpe.contract/1"
    old["thresholds"]["rule"] = "positive when sigmoid(raw logit) >= threshold"
    save_contract(old, run_dir)
    assert contract_io.load_contract(run_dir)["format"] == "keras_ecgpe.contract/1"
    # Converted once: sigmoid(37.5) read back as a logit, within float64's saturation.
    assert abs(contract_io.logit_cuts(old)[0] - 37.5) < 1.0


@pytest.mark.parametrize("logits", [[30.0, 35.0, 40.0, 45.0], [38.0, 42.0, 46.0, 50.0]])
def test_cross_validation_pools_logits_centred_on_the_logit_cut(tmp_path, logits):
    """A fold's held-out logits are pooled as `logit - cut`; through a probability the cut
    saturated (44 -> 1.0 -> +inf) and every pooled record became negative."""
    from keras_ecgpe.studies.cv_plan import Fold
    from keras_ecgpe.studies.cv_summary import score_heldout
    from keras_ecgpe.training.config import TrainConfig

    run_dir, cache, contract = _run(tmp_path, logits)
    test_rows = cache.indices("test")
    fold = Fold(0, 0, cache.indices("validation"), cache.indices("validation"), test_rows)
    result = score_heldout(run_dir, cache, fold, TrainConfig())
    centred = np.array(result["centred_logits"])[:, 0]
    cut = contract["thresholds"]["logit_cuts"][0]
    assert centred.tolist() == [z - cut for z in logits]
    assert (
        (centred >= 0)
        == decide(np.array(logits)[:, None], contract_io.threshold_choice(contract))[:, 0]
    ).all()

"""Tests of transfer learning: loading with the contract, weight transfer, freezing, stages."""

import json
import shutil

import keras
import numpy as np
import pytest

from fixtures import TOY_PREPROCESS, toy_cache
from keras_ecgpe.errors import ConfigError
from keras_ecgpe.models import build_model
from keras_ecgpe.run_directory import load_contract, save_contract
from keras_ecgpe.training.contract import check_compatible, make_contract
from keras_ecgpe.training.transfer import (  # noqa: E501
    backbone_stages,
    discriminative_multipliers,
    gradual_plan,
    load_pretrained,
    set_unfrozen_stages,
    transfer_model,
)

WINDOW = 250


def batch_norm_stats(model):
    return [
        w.copy()
        for layer in model.backbone.layers
        if isinstance(layer, keras.layers.BatchNormalization)
        for w in (layer.moving_mean.numpy(), layer.moving_variance.numpy())
    ]


@pytest.fixture(scope="module")
def toy(tmp_path_factory):
    return toy_cache(
        tmp_path_factory.mktemp("transfer") / "cache",
        n_classes=2,
        splits={"train": 32, "validation": 8, "test": 8},
    )


@pytest.fixture(scope="module")
def pretrained_run(tmp_path_factory, toy):
    """A run directory with a trained tiny model (weights and BN statistics moved)."""
    keras.utils.set_random_seed(1)
    model = build_model("resnet1d18", input_len=WINDOW, num_classes=2, width=8)
    model.compile("adam", keras.losses.BinaryCrossentropy(from_logits=True))
    x = np.stack([toy.signal(int(i))[:WINDOW] for i in toy.indices("train")])
    model.fit(x, toy.labels[toy.indices("train")], epochs=2, batch_size=8, verbose=0)
    run = tmp_path_factory.mktemp("pretrained")
    model.save(run / "best.keras")
    save_contract(
        make_contract(
            cache=toy,
            model_name="resnet1d18",
            window=WINDOW,
            stride=125,
            eval_mode="sliding",
            aggregate="max",
            label_names=toy.label_names,
            temperature=1.0,
            standardizer=None,
            threshold_choice={"thresholds": [0.5, 0.5], "method": "f1", "target": None},
        ),
        run,
    )
    return run


@pytest.mark.slow
def test_load_pretrained_from_a_run_or_a_keras_file(pretrained_run, tmp_path):
    model, contract = load_pretrained(pretrained_run)
    assert contract["model_name"] == "resnet1d18" and contract["window"] == WINDOW
    assert model.backbone.input_len == WINDOW
    again, _ = load_pretrained(pretrained_run / "best.keras")
    for a, b in zip(model.get_weights(), again.get_weights()):
        np.testing.assert_array_equal(a, b)
    shutil.copy(pretrained_run / "best.keras", tmp_path / "bare.keras")
    with pytest.raises(ConfigError, match="contract"):
        load_pretrained(tmp_path / "bare.keras")
    with pytest.raises(ConfigError, match="best.keras"):
        load_pretrained(tmp_path)
    with pytest.raises(ConfigError, match="init_from"):
        load_pretrained(tmp_path / "missing.keras")


@pytest.mark.slow
def test_transfer_copies_the_backbone_and_makes_a_fresh_head(pretrained_run):
    pretrained, _ = load_pretrained(pretrained_run)
    keras.utils.set_random_seed(7)
    model = transfer_model(pretrained, num_classes=2, finetune="full")
    fresh = build_model("resnet1d18", input_len=WINDOW, num_classes=2, width=8)
    for ours, source in zip(model.backbone.get_weights(), pretrained.backbone.get_weights()):
        np.testing.assert_array_equal(ours, source)
    differs = [
        not np.allclose(s, n)
        for s, n in zip(pretrained.backbone.get_weights(), fresh.backbone.get_weights())
    ]
    assert sum(differs) > len(differs) // 2  # the copy is not just a fresh init
    head = model.get_layer("head").get_weights()
    old_head = pretrained.get_layer("head").get_weights()
    assert not np.allclose(head[0], old_head[0])
    np.testing.assert_array_equal(head[1], 0.0)  # a fresh Dense bias
    model.backbone.trainable_weights[0].assign(model.backbone.trainable_weights[0] + 1.0)
    assert not np.allclose(model.backbone.get_weights()[0], pretrained.backbone.get_weights()[0])


def fit_one_epoch(model, toy):
    x = np.stack([toy.signal(int(i))[:WINDOW] for i in toy.indices("train")])
    y = toy.labels[toy.indices("train")][:, :1]
    model.compile(keras.optimizers.Adam(1e-2), keras.losses.BinaryCrossentropy(from_logits=True))
    model.fit(x, y, epochs=1, batch_size=8, verbose=0)


@pytest.mark.slow
def test_linear_probe_keeps_backbone_and_batchnorm_statistics(pretrained_run, toy):
    pretrained, _ = load_pretrained(pretrained_run)
    model = transfer_model(pretrained, num_classes=1, finetune="linear")
    stats, everything = batch_norm_stats(model), model.backbone.get_weights()
    assert len(stats) == 40 and len(everything) == 100
    assert not model.backbone.trainable_weights and model.get_layer("head").trainable_weights
    head_before = model.get_layer("head").get_weights()[0].copy()
    fit_one_epoch(model, toy)
    for before, after in zip(stats, batch_norm_stats(model)):
        np.testing.assert_array_equal(before, after)
    for before, after in zip(everything, model.backbone.get_weights()):
        np.testing.assert_array_equal(before, after)
    assert not np.allclose(head_before, model.get_layer("head").get_weights()[0])


@pytest.mark.slow
def test_full_finetuning_does_update_batchnorm_statistics(pretrained_run, toy):
    # The control of the test above: the same epoch with a trainable backbone moves them.
    pretrained, _ = load_pretrained(pretrained_run)
    model = transfer_model(pretrained, num_classes=1, finetune="full")
    stats = batch_norm_stats(model)
    fit_one_epoch(model, toy)
    assert any(not np.allclose(a, b) for a, b in zip(stats, batch_norm_stats(model)))


@pytest.mark.slow
def test_stages_unfreezing_and_discriminative_rates(pretrained_run):
    pretrained, _ = load_pretrained(pretrained_run)
    model = transfer_model(pretrained, num_classes=1, finetune="gradual")
    stages = backbone_stages(model.backbone)
    assert [name for name, _ in stages] == ["stem", "stage1", "stage2", "stage3", "stage4"]
    assert not model.backbone.trainable_weights
    set_unfrozen_stages(model, 1)
    trainable = {v.path for v in model.backbone.trainable_weights}
    top = {v.path for layer in stages[-1][1] for v in layer.trainable_weights}
    assert trainable == top and all("stage4" in p for p in trainable)
    set_unfrozen_stages(model, 5)
    assert len(model.backbone.trainable_weights) == len(pretrained.backbone.trainable_weights)
    factors = discriminative_multipliers(model, 0.5)
    assert factors[stages[-1][1][0].weights[0].path] == 0.5
    assert factors[stages[0][1][0].weights[0].path] == 0.5**5
    assert "head/kernel" not in factors
    with pytest.raises(ConfigError, match="finetune"):
        transfer_model(pretrained, 1, "partial")


def test_gradual_plan():
    assert gradual_plan(3, 10, 2) == [(0, 2, 0), (2, 4, 1), (4, 6, 2), (6, 10, 3)]
    assert gradual_plan(5, 3, 1) == [(0, 1, 0), (1, 2, 1), (2, 3, 2)]
    assert gradual_plan(1, 1, 4) == [(0, 1, 0)]


@pytest.mark.slow
def test_contract_round_trip_and_compatibility(pretrained_run, toy, tmp_path):
    contract = load_contract(pretrained_run)
    check_compatible(contract, toy)
    assert contract["units"] == "mV" and contract["lead_order"][3] == "aVR"
    assert contract["data"]["synthetic"] is True and contract["calibrated_thresholds"] == [0.5, 0.5]
    other = toy_cache(
        tmp_path / "other",
        n_classes=1,
        label_names=["PE"],
        splits={"train": 4, "validation": 2, "test": 2},
        seconds=2.0,
        preprocess={**TOY_PREPROCESS, "normalize": "zscore", "filter": "bandpass"},
    )
    with pytest.raises(ConfigError) as error:
        check_compatible(contract, other)
    for words in ("window", "normalize", "filter", "labels"):
        assert words in str(error.value)
    check_compatible(
        contract,
        toy_cache(
            tmp_path / "ok",
            n_classes=1,
            label_names=["PE"],
            splits={"train": 4, "validation": 2, "test": 2},
        ),
        check_labels=False,
    )
    broken = tmp_path / "broken"
    broken.mkdir()
    (broken / "contract.json").write_text(json.dumps({"format": "something else"}))
    with pytest.raises(ConfigError, match="not a keras_ecgpe model contract"):
        load_contract(broken)

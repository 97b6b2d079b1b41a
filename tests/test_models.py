"""The model zoo: every family through one harness, the registry, heads, export builds, MACs.

Tiny widths and 256-sample windows keep the suite fast; registry entries themselves are
full size and are built once each (without training) in `test_every_registered_model`.
"""

import json

import keras
import numpy as np
import pytest

import model_harness as harness
from fixtures import FAMILY_REPRESENTATIVES, INPUT_LEN, TINY
from fixtures import tiny_model as tiny
from keras_ecgpe.errors import ConfigError
from keras_ecgpe.models import (
    ECGClassifier,
    build_model,
    export_view,
    list_models,
    model_complexity,
)
from keras_ecgpe.models.resnet1d import ResNet1D
from keras_ecgpe.models.rnn1d import RNN1D
from keras_ecgpe.models.transformer1d import Transformer1D

# The everyday tier runs the heavier checks (config and .keras round trips) on one
# convolutional, one recurrent and one attention family; the slow tier on every family.
EVERYDAY = ("resnet1d18", "crnn_lstm", "transformer")
TIERED = [
    name if name in EVERYDAY else pytest.param(name, marks=pytest.mark.slow)
    for name in FAMILY_REPRESENTATIVES
]


@pytest.mark.parametrize("name", FAMILY_REPRESENTATIVES)
def test_output_shape(name):
    harness.check_output_shape(tiny(name))


@pytest.mark.parametrize("name", TIERED)
def test_config_round_trip(name):
    harness.check_config_round_trip(tiny(name))


@pytest.mark.parametrize("name", TIERED)
def test_save_load(name, tmp_path):
    harness.check_save_load(tiny(name), tmp_path)


@pytest.mark.slow
@pytest.mark.parametrize("name", FAMILY_REPRESENTATIVES)
def test_one_training_step_lowers_loss(name):
    harness.check_training_step(tiny(name))


@pytest.mark.slow
@pytest.mark.parametrize("name", FAMILY_REPRESENTATIVES)
def test_tflite_float_parity(name):
    ops = harness.check_tflite_parity(tiny(name))
    if name in ("lstm", "bigru", "crnn_lstm"):
        assert {"LOGISTIC", "TANH"} <= ops  # the unrolled gates are there, not a loop


@pytest.mark.slow
def test_every_registered_model_builds_full_size():
    """Each name builds at its full-size defaults, runs, and reports its size and cost."""
    x = np.zeros((1, INPUT_LEN, 12), "float32")
    for name in list_models():
        model = build_model(name, input_len=INPUT_LEN, num_classes=2)
        assert model.name == name
        assert tuple(model(x).shape) == (1, 2), name
        cost = model_complexity(model)
        assert cost.parameters == model.count_params() > 0, name
        assert cost.macs > cost.parameters / 10, name  # every weight is used at least once


def test_resnet1d18_matches_the_seed_size():
    # The seed's PyTorch ResNet-1D-18 has 3.85 M parameters at 12 x 2048, one logit.
    model = build_model("resnet1d18", input_len=2048, num_classes=1)
    assert model.count_params() == 3_858_945


def test_fewer_leads_and_classes():
    model = build_model("resnet1d18", input_len=INPUT_LEN, num_leads=1, num_classes=4, width=4)
    assert model.input_shape == (None, INPUT_LEN, 1) and model.output_shape == (None, 4)


def test_unknown_name_lists_valid_names():
    with pytest.raises(ConfigError) as error:
        build_model("resnet19", input_len=INPUT_LEN, num_classes=1)
    assert "resnet19" in str(error.value)
    assert all(name in str(error.value) for name in list_models())


def test_unknown_override_is_named():
    with pytest.raises(ConfigError, match="heads"):
        build_model("resnet1d18", input_len=INPUT_LEN, num_classes=1, heads=4)


@pytest.mark.parametrize(
    "name, overrides, argument",
    [
        ("resnet1d18", dict(width=0), "width=0"),
        ("vgg16", dict(depth=12), "depth=12"),
        ("attresnet18", dict(width=8, num_heads=3), "num_heads=3"),
        ("gru", dict(rnn_type="rnn"), "rnn_type='rnn'"),
        ("transformer", dict(width=16, num_heads=5), "num_heads=5"),
        ("transformer_patch", dict(patch_size=512), "patch_size=512"),
    ],
)
def test_invalid_arguments_name_the_value(name, overrides, argument):
    with pytest.raises(ConfigError, match=argument):
        build_model(name, input_len=INPUT_LEN, num_classes=1, **overrides)


def test_invalid_num_classes_and_leads():
    with pytest.raises(ConfigError, match="num_classes=0"):
        build_model("resnet1d18", input_len=INPUT_LEN, num_classes=0, width=4)
    with pytest.raises(ConfigError, match="num_leads=13"):
        build_model("resnet1d18", input_len=INPUT_LEN, num_leads=13, num_classes=1, width=4)


def test_head_is_named_and_produces_logits():
    model = tiny("resnet1d18")
    head = model.get_layer("head")
    assert head.activation is keras.activations.linear
    assert model.layers[-1] is head and model.backbone is model.get_layer("backbone")
    # Logits are unbounded: a large input drives them outside (0, 1).
    x = 50 * np.ones((1, INPUT_LEN, 12), "float32")
    assert np.abs(model(x)).max() > 1


@pytest.mark.slow
def test_with_new_head_keeps_backbone_weights_and_is_independent():
    model = tiny("resnet1d18")
    harness.check_training_step(model)  # non-initial backbone weights and BN statistics
    x, _ = harness.toy_batch(model, 2)
    fresh = model.with_new_head(5)
    assert fresh.output_shape == (None, 5)
    np.testing.assert_array_equal(
        fresh.backbone.predict(x, verbose=0), model.backbone.predict(x, verbose=0)
    )
    fresh.backbone.layers[1].kernel.assign(np.zeros(fresh.backbone.layers[1].kernel.shape))
    assert np.abs(model.backbone.layers[1].kernel.numpy()).sum() > 0


def test_frozen_backbone_stays_frozen_after_save_load(tmp_path):
    model = tiny("resnet1d18")
    model.backbone.trainable = False
    model.save(tmp_path / "frozen.keras")
    loaded = keras.saving.load_model(tmp_path / "frozen.keras")
    assert not loaded.backbone.trainable
    assert [w.path for w in loaded.trainable_weights] == ["head/kernel", "head/bias"]


@pytest.mark.slow
def test_backbone_weights_transfer_to_a_new_label_set(tmp_path):
    """Pretrain -> save backbone weights -> new model with another head loads them only."""
    pretrained = tiny("crnn_lstm", num_classes=5)
    harness.check_training_step(pretrained)
    pretrained.backbone.save_weights(tmp_path / "backbone.weights.h5")
    target = build_model("crnn_lstm", input_len=INPUT_LEN, num_classes=1, **TINY["crnn_lstm"])
    target.backbone.load_weights(tmp_path / "backbone.weights.h5")
    x, _ = harness.toy_batch(pretrained, 2)
    np.testing.assert_array_equal(
        target.backbone.predict(x, verbose=0), pretrained.backbone.predict(x, verbose=0)
    )


@pytest.mark.slow
def test_export_view_unrolls_recurrent_models_with_identical_weights():
    model = tiny("bigru")
    view = export_view(model)
    assert view is not model and view.backbone.get_config()["unroll"] is True
    assert model.backbone.get_config()["unroll"] is False
    for kept, copied in zip(model.weights, view.weights):
        np.testing.assert_array_equal(kept.numpy(), copied.numpy())
    x, _ = harness.toy_batch(model, 2)
    np.testing.assert_allclose(view.predict(x, verbose=0), model.predict(x, verbose=0), atol=1e-5)
    # Why the view exists: the plain build converts to a WHILE loop (int8 calibration
    # of which crashes the converter, docs/background.md).
    assert "WHILE" in harness.ops_without_export_view(model)


def test_export_view_keeps_other_models_and_changes_window_length():
    model = tiny("resnet1d18")
    assert export_view(model) is model
    longer = export_view(model, input_len=512)
    assert longer.input_shape == (None, 512, 12)
    x, _ = harness.toy_batch(model, 1)
    assert longer.predict(np.tile(x, (1, 2, 1)), verbose=0).shape == (1, 3)
    with pytest.raises(ConfigError, match="input_len=512"):
        export_view(tiny("attresnet18_flatten"), input_len=512)


def test_recurrent_sequence_is_capped_for_unrolling():
    backbone = RNN1D(input_len=4096, width=4, units=4, stem_layers=2, max_steps=64)
    recurrent = backbone.get_layer("rnn_lstm1")
    assert recurrent.input.shape[1] <= 64


def test_macs_match_hand_counts():
    # Conv stem 8 steps x 7 taps x 2 leads x 4 filters; LSTM 8 steps x 4 gates x 3 units
    # x (inputs + 3); head 6 features x 1.
    lstm = ECGClassifier(RNN1D(input_len=16, num_leads=2, width=4, units=3, stem_layers=1), 1)
    assert model_complexity(lstm).macs == 8 * 7 * 2 * 4 + 8 * 4 * 3 * 7 + 8 * 4 * 3 * 6 + 6
    # Patch embedding 4 tokens x (4 x 2 x 4); attention 2 heads of 2: Q, K, V projections
    # 4 x 4 x 6, scores and weighted sum 2 x 4 x 4 x (2 + 2), output 4 x 4 x 4; MLP
    # 4 x 4 x 8 twice; head 4.
    encoder = ECGClassifier(
        Transformer1D(
            input_len=16,
            num_leads=2,
            embedding="patch",
            patch_size=4,
            width=4,
            num_heads=2,
            num_layers=1,
            mlp_dim=8,
        ),
        1,
    )
    expected = 128 + (4 * 4 * 12 + 2 * 4 * 4 * 4 + 4 * 4 * 4) + 2 * 128 + 4
    assert model_complexity(encoder).macs == expected
    # ResNet-18 stem alone: 1024 output steps x 7 taps x 12 leads x 64 filters.
    resnet = ECGClassifier(ResNet1D(input_len=2048), 1)
    by_layer = model_complexity(resnet).macs_by_layer
    assert by_layer["backbone/resnet_stem_conv"] == 1024 * 7 * 12 * 64


def test_cli_models_list_json():
    from click.testing import CliRunner

    from keras_ecgpe.cli.main import cli

    result = CliRunner().invoke(
        cli,
        [
            "models",
            "list",
            "--input-len",
            "2048",
            "--json",
            "--model",
            "resnet1d18",
            "--model",
            "gru",
        ],
    )
    assert result.exit_code == 0, result.output
    rows = json.loads(result.output)
    assert [row["name"] for row in rows] == ["resnet1d18", "gru"]
    assert rows[0]["parameters"] == 3_858_945 and rows[0]["family"] == "ResNet1D"
    assert (
        rows[0]["macs"]
        == model_complexity(build_model("resnet1d18", input_len=2048, num_classes=1)).macs
    )
    failed = CliRunner().invoke(cli, ["models", "list", "--model", "nope"])
    assert failed.exit_code != 0 and "resnet1d18" in failed.output

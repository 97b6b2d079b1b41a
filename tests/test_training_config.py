"""Tests of the strict run configuration: defaults, files, overrides and every refusal."""

import dataclasses
import json

import pytest
import yaml

from keras_ecgpe.errors import ConfigError
from keras_ecgpe.training.config import TrainConfig


def test_defaults_follow_the_documented_values():
    config = TrainConfig()
    assert config.data.window_s == 2.5 and config.data.eval_stride_s == 1.25
    assert config.data.eval_mode == "sliding" and config.data.aggregate == "max"
    assert (config.loss.name, config.loss.alpha, config.loss.gamma) == ("focal", 0.7, 2.0)
    assert config.loss.pos_weight == "auto"
    assert (config.optimizer.learning_rate, config.optimizer.weight_decay) == (1e-4, 1e-2)
    assert (config.training.epochs, config.training.batch_size) == (50, 64)
    assert config.training.monitor == "val_macro_auroc"
    assert config.transfer.init_from is None and config.transfer.finetune == "full"
    assert config.thresholds.method == "f1" and config.evaluation.bootstrap == 1000
    assert not config.data.has_data


def test_dict_yaml_and_json_round_trips(tmp_path):
    config = TrainConfig().with_overrides(
        [
            "training.epochs=3",
            "model.overrides.width=8",
            "loss.pos_weight=[2, 3.5]",
            "data.cache=/x/y",
        ]
    )
    assert TrainConfig.from_dict(config.to_dict()) == config
    (tmp_path / "run.yaml").write_text(config.to_yaml())
    (tmp_path / "run.json").write_text(json.dumps(config.to_dict()))
    assert TrainConfig.from_file(tmp_path / "run.yaml") == config
    assert TrainConfig.from_file(tmp_path / "run.json") == config
    assert yaml.safe_load(config.to_yaml())["loss"]["pos_weight"] == [2.0, 3.5]


def test_partial_file_takes_defaults(tmp_path):
    path = tmp_path / "c.yml"
    path.write_text("training:\n  epochs: 7\nschedule:\n  name: cosine\n")
    config = TrainConfig.from_file(path)
    assert config.training.epochs == 7 and config.schedule.name == "cosine"
    assert config.training.batch_size == 64


def test_overrides_are_parsed_as_yaml_scalars():
    config = TrainConfig().with_overrides(
        [
            "training.epochs=3",
            "model.name=vgg11_bn",
            "data.augment=false",
            "optimizer.learning_rate=1e-3",
            "optimizer.clipnorm=null",
            "training.steps_per_epoch=5",
            "data.preprocess.filter=none",
            "data.augment_config.p_none=1.0",
            "data.augment_config.p_flip=0",
            "data.augment_config.p_drop_samples=0",
            "data.augment_config.p_drop_leads=0",
            "data.augment_config.p_sine=0",
            "data.augment_config.p_pulse=0",
        ]
    )
    assert config.training.epochs == 3 and isinstance(config.training.epochs, int)
    assert config.model.name == "vgg11_bn" and config.data.augment is False
    assert config.optimizer.learning_rate == pytest.approx(1e-3)  # YAML reads "1e-3" as text
    assert config.optimizer.clipnorm is None and config.training.steps_per_epoch == 5
    assert config.data.preprocess == {"filter": "none"}
    assert config.data.augment_config["p_none"] == 1.0


def test_with_values_takes_python_values_unparsed():
    config = TrainConfig().with_values({"data.cache": "123", "training.seed": 4})
    assert config.data.cache == "123" and config.training.seed == 4


@pytest.mark.parametrize(
    "data, words",
    [
        ({"trainig": {}}, ["trainig", "valid sections", "training"]),
        ({"training": {"epoch": 3}}, ["training.epoch", "valid keys", "epochs"]),
        ({"training": {"epochs": "three"}}, ["training.epochs", "'three'"]),
        ({"training": {"epochs": 0}}, ["training.epochs", ">= 1"]),
        ({"training": {"epochs": True}}, ["training.epochs", "True"]),
        ({"training": {"precision": "float8"}}, ["training.precision", "mixed_float16"]),
        ({"training": {"monitor": "auroc"}}, ["training.monitor", "val_macro_auroc"]),
        ({"training": {"jit_compile": True}}, ["training.jit_compile", "training.deterministic"]),
        ({"loss": {"name": "mse"}}, ["loss.name", "focal"]),
        ({"loss": {"alpha": 1.5}}, ["loss.alpha", "1.5"]),
        ({"loss": {"pos_weight": "sometimes"}}, ["loss.pos_weight", "sometimes"]),
        ({"loss": {"pos_weight": [1, -2]}}, ["loss.pos_weight", "-2"]),
        ({"optimizer": {"learning_rate": 0}}, ["optimizer.learning_rate", "> 0"]),
        ({"schedule": {"name": "linear"}}, ["schedule.name", "onecycle"]),
        ({"transfer": {"finetune": "partial"}}, ["transfer.finetune", "gradual"]),
        ({"transfer": {"lr_decay": 2}}, ["transfer.lr_decay", "<= 1.0"]),
        ({"thresholds": {"method": "max"}}, ["thresholds.method", "youden"]),
        ({"evaluation": {"bootstrap": -1}}, ["evaluation.bootstrap", "-1"]),
        ({"data": {"eval_mode": "random"}}, ["data.eval_mode", "sliding"]),
        ({"data": {"window_s": -2.5}}, ["data.window_s", "-2.5"]),
        ({"data": {"cache": "c", "source": "ptbxl", "root": "r"}}, ["data.cache", "data.source"]),
        ({"data": {"source": "ptbxl"}}, ["data.root"]),
        ({"data": {"preprocess": {"filtr": "none"}}}, ["filtr"]),
        ({"data": {"augment_config": {"p_nothing": 1}}}, ["p_nothing"]),
        ({"model": {"name": "resnet9"}}, ["model.name", "resnet9", "resnet1d18"]),
        ({"model": {"overrides": []}}, ["model.overrides", "mapping"]),
        ({"training": []}, ["training", "mapping"]),
    ],
)
def test_bad_values_name_the_key_and_echo_the_value(data, words):
    with pytest.raises(ConfigError) as error:
        TrainConfig.from_dict(data)
    for word in words:
        assert word in str(error.value)


@pytest.mark.parametrize(
    "assignment, words",
    [
        ("training.epochs", ["section.key=value"]),
        ("epochs=3", ["section.key"]),
        ("train.epochs=3", ["'train'", "valid sections"]),
        ("training.epoch=3", ["training.epoch", "epochs"]),
        ("training.epochs.sub=3", ["training.epochs", "not a mapping"]),
        ("training.epochs=[unclosed", ["cannot parse"]),
    ],
)
def test_bad_overrides_are_config_errors(assignment, words):
    with pytest.raises(ConfigError) as error:
        TrainConfig().with_overrides([assignment])
    for word in words:
        assert word in str(error.value)


def test_unreadable_files_name_the_file(tmp_path):
    bad = tmp_path / "run.yaml"
    bad.write_text("training: [epochs: 3\n")
    with pytest.raises(ConfigError, match="run.yaml: cannot read"):
        TrainConfig.from_file(bad)
    wrong = tmp_path / "run.toml"
    wrong.write_text("")
    with pytest.raises(ConfigError, match="run.toml"):
        TrainConfig.from_file(wrong)
    typo = tmp_path / "typo.yaml"
    typo.write_text("training:\n  epoch: 3\n")
    with pytest.raises(ConfigError, match="typo.yaml: unknown key"):
        TrainConfig.from_file(typo)


def test_config_is_immutable():
    config = TrainConfig()
    with pytest.raises(dataclasses.FrozenInstanceError):
        config.training.epochs = 3

"""Tests of the discriminative AdamW and the learning-rate schedules."""

import keras
import numpy as np
import pytest

from keras_ecgpe.errors import ConfigError
from keras_ecgpe.training.config import TrainConfig
from keras_ecgpe.training.optimizers import DiscriminativeAdamW
from keras_ecgpe.training.schedules import (
    ConstantSchedule,
    CosineSchedule,
    OneCycleSchedule,
    StepSchedule,
    build_schedule,
)


def two_layer_model():
    inputs = keras.Input((3,))
    hidden = keras.layers.Dense(3, use_bias=False, name="early")(inputs)
    outputs = keras.layers.Dense(3, use_bias=False, name="late")(hidden)
    return keras.Model(inputs, outputs)


@pytest.mark.parametrize("weight_decay", [0.0, 0.05])
def test_factors_scale_the_step_of_each_variable(weight_decay):
    a = keras.Variable(np.full((4,), 2.0, np.float32), name="a")
    b = keras.Variable(np.full((4,), 2.0, np.float32), name="b")
    opt = DiscriminativeAdamW(
        learning_rate=0.01, weight_decay=weight_decay, lr_multipliers={a.path: 1.0, b.path: 0.1}
    )
    grad = keras.ops.convert_to_tensor(np.array([0.5, -1.0, 2.0, 0.1], np.float32))
    opt.apply_gradients([(grad, a), (grad, b)])
    moved_a = 2.0 - keras.ops.convert_to_numpy(a)
    moved_b = 2.0 - keras.ops.convert_to_numpy(b)
    assert np.all(np.abs(moved_a) > 1e-4)
    np.testing.assert_allclose(moved_b / moved_a, 0.1, rtol=1e-4)


@pytest.mark.slow
def test_plain_adamw_equals_factor_one_and_factor_zero_freezes():
    reference, ours = two_layer_model(), two_layer_model()
    ours.set_weights(reference.get_weights())
    start = [w.copy() for w in reference.get_weights()]
    x = np.random.default_rng(0).normal(size=(8, 3)).astype(np.float32)
    y = np.random.default_rng(1).normal(size=(8, 3)).astype(np.float32)
    reference.compile(keras.optimizers.AdamW(1e-2, weight_decay=0.01), "mse")
    ours.compile(
        DiscriminativeAdamW(
            learning_rate=1e-2, weight_decay=0.01, lr_multipliers={"early/kernel": 0.0}
        ),
        "mse",
    )
    reference.fit(x, y, epochs=2, batch_size=4, verbose=0, shuffle=False)
    ours.fit(x, y, epochs=2, batch_size=4, verbose=0, shuffle=False)
    np.testing.assert_array_equal(ours.get_layer("early").get_weights()[0], start[0])
    assert not np.allclose(reference.get_layer("early").get_weights()[0], start[0])
    assert not np.allclose(ours.get_layer("late").get_weights()[0], start[1])


@pytest.mark.slow
def test_optimizer_round_trips_in_a_saved_model(tmp_path):
    model = two_layer_model()
    model.compile(
        DiscriminativeAdamW(
            learning_rate=CosineSchedule(1e-3, 100, 5), lr_multipliers={"early/kernel": 0.25}
        ),
        "mse",
    )
    model.fit(np.ones((4, 3)), np.ones((4, 3)), verbose=0)
    model.save(tmp_path / "m.keras")
    loaded = keras.saving.load_model(tmp_path / "m.keras")
    assert isinstance(loaded.optimizer, DiscriminativeAdamW)
    assert loaded.optimizer.lr_multipliers == {"early/kernel": 0.25}
    assert isinstance(loaded.optimizer._learning_rate, CosineSchedule)
    with pytest.raises(ConfigError, match="early"):
        DiscriminativeAdamW(lr_multipliers={"early/kernel": -1})


def lr(schedule, step):
    return float(keras.ops.convert_to_numpy(schedule(step)))


def test_step_and_constant_schedules_with_warmup():
    step = StepSchedule(1e-3, step_size=10, gamma=0.5, warmup_steps=4)
    assert lr(step, 0) == pytest.approx(2.5e-4) and lr(step, 3) == pytest.approx(1e-3)
    assert lr(step, 9) == pytest.approx(1e-3) and lr(step, 10) == pytest.approx(5e-4)
    assert lr(step, 25) == pytest.approx(2.5e-4)
    assert lr(ConstantSchedule(3e-4), 1000) == pytest.approx(3e-4)


def test_cosine_and_one_cycle_shapes():
    cosine = CosineSchedule(1e-3, total_steps=110, warmup_steps=10)
    assert lr(cosine, 9) == pytest.approx(1e-3)
    assert lr(cosine, 60) == pytest.approx(5e-4, rel=1e-4)
    assert lr(cosine, 110) == pytest.approx(0.0, abs=1e-9) and lr(cosine, 500) == lr(cosine, 110)
    cycle = OneCycleSchedule(1e-2, total_steps=100, pct_start=0.25)
    values = [lr(cycle, s) for s in range(101)]
    assert values[0] == pytest.approx(1e-2 / 25, rel=1e-5)  # float32 arithmetic
    assert int(np.argmax(values)) == 25 and max(values) == pytest.approx(1e-2, rel=1e-5)
    assert values[-1] == pytest.approx(1e-2 / 25 / 1e4, rel=1e-3)
    assert all(a <= b + 1e-12 for a, b in zip(values[:25], values[1:26]))


def test_schedules_serialize():
    for schedule in (
        StepSchedule(1e-3, 7, 0.3, 2),
        CosineSchedule(1e-3, 50, 5),
        OneCycleSchedule(1e-3, 40),
        ConstantSchedule(1e-4, 3),
    ):
        again = keras.optimizers.schedules.deserialize(
            keras.optimizers.schedules.serialize(schedule)
        )
        assert type(again) is type(schedule) and again.get_config() == schedule.get_config()
        assert lr(again, 17) == pytest.approx(lr(schedule, 17))


def test_build_schedule_converts_epochs_to_steps():
    def built(*overrides):
        config = TrainConfig().with_overrides(["training.epochs=10", *overrides])
        return build_schedule(config.schedule, 1e-3, steps_per_epoch=5, epochs=10)

    step = built("schedule.name=step", "schedule.step_epochs=2", "schedule.step_gamma=0.1")
    assert step.step_size == 10 and lr(step, 10) == pytest.approx(1e-4)
    cosine = built("schedule.name=cosine", "schedule.warmup_epochs=1")
    assert cosine.total_steps == 50 and cosine.warmup_steps == 5
    cycle = built("schedule.name=onecycle", "schedule.onecycle_max_lr=0.01")
    assert cycle.max_lr == 0.01 and cycle.total_steps == 50
    assert isinstance(built(), ConstantSchedule)

"""Learning-rate schedules over optimizer steps: constant, step, cosine and one-cycle.

Each is a serializable `keras.optimizers.schedules.LearningRateSchedule` of the optimizer's
step counter. All but one-cycle start with an optional linear warmup from `lr / warmup`
steps; one-cycle has its own warm-up phase. `build_schedule` turns the run config's epochs
into steps with the number of optimizer steps per epoch.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

import keras
from keras import ops

from keras_ecgpe.errors import ConfigError

if TYPE_CHECKING:
    from typing import Any

    from keras_ecgpe.training.config_sections import ScheduleSection


def _positive(name, value):
    if not float(value) > 0:
        raise ConfigError(f"`{name}` must be positive. Received: {name}={value!r}")
    return float(value)


class _WarmupSchedule(keras.optimizers.schedules.LearningRateSchedule):
    """Linear warmup over `warmup_steps` steps to `self._after_warmup(step)`."""

    def __init__(self, learning_rate, warmup_steps=0):
        self.learning_rate = _positive("learning_rate", learning_rate)
        if int(warmup_steps) != warmup_steps or warmup_steps < 0:
            raise ConfigError(
                f"`warmup_steps` must be an integer >= 0. Received: warmup_steps={warmup_steps!r}"
            )
        self.warmup_steps = int(warmup_steps)

    def __call__(self, step):
        step = ops.cast(step, "float32")
        lr = self._after_warmup(step)
        if self.warmup_steps:
            ramp = ops.minimum(1.0, (step + 1.0) / float(self.warmup_steps))
            lr = lr * ramp
        return lr

    def _after_warmup(self, step):
        raise NotImplementedError

    def get_config(self):
        return {"learning_rate": self.learning_rate, "warmup_steps": self.warmup_steps}


@keras.saving.register_keras_serializable(package="keras_ecgpe")
class ConstantSchedule(_WarmupSchedule):
    """`learning_rate` at every step (after the optional warmup)."""

    def _after_warmup(self, step):
        return ops.cast(self.learning_rate, "float32") + 0.0 * step


@keras.saving.register_keras_serializable(package="keras_ecgpe")
class StepSchedule(_WarmupSchedule):
    """`learning_rate * gamma ** floor(step / step_size)`: multiplies by `gamma` every
    `step_size` steps.

    Example:
    >>> schedule = StepSchedule(1e-3, step_size=10, gamma=0.1)
    >>> [round(float(schedule(s)), 6) for s in (0, 9, 10, 25)]
    [0.001, 0.001, 0.0001, 1e-05]
    """

    def __init__(
        self, learning_rate: float, step_size: int, gamma: float = 0.1, warmup_steps: int = 0
    ):
        super().__init__(learning_rate, warmup_steps)
        self.step_size = int(_positive("step_size", step_size))
        self.gamma = _positive("gamma", gamma)

    def _after_warmup(self, step):
        return self.learning_rate * ops.power(self.gamma, ops.floor(step / self.step_size))

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "step_size": self.step_size, "gamma": self.gamma}


@keras.saving.register_keras_serializable(package="keras_ecgpe")
class CosineSchedule(_WarmupSchedule):
    """Warmup, then half a cosine from `learning_rate` to `learning_rate * final_fraction`
    at `total_steps` (held there afterwards).

    Example:
    >>> schedule = CosineSchedule(1e-3, total_steps=100)
    >>> round(float(schedule(50)), 6), round(float(schedule(100)), 6)
    (0.0005, 0.0)
    """

    def __init__(
        self,
        learning_rate: float,
        total_steps: int,
        warmup_steps: int = 0,
        final_fraction: float = 0.0,
    ):
        super().__init__(learning_rate, warmup_steps)
        self.total_steps = int(_positive("total_steps", total_steps))
        self.final_fraction = float(final_fraction)

    def _after_warmup(self, step):
        span = max(1, self.total_steps - self.warmup_steps)
        t = ops.clip((step - self.warmup_steps) / span, 0.0, 1.0)
        cosine = 0.5 * (1.0 + ops.cos(math.pi * t))
        return self.learning_rate * (self.final_fraction + (1 - self.final_fraction) * cosine)

    def get_config(self) -> dict[str, Any]:
        return {
            **super().get_config(),
            "total_steps": self.total_steps,
            "final_fraction": self.final_fraction,
        }


@keras.saving.register_keras_serializable(package="keras_ecgpe")
class OneCycleSchedule(keras.optimizers.schedules.LearningRateSchedule):
    """One-cycle policy (Smith 2018, as fastai): cosine rise from `max_lr / div_factor`
    to `max_lr` over the first `pct_start` of `total_steps`, then cosine decay to
    `max_lr / (div_factor * final_div_factor)`.

    Example:
    >>> schedule = OneCycleSchedule(1e-3, total_steps=100, pct_start=0.3)
    >>> round(float(schedule(30)), 6), float(schedule(0)) < 1e-4
    (0.001, True)
    """

    def __init__(
        self,
        max_lr: float,
        total_steps: int,
        pct_start: float = 0.3,
        div_factor: float = 25.0,
        final_div_factor: float = 1e4,
    ):
        self.max_lr = _positive("max_lr", max_lr)
        self.total_steps = int(_positive("total_steps", total_steps))
        if not 0.0 < float(pct_start) < 1.0:
            raise ConfigError(f"`pct_start` must be in (0, 1). Received: pct_start={pct_start}")
        self.pct_start = float(pct_start)
        self.div_factor = _positive("div_factor", div_factor)
        self.final_div_factor = _positive("final_div_factor", final_div_factor)

    def __call__(self, step):
        step = ops.cast(step, "float32")
        start, peak = self.max_lr / self.div_factor, self.max_lr
        end = start / self.final_div_factor
        rise = max(1.0, self.pct_start * self.total_steps)
        fall = max(1.0, self.total_steps - rise)
        up = ops.clip(step / rise, 0.0, 1.0)
        down = ops.clip((step - rise) / fall, 0.0, 1.0)

        def cosine(a, b, t):
            return b + (a - b) * 0.5 * (1.0 + ops.cos(math.pi * t))

        return ops.where(step < rise, cosine(start, peak, up), cosine(peak, end, down))

    def get_config(self) -> dict[str, Any]:
        return {
            "max_lr": self.max_lr,
            "total_steps": self.total_steps,
            "pct_start": self.pct_start,
            "div_factor": self.div_factor,
            "final_div_factor": self.final_div_factor,
        }


def build_schedule(
    schedule: ScheduleSection, learning_rate: float, *, steps_per_epoch: int, epochs: int
) -> keras.optimizers.schedules.LearningRateSchedule:
    """Builds the configured schedule (a `ScheduleSection`) in optimizer steps.

    Args:
        schedule: the run's `schedule` section.
        learning_rate: the base (peak, for cosine) learning rate.
        steps_per_epoch: optimizer steps per epoch.
        epochs: the planned number of epochs (cosine and one-cycle end there).

    Returns:
        A `LearningRateSchedule`.
    """
    steps_per_epoch, epochs = int(steps_per_epoch), int(epochs)
    warmup = schedule.warmup_epochs * steps_per_epoch
    total = max(1, epochs * steps_per_epoch)
    if schedule.name == "constant":
        return ConstantSchedule(learning_rate, warmup)
    if schedule.name == "step":
        return StepSchedule(
            learning_rate, schedule.step_epochs * steps_per_epoch, schedule.step_gamma, warmup
        )
    if schedule.name == "cosine":
        return CosineSchedule(learning_rate, total, warmup)
    if schedule.name == "onecycle":
        pct = schedule.warmup_epochs / epochs if 0 < schedule.warmup_epochs < epochs else 0.3
        return OneCycleSchedule(schedule.onecycle_max_lr, total, pct_start=pct)
    raise ConfigError(
        f"`schedule.name` must be constant, step, cosine or onecycle. "
        f"Received: schedule.name={schedule.name!r}"
    )

"""AdamW with discriminative learning rates: one multiplier per model variable.

Fine-tuning a pretrained backbone works better when early layers (generic filters) move
less than late layers and the new head (Howard & Ruder 2018, the ULMFiT / fastai recipe
the PTB-XL benchmark used). `DiscriminativeAdamW` scales the learning rate of each variable
by `lr_multipliers[variable.path]` (1 for paths not listed), in the Adam step and in the
decoupled weight decay alike, so a variable with factor 0.1 behaves exactly as if it had
its own AdamW at a tenth of the learning rate.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import keras
from keras import ops

from keras_ecgpe.errors import ConfigError

if TYPE_CHECKING:
    from collections.abc import Mapping, Sequence
    from typing import Any

    import tensorflow as tf


@keras.saving.register_keras_serializable(package="keras_ecgpe")
class DiscriminativeAdamW(keras.optimizers.AdamW):
    """`keras.optimizers.AdamW` whose learning rate is scaled per variable.

    Args:
        lr_multipliers: mapping of variable path (`variable.path`, e.g.
            "resnet_stem_conv/kernel") to a factor >= 0; unlisted variables use 1.
        **kwargs: `keras.optimizers.AdamW` arguments (`learning_rate` may be a schedule,
            `weight_decay`, `clipnorm`, ...).

    Example:
    >>> opt = DiscriminativeAdamW(learning_rate=1e-3, lr_multipliers={"stem/kernel": 0.1})
    >>> opt.lr_multipliers["stem/kernel"]
    0.1
    """

    def __init__(self, lr_multipliers: Mapping[str, float] | None = None, **kwargs: Any):
        super().__init__(**kwargs)
        multipliers = {} if lr_multipliers is None else dict(lr_multipliers)
        for path, factor in multipliers.items():
            if isinstance(factor, bool) or not isinstance(factor, (int, float)) or factor < 0:
                raise ConfigError(
                    f"`lr_multipliers` factors must be numbers >= 0. "
                    f"Received: lr_multipliers[{path!r}]={factor!r}"
                )
        # A tuple of pairs: Keras would wrap a dict attribute into a tracked container.
        self._multipliers = tuple((str(p), float(f)) for p, f in multipliers.items())

    @property
    def lr_multipliers(self) -> dict:
        return dict(self._multipliers)

    def build(self, variables: Sequence[keras.Variable]) -> None:
        super().build(variables)
        paths = dict(self._multipliers)
        # update_step may receive the backend's own variable (a tf.Variable on TensorFlow,
        # without `.path`), so factors are looked up by the optimizer's variable key.
        object.__setattr__(
            self, "_factor_by_key", {self._var_key(v): paths.get(v.path, 1.0) for v in variables}
        )

    def _factor(self, variable) -> float:
        return self._factor_by_key.get(self._var_key(variable), 1.0)

    def _apply_weight_decay(self, variables):
        # Done per variable inside update_step, where the factor is known (and which runs
        # inside the distribution strategy's per-variable update on the TF backend).
        return

    def update_step(
        self, gradient: tf.Tensor, variable: keras.Variable, learning_rate: float | tf.Tensor
    ) -> None:
        factor = self._factor(variable)
        if factor == 1.0:
            scaled = learning_rate
        else:
            scaled = ops.multiply(ops.cast(learning_rate, variable.dtype), factor)
        if self.weight_decay is not None and self._use_weight_decay(variable):
            lr = ops.cast(scaled, variable.dtype)
            wd = ops.cast(self.weight_decay, variable.dtype)
            variable.assign(variable - variable * wd * lr)
        super().update_step(gradient, variable, scaled)

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "lr_multipliers": self.lr_multipliers}

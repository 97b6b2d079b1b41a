"""Multi-label losses on logits that keep one loss per (record, class) entry.

Both losses return `(batch, C)` element losses, so a `(batch, C)` `sample_weight` - the
per-source label mask the training pipeline yields when a class is not annotated by some
source - weights each class entry on its own. Keras 3 applies `sample_weight` after
`call()` and then reduces; the default reduction here is "mean_with_sample_weight":
`sum(w * loss) / sum(w)`, the mean over the entries that are labelled (plain mean when no
weight is given). Keras' built-in BCE averages over classes inside `call()`, which would
smear a class mask over the row: that is why these exist.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import keras
from keras import ops

from keras_ecgpe.errors import ConfigError

if TYPE_CHECKING:
    from collections.abc import Sequence
    from typing import Any

    import tensorflow as tf


def _bce_terms(z):
    """`(softplus(-z), softplus(z))`: -log sigmoid(z) and -log(1 - sigmoid(z)), stable."""
    return ops.softplus(-z), ops.softplus(z)


@keras.saving.register_keras_serializable(package="keras_ecgpe")
class SigmoidFocalLoss(keras.losses.Loss):
    """Sigmoid focal loss (Lin et al. 2017) on logits, one value per label entry.

    `loss = alpha_t * (1 - p_t) ** gamma * BCE(y, sigmoid(z))` with `p_t` the probability
    given to the true label and `alpha_t = alpha` for positives, `1 - alpha` for
    negatives. `gamma = 0` and `alpha = 0.5` give half the BCE.

    Args:
        alpha: weight of positive entries, in [0, 1] (the seed paper: 0.7).
        gamma: focusing exponent >= 0 (the seed paper: 2).
        reduction: a Keras reduction; "mean_with_sample_weight" averages over weighted
            entries.
        name: loss name.

    Returns:
        Called as `loss(y_true, logits, sample_weight)` on `(batch, C)` tensors: a scalar.

    Example:
    >>> loss = SigmoidFocalLoss(alpha=0.5, gamma=0.0)
    >>> round(float(loss([[1.0, 0.0]], [[0.0, 0.0]])), 4)  # 0.5 * log 2
    0.3466
    """

    def __init__(
        self,
        alpha: float = 0.7,
        gamma: float = 2.0,
        reduction: str = "mean_with_sample_weight",
        name: str = "sigmoid_focal_loss",
        dtype: str | None = None,
    ):
        if not 0.0 <= float(alpha) <= 1.0:
            raise ConfigError(f"`alpha` must be in [0, 1]. Received: alpha={alpha!r}")
        if not float(gamma) >= 0.0:
            raise ConfigError(f"`gamma` must be >= 0. Received: gamma={gamma!r}")
        super().__init__(name=name, reduction=reduction, dtype=dtype)
        self.alpha, self.gamma = float(alpha), float(gamma)

    def call(self, y_true: tf.Tensor, y_pred: tf.Tensor) -> tf.Tensor:
        z = ops.cast(y_pred, "float32")
        y = ops.cast(y_true, "float32")
        neg_log_p, neg_log_q = _bce_terms(z)
        ce = y * neg_log_p + (1.0 - y) * neg_log_q
        p = ops.sigmoid(z)
        one_minus_pt = y * (1.0 - p) + (1.0 - y) * p
        alpha_t = y * self.alpha + (1.0 - y) * (1.0 - self.alpha)
        return alpha_t * ops.power(one_minus_pt, self.gamma) * ce

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "alpha": self.alpha, "gamma": self.gamma}


@keras.saving.register_keras_serializable(package="keras_ecgpe")
class WeightedBinaryCrossentropy(keras.losses.Loss):
    """Binary cross-entropy on logits with a per-class weight of the positive term.

    `loss = -(pos_weight[c] * y * log sigmoid(z) + (1 - y) * log(1 - sigmoid(z)))`, as
    PyTorch's `BCEWithLogitsLoss(pos_weight=...)`; `n_neg / n_pos` per class balances
    the classes' positive and negative mass.

    Args:
        pos_weight: None (all 1), a number, or one positive number per class.
        reduction: a Keras reduction (see the module docstring).
        name: loss name.

    Example:
    >>> loss = WeightedBinaryCrossentropy(pos_weight=[3.0])
    >>> round(float(loss([[1.0]], [[0.0]])), 4)  # 3 * log 2
    2.0794
    """

    def __init__(
        self,
        pos_weight: float | Sequence[float] | None = None,
        reduction: str = "mean_with_sample_weight",
        name: str = "weighted_binary_crossentropy",
        dtype: str | None = None,
    ):
        if pos_weight is not None:
            values = [pos_weight] if isinstance(pos_weight, (int, float)) else list(pos_weight)
            if not values or not all(float(w) > 0 for w in values):
                raise ConfigError(
                    f"`pos_weight` must be positive. Received: pos_weight={pos_weight!r}"
                )
            pos_weight = [float(w) for w in values]
        super().__init__(name=name, reduction=reduction, dtype=dtype)
        self.pos_weight = pos_weight

    def call(self, y_true: tf.Tensor, y_pred: tf.Tensor) -> tf.Tensor:
        z = ops.cast(y_pred, "float32")
        y = ops.cast(y_true, "float32")
        neg_log_p, neg_log_q = _bce_terms(z)
        weight = (
            1.0 if self.pos_weight is None else ops.convert_to_tensor(self.pos_weight, "float32")
        )
        return weight * y * neg_log_p + (1.0 - y) * neg_log_q

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "pos_weight": self.pos_weight}


def make_loss(
    name: str,
    *,
    alpha: float = 0.7,
    gamma: float = 2.0,
    pos_weight: float | Sequence[float] | None = None,
) -> keras.losses.Loss:
    """Builds the configured loss: "focal" (alpha, gamma) or "bce" (pos_weight)."""
    if name == "focal":
        return SigmoidFocalLoss(alpha=alpha, gamma=gamma)
    if name == "bce":
        return WeightedBinaryCrossentropy(pos_weight=pos_weight)
    raise ConfigError(f"`loss.name` must be 'focal' or 'bce'. Received: loss.name={name!r}")

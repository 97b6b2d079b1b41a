"""The model-randomisation sanity check of an attribution method (Adebayo et al. 2018).

A map that explains the model must change when the model's weights are replaced by fresh
initial ones; one that survives explains the input (edges, large amplitudes) instead.
`randomised_copy` re-initialises the top layer with weights, or every layer, of a model
(the cascade's two ends); `rank_similarity` compares two maps by the Spearman rank
correlation of their magnitudes, the metric of the original study.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
from scipy import stats

from keras_ecgpe.errors import ConfigError

if TYPE_CHECKING:
    import keras

SCOPES = ("top", "all")


def randomised_copy(model: keras.Model, scope: str = "all") -> keras.Model:
    """A copy of `model` with freshly initialised weights in the top layer or in all.

    The copy is rebuilt from the model's configuration (`keras.models.clone_model`), so
    every layer draws new weights from its own initialiser (seed it with
    `keras.utils.set_random_seed` for repeatable copies); with `scope="top"` every layer
    but the last one holding weights then gets the original weights back.

    Raises:
        ConfigError: an unknown scope, or a model without weights.
    """
    import keras

    if scope not in SCOPES:
        raise ConfigError(f"`scope` must be one of {SCOPES}. Received: scope={scope!r}")
    copy = keras.models.clone_model(model)
    copy.build(model.input_shape)
    weighted = [k for k, layer in enumerate(model.layers) if layer.weights]
    if not weighted:
        raise ConfigError("the model has no weights to randomise")
    if scope == "top":
        for k in weighted[:-1]:
            copy.layers[k].set_weights(model.layers[k].get_weights())
    return copy


def rank_similarity(a: np.ndarray, b: np.ndarray) -> float:
    """Spearman rank correlation of |a| and |b| over all their entries (1: same ranking).

    Example:
    >>> round(rank_similarity(np.array([1.0, -2.0, 3.0]), np.array([0.1, 0.2, -0.3])), 3)
    1.0
    """
    a, b = np.abs(np.ravel(a)), np.abs(np.ravel(b))
    if a.shape != b.shape or a.size < 2:
        raise ConfigError(f"maps must have equal sizes above 1. Received {a.size} and {b.size}")
    return float(stats.spearmanr(a, b).statistic)

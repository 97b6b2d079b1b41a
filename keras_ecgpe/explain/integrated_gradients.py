"""Integrated gradients (Sundararajan et al. 2017) of one logit of a Keras model.

attribution_i = (x_i - x'_i) * integral over alpha in [0, 1] of dF/dx_i at
x' + alpha (x - x'), approximated with the trapezoid rule on `steps` equal intervals
(`steps + 1` gradient evaluations per window). By completeness the attributions of a
window sum to F(x) - F(x'); the gap left by the quadrature is returned so every caller can
report it. Only gradients are needed, so one code path serves every model family (CNNs,
RNNs, transformers). The baseline x' is zeros in the model's input space: after the
per-lead normalisation and the dataset standardiser that is a flat ECG at every lead's
mean (docs/explain.md).
"""

from __future__ import annotations

import dataclasses
import weakref
from typing import TYPE_CHECKING

import numpy as np

from keras_ecgpe.errors import ConfigError

if TYPE_CHECKING:
    import keras

DEFAULT_STEPS = 64
_BATCH = 256  # interpolated inputs per gradient call


@dataclasses.dataclass(frozen=True)
class WindowAttributions:
    """Integrated gradients of a batch of windows for one output.

    Attributes:
        values: float64 `(n, time, leads)` attributions, in logit units.
        logits: `(n,)` the explained logit at each window, F(x).
        baseline_logits: `(n,)` the logit at the baseline, F(x').
        steps: trapezoid intervals used.
    """

    values: np.ndarray
    logits: np.ndarray
    baseline_logits: np.ndarray
    steps: int

    @property
    def completeness_gap(self) -> np.ndarray:
        """`(n,)` sum of attributions minus (F(x) - F(x')): the quadrature error."""
        return self.values.sum(axis=(1, 2)) - (self.logits - self.baseline_logits)


# One traced gradient function per (model, output), kept while the model lives: tracing
# costs seconds, and a gallery or a list of records explains one model many times.
_TRACED: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


def _gradient_function(model: keras.Model, output: int):
    traced = _TRACED.setdefault(model, {})
    if output not in traced:
        traced[output] = _trace(model, output)
    return traced[output]


def _trace(model: keras.Model, output: int):
    import tensorflow as tf

    spec = tf.TensorSpec((None, *model.input_shape[1:]), tf.float32)

    @tf.function(input_signature=[spec])
    def gradients(inputs):
        with tf.GradientTape() as tape:
            tape.watch(inputs)
            logit = tf.cast(model(inputs, training=False)[:, output], tf.float32)
        return tape.gradient(logit, inputs), logit

    return gradients


def integrated_gradients(
    model: keras.Model,
    windows: np.ndarray,
    output: int = 0,
    *,
    steps: int = DEFAULT_STEPS,
    baseline: np.ndarray | None = None,
) -> WindowAttributions:
    """Integrated gradients of `model`'s logit `output` for each window.

    Args:
        model: a Keras model mapping `(n, time, leads)` float32 to `(n, C)` logits.
        windows: `(n, time, leads)` inputs, exactly as the model is fed.
        output: which logit to explain.
        steps: trapezoid intervals along the straight path (32-128 is usual).
        baseline: `(time, leads)` or `(n, time, leads)`; default zeros.

    Returns:
        `WindowAttributions`.

    Raises:
        ConfigError: `steps` below 1, `output` outside the model's logits, or windows
            whose shape the model does not take.

    Example:

    ```python
    result = integrated_gradients(model, windows, output=0, steps=64)
    result.values.sum(axis=(1, 2))  # == result.logits - result.baseline_logits, nearly
    ```
    """
    if isinstance(steps, bool) or not isinstance(steps, (int, np.integer)) or steps < 1:
        raise ConfigError(f"`steps` must be a positive integer. Received: steps={steps!r}")
    x = np.asarray(windows, dtype=np.float32)
    if x.ndim != 3 or tuple(x.shape[1:]) != tuple(model.input_shape[1:]):
        raise ConfigError(
            f"`windows` must be (n, {', '.join(map(str, model.input_shape[1:]))}). "
            f"Received shape {x.shape}"
        )
    n_outputs = int(model.output_shape[-1])
    if not 0 <= output < n_outputs:
        raise ConfigError(f"`output` must lie in [0, {n_outputs}). Received: output={output!r}")
    base = np.zeros_like(x) if baseline is None else np.broadcast_to(baseline, x.shape)
    base = base.astype(np.float32)
    alphas = np.linspace(0.0, 1.0, steps + 1, dtype=np.float32)
    weights = np.full(steps + 1, 1.0 / steps)
    weights[[0, -1]] = 0.5 / steps
    gradients = _gradient_function(model, output)
    per_call = max(1, _BATCH // (steps + 1))
    values = np.empty(x.shape, dtype=np.float64)
    logits, baseline_logits = np.empty(len(x)), np.empty(len(x))
    for first in range(0, len(x), per_call):
        chunk, chunk_base = x[first : first + per_call], base[first : first + per_call]
        delta = chunk - chunk_base
        path = chunk_base[:, None] + alphas[None, :, None, None] * delta[:, None]
        grads, logit = gradients(path.reshape(-1, *x.shape[1:]))
        grads = grads.numpy().astype(np.float64).reshape(len(chunk), steps + 1, *x.shape[1:])
        logit = logit.numpy().astype(np.float64).reshape(len(chunk), steps + 1)
        average = np.tensordot(grads, weights, axes=([1], [0]))
        values[first : first + len(chunk)] = delta * average
        logits[first : first + len(chunk)] = logit[:, -1]
        baseline_logits[first : first + len(chunk)] = logit[:, 0]
    return WindowAttributions(values, logits, baseline_logits, int(steps))

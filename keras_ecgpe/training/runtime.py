"""Process-level settings of a run: seeds, determinism, precision.

Everything here touches global state (TensorFlow's op determinism, Keras' global seed and
dtype policy), so it is gathered in one place; the dtype policy is always restored when a
run ends, so a later model in the same process is not built in float16 by surprise.
"""

from __future__ import annotations

import contextlib
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from collections.abc import Iterator


def seed_everything(seed: int, deterministic: bool = True) -> None:
    """Seeds Python, NumPy and TensorFlow (`keras.utils.set_random_seed`) and, when
    `deterministic`, turns on TensorFlow op determinism (same seed, same run on CPU;
    process-wide and permanent for this process)."""
    import keras
    import tensorflow as tf

    keras.utils.set_random_seed(int(seed))
    if deterministic:
        tf.config.experimental.enable_op_determinism()


@contextlib.contextmanager
def precision_policy(name: str) -> Iterator[None]:
    """Sets Keras' global dtype policy ("float32", "mixed_float16", "mixed_bfloat16")
    inside the block and restores the previous one afterwards."""
    import keras

    previous = keras.config.dtype_policy().name
    keras.config.set_dtype_policy(name)
    try:
        yield
    finally:
        keras.config.set_dtype_policy(previous)

"""Training on several devices or machines with `tf.distribute`, the Keras 3 TF way.

`training.strategy` picks one of three strategies:

- "auto": TensorFlow's default strategy (one device; nothing changes).
- "mirrored": `tf.distribute.MirroredStrategy` over the visible GPUs, or over the logical
  CPU devices when there is no GPU (one CPU unless the process split it with
  `tf.config.set_logical_device_configuration` before TensorFlow started).
- "multiworker": `tf.distribute.MultiWorkerMirroredStrategy` over the cluster described by
  the `TF_CONFIG` environment variable (TensorFlow's own convention; it is read here and
  nowhere else). Every worker runs the same command; the chief (task "chief", or worker 0
  when the cluster has none) writes the run directory, the others write to a temporary
  directory that is deleted at the end, as the TensorFlow multi-worker guide advises.

The model, optimizer and loss are built and compiled inside `strategy.scope()`;
`training.batch_size` is per replica and the input pipeline yields global batches of
`batch_size x replicas`, which Keras splits across replicas (gradients are averaged).
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING

import keras

from keras_ecgpe.errors import ConfigError

if TYPE_CHECKING:
    from typing import Any

    import numpy as np
    import tensorflow as tf

    from keras_ecgpe.data.prepared_cache import PreparedCache

_STRATEGIES = {}  # one strategy per kind and process: MultiWorker can be created only once


def _check_tf_config(text) -> dict:
    """Parses and checks `TF_CONFIG`; returns it as a dict."""
    if not text:
        raise ConfigError(
            "`training.strategy=multiworker` needs the TF_CONFIG environment "
            "variable (cluster and task of this worker), e.g. TF_CONFIG="
            '\'{"cluster": {"worker": ["host1:2222", "host2:2222"]}, '
            '"task": {"type": "worker", "index": 0}}\''
        )
    try:
        spec = json.loads(text)
    except ValueError as exc:
        raise ConfigError(
            f"TF_CONFIG is not valid JSON ({exc}). Received: TF_CONFIG={text!r}"
        ) from None
    cluster = spec.get("cluster") if isinstance(spec, dict) else None
    task = spec.get("task") if isinstance(spec, dict) else None
    if (
        not isinstance(cluster, dict)
        or not cluster
        or not all(
            isinstance(v, list) and v and all(isinstance(a, str) and ":" in a for a in v)
            for v in cluster.values()
        )
    ):
        raise ConfigError(
            'TF_CONFIG must hold "cluster": {job: ["host:port", ...]}. '
            f"Received: TF_CONFIG={text!r}"
        )
    if (
        not isinstance(task, dict)
        or task.get("type") not in cluster
        or isinstance(task.get("index"), bool)
        or not isinstance(task.get("index"), int)
        or not 0 <= task["index"] < len(cluster[task["type"]])
    ):
        raise ConfigError(
            'TF_CONFIG must hold "task": {"type": a job of the cluster, '
            '"index": its position in that job\'s list}. '
            f"Received: TF_CONFIG={text!r}"
        )
    return spec


def make_strategy(name: str) -> tf.distribute.Strategy:
    """Returns the `tf.distribute.Strategy` for `training.strategy` (cached per process).

    Create it before anything else uses TensorFlow: MultiWorkerMirroredStrategy must
    configure the runtime's collective ops at start-up.

    Raises:
        ConfigError: an unknown name, or a missing/malformed TF_CONFIG for "multiworker".

    Example:

    ```python
    make_strategy("auto").num_replicas_in_sync
    # 1
    ```
    """
    import tensorflow as tf

    if name not in ("auto", "mirrored", "multiworker"):
        raise ConfigError(
            f"`training.strategy` must be auto, mirrored or multiworker. "
            f"Received: training.strategy={name!r}"
        )
    if name == "auto":
        return tf.distribute.get_strategy()
    if name == "multiworker":
        _check_tf_config(os.environ.get("TF_CONFIG"))
    if name not in _STRATEGIES:
        if name == "mirrored":
            devices = tf.config.list_logical_devices("GPU") or tf.config.list_logical_devices("CPU")
            _STRATEGIES[name] = tf.distribute.MirroredStrategy([d.name for d in devices])
        else:
            _STRATEGIES[name] = tf.distribute.MultiWorkerMirroredStrategy()
    return _STRATEGIES[name]


def is_distributed(strategy: tf.distribute.Strategy) -> bool:
    """True for the strategies built here ("mirrored", "multiworker")."""
    import tensorflow as tf

    return isinstance(
        strategy, (tf.distribute.MirroredStrategy, tf.distribute.MultiWorkerMirroredStrategy)
    )


def is_multiworker(strategy: tf.distribute.Strategy) -> bool:
    import tensorflow as tf

    return isinstance(strategy, tf.distribute.MultiWorkerMirroredStrategy)


def is_chief(strategy: tf.distribute.Strategy) -> bool:
    """True unless this process is a non-chief worker of a multi-worker cluster."""
    if not is_multiworker(strategy):
        return True
    resolver = strategy.cluster_resolver
    if resolver.task_type == "chief":
        return True
    has_chief = "chief" in resolver.cluster_spec().as_dict()
    return not has_chief and resolver.task_type == "worker" and resolver.task_id == 0


def worker_dir(out_dir: os.PathLike | str, strategy: tf.distribute.Strategy) -> Path:
    """The directory this process writes: `out_dir` for the chief, else a new temp dir."""
    if is_chief(strategy):
        return Path(out_dir)
    return Path(tempfile.mkdtemp(prefix="ecgpe-worker-"))


def discard_worker_dir(path: Path, strategy: tf.distribute.Strategy) -> None:
    """Deletes a non-chief worker's temporary directory (never the chief's)."""
    if not is_chief(strategy):
        shutil.rmtree(path, ignore_errors=True)


def example_batch(cache: PreparedCache, window: int, batch: int) -> tuple[np.ndarray, ...]:
    """Zero arrays shaped like one training batch `(x, y[, mask])`, for `prepare_model`."""
    import numpy as np

    n_classes = len(cache.label_names)
    shapes = [(batch, window, 12), (batch, n_classes)]
    if cache.has_partial_masks:  # the pipeline then yields the label mask as sample weight
        shapes.append((batch, n_classes))
    return tuple(np.zeros(shape, np.float32) for shape in shapes)


def prepare_model(
    strategy: tf.distribute.Strategy, model: keras.Model, example_batch: tuple[np.ndarray, ...]
) -> None:
    """Adapts a compiled model to a non-default strategy (a no-op for "auto").

    1. Keras builds a distributed model in `fit` by drawing one batch from a fresh
       iterator of the training data (then resets it), so the run would train on the
       stream's SECOND pass, unlike on one device; with MultiWorkerMirroredStrategy it
       also fails (it `reduce`s the batch tuple). The model is built from
       `example_batch` (arrays of the input's shapes) instead: the same batches as on
       one device.
    2. MultiWorkerMirroredStrategy only: the train step's scalar logs are reduced with
       `reduce("MEAN", axis=0)`, which fails on scalars in Keras 3.15
       (tensorflow/tensorflow#72388): they are returned with shape (1,).
    """
    import tensorflow as tf

    if not is_distributed(strategy):
        return
    model._maybe_symbolic_build = (  # instance attributes; the class stays untouched
        lambda iterator=None, data_batch=None: model._symbolic_build(data_batch=example_batch)
    )
    if not is_multiworker(strategy) or getattr(model, "_ecgpe_scalar_logs", False):
        return
    class_step = model.train_step

    def train_step(data):
        return {k: tf.reshape(v, [1]) for k, v in class_step(data).items()}

    model.train_step = train_step
    model._ecgpe_scalar_logs = True


class SyncReplicaState(keras.callbacks.Callback):
    """Averages non-trainable variables (BatchNorm moving statistics) over the workers at
    each epoch end, so every worker validates, selects and stops on the same model.

    Keras updates moving statistics per replica from its own batches; without this, two
    workers could disagree on the monitored value and one would stop while the other
    waits in a collective. Place it first. A no-op for one-process strategies, whose
    saved and validated copy is the first replica's.
    """

    def __init__(self, strategy: tf.distribute.Strategy):
        super().__init__()
        self.strategy = strategy

    def on_epoch_end(self, epoch: int, logs: dict[str, Any] | None = None) -> None:
        if not is_multiworker(self.strategy):
            return
        for variable in self.model.non_trainable_variables:
            if not variable.dtype.startswith("float"):
                continue
            local = self.strategy.run(lambda v=variable: keras.ops.convert_to_tensor(v))
            variable.assign(self.strategy.reduce("MEAN", local, axis=None))

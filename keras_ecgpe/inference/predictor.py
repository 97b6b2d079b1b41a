"""Scores ECG record files with a trained model, in Keras or in LiteRT, the same way.

One preprocessing path serves both backends: read the record (any format `read_record`
supports, converted to mV in canonical lead order), apply the run's preprocessing with
resampling to the contract's fs from whatever rate the file has, the per-lead
normalisation and the dataset standardiser, cut sliding windows with the contract's
stride (or the centre window, if the model was evaluated that way), run the backend on
every window, aggregate the window logits per record, then report calibrated
probabilities and the decisions of `evaluation.decide` (raw record logit >= the stored
logit cut, the rule `evaluate` applies). Only the window -> logits step differs between a
`.keras` model and its `.tflite`.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from keras_ecgpe import run_directory
from keras_ecgpe.data.isolation import map_isolated
from keras_ecgpe.data.preprocessing import (
    apply_preprocessing,
    centre_window,
    sliding_windows,
)
from keras_ecgpe.data.readers import read_record
from keras_ecgpe.errors import ConfigError, RecordError
from keras_ecgpe.evaluation.aggregation import aggregate_windows
from keras_ecgpe.inference import contract_io
from keras_ecgpe.inference.bundle_check import model_json_beside, verify_model_file
from keras_ecgpe.inference.tflite_runner import TFLiteRunner

if TYPE_CHECKING:
    from collections.abc import Callable, Iterable

    import keras

    from keras_ecgpe.data.record import ECGRecord

_BATCH = 64
BUNDLE_MODEL = "model.tflite"  # the model file of an export bundle folder


class Predictor:
    """A model plus its contract, turning records into probabilities and decisions.

    Build it with `Predictor.load(path)`: `path` is a run directory, a `.keras` model with
    `contract.json` beside it, or an exported `.tflite` carrying its contract as metadata.

    Args:
        contract: the run's contract (see `keras_ecgpe.inference.contract_io`).
        logits_fn: `(n, window, 12)` float32 windows -> `(n, C)` logits.
        backend: "keras" or "tflite", for reports.
        source: where the model came from.

    Example:

    ```python
    predictor = Predictor.load("runs/pe/export/float32/model.tflite")
    predictor.predict_file("real-ecg/cinc/HR06000")["decisions"]
    # {'PE': 0}
    ```
    """

    def __init__(
        self,
        contract: dict,
        logits_fn: Callable[[np.ndarray], np.ndarray],
        backend: str,
        source: str,
    ):
        self.contract = contract_io.check_contract(contract, where=source)
        self.logits_fn, self.backend, self.source = logits_fn, backend, source
        self.labels = contract_io.label_names(contract)
        self.preprocess = contract_io.inference_preprocess(contract)
        self.standardizer = contract_io.standardizer(contract)

    @classmethod
    def load(cls, path: os.PathLike | str, num_threads: int = 1) -> Predictor:
        """Loads a run directory, a `.keras` model or a `.tflite` file.

        Raises:
            ConfigError: unknown kind of file, missing or mismatched contract.
        """
        path = Path(path)
        if path.is_dir() and (path / BUNDLE_MODEL).is_file():  # an export bundle folder
            path = path / BUNDLE_MODEL
        if path.suffix == ".tflite":
            # Checked against its bundle's model.json first (inference/bundle_check.py).
            verified = model_json_beside(path).is_file() and verify_model_file(path)
            runner = TFLiteRunner(path, num_threads=num_threads)
            payload = runner.metadata()
            if not payload or "contract" not in payload:
                raise ConfigError(
                    f"{path}: no keras_ecgpe contract embedded; export it with "
                    "`ecgpe-keras export` so it carries its preprocessing"
                )
            if not verified:
                verify_model_file(path)  # says that model.json is missing
            contract = contract_io.check_contract(payload["contract"], where=str(path))
            if (runner.window, runner.num_classes) != (
                contract_io.window(contract),
                len(contract_io.label_names(contract)),
            ):
                raise ConfigError(f"{path}: input/output shapes do not match its contract")
            return cls(contract, runner.logits, "tflite", str(path))
        files = run_directory.locate_run(path)
        contract = contract_io.load_contract(files.contract)
        model = run_directory.load_model(files.model)
        if model.input_shape[1] != contract_io.window(contract):
            raise ConfigError(
                f"{files.model}: input length {model.input_shape[1]} differs "
                f"from the contract's window {contract_io.window(contract)}"
            )
        return cls(contract, compiled_keras_logits(model), "keras", str(files.model))

    def model_input(self, record: ECGRecord) -> np.ndarray:
        """The whole record after the model's preprocessing and standardiser, at the
        contract's fs: float32 `(time, 12)`, before it is cut into windows.

        Raises:
            RecordError: as `windows`.
        """
        try:
            x, fs = apply_preprocessing(record.signal, record.fs, self.preprocess)
            if abs(fs - contract_io.fs(self.contract)) > 1e-6:
                raise RecordError(
                    None,
                    f"resampled to {fs:g} Hz, not the model's {contract_io.fs(self.contract):g} Hz",
                )
            if self.standardizer is not None:
                x = self.standardizer.transform(x)
        except (RecordError, ConfigError) as exc:
            problem = getattr(exc, "problem", str(exc))
            raise RecordError(
                record.path, f"does not fit the model's contract: {problem}"
            ) from None
        return x

    def windows(self, record: ECGRecord) -> np.ndarray:
        """The model's input windows of one `ECGRecord`: float32 `(n, window, 12)`.

        Raises:
            RecordError: naming the record's file, when it does not fit the contract
                (too short, NaN, a rate that cannot be resampled to fs).
        """
        return self.windows_and_starts(record)[0]

    def windows_and_starts(self, record: ECGRecord) -> tuple[np.ndarray, np.ndarray, int]:
        """`windows(record)`, the start of each in the preprocessed signal (samples at the
        contract's fs) and that signal's length; explanations map windows back with them.

        Raises:
            RecordError: as `windows`.
        """
        x = self.model_input(record)
        try:
            window = contract_io.window(self.contract)
            if contract_io.eval_mode(self.contract) == "centre":
                windows = centre_window(x, window)[None]
                starts = np.array([(x.shape[0] - window) // 2], dtype=np.int64)
            else:
                windows, starts = sliding_windows(x, window, contract_io.stride(self.contract))
        except (RecordError, ConfigError) as exc:
            problem = getattr(exc, "problem", str(exc))
            raise RecordError(
                record.path, f"does not fit the model's contract: {problem}"
            ) from None
        return windows, starts, int(x.shape[0])

    def predict_record(self, record: ECGRecord) -> dict:
        """Scores one `ECGRecord`: record logits, probabilities and decisions per label."""
        windows = self.windows(record)
        logits = np.concatenate(
            [
                np.asarray(self.logits_fn(windows[k : k + _BATCH]))
                for k in range(0, len(windows), _BATCH)
            ]
        )
        _, z = aggregate_windows(
            logits, np.zeros(len(logits)), contract_io.aggregate(self.contract)
        )
        probabilities = contract_io.probabilities(self.contract, z)[0]
        decisions = contract_io.decisions(self.contract, z)[0]
        return {
            "record": record.path,
            "record_id": record.record_id,
            "windows": len(windows),
            "logits": dict(zip(self.labels, map(float, z[0]))),
            "probabilities": dict(zip(self.labels, map(float, probabilities))),
            "decisions": dict(zip(self.labels, map(int, decisions))),
        }

    def predict_file(self, path: os.PathLike | str) -> dict:
        """Reads and scores one record file (see `read_record` for the formats)."""
        return self.predict_record(read_record(path))

    def predict_files(self, paths: Iterable[os.PathLike | str]) -> list:
        """Scores every file; one that cannot be scored gets `{"record", "error"}` instead.

        Files are read in a worker process, so a reader that crashes natively on a corrupt
        file (scipy on some .mat files) costs that file an error, not the whole call.
        """
        results = []
        for path, record, error in map_isolated(read_record, [str(p) for p in paths]):
            if error is not None:
                results.append({"record": path, "error": error})
                continue
            try:
                results.append({**self.predict_record(record), "record": path})
            except (RecordError, ConfigError) as exc:
                results.append({"record": path, "error": str(exc)})
        return results


def eager_keras_logits(model: keras.Model) -> Callable[[np.ndarray], np.ndarray]:
    """`windows -> logits` through an eager Keras call (the slow path, for benchmarks)."""
    import keras

    return lambda windows: keras.ops.convert_to_numpy(model(windows, training=False)).astype(
        np.float32
    )


def compiled_keras_logits(model: keras.Model) -> Callable[[np.ndarray], np.ndarray]:
    """`windows -> logits` through one traced `tf.function` for any batch size.

    An eager call re-runs Python layer code every time (29.5 ms vs 6.3 ms per ResNet-1D-18
    window in benchmarks/results/resnet1d18_training.json).
    """
    import tensorflow as tf

    spec = tf.TensorSpec((None, *model.input_shape[1:]), tf.float32)
    serve = tf.function(lambda x: model(x, training=False), input_signature=[spec])
    return lambda windows: (
        serve(tf.convert_to_tensor(windows, tf.float32)).numpy().astype(np.float32)
    )

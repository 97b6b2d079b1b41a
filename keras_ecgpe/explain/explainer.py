"""`Explainer`: integrated gradients of a record's logit, through the model's own windows.

The record goes through exactly the preprocessing `predict` applies (one `Predictor`,
built on the Keras model); each window is explained by integrated gradients and the
window maps are put back on the record's time axis (`record_attribution`). A `.tflite`
cannot be differentiated, so its explanation uses the `.keras` of the run it was exported
from (`run_directory.run_of_export`), and only when that is the same model: the embedded
contract must equal the run's, and a bundle fine-tuned at export (QAT, pruning) is refused
because its weights are not the run's.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from keras_ecgpe import run_directory
from keras_ecgpe.errors import ConfigError
from keras_ecgpe.explain.integrated_gradients import DEFAULT_STEPS, integrated_gradients
from keras_ecgpe.explain.record_attribution import (
    RecordAttribution,
    map_to_record,
    preprocessed_offset,
)
from keras_ecgpe.inference import contract_io
from keras_ecgpe.inference.predictor import BUNDLE_MODEL, Predictor, compiled_keras_logits
from keras_ecgpe.inference.tflite_runner import read_embedded_json

if TYPE_CHECKING:
    import os

    import keras

    from keras_ecgpe.data.record import ECGRecord

METHOD = "integrated gradients"
BASELINE = (
    "zeros in the model's input space: a flat ECG at every lead's mean after the "
    "per-lead normalisation and dataset standardiser"
)
RULE = "trapezoid"


def keras_source(path: os.PathLike | str) -> Path:
    """The `.keras` model (or run) whose gradients explain the model at `path`.

    A run directory or `.keras` explains itself; a `.tflite` (or its bundle folder) is
    traced back to its run.

    Raises:
        ConfigError: a `.tflite` outside a run's export folder, whose run is gone, whose
            contract differs from the run's, or that was fine-tuned at export; the message
            says which.
    """
    path = Path(path)
    if path.is_dir() and (path / BUNDLE_MODEL).is_file():  # an export bundle folder
        path = path / BUNDLE_MODEL
    if path.suffix != ".tflite":
        return path
    files = run_directory.run_of_export(path)
    payload = read_embedded_json(path.read_bytes(), where=str(path)) or {}
    tuned = [key for key in ("qat", "pruning") if payload.get(key)]
    if tuned:
        raise ConfigError(
            f"{path}: fine-tuned at export ({' and '.join(tuned)}), so its weights are not "
            f"{files.model}; integrated gradients need a differentiable model with these "
            "weights, which only the .tflite holds"
        )
    contract = run_directory.load_contract(files.contract)
    if payload.get("contract") != contract:
        raise ConfigError(
            f"{path}: its embedded contract differs from {files.contract}; the run was "
            "retrained after this export, so its .keras is another model"
        )
    return files.model


class Explainer:
    """Explains one logit of a model for whole records.

    Args:
        model: the Keras model.
        contract: its run's contract.
        source: where the model came from, for reports.

    Example:

    ```python
    explainer = Explainer.load("runs/pe")
    attribution = explainer.explain_record(read_record("real-ecg/cinc/HR06000"))
    attribution.summary()["lead_shares"]
    ```
    """

    def __init__(self, model: keras.Model, contract: dict, source: str):
        self.model, self.source = model, source
        self.predictor = Predictor(contract, compiled_keras_logits(model), "keras", source)
        self.contract = self.predictor.contract

    @classmethod
    def load(cls, path: os.PathLike | str) -> Explainer:
        """Loads a run directory, a `.keras`, or the run of a `.tflite` (`keras_source`)."""
        model, contract, files = run_directory.load_run(keras_source(path))
        return cls(model, contract, str(files.model))

    def output_index(self, label: str | None = None) -> int:
        """The logit to explain: `label`, else "PE" when the model has it, else its only one.

        Raises:
            ConfigError: an unknown label, or several labels and none chosen.
        """
        labels = list(self.predictor.labels)
        if label is None:
            if "PE" in labels:
                return labels.index("PE")
            if len(labels) == 1:
                return 0
            raise ConfigError(
                f"{self.source}: the model has labels {', '.join(labels)}; choose one to "
                "explain (`label`)"
            )
        if label not in labels:
            raise ConfigError(
                f"{self.source}: no label {label!r} to explain (labels: {', '.join(labels)})"
            )
        return labels.index(label)

    def explain_record(
        self, record: ECGRecord, label: str | None = None, *, steps: int = DEFAULT_STEPS
    ) -> RecordAttribution:
        """Integrated gradients of the record logit of `label`, on the record's time axis.

        Raises:
            RecordError: the record does not fit the model's contract (as in `predict`).
            ConfigError: see `output_index`.
        """
        output = self.output_index(label)
        windows, starts, length = self.predictor.windows_and_starts(record)
        offset, fs, n_record = preprocessed_offset(
            record.n_samples, record.fs, self.predictor.preprocess
        )
        result = integrated_gradients(self.model, windows, output, steps=steps)
        return map_to_record(
            result,
            starts,
            length,
            contract_io.aggregate(self.contract),
            offset=offset,
            fs=fs,
            n_record=n_record,
        )

    def describe(self, label: str | None = None, steps: int = DEFAULT_STEPS) -> dict:
        """How the explanation was made, for JSON and captions."""
        return {
            "method": METHOD,
            "baseline": BASELINE,
            "steps": steps,
            "rule": RULE,
            "label": self.predictor.labels[self.output_index(label)],
            "explained_model": self.source,
            "units": "logit (raw, before calibration)",
        }

"""Record files to PNGs and explanations: `data inspect --plot` and `predict --explain`."""

from __future__ import annotations

from typing import TYPE_CHECKING

from keras_ecgpe.data.isolation import map_isolated
from keras_ecgpe.data.readers import read_record
from keras_ecgpe.errors import RecordError
from keras_ecgpe.explain.figures import attribution_figure
from keras_ecgpe.explain.integrated_gradients import DEFAULT_STEPS
from keras_ecgpe.explain.record_attribution import preprocessed_offset
from keras_ecgpe.inference import contract_io
from keras_ecgpe.visualization.ecg_paper import (
    ecg_paper_figure,
    png_paths,
    record_figure,
    write_png,
)

if TYPE_CHECKING:
    import os
    from collections.abc import Sequence

    from keras_ecgpe.data.record import ECGRecord
    from keras_ecgpe.explain.explainer import Explainer
    from keras_ecgpe.inference.predictor import Predictor


def model_input_units(contract: dict) -> str:
    """The units of a model's input: mV only when nothing rescaled the leads."""
    normalize = contract_io.preprocess(contract).normalize
    scaled = [] if normalize == "none" else [f"{normalize} per lead"]
    if contract_io.standardizer(contract) is not None:
        scaled.append("dataset standardiser")
    return "mV" if not scaled else f"model input ({' + '.join(scaled)}), not mV"


def _preprocessed_figure(record: ECGRecord, predictor: Predictor):
    x = predictor.model_input(record)
    config = predictor.preprocess
    offset, fs, _ = preprocessed_offset(record.n_samples, record.fs, config)
    steps = ", ".join(f"{key} {value}" for key, value in config.to_dict().items())
    return ecg_paper_figure(
        x,
        fs,
        title=f"{record.record_id} after the preprocessing of {predictor.source}",
        caption=[
            f"Preprocessing: {steps}; its first sample is at {offset / fs:.2f} s of the record",
            f"The record as the model's windows are cut from it ({record.path})",
        ],
        units=model_input_units(predictor.contract),
    )


def plot_record_files(
    paths: Sequence[os.PathLike | str],
    out_dir: os.PathLike | str,
    *,
    predictor: Predictor | None = None,
) -> list:
    """Draws every record file as a paper printout: `<stem>.png`, and with a `predictor`
    also `<stem>_preprocessed.png` (the record after that model's preprocessing).

    Returns:
        One entry per file: `{"record", "plots": [paths]}` or `{"record", "error"}`.

    Raises:
        keras_ecgpe.errors.ConfigError: a PNG that would overwrite a file.
    """
    names = [str(p) for p in paths]
    raw = png_paths(names, out_dir)
    after = png_paths(names, out_dir, "_preprocessed") if predictor is not None else None
    results = []
    for k, (path, record, error) in enumerate(map_isolated(read_record, names)):
        if error is not None:
            results.append({"record": path, "error": error})
            continue
        plots = [str(write_png(record_figure(record), raw[k]))]
        if after is not None:
            try:
                plots.append(str(write_png(_preprocessed_figure(record, predictor), after[k])))
            except RecordError as exc:
                results.append({"record": path, "plots": plots, "error": str(exc)})
                continue
        results.append({"record": path, "plots": plots})
    return results


def _prediction_line(entry: dict, label: str, backend: str) -> str:
    return (
        f"{backend} prediction: {label} probability {entry['probabilities'][label]:.3f} "
        f"(calibrated), decision {entry['decisions'][label]} "
        f"(raw logit {entry['logits'][label]:+.3f} vs the stored cut)"
    )


def explain_files(
    predictor: Predictor,
    explainer: Explainer,
    paths: Sequence[os.PathLike | str],
    *,
    label: str | None = None,
    steps: int = DEFAULT_STEPS,
    plot_dir: os.PathLike | str | None = None,
) -> list:
    """Scores every file with `predictor` and explains it with `explainer`.

    Each entry is `predict`'s, plus "explanation": how it was made
    (`Explainer.describe`), the record's `RecordAttribution.summary()` and, with
    `plot_dir`, the PNG drawn. A file that cannot be read or scored gets
    `{"record", "error"}` instead, as in `Predictor.predict_files`.

    Raises:
        keras_ecgpe.errors.ConfigError: an unknown label, or a PNG that would overwrite a file.
    """
    how = explainer.describe(label, steps)
    pngs = png_paths([str(p) for p in paths], plot_dir) if plot_dir is not None else None
    results = []
    for k, (path, record, error) in enumerate(map_isolated(read_record, [str(p) for p in paths])):
        if error is not None:
            results.append({"record": path, "error": error})
            continue
        try:
            entry = {**predictor.predict_record(record), "record": path}
            attribution = explainer.explain_record(record, label, steps=steps)
        except RecordError as exc:
            results.append({"record": path, "error": str(exc)})
            continue
        explanation = {**how, **attribution.summary()}
        if pngs is not None:
            line = _prediction_line(entry, how["label"], predictor.backend)
            figure = attribution_figure(record, attribution, how, caption=[line])
            explanation["plot"] = str(write_png(figure, pngs[k]))
        results.append({**entry, "explanation": explanation})
    return results

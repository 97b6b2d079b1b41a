"""`predict --explain`: score record files and explain each score, optionally as PNGs."""

from __future__ import annotations

from typing import TYPE_CHECKING

from keras_ecgpe.data.isolation import map_isolated
from keras_ecgpe.data.readers import read_record
from keras_ecgpe.errors import RecordError
from keras_ecgpe.explain.figures import attribution_figure
from keras_ecgpe.explain.integrated_gradients import DEFAULT_STEPS
from keras_ecgpe.visualization.ecg_paper import png_paths, write_png

if TYPE_CHECKING:
    import os
    from collections.abc import Sequence

    from keras_ecgpe.explain.explainer import Explainer
    from keras_ecgpe.inference.predictor import Predictor


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

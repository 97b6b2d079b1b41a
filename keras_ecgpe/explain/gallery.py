"""The error gallery of an evaluation: the records a researcher should look at first.

For one label (PE when the model has it): the most confident false positives (highest
logits among negatives called positive), the most confident false negatives (lowest
logits among positives called negative) and a few clear true positives, each drawn as the
model saw it (the prepared cache's signal after the standardiser, at the cache's fs) with
its integrated-gradients attribution, computed on exactly the windows `evaluate` scored.
A cap keeps it cheap: `per_kind` false positives and false negatives and half as many true
positives (default 4 + 4 + 2 records at 32 steps). This module owns `gallery/` in the
evaluation folder; the entries go into `metrics.json` under "gallery" and the report
lists them.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from keras_ecgpe.data.atomic import atomic_write_bytes
from keras_ecgpe.errors import ConfigError
from keras_ecgpe.evaluation import decide
from keras_ecgpe.explain.explainer import BASELINE, METHOD, RULE
from keras_ecgpe.explain.figures import model_input_figure
from keras_ecgpe.explain.files import model_input_units
from keras_ecgpe.explain.integrated_gradients import integrated_gradients
from keras_ecgpe.explain.record_attribution import map_to_record
from keras_ecgpe.visualization.ecg_paper import write_png

if TYPE_CHECKING:
    from pathlib import Path

    import keras

    from keras_ecgpe.data.prepared_cache import PreparedCache
    from keras_ecgpe.evaluation.thresholds import ThresholdChoice

GALLERY_DIR = "gallery"
DEFAULT_PER_KIND = 4
GALLERY_STEPS = 32
KINDS = ("false positive", "false negative", "true positive")
_FILE_TAGS = {"false positive": "fp", "false negative": "fn", "true positive": "tp"}


def select_gallery(
    y: np.ndarray, logits: np.ndarray, positive: np.ndarray, per_kind: int
) -> list[tuple[str, int]]:
    """`(kind, row)` pairs: up to `per_kind` most confident FPs and FNs, `per_kind // 2`
    (at least one) TPs with the highest logits; rows index `y`/`logits`/`positive` (1-D).

    Example:
    >>> y = np.array([0, 0, 1, 1, 1]); z = np.array([2.0, 3.0, -1.0, 4.0, 5.0])
    >>> select_gallery(y, z, z >= 0, per_kind=1)
    [('false positive', 1), ('false negative', 2), ('true positive', 4)]
    """
    if per_kind < 1:
        raise ConfigError(f"`per_kind` must be at least 1. Received: per_kind={per_kind!r}")
    y, positive = np.asarray(y) > 0.5, np.asarray(positive).astype(bool)
    z = np.asarray(logits, dtype=np.float64)
    rows = np.arange(len(z))
    picks = (
        ("false positive", rows[~y & positive], -1, per_kind),
        ("false negative", rows[y & ~positive], 1, per_kind),
        ("true positive", rows[y & positive], -1, max(1, per_kind // 2)),
    )
    out = []
    for kind, candidates, direction, cap in picks:
        order = candidates[np.argsort(direction * z[candidates], kind="stable")]
        out += [(kind, int(row)) for row in order[:cap]]
    return out


def _label_index(names: list) -> int:
    return names.index("PE") if "PE" in names else 0


def _record_windows(cache: PreparedCache, record: int, contract: dict, standardizer):
    from keras_ecgpe.data.pipeline import evaluation_windows

    window = int(contract["window"])
    _, starts = evaluation_windows(
        cache,
        np.array([record]),
        window=window,
        mode=contract["eval_mode"],
        stride=int(contract["eval_stride"]),
    )
    signal = np.asarray(cache.signal(record), dtype=np.float32)
    if standardizer is not None:
        signal = standardizer.transform(signal)
    return signal, np.stack([signal[s : s + window] for s in starts]), starts


def write_gallery(
    out: Path,
    model: keras.Model,
    contract: dict,
    cache: PreparedCache,
    ids: np.ndarray,
    y: np.ndarray,
    logits: np.ndarray,
    mask: np.ndarray,
    choice: ThresholdChoice,
    *,
    per_kind: int = DEFAULT_PER_KIND,
    synthetic: bool = False,
) -> dict:
    """Draws the gallery into `out/gallery/`; returns its description for metrics.json.

    Args:
        out: the evaluation folder.
        model, contract: the evaluated model and its contract.
        cache: the evaluated cache; `ids` the cache index of each row of `y`/`logits`.
        y, logits, mask: record labels, raw logits and label masks `(n, C)` as evaluated.
        choice: the contract's decision cuts (the rule `evaluate` applies).
        per_kind: cap on false positives and on false negatives (true positives: half).
        synthetic: the cache is SYNTHETIC (said in every figure).

    Returns:
        `{"label", "method", "baseline", "steps", "per_kind", "items": [...]}`, each item
        with kind, record and patient ids, logit, attribution summary and PNG path.
    """
    from keras_ecgpe.data.normalization import DatasetStandardizer

    names = list(contract["label_names"])
    c = _label_index(names)
    keep = mask[:, c] > 0
    rows = np.flatnonzero(keep)
    positive = decide(logits, choice)[:, c].astype(bool)
    picks = select_gallery(y[rows, c], logits[rows, c], positive[rows], per_kind)
    std = contract.get("standardizer")
    standardizer = None if std is None else DatasetStandardizer.from_dict(std)
    folder = out / GALLERY_DIR
    folder.mkdir(parents=True, exist_ok=True)
    how = {
        "label": names[c],
        "method": METHOD,
        "baseline": BASELINE,
        "steps": GALLERY_STEPS,
        "rule": RULE,
        "explained_model": f"{contract['model_name']} (the evaluated one)",
    }
    units = model_input_units(contract)
    tag = " (SYNTHETIC data)" if synthetic else ""
    items = []
    for rank, (kind, pick) in enumerate(picks, start=1):
        row = int(rows[pick])
        record = int(ids[row])
        signal, windows, starts = _record_windows(cache, record, contract, standardizer)
        result = integrated_gradients(model, windows, c, steps=GALLERY_STEPS)
        length = signal.shape[0]
        attribution = map_to_record(
            result,
            starts,
            length,
            contract["aggregate"],
            offset=0,
            fs=cache.fs,
            n_record=length,
        )
        record_id = str(cache.record_ids[record])
        figure = model_input_figure(
            signal,
            cache.fs,
            attribution,
            how,
            title=f"{kind} #{rank}: {record_id}{tag}",
            units=units,
            caption=[
                f"{kind}: label {int(y[row, c])}, {names[c]} logit {logits[row, c]:+.3f} "
                f"(evaluated), decided {int(positive[row])} by the contract's cut; the "
                f"prepared cache's signal as the model saw it ({cache.path})"
            ],
        )
        safe = "".join(ch if ch.isalnum() or ch in "-_" else "_" for ch in record_id)[:60]
        path = folder / f"{rank:02d}-{_FILE_TAGS[kind]}-{safe}.png"
        write_png(figure, path)
        summary = attribution.summary()
        items.append(
            {
                "kind": kind,
                "record_id": record_id,
                "patient_id": str(cache.patient_ids[record]),
                "label": int(y[row, c]),
                "logit": float(logits[row, c]),
                "explained_logit": summary["logit"],
                "completeness_gap": summary["completeness_gap"],
                "lead_shares": summary["lead_shares"],
                "top_segments": summary["top_segments"],
                "plot": str(path),
            }
        )
    readme = (
        f"Error gallery of {names[c]}{tag}: the {per_kind} most confident false positives "
        f"and false negatives and {max(1, per_kind // 2)} true positives, with {METHOD} "
        f"({GALLERY_STEPS} steps). Listed in report.txt/.html and metrics.json (gallery).\n"
    )
    atomic_write_bytes(folder / "README.txt", readme.encode("utf-8"))
    return {
        "label": names[c],
        "method": METHOD,
        "baseline": BASELINE,
        "steps": GALLERY_STEPS,
        "per_kind": per_kind,
        "folder": str(folder),
        "items": items,
    }

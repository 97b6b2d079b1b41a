"""Why a model decided: integrated gradients of a record's logit, mapped onto its ECG.

`Explainer.load(path)` takes a run directory, a `.keras` or a `.tflite` (explained through
its run's `.keras`); `explain_record` returns a `RecordAttribution` on the record's time
axis with per-lead shares and top segments. `sanity` holds the model-randomisation check.
docs/explain.md describes the method, the baseline and the checks.
"""

from keras_ecgpe.explain.explainer import Explainer, keras_source
from keras_ecgpe.explain.integrated_gradients import (
    DEFAULT_STEPS,
    WindowAttributions,
    integrated_gradients,
)
from keras_ecgpe.explain.record_attribution import RecordAttribution, map_to_record

__all__ = [
    "DEFAULT_STEPS",
    "Explainer",
    "RecordAttribution",
    "WindowAttributions",
    "integrated_gradients",
    "keras_source",
    "map_to_record",
]

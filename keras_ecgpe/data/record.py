"""The canonical record every reader returns."""

from __future__ import annotations

import dataclasses

import numpy as np

from keras_ecgpe.leads import CANONICAL_LEADS


@dataclasses.dataclass(frozen=True)
class ECGRecord:
    """One 12-lead ECG in canonical form.

    Attributes:
        signal: float32 `(time, 12)` in millivolts, leads in `CANONICAL_LEADS` order.
        fs: sampling rate in Hz.
        record_id: identifier of the record (file stem unless the source says otherwise).
        path: the file the record was read from.
        source_format: "wfdb", "cinc-mat", "cpsc2018-mat", "medalcare-csv" or "csv".
        lead_policy: what lead mapping did ("as recorded", "reordered", "dropped vx,...",
            "derived III,... from I and II").
        units: the physical units the file declared before conversion to mV.
        patient_id, age, sex: where the file or its source table gives them.
        labels: label codes as given by the file (SNOMED CT for CinC headers), or by the
            dataset source after harmonisation.
    """

    signal: np.ndarray
    fs: float
    record_id: str
    path: str
    source_format: str
    lead_policy: str = "as recorded"
    units: str = "mV"
    patient_id: str | None = None
    age: float | None = None
    sex: str | None = None
    labels: tuple[str, ...] = ()

    @property
    def n_samples(self) -> int:
        return int(self.signal.shape[0])

    @property
    def duration_s(self) -> float:
        return self.n_samples / float(self.fs)

    @property
    def leads(self) -> tuple[str, ...]:
        return CANONICAL_LEADS

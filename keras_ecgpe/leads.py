"""Canonical 12-lead order and the mapping of any lead naming onto it.

Records name leads in many ways (``I``/``DI``/``i``, ``aVR``/``AVR``/``avr``, ``V1``/``v1``).
`map_to_canonical` matches names case-insensitively through an alias table, drops extra
leads (e.g. PTB's Frank leads vx, vy, vz), derives missing limb leads from I and II by
Einthoven/Goldberger, and refuses records lacking precordial leads. The policy it applied
is returned as text so it can be reported, never applied silently.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from keras_ecgpe.errors import RecordError

CANONICAL_LEADS: tuple[str, ...] = (
    "I",
    "II",
    "III",
    "aVR",
    "aVL",
    "aVF",
    "V1",
    "V2",
    "V3",
    "V4",
    "V5",
    "V6",
)
LIMB_LEADS = CANONICAL_LEADS[:6]
PRECORDIAL_LEADS = CANONICAL_LEADS[6:]

_ALIASES = {
    "di": "I",
    "dii": "II",
    "diii": "III",
    "lead i": "I",
    "lead ii": "II",
    "lead iii": "III",
    "lead_i": "I",
    "lead_ii": "II",
    "lead_iii": "III",
}
_BY_LOWER = {name.lower(): name for name in CANONICAL_LEADS}


def canonical_lead_name(name: str) -> str | None:
    """Returns the canonical name of a lead label, or None if it is not a 12-lead name."""
    key = str(name).strip().lower()
    return _BY_LOWER.get(key) or _ALIASES.get(key)


def map_to_canonical(
    signal: np.ndarray, lead_names: Sequence[str], path: str | None = None
) -> tuple[np.ndarray, str]:
    """Reorders a `(time, n_leads)` signal into the canonical 12-lead order.

    Args:
        signal: array `(time, n_leads)` in mV, columns named by `lead_names`.
        lead_names: the record's own lead labels, any case or known alias.
        path: the record's path, used in error messages.

    Returns:
        `(signal12, policy)`: float32 `(time, 12)` in canonical order, and a short text
        describing what was done ("as recorded", "reordered", "dropped vx,vy,vz",
        "derived III,aVR,aVL,aVF from I and II").

    Raises:
        RecordError: duplicate leads, no I/II to derive limb leads from, or missing
            precordial leads.
    """
    signal = np.asarray(signal)
    if signal.ndim != 2 or signal.shape[1] != len(lead_names):
        raise RecordError(
            path, f"signal shape {signal.shape} does not match {len(lead_names)} lead names"
        )
    columns = {}
    extra = []
    for index, raw in enumerate(lead_names):
        name = canonical_lead_name(raw)
        if name is None:
            extra.append(str(raw))
            continue
        if name in columns:
            raise RecordError(
                path, f"lead {name} appears twice (as {lead_names[columns[name]]!r} and {raw!r})"
            )
        columns[name] = index

    missing_precordial = [lead for lead in PRECORDIAL_LEADS if lead not in columns]
    if missing_precordial:
        raise RecordError(
            path,
            "missing precordial lead(s) "
            + ",".join(missing_precordial)
            + f"; leads found: {','.join(map(str, lead_names))}",
        )
    missing_limb = [lead for lead in LIMB_LEADS if lead not in columns]
    if any(lead in missing_limb for lead in ("I", "II")):
        raise RecordError(
            path,
            "leads I and II are both needed (to derive the other limb "
            f"leads); leads found: {','.join(map(str, lead_names))}",
        )

    out = np.empty((signal.shape[0], 12), dtype=np.float32)
    for position, lead in enumerate(CANONICAL_LEADS):
        if lead in columns:
            out[:, position] = signal[:, columns[lead]]
    lead_i, lead_ii = out[:, 0], out[:, 1]
    derived = {
        "III": lead_ii - lead_i,
        "aVR": -(lead_i + lead_ii) / 2.0,
        "aVL": lead_i - lead_ii / 2.0,
        "aVF": lead_ii - lead_i / 2.0,
    }
    for lead in missing_limb:
        out[:, CANONICAL_LEADS.index(lead)] = derived[lead]

    notes = []
    order = [canonical_lead_name(name) for name in lead_names if canonical_lead_name(name)]
    if order != [lead for lead in CANONICAL_LEADS if lead in columns]:
        notes.append("reordered")
    if extra:
        notes.append("dropped " + ",".join(extra))
    if missing_limb:
        notes.append("derived " + ",".join(missing_limb) + " from I and II")
    return out, "; ".join(notes) if notes else "as recorded"

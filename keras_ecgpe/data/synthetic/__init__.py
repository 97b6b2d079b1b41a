"""SYNTHETIC demo data in real file formats: a PTB-XL-style set and a PE cohort.

The records come from a sum-of-Gaussians dipole model (`ecg_model`) with pathology and
PE-sign effects (`conditions`); they are NOT real patient data, and every file written
says so. They let every command of the package run end to end without downloads; no
accuracy measured on them says anything about real ECGs.

Example:

    ```python
    from keras_ecgpe.data.synthetic import write_demo
    summary = write_demo("/tmp/ecgpe_demo", n_ptbxl=40, n_pe=40)
    summary["pe"]["manifest"]
    # '/tmp/ecgpe_demo/pe_synthetic/manifest.csv'
    ```
"""

from __future__ import annotations

import os
import shutil
import time
from pathlib import Path

from keras_ecgpe.data.synthetic.pe_cohort import generate_pe_cohort, write_pe_cohort
from keras_ecgpe.data.synthetic.ptbxl_style import plan_ptbxl_style, write_ptbxl_style
from keras_ecgpe.errors import ConfigError

__all__ = [
    "write_demo",
    "write_ptbxl_style",
    "write_pe_cohort",
    "generate_pe_cohort",
    "plan_ptbxl_style",
]

MARKER = "SYNTHETIC_DATA.txt"
_OWN_ENTRIES = (MARKER, "ptbxl_synthetic", "pe_synthetic")
_MARKER_TEXT = """SYNTHETIC DATA - NOT REAL PATIENTS.
Written by keras_ecgpe.data.synthetic.write_demo(n_ptbxl={n_ptbxl}, n_pe={n_pe}, seed={seed}).

ptbxl_synthetic/  a multi-label set in the real PTB-XL layout (NORM, MI, STTC, CD, HYP),
                  100 Hz WFDB records, for pretraining
pe_synthetic/     a pulmonary-embolism cohort (manifest.csv: record, label, patient_id),
                  500 Hz WFDB records, about a quarter positive, for fine-tuning

Every record is drawn from a sum-of-Gaussians dipole model with caricatured pathology and
PE-sign effects; every WFDB header carries a SYNTHETIC comment. Use the set to try the
commands, never to claim accuracy: bring real data for that.
"""


def _prepare_directory(out: Path) -> bool:
    """Refuses a non-empty folder unless it is a previous demo, whose own entries are then
    removed (other entries, e.g. caches, are left untouched). Returns True on replace."""
    if out.exists() and not out.is_dir():
        raise ConfigError(
            f"`out_dir` must be a directory. Received: out_dir={str(out)!r} (an existing file)"
        )
    if not out.exists() or not any(out.iterdir()):
        out.mkdir(parents=True, exist_ok=True)
        return False
    marker = out / MARKER
    if not (marker.is_file() and marker.read_text().startswith("SYNTHETIC DATA")):
        raise ConfigError(
            f"`out_dir` is a non-empty directory that is not a previous "
            f"SYNTHETIC demo (no {MARKER}); refusing to write into it. "
            f"Received: out_dir={str(out)!r}"
        )
    for name in _OWN_ENTRIES:
        path = out / name
        if path.is_dir():
            shutil.rmtree(path)
        elif path.exists():
            path.unlink()
    return True


def write_demo(
    out_dir: os.PathLike | str, *, n_ptbxl: int = 2000, n_pe: int = 900, seed: int = 0
) -> dict[str, object]:
    """Writes the SYNTHETIC demo: `<out>/ptbxl_synthetic/`, `<out>/pe_synthetic/` and
    `<out>/SYNTHETIC_DATA.txt`.

    The same arguments write the same bytes. A previous demo in `out_dir` is replaced
    (only its own three entries); any other non-empty folder is refused.

    Args:
        out_dir: target folder (created if missing).
        n_ptbxl: records of the PTB-XL-style set (100 Hz, 10 s).
        n_pe: records of the PE cohort (500 Hz, 10 s, about 25 % positive).
        seed: random seed.

    Returns:
        A summary dict: `out_dir`, `ptbxl` and `pe` summaries (paths, counts, positives),
        `seconds`, `replaced_previous_demo` and `synthetic: True`.

    Raises:
        ConfigError: bad counts, or `out_dir` is a file or a non-empty non-demo folder.
    """
    for name, value in (("n_ptbxl", n_ptbxl), ("n_pe", n_pe)):
        if not isinstance(value, int) or isinstance(value, bool) or value < 1:
            raise ConfigError(f"`{name}` must be a positive integer. Received: {name}={value!r}")
    if not isinstance(seed, int) or isinstance(seed, bool) or seed < 0:
        raise ConfigError(f"`seed` must be a non-negative integer. Received: seed={seed!r}")
    start = time.perf_counter()
    out = Path(out_dir)
    replaced = _prepare_directory(out)
    ptbxl = write_ptbxl_style(out / "ptbxl_synthetic", n_records=n_ptbxl, seed=seed)
    pe = write_pe_cohort(out / "pe_synthetic", n_records=n_pe, seed=seed)
    (out / MARKER).write_text(_MARKER_TEXT.format(n_ptbxl=n_ptbxl, n_pe=n_pe, seed=seed))
    return {
        "out_dir": str(out),
        "synthetic": True,
        "seed": seed,
        "ptbxl": ptbxl,
        "pe": pe,
        "replaced_previous_demo": replaced,
        "seconds": round(time.perf_counter() - start, 2),
    }

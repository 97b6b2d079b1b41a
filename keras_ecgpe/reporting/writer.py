"""Writes one report in its three formats: `<stem>.txt`, `<stem>.html`, `<stem>.json`."""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING

from keras_ecgpe.data.atomic import atomic_write_bytes, atomic_write_json
from keras_ecgpe.reporting.document import Report
from keras_ecgpe.reporting.html_renderer import to_html
from keras_ecgpe.reporting.json_dump import to_json
from keras_ecgpe.reporting.text_renderer import to_text
from keras_ecgpe.schemas import validate

if TYPE_CHECKING:
    import os


def write_report(
    report: Report, out_dir: os.PathLike | str, stem: str = "report"
) -> dict[str, Path]:
    """Renders `report` three ways and writes the files atomically into `out_dir`.

    All three are rendered and the JSON dump is checked against the `report` schema before
    anything is written, so a malformed report writes no file at all.

    Args:
        report: the document.
        out_dir: the directory (created if missing).
        stem: the file name without extension.

    Returns:
        `{"text": Path, "html": Path, "json": Path}`.

    Raises:
        ConfigError: the report is malformed or a figure cannot be read.
        ECGPEError: the dump does not match the schema (a bug in the renderer).

    Example:
    ```python
    paths = write_report(report, run_dir / "eval" / "test")
    print(paths["html"])
    ```
    """
    out_dir = Path(out_dir)
    paths = {
        "text": out_dir / f"{stem}.txt",
        "html": out_dir / f"{stem}.html",
        "json": out_dir / f"{stem}.json",
    }
    document = to_json(report)
    # Validated as it will be read back: through a JSON round trip (tuples become lists).
    validate(json.loads(json.dumps(document, allow_nan=False)), "report", paths["json"])
    text, page = to_text(report), to_html(report)
    out_dir.mkdir(parents=True, exist_ok=True)
    atomic_write_bytes(paths["text"], text.encode("utf-8"))
    atomic_write_bytes(paths["html"], page.encode("utf-8"))
    atomic_write_json(paths["json"], document)
    return paths

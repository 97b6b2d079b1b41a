"""A report as a JSON-safe structure (the document, not the numbers behind it).

The dump follows `keras_ecgpe/schemas/report.schema.json`. Cells keep their values: a
number stays a number (not its formatted text), an undefined cell is
`{"value": null, "reason": ...}` and an interval `{"low": ..., "high": ...}`. Figures are
referenced by name, size and SHA-256, never embedded (the HTML page embeds them).
"""

from __future__ import annotations

from keras_ecgpe.reporting.blocks import (
    Figure,
    KeyValueList,
    Notice,
    Paragraph,
    Preformatted,
    Table,
)
from keras_ecgpe.reporting.cells import Cell, Interval
from keras_ecgpe.reporting.document import Report, block_numbers, check_report

FORMAT_VERSION = 1


def to_json(report: Report) -> dict:
    """Dumps `report` as a dict of JSON types (see the module docstring).

    Args:
        report: the document.

    Returns:
        `{"format_version", "title", "subtitle", "meta", "banners", "sections"}`.

    Raises:
        ConfigError: the report is malformed, or a figure file is missing or not a PNG.

    Example:
    >>> from keras_ecgpe.reporting import Report, Section, Table
    >>> report = Report("Study").add(Section("Flow", "flow").add(Table("Records", ["n"], [[4]])))
    >>> to_json(report)["sections"][0]["blocks"][0]["rows"]
    [[4]]
    """
    check_report(report)
    numbers = block_numbers(report)
    return {
        "format_version": FORMAT_VERSION,
        "title": report.title,
        "subtitle": report.subtitle,
        "meta": list(report.meta),
        "banners": [_notice(banner) for banner in report.banners],
        "sections": [
            {
                "heading": section.heading,
                "anchor": section.anchor,
                "blocks": [_block(block, numbers.get(id(block))) for block in section.blocks],
            }
            for section in report.sections
        ],
    }


def _notice(notice: Notice) -> dict:
    return {"type": "notice", "level": notice.level, "text": notice.text}


def _cell(value):
    if isinstance(value, Cell):
        return value.value if value.reason is None else {"value": None, "reason": value.reason}
    if isinstance(value, Interval):
        entry = {"low": value.low, "high": value.high}
        if value.reason is not None:
            entry["reason"] = value.reason
        return entry
    return value


def _block(block, number: str | None) -> dict:
    if isinstance(block, Paragraph):
        return {"type": "paragraph", "text": block.text}
    if isinstance(block, Notice):
        return _notice(block)
    if isinstance(block, Preformatted):
        return {"type": "preformatted", "caption": block.caption, "text": block.text}
    if isinstance(block, KeyValueList):
        return {
            "type": "key_values",
            "caption": block.caption,
            "items": [[key, _cell(value)] for key, value in block.items],
        }
    if isinstance(block, Table):
        return {
            "type": "table",
            "number": number,
            "caption": block.caption,
            "columns": [{"label": c.label, "format": c.format} for c in block.columns],
            "rows": [[_cell(value) for value in row] for row in block.rows],
            "notes": list(block.notes),
        }
    if isinstance(block, Figure):
        width, height = block.pixel_size()
        return {
            "type": "figure",
            "number": number,
            "caption": block.caption,
            "alt": block.alt,
            "name": block.name or None,
            "width": width,
            "height": height,
            "sha256": block.sha256(),
        }
    raise AssertionError(f"unhandled block {type(block).__name__}")  # check_report refuses

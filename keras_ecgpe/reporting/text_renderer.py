"""A report as plain text: wrapped paragraphs, aligned tables, figures listed by file name.

Lines stay within `width` columns (100 by default) except verbatim blocks and a word longer
than a line: table columns of text are wrapped onto several lines when a table would be
wider, numbers never are, and a word without spaces (a SHA-256, a path) is never broken: in a
key-value list it starts its own line below the key when it does not fit beside it.
"""

from __future__ import annotations

import textwrap

from keras_ecgpe.reporting.blocks import (
    Figure,
    KeyValueList,
    Notice,
    Paragraph,
    Preformatted,
    Table,
)
from keras_ecgpe.reporting.cells import cell_reason, cell_text, reason_marks
from keras_ecgpe.reporting.document import Report, block_numbers, check_report

_GAP = "  "  # between table columns
_MIN_TEXT_COLUMN = 12  # a text column is never wrapped narrower than this
_HANGING = "    "  # a key-value list's value on the lines below its key


def to_text(report: Report, *, width: int = 100) -> str:
    """Renders `report` as plain text.

    Args:
        report: the document.
        width: the line length paragraphs and tables are wrapped to.

    Returns:
        The text, ending with a newline.

    Raises:
        ConfigError: the report is malformed (see `check_report`).

    Example:
    >>> from keras_ecgpe.reporting import Paragraph, Report, Section
    >>> report = Report("Study").add(Section("Methods", "methods").add(Paragraph("Bootstrap.")))
    >>> print(to_text(report))
    Study
    =====
    <BLANKLINE>
    Contents
      1. Methods
    <BLANKLINE>
    1. Methods
    ----------
    Bootstrap.
    <BLANKLINE>
    """
    check_report(report)
    numbers = block_numbers(report)
    lines = [report.title, "=" * min(len(report.title), width)]
    if report.subtitle:
        lines += _wrap(report.subtitle, width)
    for line in report.meta:
        lines += _wrap(line, width, indent="  ")
    for banner in report.banners:
        lines += [""] + _notice(banner, width)
    if report.sections:
        lines += ["", "Contents"]
        for index, section in enumerate(report.sections, 1):
            lines += _wrap(f"  {index}. {section.heading}", width, indent="     ")
    for index, section in enumerate(report.sections, 1):
        heading = f"{index}. {section.heading}"
        lines += ["", heading, "-" * min(len(heading), width)]
        for position, block in enumerate(section.blocks):
            if position:
                lines.append("")
            lines += _block(block, numbers.get(id(block)), width)
    return "\n".join(lines) + "\n"


def _wrap(text: str, width: int, indent: str = "") -> list[str]:
    """Wraps each line of `text` (explicit line breaks are kept); continuation indented."""
    out = []
    for line in text.splitlines() or [""]:
        out += textwrap.wrap(
            line,
            width,
            subsequent_indent=indent,
            break_long_words=False,  # a hash or path stays whole, to be copied
            break_on_hyphens=False,
        ) or [""]
    return out


def _notice(notice: Notice, width: int) -> list[str]:
    label = {"note": "Note", "warning": "WARNING", "critical": "CRITICAL"}[notice.level]
    return _wrap(f"{label}: {notice.text}", width, indent=" " * (len(label) + 2))


def _block(block, number: str | None, width: int) -> list[str]:
    if isinstance(block, Paragraph):
        return _wrap(block.text, width)
    if isinstance(block, Notice):
        return _notice(block, width)
    if isinstance(block, Preformatted):
        head = _wrap(block.caption, width) if block.caption else []
        return head + ["    " + line for line in block.text.splitlines()]
    if isinstance(block, KeyValueList):
        return _key_values(block, width)
    if isinstance(block, Table):
        return _table(block, number, width)
    if isinstance(block, Figure):
        name = block.name or "embedded in the HTML report"
        return _wrap(f"{number}. {block.caption} [{name}]", width, indent="  ")
    raise AssertionError(f"unhandled block {type(block).__name__}")  # check_report refuses


def _key_values(block: KeyValueList, width: int) -> list[str]:
    lines = _wrap(block.caption, width) if block.caption else []
    marks = reason_marks(value for _, value in block.items)
    key_width = min(max((len(key) for key, _ in block.items), default=0), width // 3)
    value_column = key_width + 5  # "  key:  value"
    for key, value in block.items:
        text = _with_mark(cell_text(value), cell_reason(value), marks)
        if max(map(len, text.split()), default=0) > width - value_column:
            # A word too long for the value column (a SHA-256): below the key, whole.
            lines += [f"  {key}:"] + _wrap(f"{_HANGING}{text}", width, indent=_HANGING)
            continue
        lines += _wrap(f"  {key + ':':<{key_width + 1}}  {text}", width, indent=" " * value_column)
    return lines + _footnotes(marks, [], width)


def _with_mark(text: str, reason: str | None, marks: dict[str, str]) -> str:
    return text if reason is None else f"{text} [{marks[reason]}]"


def _footnotes(marks: dict[str, str], notes, width: int) -> list[str]:
    lines = []
    for reason, mark in marks.items():
        lines += _wrap(f"  [{mark}] n/a: {reason}", width, indent="      ")
    for note in notes:
        lines += _wrap(f"  {note}", width, indent="  ")
    return lines


def _table(table: Table, number: str | None, width: int) -> list[str]:
    marks = reason_marks(value for row in table.rows for value in row)
    header = [column.label for column in table.columns]
    body = [
        [
            _with_mark(cell_text(value, column.format), cell_reason(value), marks)
            for value, column in zip(row, table.columns)
        ]
        for row in table.rows
    ]
    numeric = table.numeric_columns()
    widths = _column_widths(numeric, header, body, width)
    lines = _wrap(f"{number}. {table.caption}", width)
    rule = _GAP.join("-" * w for w in widths)
    lines += _row_lines(header, numeric, widths) + [rule]
    for row in body:
        lines += _row_lines(row, numeric, widths)
    return lines + _footnotes(marks, table.notes, width)


def _column_widths(numeric, header, body, width: int) -> list[int]:
    """Natural widths, then the widest text column narrowed until the table fits."""
    widths = [max(len(text) for text in column) for column in zip(header, *body)]
    while sum(widths) + len(_GAP) * (len(widths) - 1) > width:
        text_columns = [i for i, w in enumerate(widths) if not numeric[i] and w > _MIN_TEXT_COLUMN]
        if not text_columns:  # only numbers left: let the table run wide, never wrap them
            break
        widest = max(text_columns, key=lambda i: widths[i])
        widths[widest] -= 1
    return widths


def _row_lines(cells, numeric, widths) -> list[str]:
    """One row as one or more lines: text cells wrap within their column."""
    pieces = []
    for text, is_number, w in zip(cells, numeric, widths):
        if is_number or len(text) <= w:
            pieces.append([text])
        else:
            pieces.append(textwrap.wrap(text, w, break_on_hyphens=False) or [""])
    height = max(len(piece) for piece in pieces)
    lines = []
    for line in range(height):
        parts = []
        for piece, is_number, w in zip(pieces, numeric, widths):
            text = piece[line] if line < len(piece) else ""
            parts.append(f"{text:>{w}}" if is_number else f"{text:<{w}}")
        lines.append(_GAP.join(parts).rstrip())
    return lines

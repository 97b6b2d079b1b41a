"""A report as ONE self-contained HTML page that needs no network and no scripts.

Style sheet inline, PNG figures embedded as base64 `data:` URIs, and a Content Security
Policy that forbids every fetch except those inline images, so the page reads the same
offline, in an archive or e-mailed to a co-author, and prints cleanly (`html_style.CSS`).
Every piece of text goes through `html.escape`.
"""

from __future__ import annotations

import base64
import html

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
from keras_ecgpe.reporting.html_style import CSS

# Nothing may load but the inline style and the data: images; no script runs.
_CSP = "default-src 'none'; img-src data:; style-src 'unsafe-inline'; base-uri 'none'"
_LEVEL_LABELS = {"note": "Note", "warning": "Warning", "critical": "Critical"}


def _e(text: str) -> str:
    return html.escape(text, quote=True)


def to_html(report: Report) -> str:
    """Renders `report` as one self-contained HTML5 page.

    Args:
        report: the document.

    Returns:
        The page's source.

    Raises:
        ConfigError: the report is malformed, or a figure file is missing or not a PNG.

    Example:
    >>> from keras_ecgpe.reporting import Paragraph, Report, Section
    >>> page = to_html(Report("A <b> study").add(Section("Methods", "methods")))
    >>> "<title>A &lt;b&gt; study</title>" in page, 'href="#methods"' in page
    (True, True)
    """
    check_report(report)
    numbers = block_numbers(report)
    parts = [
        "<!DOCTYPE html>",
        '<html lang="en">',
        "<head>",
        '<meta charset="utf-8">',
        f'<meta http-equiv="Content-Security-Policy" content="{_CSP}">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        '<meta name="generator" content="keras_ecgpe">',
        f"<title>{_e(report.title)}</title>",
        f"<style>\n{CSS}</style>",
        "</head>",
        "<body>",
        "<header>",
        f"<h1>{_e(report.title)}</h1>",
    ]
    if report.subtitle:
        parts.append(f'<p class="subtitle">{_e(report.subtitle)}</p>')
    if report.meta:
        parts.append(
            '<ul class="meta">' + "".join(f"<li>{_e(line)}</li>" for line in report.meta) + "</ul>"
        )
    parts += [_notice(banner) for banner in report.banners]
    parts.append("</header>")
    if report.sections:
        parts += ['<nav class="toc" aria-label="Contents"><strong>Contents</strong><ol>']
        parts += [
            f'<li><a href="#{section.anchor}">{_e(section.heading)}</a></li>'
            for section in report.sections
        ]
        parts.append("</ol></nav>")
    parts.append("<main>")
    for index, section in enumerate(report.sections, 1):
        parts.append(f'<section id="{section.anchor}">')
        parts.append(f"<h2>{index}. {_e(section.heading)}</h2>")
        parts += [_block(block, numbers.get(id(block))) for block in section.blocks]
        parts.append("</section>")
    parts += ["</main>", "</body>", "</html>"]
    return "\n".join(parts) + "\n"


def _block(block, number: str | None) -> str:
    if isinstance(block, Paragraph):
        return "<p>" + "<br>".join(_e(line) for line in block.text.splitlines()) + "</p>"
    if isinstance(block, Notice):
        return _notice(block)
    if isinstance(block, Preformatted):
        head = f'<p class="block-caption">{_e(block.caption)}</p>' if block.caption else ""
        return f"{head}<pre>{_e(block.text)}</pre>"
    if isinstance(block, KeyValueList):
        return _key_values(block)
    if isinstance(block, Table):
        return _table(block, number)
    if isinstance(block, Figure):
        return _figure(block, number)
    raise AssertionError(f"unhandled block {type(block).__name__}")  # check_report refuses


def _notice(notice: Notice) -> str:
    role = "alert" if notice.level == "critical" else "note"
    return (
        f'<div class="notice notice-{notice.level}" role="{role}"><span class="level">'
        f"{_LEVEL_LABELS[notice.level]}:</span>{_e(notice.text)}</div>"
    )


def _cell(value, column_format: str, marks: dict[str, str]) -> str:
    """A cell's inner HTML: n/a cells carry their reason as a footnote mark and a tooltip."""
    text = _e(cell_text(value, column_format))
    reason = cell_reason(value)
    if text != "n/a":
        return text
    if reason is None:
        return '<span class="na">n/a</span>'
    return f'<span class="na" title="{_e(reason)}">n/a<sup>{marks[reason]}</sup></span>'


def _footnotes(marks: dict[str, str], notes) -> str:
    items = [f"<li><sup>{mark}</sup> n/a: {_e(reason)}</li>" for reason, mark in marks.items()]
    items += [f"<li>{_e(note)}</li>" for note in notes]
    return f'<ul class="table-notes">{"".join(items)}</ul>' if items else ""


def _table(table: Table, number: str | None) -> str:
    marks = reason_marks(value for row in table.rows for value in row)
    numeric = table.numeric_columns()
    head = "".join(
        f'<th scope="col"{_class(n)}>{_e(column.label)}</th>'
        for column, n in zip(table.columns, numeric)
    )
    rows = []
    for row in table.rows:
        cells = "".join(
            f"<td{_class(n)}>{_cell(value, column.format, marks)}</td>"
            for value, column, n in zip(row, table.columns, numeric)
        )
        rows.append(f"<tr>{cells}</tr>")
    return (
        f'<figure class="table-block"><figcaption>{_e(number)}. {_e(table.caption)}'
        f"</figcaption><table><thead><tr>{head}</tr></thead><tbody>{''.join(rows)}</tbody>"
        f"</table>{_footnotes(marks, table.notes)}</figure>"
    )


def _class(numeric: bool) -> str:
    return ' class="num"' if numeric else ""


def _key_values(block: KeyValueList) -> str:
    marks = reason_marks(value for _, value in block.items)
    head = f'<p class="block-caption">{_e(block.caption)}</p>' if block.caption else ""
    items = "".join(
        f"<dt>{_e(key)}</dt><dd>{_cell(value, 'auto', marks)}</dd>" for key, value in block.items
    )
    return f'{head}<dl class="kv">{items}</dl>{_footnotes(marks, [])}'


def _figure(figure: Figure, number: str | None) -> str:
    width, height = figure.pixel_size()
    data = base64.b64encode(figure.png_bytes()).decode("ascii")
    return (
        f'<figure><img src="data:image/png;base64,{data}" alt="{_e(figure.alt)}" '
        f'width="{width}" height="{height}"><figcaption>{_e(number)}. '
        f"{_e(figure.caption)}</figcaption></figure>"
    )

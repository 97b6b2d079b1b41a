"""Study reports as one document rendered three ways: text, self-contained HTML, JSON.

`evaluate` and `compare` build a `Report` (sections of `Paragraph`, `Table`, `Figure`,
`Notice`, `KeyValueList` and `Preformatted` blocks) and call `write_report`, which writes
`report.txt`, `report.html` (no network, no scripts, figures embedded, printable) and
`report.json` (checked against `keras_ecgpe/schemas/report.schema.json`).

Example:
>>> from keras_ecgpe.reporting import Cell, Report, Section, Table, to_text
>>> table = Table("Accuracy", ["Metric", "Value"],
...               [["PPV", Cell(None, reason="no record called positive")]])
>>> report = Report("Study").add(Section("Results", "results").add(table))
>>> print(to_text(report).splitlines()[-1])
  [a] n/a: no record called positive
"""

from keras_ecgpe.reporting.banners import SYNTHETIC_DATA, synthetic_banners
from keras_ecgpe.reporting.blocks import (
    NOTICE_LEVELS,
    Figure,
    KeyValueList,
    Notice,
    Paragraph,
    Preformatted,
    Table,
)
from keras_ecgpe.reporting.cells import (
    FORMATS,
    Cell,
    Column,
    Interval,
    cell_text,
    interval_or_na,
    value_or_na,
)
from keras_ecgpe.reporting.document import Report, Section, check_report
from keras_ecgpe.reporting.html_renderer import to_html
from keras_ecgpe.reporting.json_dump import to_json
from keras_ecgpe.reporting.text_renderer import to_text
from keras_ecgpe.reporting.writer import write_report

__all__ = [
    "FORMATS",
    "NOTICE_LEVELS",
    "Cell",
    "Column",
    "Figure",
    "Interval",
    "KeyValueList",
    "Notice",
    "Paragraph",
    "Preformatted",
    "Report",
    "SYNTHETIC_DATA",
    "Section",
    "Table",
    "cell_text",
    "check_report",
    "interval_or_na",
    "synthetic_banners",
    "to_html",
    "to_json",
    "to_text",
    "value_or_na",
    "write_report",
]

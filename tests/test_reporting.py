"""The report document and its text, HTML and JSON renderers (keras_ecgpe.reporting)."""

from __future__ import annotations

import base64
import html.parser
import io
import json
import re

import pytest
from matplotlib.figure import Figure as MplFigure

from keras_ecgpe.errors import ConfigError
from keras_ecgpe.reporting import (
    Cell,
    Column,
    Figure,
    Interval,
    KeyValueList,
    Notice,
    Paragraph,
    Preformatted,
    Report,
    Section,
    Table,
    to_html,
    to_json,
    to_text,
    write_report,
)
from keras_ecgpe.schemas import read_json, validate


def _png(color="red") -> bytes:
    figure = MplFigure(figsize=(2, 1.5))
    figure.add_subplot().plot([0, 1], [0, 1], color=color)
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=50)
    return buffer.getvalue()


def _report(png: bytes | None = None) -> Report:
    accuracy = Table(
        "Accuracy",
        [
            Column("Metric", "text"),
            Column("Estimate", "number"),
            "95 % CI",
            Column("Method", "text"),
        ],
        [
            ["Sensitivity", 0.875, Interval(0.473, 0.997), "Clopper-Pearson"],
            ["PPV", Cell(None, reason="no record called positive"), Interval(None, None), "Wilson"],
            ["<script>alert(1)</script>", 0.5, Interval(0.1, 0.9), "a & b"],
        ],
        notes=["Intervals are 95 %."],
    )
    two_by_two = Table("2x2", ["", "PE", "No PE"], [["Test +", 7, 10], ["Test -", 1, 42]])
    results = Section("Results", "results").add(
        Paragraph("Thresholds chosen on validation."),
        two_by_two,
        accuracy,
        Notice("Only 8 positives.", "warning"),
        KeyValueList(
            [("Looks", 3), ("ECE", Cell(None, reason="too few records"))], caption="Ledger"
        ),
    )
    if png is not None:
        results.add(
            Figure(png, "Decision curve", alt="Net benefit against threshold", name="dca.png")
        )
    plan = Section("Analysis plan", "analysis-plan").add(Preformatted("primary_metric: auroc\n"))
    return Report(
        "PE study <draft>",
        subtitle="test split",
        meta=["Model: resnet1d18"],
        banners=[Notice("SYNTHETIC DATA", "critical")],
    ).add(results, plan)


class _Cells(html.parser.HTMLParser):
    """The text of every <td>, and every attribute of every <img>."""

    def __init__(self):
        super().__init__()
        self.cells, self.images, self._cell = [], [], None

    def handle_starttag(self, tag, attrs):
        if tag == "td":
            self._cell = []
        if tag == "img":
            self.images.append(dict(attrs))

    def handle_data(self, data):
        if self._cell is not None:
            self._cell.append(data)

    def handle_endtag(self, tag):
        if tag == "td":
            self.cells.append("".join(self._cell))
            self._cell = None


def test_text_aligns_numbers_right_and_text_left():
    text = to_text(_report())
    lines = text.splitlines()
    header = next(i for i, line in enumerate(lines) if line.startswith("Metric"))
    sensitivity, ppv = lines[header + 2], lines[header + 3]
    # Estimates end in the same column (right-aligned), methods start in the same column.
    assert sensitivity.index("0.875") + 5 == ppv.index("n/a [a]") + len("n/a [a]")
    assert sensitivity.index("Clopper-Pearson") == ppv.index("Wilson")
    assert "0.473 to 0.997" in sensitivity
    assert "  [a] n/a: no record called positive" in lines
    assert "Table 1. 2x2" in lines and "Table 2. Accuracy" in lines
    assert "CRITICAL: SYNTHETIC DATA" in lines
    assert all(len(line) <= 100 for line in lines)


def test_text_wraps_long_text_cells_within_the_width():
    long = "an exclusion reason that goes on " * 6
    table = Table(
        "Flow",
        [Column("Split", "text"), "Records", Column("Reasons", "text")],
        [["test", 60, long.strip()]],
    )
    text = to_text(Report("T").add(Section("Flow", "flow").add(table)), width=60)
    rows = text.splitlines()[text.splitlines().index("Table 1. Flow") + 3 :]
    assert len(rows) > 2 and all(len(line) <= 60 for line in rows)
    assert rows[0].startswith("test        60  an exclusion")
    assert " ".join(" ".join(rows).split()) == "test 60 " + long.strip()  # nothing lost


def test_text_never_breaks_a_hash_in_a_key_value_list():
    sha = "5e6bbdd82df1dc49605bc0615a855450ff7cb0e132ca70368e07fd1972b4dfd5"
    items = [("Plan SHA-256", sha), ("Rule-out target (chosen on validation)", "sens >= 0.95")]
    block = KeyValueList(items + [("Short", "x " * 60)], caption="Plan")
    lines = to_text(Report("T").add(Section("Plan", "plan").add(block))).splitlines()
    at = lines.index("  Plan SHA-256:")
    assert lines[at + 1] == "    " + sha  # whole, on its own line below the key
    assert all(len(line) <= 100 for line in lines)
    # A value of short words still wraps beside its key.
    short = next(i for i, line in enumerate(lines) if line.startswith("  Short:"))
    assert lines[short + 1].startswith(" " * 38 + "x")


def test_na_reads_na_with_its_reason_never_zero():
    report = _report()
    for page in (to_text(report), to_html(report)):
        assert "no record called positive" in page and "too few records" in page
    parser = _Cells()
    parser.feed(to_html(report))
    assert parser.cells[parser.cells.index("PPV") + 1] == "n/aa"  # n/a<sup>a</sup>
    assert "0.000" not in to_text(report)
    row = to_json(report)["sections"][0]["blocks"][2]["rows"][1]
    assert row[1] == {"value": None, "reason": "no record called positive"}
    assert row[2] == {"low": None, "high": None}


def test_html_escapes_every_text():
    page = to_html(_report())
    assert "<script>" not in page and "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert "<title>PE study &lt;draft&gt;</title>" in page
    assert "a &amp; b" in page


def test_html_is_self_contained_and_printable():
    png = _png()
    page = to_html(_report(png))
    assert page.startswith("<!DOCTYPE html>") and '<html lang="en">' in page
    assert '<meta charset="utf-8">' in page
    # Nothing to fetch: no URL of any scheme outside the data: image, no script.
    assert not re.search(r"https?:|src=\"//|href=\"//|<script|<link", page)
    assert "default-src 'none'" in page
    parser = _Cells()
    parser.feed(page)
    (image,) = parser.images
    prefix = "data:image/png;base64,"
    assert image["src"].startswith(prefix)
    assert base64.b64decode(image["src"][len(prefix) :]) == png
    assert image["alt"] == "Net benefit against threshold"
    assert (image["width"], image["height"]) == ("100", "75")
    print_rules = page[page.index("@media print") :]
    assert "break-inside: avoid" in print_rules and "#000" in print_rules
    for anchor in ("results", "analysis-plan"):
        assert f'href="#{anchor}"' in page and f'<section id="{anchor}">' in page


def test_json_dump_validates_and_keeps_numbers(tmp_path):
    png = _png()
    paths = write_report(_report(png), tmp_path / "out")
    assert sorted(paths) == ["html", "json", "text"]
    document = read_json(paths["json"], max_bytes=2**20, what="report")
    validate(document, "report", paths["json"])
    assert document == json.loads(json.dumps(to_json(_report(png))))
    figure = document["sections"][0]["blocks"][-1]
    assert figure["number"] == "Figure 1" and figure["name"] == "dca.png"
    assert (figure["width"], figure["height"]) == (100, 75)
    assert document["sections"][0]["blocks"][2]["rows"][0][1] == 0.875
    assert paths["text"].read_text("utf-8") == to_text(_report(png))


def test_schema_refuses_a_cell_that_hides_a_missing_reason(tmp_path):
    document = to_json(_report())
    document["sections"][0]["blocks"][2]["rows"][1][1] = {"value": None}
    with pytest.raises(Exception, match="report.json: at"):
        validate(document, "report", "report.json")


def test_figure_file_is_read_when_rendered_and_must_be_png(tmp_path):
    path = tmp_path / "roc.png"
    path.write_bytes(_png())
    report = Report("T").add(Section("S", "s").add(Figure(path, "ROC", alt="ROC curve")))
    assert "[roc.png]" in to_text(report)
    path.write_bytes(b"not a png")
    with pytest.raises(ConfigError, match="roc.png: not a PNG"):
        to_html(report)
    path.unlink()
    with pytest.raises(ConfigError, match="roc.png: figure 'ROC' cannot be read"):
        write_report(report, tmp_path / "out")
    assert not (tmp_path / "out").exists()  # nothing half-written


@pytest.mark.parametrize(
    "build, message",
    [
        (lambda: Table("T", ["a", "b"], [[1]]), "row 0 has 1 cells for 2 columns"),
        (lambda: Table("T", ["a"], [[float("nan")]]), "must be finite"),
        (lambda: Cell(None), "must say why"),
        (lambda: Interval(0.9, 0.1), "must not exceed"),
        (lambda: Column("x", "fancy"), "must be one of"),
        (lambda: Notice("x", "loud"), "must be one of"),
        (lambda: Figure(b"GIF89a", "f", alt="a"), "not a PNG"),
        (lambda: Figure(b"", "f", alt=" "), "must describe the image"),
    ],
)
def test_bad_blocks_fail_when_built(build, message):
    with pytest.raises(ConfigError, match=message):
        build()


def test_bad_reports_fail_before_rendering():
    with pytest.raises(ConfigError, match="anchor 'a' is used by an earlier section"):
        to_text(Report("T").add(Section("A", "a"), Section("B", "a")))
    with pytest.raises(ConfigError, match="must be lowercase"):
        to_html(Report("T").add(Section("A", "A b")))
    with pytest.raises(ConfigError, match="block 0: must be one of"):
        to_json(Report("T").add(Section("A", "a").add("just a string")))


def test_number_formats_match_the_project_style():
    table = Table(
        "T",
        [Column("d", "signed"), Column("p", "percent"), Column("n", "integer"), "auto"],
        [[-0.0123, 0.052, 12, 0.81234], [0.5, 1.0, 3.0, 7]],
    )
    text = to_text(Report("T").add(Section("S", "s").add(table)))
    assert "-0.012    5.2 %  12  0.812" in text
    assert "+0.500  100.0 %   3      7" in text

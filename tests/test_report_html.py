"""The HTML report opened in a real headless Chromium: content, image, printing, no errors.

Chromium comes from the OS packages (`.ci/run` installs it and sets
ECGPE_REQUIRE_BROWSER=1, so CI fails rather than skips without it). Each check is one
Chromium run on the written page: `--dump-dom` for the rendered DOM, `--screenshot` to see
that the embedded PNG decoded and was painted, `--print-to-pdf` for printing.
"""

from __future__ import annotations

import html.parser
import io
import os
import shutil
import subprocess

import pytest
from matplotlib.figure import Figure as MplFigure
from matplotlib.image import imread

from keras_ecgpe.reporting import (
    Cell,
    Column,
    Figure,
    Interval,
    Notice,
    Paragraph,
    Report,
    Section,
    Table,
    write_report,
)

pytestmark = pytest.mark.slow  # starts a browser

BROWSER = shutil.which("chromium") or shutil.which("chromium-browser")
FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--enable-logging=stderr",
    "--v=1",
]
# Chromium logs every console message of the page as a "CONSOLE" line, whatever its level,
# plus the markers below for failed loads and blocked fetches. The report runs no script and
# fetches nothing, so any such line is a defect. Everything else on stderr is Chromium
# talking about itself in a container (no D-Bus, no GPU, no VA-API, sandbox warnings) and
# never carries these markers, so it is ignored.
PAGE_ERROR_MARKERS = (
    ":CONSOLE",
    "Uncaught",
    "Failed to load resource",
    "Refused to",
    "violates the following Content Security Policy",
)


@pytest.fixture(scope="module")
def browser():
    if BROWSER is None:
        if os.environ.get("ECGPE_REQUIRE_BROWSER"):
            pytest.fail(
                "ECGPE_REQUIRE_BROWSER is set but no `chromium` is on PATH "
                "(.ci/run installs it with apt-get)"
            )
        pytest.skip("no `chromium` on PATH (apt-get install chromium; CI requires it)")
    return BROWSER


def _open(browser, page, action, tmp_path, window="1200,2400") -> tuple[str, list[str]]:
    """Runs one headless Chromium `action` on `page`; returns stdout and page-error lines."""
    profile = tmp_path / f"profile-{action[0].strip('-').split('=')[0]}"
    result = subprocess.run(
        [
            browser,
            *FLAGS,
            f"--user-data-dir={profile}",
            f"--window-size={window}",
            *action,
            page.as_uri(),
        ],
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    errors = [
        line
        for line in result.stderr.splitlines()
        if any(marker in line for marker in PAGE_ERROR_MARKERS)
    ]
    return result.stdout, errors


def _red_square_png() -> bytes:
    """A real matplotlib figure with a pure red area no other part of the page uses."""
    figure = MplFigure(figsize=(4, 3))
    axes = figure.add_subplot()
    axes.fill_between([0.1, 0.9], [0.2, 0.2], [0.8, 0.8], color="#ff0000")
    axes.plot([0, 1], [0, 1], color="black", label="treat all")
    axes.set_xlabel("threshold probability")
    axes.legend()
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=80, bbox_inches="tight")
    return buffer.getvalue()


@pytest.fixture(scope="module")
def page(tmp_path_factory):
    metrics = Table(
        "Accuracy at the rule-out threshold",
        [
            Column("Metric", "text"),
            Column("Estimate", "number"),
            "95 % CI",
            Column("Method", "text"),
        ],
        [
            ["Sensitivity", 0.875, Interval(0.473, 0.997), "Clopper-Pearson"],
            [
                "PPV",
                Cell(None, reason="no record called positive"),
                Interval(None, None),
                "Clopper-Pearson",
            ],
        ],
    )
    flow = Table(
        "Participant flow",
        [Column("Split", "text"), "Records", "Patients"],
        [["validation", 60, 30], ["test", 61, 29]],
    )
    report = Report(
        "PE study report",
        meta=["Model: resnet1d18"],
        banners=[Notice("SYNTHETIC DATA", "critical")],
    )
    report.add(
        Section("Participant flow", "participant-flow").add(flow),
        Section("Accuracy", "accuracy").add(
            Paragraph("Thresholds were chosen on validation data."),
            metrics,
            Notice("Only 8 positive patients: intervals are wide.", "warning"),
        ),
        Section("Decision curve", "decision-curve").add(
            Figure(_red_square_png(), "Net benefit", alt="Decision curve", name="dca.png")
        ),
    )
    return write_report(report, tmp_path_factory.mktemp("report"))["html"]


class _Rendered(html.parser.HTMLParser):
    """Headings, table cells and image sources of a dumped DOM."""

    def __init__(self):
        super().__init__()
        self.headings, self.cells, self.images, self._open = [], [], [], None

    def handle_starttag(self, tag, attrs):
        if tag in ("h1", "h2", "td", "th"):
            self._open = (tag, [])
        if tag == "img":
            self.images.append(dict(attrs))

    def handle_data(self, data):
        if self._open:
            self._open[1].append(data)

    def handle_endtag(self, tag):
        if self._open and tag == self._open[0]:
            text = "".join(self._open[1])
            (self.headings if tag in ("h1", "h2") else self.cells).append(text)
            self._open = None


def test_dom_holds_the_report_and_the_page_logs_no_errors(browser, page, tmp_path):
    dom, errors = _open(browser, page, ["--dump-dom"], tmp_path)
    assert errors == []
    rendered = _Rendered()
    rendered.feed(dom)
    assert rendered.headings == [
        "PE study report",
        "1. Participant flow",
        "2. Accuracy",
        "3. Decision curve",
    ]
    for cell in ("validation", "61", "29", "0.875", "0.473 to 0.997", "Clopper-Pearson"):
        assert cell in rendered.cells
    assert "n/aa" in rendered.cells  # n/a<sup>a</sup>, reason as footnote "a"
    assert "no record called positive" in dom and "SYNTHETIC DATA" in dom
    (image,) = rendered.images
    assert image["src"].startswith("data:image/png;base64,") and image["alt"]


def test_embedded_figure_is_decoded_and_painted(browser, page, tmp_path):
    shot = tmp_path / "shot.png"
    _, errors = _open(browser, page, [f"--screenshot={shot}"], tmp_path)
    assert errors == []
    pixels = imread(shot)[..., :3]  # floats in [0, 1]
    assert pixels.std() > 0.05  # not a blank page
    # Pure red appears only in the figure: an image that failed to decode paints none.
    red = (pixels[..., 0] > 0.9) & (pixels[..., 1] < 0.1) & (pixels[..., 2] < 0.1)
    assert red.sum() > 2000, red.sum()


def test_page_prints_to_pdf(browser, page, tmp_path):
    pdf = tmp_path / "report.pdf"
    _, errors = _open(browser, page, ["--no-pdf-header-footer", f"--print-to-pdf={pdf}"], tmp_path)
    assert errors == []
    data = pdf.read_bytes()
    assert data.startswith(b"%PDF-") and len(data) > 10_000
    assert data.count(b"/Type /Page") - data.count(b"/Type /Pages") >= 1


def test_error_filter_catches_a_page_that_fetches(browser, tmp_path):
    # The check above must be able to fail: the same policy on a page that tries to load
    # an external image and a missing file logs lines the filter catches.
    page = tmp_path / "fetching.html"
    page.write_text(
        '<!DOCTYPE html><html lang="en"><head><meta charset="utf-8">'
        '<meta http-equiv="Content-Security-Policy" content="default-src \'none\'; '
        'img-src data:"><title>x</title></head><body>'
        '<img src="missing.png" alt="a"><img src="http://example.invalid/b.png" alt="b">'
        "</body></html>",
        encoding="utf-8",
    )
    _, errors = _open(browser, page, ["--dump-dom"], tmp_path)
    assert len(errors) >= 2, errors
    assert any("example.invalid" in line for line in errors)

"""A report as data: a title, banner notices, and sections of blocks.

`evaluate` and `compare` build one `Report` and hand it to the renderers (`to_text`,
`to_html`, `to_json`) or to `write_report`, which writes all three; the document knows
nothing about metrics, so any study output can use it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from keras_ecgpe.errors import ConfigError
from keras_ecgpe.reporting.blocks import BLOCK_TYPES, Figure, Notice, Table

_ANCHOR = re.compile(r"[a-z][a-z0-9-]{0,63}")


@dataclass
class Section:
    """A section: a heading, the anchor the table of contents links to, and its blocks.

    Args:
        heading: the section title.
        anchor: a unique id, lowercase letters, digits and "-", starting with a letter
            ("participant-flow").
        blocks: `Paragraph`, `Table`, `Figure`, `Notice`, `KeyValueList` or `Preformatted`
            objects in reading order; append more with `add`.

    Example:
    >>> from keras_ecgpe.reporting import Paragraph
    >>> section = Section("Methods", "methods")
    >>> section.add(Paragraph("Patient-level bootstrap, 2000 resamples.")) is section
    True
    """

    heading: str
    anchor: str
    blocks: list = field(default_factory=list)

    def add(self, *blocks: object) -> Section:
        """Appends `blocks` and returns the section (for chaining)."""
        self.blocks.extend(blocks)
        return self


@dataclass
class Report:
    """A whole report: title, subtitle, metadata lines, banners and sections.

    Args:
        title: the report's title.
        subtitle: one line under the title, or "".
        meta: short lines under the title (run directory, model SHA-256, time written).
        banners: `Notice`s shown above everything, e.g. "SYNTHETIC DATA".
        sections: `Section`s in reading order; append more with `add`.

    Example:
    >>> report = Report("PE detection: test-split evaluation", meta=["Model: resnet1d18"])
    >>> _ = report.add(Section("Participant flow", "participant-flow"))
    >>> check_report(report)
    """

    title: str
    subtitle: str = ""
    meta: list = field(default_factory=list)
    banners: list = field(default_factory=list)
    sections: list = field(default_factory=list)

    def add(self, *sections: Section) -> Report:
        """Appends `sections` and returns the report (for chaining)."""
        self.sections.extend(sections)
        return self


def check_report(report: Report) -> None:
    """Checks a report before it is rendered: types, anchors, block kinds.

    Blocks check their own fields when built; this checks what is assembled afterwards
    (sections and lists appended to).

    Raises:
        ConfigError: naming the section or field at fault.
    """
    if not isinstance(report, Report):
        raise ConfigError(f"`report` must be a Report. Received: {type(report).__name__}")
    for name in ("title", "subtitle"):
        if not isinstance(getattr(report, name), str):
            raise ConfigError(
                f"`Report.{name}` must be a string. Received: {getattr(report, name)!r}"
            )
    if not report.title.strip():
        raise ConfigError("`Report.title` must not be empty")
    for index, line in enumerate(report.meta):
        if not isinstance(line, str):
            raise ConfigError(f"`Report.meta[{index}]` must be a string. Received: {line!r}")
    for index, banner in enumerate(report.banners):
        if not isinstance(banner, Notice):
            raise ConfigError(
                f"`Report.banners[{index}]` must be a Notice. Received: {type(banner).__name__}"
            )
    seen = set()
    for index, section in enumerate(report.sections):
        if not isinstance(section, Section):
            raise ConfigError(
                f"`Report.sections[{index}]` must be a Section. Received: {type(section).__name__}"
            )
        if not isinstance(section.heading, str) or not section.heading.strip():
            raise ConfigError(
                f"`Report.sections[{index}].heading` must be a non-empty "
                f"string. Received: {section.heading!r}"
            )
        if not isinstance(section.anchor, str) or not _ANCHOR.fullmatch(section.anchor):
            raise ConfigError(
                f"Section {section.heading!r}: `anchor` must be lowercase "
                f"letters, digits and '-', starting with a letter. "
                f"Received: {section.anchor!r}"
            )
        if section.anchor in seen:
            raise ConfigError(
                f"Section {section.heading!r}: anchor {section.anchor!r} is "
                f"used by an earlier section"
            )
        seen.add(section.anchor)
        for position, block in enumerate(section.blocks):
            if not isinstance(block, BLOCK_TYPES):
                raise ConfigError(
                    f"Section {section.heading!r} block {position}: must be one "
                    f"of {[t.__name__ for t in BLOCK_TYPES]}. "
                    f"Received: {type(block).__name__}"
                )


def block_numbers(report: Report) -> dict[int, str]:
    """The number ("Table 1", "Figure 2") of each table and figure by `id(block)`, in order.

    Every renderer numbers tables and figures through this, so "Table 3" is the same table
    in the text, HTML and JSON reports.
    """
    counts = {Table: 0, Figure: 0}
    numbers = {}
    for section in report.sections:
        for block in section.blocks:
            kind = type(block)
            if kind in counts:
                counts[kind] += 1
                numbers[id(block)] = f"{kind.__name__} {counts[kind]}"
    return numbers

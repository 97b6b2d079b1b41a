"""setup.cfg's hand-written package list names every package of the source tree.

An editable install finds a package missing from `packages` anyway, so a forgotten entry
would pass every other test and break only a real install (.ci/run also installs a wheel
and runs the CLI from outside the repository).
"""

from __future__ import annotations

import configparser
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _setup_options() -> configparser.SectionProxy:
    parser = configparser.ConfigParser(interpolation=None)
    parser.read(ROOT / "setup.cfg")
    return parser["options"]


def _lines(value: str) -> list:
    return [line.strip() for line in value.splitlines() if line.strip()]


def test_every_source_package_is_listed_in_setup_cfg():
    options = _setup_options()
    package_dir = dict(line.replace(" ", "").split("=") for line in _lines(options["package_dir"]))
    listed = set(_lines(options["packages"]))
    found = set()
    for package, folder in package_dir.items():
        for init in (ROOT / folder).rglob("__init__.py"):
            parts = init.parent.relative_to(ROOT / folder).parts
            found.add(".".join((package, *parts)))
    assert found - listed == set(), "packages missing from setup.cfg [options] packages"
    assert listed - found == set(), "setup.cfg lists packages that do not exist"

"""Reading a user's configuration file (YAML or JSON) within fixed bounds.

A configuration is a few kilobytes nested three or four levels deep. A file larger than
`MAX_CONFIG_BYTES` is refused before it is read, and a document nested deeper than
`MAX_NESTING` levels is refused whether the parser got through it (checked afterwards,
without recursion) or ran out of Python's recursion limit on the way (caught), so a
100,000-deep `[[[[...` costs a message, not a traceback. Every message names the file.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import TYPE_CHECKING, Any

import yaml

from keras_ecgpe.errors import ConfigError

if TYPE_CHECKING:
    import os

MAX_CONFIG_BYTES = 1 << 20
MAX_NESTING = 32


def read_config_document(
    path: os.PathLike | str,
    *,
    what: str,
    max_bytes: int = MAX_CONFIG_BYTES,
) -> Any:
    """Reads a `.json` file as JSON, anything else as YAML, within the bounds above.

    Args:
        path: the file.
        what: how messages call it ("run configuration", "analysis plan").
        max_bytes: larger files are refused unread.

    Returns:
        The parsed document.

    Raises:
        ConfigError: naming `path`: unreadable, too large, not UTF-8, not YAML/JSON, or
            nested more than `MAX_NESTING` levels.
    """
    path = Path(path)
    try:
        with open(path, "rb") as handle:
            data = handle.read(max_bytes + 1)
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read the {what} ({exc.strerror})") from None
    if len(data) > max_bytes:
        raise ConfigError(f"{path}: more than {max_bytes} bytes, too large for a {what}; not read")
    try:
        text = data.decode("utf-8")
        check_flow_nesting(text, str(path), what)
        if path.suffix.lower() == ".json":
            document = json.loads(text)
        else:
            document = yaml.safe_load(text)
    except UnicodeDecodeError as exc:
        raise ConfigError(f"{path}: not UTF-8 ({exc.reason} at byte {exc.start})") from None
    except RecursionError:
        raise ConfigError(_too_deep(path, what)) from None
    except (ValueError, yaml.YAMLError) as exc:
        raise ConfigError(f"{path}: cannot read the {what} ({exc})") from None
    check_nesting(document, str(path), what)
    return document


def parse_yaml_value(text: str, where: str) -> Any:
    """Parses a short YAML value (a `--set` override); too deep a nesting is refused."""
    check_flow_nesting(text, where, "value")
    try:
        value = yaml.safe_load(text)
    except RecursionError:
        raise ConfigError(_too_deep(where, "value")) from None
    check_nesting(value, where, "value")
    return value


_QUOTED = re.compile(r'"(?:[^"\\\n]|\\.)*"|\'[^\'\n]*\'')
_BRACKETS = re.compile(r"[\[\]{}]")


def check_flow_nesting(text: str, where: str, what: str, limit: int = MAX_NESTING) -> None:
    """Refuses text whose brackets (`[`, `{` outside quoted strings) nest deeper than
    `limit`, before a parser spends time on it: PyYAML takes seconds per few thousand
    levels. Block-style YAML nesting is checked after parsing (`check_nesting`).

    Example:
    >>> check_flow_nesting('{"a": "[[[[", "b": [[1]]}', "x.json", "plan", limit=3)
    """
    depth = 0
    for match in _BRACKETS.finditer(_QUOTED.sub("", text)):
        depth += 1 if match.group() in "[{" else -1
        if depth > limit:
            raise ConfigError(_too_deep(where, what, limit))


def check_nesting(document: Any, where: str, what: str, limit: int = MAX_NESTING) -> None:
    """Refuses lists and mappings nested more than `limit` deep (walked without recursion).

    Example:
    >>> check_nesting({"a": [1, {"b": 2}]}, "x.yaml", "plan")
    >>> check_nesting([[[1]]], "x.yaml", "plan", limit=2)
    Traceback (most recent call last):
    ...
    keras_ecgpe.errors.ConfigError: x.yaml: plan nested more than 2 levels deep
    """
    stack = [(document, 1)]
    while stack:
        value, depth = stack.pop()
        children = (
            value.values() if isinstance(value, dict) else value if isinstance(value, list) else ()
        )
        for child in children:
            if isinstance(child, (dict, list)):
                if depth + 1 > limit:
                    raise ConfigError(_too_deep(where, what, limit))
                stack.append((child, depth + 1))


def _too_deep(where: object, what: str, limit: int = MAX_NESTING) -> str:
    return f"{where}: {what} nested more than {limit} levels deep"

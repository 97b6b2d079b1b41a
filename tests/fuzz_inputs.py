"""Hypothesis strategies for the loader fuzz tests: JSON values, mutations and damaged files.

`mutated(document)` changes one to three places of a valid document (deletes a key or an
item, puts a random JSON value or a nasty one in its place); `damaged_json(document)`
returns the bytes of a mutated document, of a random JSON value, of the valid text with a
token the writers never produce spliced in (NaN, a duplicate key, deep nesting) or cut
short, or random bytes.
"""

from __future__ import annotations

import copy
import json

from hypothesis import strategies as st

JSON_SCALARS = (
    st.none()
    | st.booleans()
    | st.integers(-(2**70), 2**70)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=12)
)
JSON_VALUES = st.recursive(
    JSON_SCALARS,
    lambda children: (
        st.lists(children, max_size=3) | st.dictionaries(st.text(max_size=8), children, max_size=3)
    ),
    max_leaves=8,
)
# Values next to the valid ones: wrong type, empty, negative, huge, a 10 kB string.
NASTY = [
    None,
    "",
    0,
    -1,
    0.5,
    10**30,
    1e300,
    -1e-300,
    True,
    [],
    {},
    [None, None],
    "x" * 10_000,
    "../../etc/passwd",
    {"thresholds": [0.5]},
]
# Spliced into valid JSON text: none of these may ever be accepted.
TOKENS = [
    "NaN",
    "Infinity",
    "-Infinity",
    "1e999",
    '"format": 1, "format": 1, ',
    "[" * 5000,
    "\x00",
    "\ufeff",
    '"\\ud800"',
    "}",
    ",",
]


def _places(document, prefix=()):
    """Every location inside `document` as a tuple of keys and indices."""
    if isinstance(document, dict):
        items = document.items()
    elif isinstance(document, list):
        items = enumerate(document)
    else:
        return
    for key, value in items:
        yield prefix + (key,)
        yield from _places(value, prefix + (key,))


@st.composite
def mutated(draw, document):
    """`document` with one to three places deleted or replaced."""
    document = copy.deepcopy(document)
    for _ in range(draw(st.integers(1, 3))):
        places = list(_places(document))
        if not places:
            break
        place = draw(st.sampled_from(places))
        parent = document
        for key in place[:-1]:
            parent = parent[key]
        action = draw(st.sampled_from(["delete", "random", "nasty", "nasty"]))
        if action == "delete":
            del parent[place[-1]]
        else:
            # A copy: a later mutation must not change the shared NASTY values in place.
            parent[place[-1]] = copy.deepcopy(
                draw(JSON_VALUES if action == "random" else st.sampled_from(NASTY))
            )
    return document


@st.composite
def damaged_json(draw, document):
    """Bytes of a damaged version of `document` (see the module docstring)."""
    kind = draw(st.sampled_from(["mutated"] * 4 + ["random", "spliced", "cut", "bytes"]))
    text = json.dumps(document, indent=2)
    if kind == "mutated":
        return json.dumps(draw(mutated(document))).encode()
    if kind == "random":
        return json.dumps(draw(JSON_VALUES)).encode()
    if kind == "bytes":
        return draw(st.binary(max_size=300))
    cut = draw(st.integers(0, len(text)))
    if kind == "cut":
        return text[:cut].encode()
    token = draw(st.sampled_from(TOKENS))
    return (text[:cut] + token + text[cut:]).encode("utf-8", errors="surrogatepass")


def csv_line(values) -> str:
    """One CSV line, quoted where needed (a field may hold commas, quotes, newlines)."""
    return ",".join(
        '"' + v.replace('"', '""') + '"' if set(v) & set(',"\r\n') else v for v in values
    )

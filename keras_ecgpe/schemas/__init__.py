"""JSON Schemas of the documents keras_ecgpe writes and later trusts, and their checks.

Three documents travel between commands and machines: a prepared cache's
`manifest.json`, a training run's `contract.json` and an export's `model.json` (also
embedded in the `.tflite`). Each has a JSON Schema here (`<name>.schema.json`, draft
2020-12), written from what the package writes, and every loader checks a document
against it BEFORE using any value, so a damaged or hand-edited file fails with one message
naming the file and the place in it instead of a `KeyError` deep in training or export.

`read_json` is the strict reader those loaders share: a size cap checked before parsing,
UTF-8 only, no `NaN`/`Infinity` (the writers never produce them), no duplicate keys.

Example:
>>> validate({"format_version": 1}, "cache_manifest", "cache/manifest.json")
Traceback (most recent call last):
...
keras_ecgpe.errors.ECGPEError: cache/manifest.json: at $: 'key' is a required property
"""

from __future__ import annotations

import functools
import json
import math
import os
from importlib import resources
from typing import TYPE_CHECKING

import jsonschema
import referencing

from keras_ecgpe.errors import ConfigError, ECGPEError

if TYPE_CHECKING:
    from typing import Any

SCHEMAS = (
    "contract",
    "model_json",
    "cache_manifest",
    "analysis_plan",
    "report",
    "evaluation_metrics",
    "train_state",
    "run_checksums",
)
# Files above these sizes are refused before parsing. Real ones are a few kB (contract,
# model.json) and about 200 bytes per shard (manifest: 2 MB for a 2.5 TB cache).
MAX_BYTES = {
    "contract": 16 * 2**20,
    "model_json": 16 * 2**20,
    "cache_manifest": 64 * 2**20,
    "analysis_plan": 64 * 2**10,  # a plan is a few hundred bytes of YAML
    "report": 16 * 2**20,
    "evaluation_metrics": 64 * 2**20,  # metrics.json: per-class figures and subgroups
    "train_state": 64 * 2**10,  # train_state.json: a few hundred bytes
    "run_checksums": 64 * 2**10,  # checksums.json: two entries
}  # a report document: tens of kB of tables
_MESSAGE_CHARS = 300  # a schema message echoes the offending value, which may be huge


@functools.cache
def _registry() -> referencing.Registry:
    """Every schema by its `$id`, so one schema can `$ref` another (model.json -> contract)."""
    folder = resources.files("keras_ecgpe.schemas")
    documents = [
        json.loads(folder.joinpath(f"{name}.schema.json").read_text("utf-8")) for name in SCHEMAS
    ]
    return referencing.Registry().with_resources(
        (document["$id"], referencing.Resource.from_contents(document)) for document in documents
    )


@functools.cache
def schema(name: str) -> dict:
    """The JSON Schema `name` (one of `SCHEMAS`) as a dict."""
    if name not in SCHEMAS:
        raise ConfigError(f"`schema_name` must be one of {SCHEMAS}. Received: {name!r}")
    return _registry().contents(f"urn:keras_ecgpe:schema:{name}")


@functools.cache
def _validator(name: str) -> jsonschema.Draft202012Validator:
    return jsonschema.Draft202012Validator(schema(name), registry=_registry())


def validate(
    document: object,
    schema_name: str,
    path: os.PathLike | str,
    error_type: type[Exception] = ECGPEError,
) -> None:
    """Checks `document` against the schema `schema_name`.

    Args:
        document: the parsed JSON document.
        schema_name: one of `SCHEMAS`.
        path: the file the document came from, for the message.
        error_type: the `ECGPEError` subclass to raise (loaders keep their usual type).

    Raises:
        ECGPEError: (or `error_type`) `"<path>: at <JSON path>: <problem>"` for the most
            relevant problem, e.g. `at $.shards[0].sha256: ... does not match ...`.
    """
    error = jsonschema.exceptions.best_match(_validator(schema_name).iter_errors(document))
    if error is not None:
        message = error.message
        if len(message) > _MESSAGE_CHARS:
            message = message[:_MESSAGE_CHARS] + "..."
        raise error_type(f"{path}: at {error.json_path}: {message}")


def read_json(
    path: os.PathLike | str, *, max_bytes: int, what: str, error_type: type[Exception] = ECGPEError
) -> Any:
    """Reads a JSON file written by keras_ecgpe, refusing what the writers never produce.

    Args:
        path: the file.
        max_bytes: larger files are refused before anything is parsed.
        what: how messages call the file ("cache manifest", "model contract", ...).
        error_type: the `ECGPEError` subclass to raise.

    Returns:
        The parsed document (any JSON value; check it with `validate`).

    Raises:
        FileNotFoundError: `path` does not exist (callers word that case themselves).
        ECGPEError: (or `error_type`) too large, not UTF-8, not JSON, `NaN`/`Infinity`,
            a duplicate key or nesting too deep; the message names `path`.
    """
    with open(path, "rb") as handle:
        size = os.fstat(handle.fileno()).st_size
        # Read at most one byte past the cap: a pipe or device reports no size.
        data = b"" if size > max_bytes else handle.read(max_bytes + 1)
    if size > max_bytes or len(data) > max_bytes:
        raise error_type(
            f"{path}: {max(size, len(data))} bytes, more than the {max_bytes} a "
            f"{what} may have; not parsed"
        )
    return parse_json_bytes(data, where=str(path), what=what, error_type=error_type)


def parse_json_bytes(
    data: bytes, *, where: str, what: str, error_type: type[Exception] = ECGPEError
) -> Any:
    """Parses UTF-8 JSON bytes strictly (see `read_json`); messages start with `where`."""
    try:
        return json.loads(
            data.decode("utf-8"),
            parse_constant=_refuse_constant,
            parse_float=_finite_float,
            object_pairs_hook=_unique_keys,
        )
    except UnicodeDecodeError as exc:
        raise error_type(
            f"{where}: unreadable {what}: not UTF-8 ({exc.reason} at byte {exc.start})"
        ) from None
    except RecursionError:
        raise error_type(f"{where}: unreadable {what}: nested too deeply") from None
    except ValueError as exc:  # json.JSONDecodeError and the hooks below
        raise error_type(f"{where}: unreadable {what} ({exc})") from None


def _refuse_constant(name: str):
    raise ValueError(f"{name} is not a number keras_ecgpe writes")


def _finite_float(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):  # 1e999 parses to inf
        raise ValueError(f"{text} is out of the float range")
    return value


def _unique_keys(pairs) -> dict:
    document = dict(pairs)
    if len(document) != len(pairs):
        seen = set()
        twice = next(key for key, _ in pairs if key in seen or seen.add(key))
        raise ValueError(f"key {twice!r} appears twice in one object")
    return document

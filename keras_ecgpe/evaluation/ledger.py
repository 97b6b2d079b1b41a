"""The sealed-test ledger: every look at a cache's test split, in a hash chain.

Kept with the cache as `test_ledger.jsonl` (one JSON object a line, UTF-8, see
docs/study.md, "The test-split ledger"). Each entry holds the SHA-256 of the entry before
it and its own SHA-256 over its canonical JSON, so editing, removing or reordering any
line breaks the chain at that entry. Appends hold an exclusive `fcntl.flock` on
`test_ledger.jsonl.lock` and replace the file atomically (temporary file, fsync, rename),
so two processes never lose an entry and a process killed mid-write leaves the previous,
complete ledger. A chain cannot show that its LAST entries were cut off: reports print
the head hash and the number of looks, and `verify(known_head=...)` checks that a head
seen earlier is still in the chain.
"""

from __future__ import annotations

import collections
import contextlib
import dataclasses
import datetime
import fcntl
import hashlib
import json
import math
import numbers
import os
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import NamedTuple

from keras_ecgpe import schemas
from keras_ecgpe.data.atomic import atomic_write_bytes
from keras_ecgpe.data.cache_format import LEDGER, LEDGER_LOCK, MANIFEST, manifest_key
from keras_ecgpe.errors import ConfigError, ECGPEError

LEDGER_VERSION = 1
GENESIS = "0" * 64  # `previous_sha256` of the first entry
SPLITS = ("train", "validation", "test")
MAX_LEDGER_BYTES = 64 * 2**20  # about 100 000 looks
MAX_METRICS_CHARS = 16384
MAX_DECLARATION_CHARS = 2000
# How the command line spells the declaration; the refusal message names it.
DECLARATION_OPTION = "`declare_new_model=REASON`"
FIELDS = (
    "version",
    "sequence",
    "time",
    "cache_key",
    "split",
    "model_sha256",
    "config_sha256",
    "analysis_plan_sha256",
    "declaration",
    "metrics",
    "previous_sha256",
    "sha256",
)


class LedgerError(ECGPEError):
    """The ledger file is damaged or was edited; `entry` is the first bad entry (0-based)."""

    def __init__(self, path: Path, entry: int | None, problem: str):
        self.path, self.entry = path, entry
        where = f"{path}" if entry is None else f"{path}: entry {entry} (line {entry + 1})"
        super().__init__(f"{where}: {problem}")


class Looks(NamedTuple):
    """How often a split was scored: `n_looks` evaluations by `n_models` distinct models."""

    n_looks: int
    n_models: int


@dataclasses.dataclass(frozen=True)
class LedgerEntry:
    """One look at a split, as stored (see FIELDS; `sha256` covers all the others)."""

    version: int
    sequence: int
    time: str
    cache_key: str | None
    split: str
    model_sha256: str
    config_sha256: str
    analysis_plan_sha256: str | None
    declaration: str | None
    metrics: dict
    previous_sha256: str
    sha256: str

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)


def entry_hash(fields: Mapping) -> str:
    """SHA-256 of the canonical JSON of `fields` without "sha256" (sorted keys, no spaces,
    UTF-8, no NaN) - the hash each ledger entry stores about itself."""
    body = {key: value for key, value in fields.items() if key != "sha256"}
    return hashlib.sha256(_canonical(body).encode("utf-8")).hexdigest()


class Ledger:
    """The test-split ledger of one prepared cache.

    Every method reads the file afresh and verifies the whole chain first, so a damaged
    ledger is never extended or counted from.

    Example:

    ```python
    ledger = Ledger.open("prepared/pe")
    ledger.check_new_look("test", model_sha, declaration=None)
    ledger.append(split="test", model_sha256=model_sha, config_sha256=config_sha,
                  metrics={"auroc": 0.81})
    ledger.looks("test")
    # Looks(n_looks=1, n_models=1)
    ```
    """

    def __init__(self, cache_path: Path, cache_key: str | None):
        self.cache_path, self.cache_key = cache_path, cache_key
        self.path, self.lock_path = cache_path / LEDGER, cache_path / LEDGER_LOCK

    @classmethod
    def open(cls, cache_path: os.PathLike | str) -> Ledger:
        """The ledger of the prepared cache at `cache_path` (empty if none was written yet).

        Raises:
            ConfigError: `cache_path` is not a finished prepared cache.
        """
        cache_path = Path(cache_path)
        if not (cache_path / MANIFEST).is_file():
            raise ConfigError(
                f"{cache_path}: not a prepared cache (no {MANIFEST}); the "
                "test-split ledger lives in the cache directory"
            )
        return cls(cache_path, manifest_key(cache_path))

    def entries(self) -> list[LedgerEntry]:
        """Every entry, oldest first, after verifying the chain.

        Raises:
            LedgerError: see `verify`.
        """
        return self._read()

    def verify(self, known_head: str | None = None) -> int:
        """Checks the whole chain; returns the number of entries.

        Args:
            known_head: an entry hash reported earlier (e.g. in a published report); it
                must still be in the chain, which shows the ledger was not cut back.

        Raises:
            LedgerError: names the file and the first entry that is malformed, whose hash
                does not match its content, whose `previous_sha256` or sequence number does
                not follow the entry before (an entry removed or reordered), an incomplete
                last line (a write that did not finish), or a missing `known_head`.
        """
        entries = self._read()
        if known_head is not None and known_head not in {entry.sha256 for entry in entries}:
            raise LedgerError(
                self.path,
                None,
                f"head {known_head} reported earlier is not in "
                f"the chain of {len(entries)} entries: entries "
                "were removed",
            )
        return len(entries)

    @property
    def head(self) -> str | None:
        """The hash of the newest entry (None when empty): reports print it."""
        entries = self._read()
        return entries[-1].sha256 if entries else None

    def looks(self, split: str = "test") -> Looks:
        """How many times `split` was scored, and by how many distinct models."""
        _check_split(split)
        models = [entry.model_sha256 for entry in self._read() if entry.split == split]
        return Looks(len(models), len(set(models)))

    def check_new_look(
        self, split: str, model_sha256: str, declaration: str | None = None
    ) -> Looks:
        """Refuses a new model on a split other models have scored, unless declared.

        The same model scoring again is allowed (and counted by `append`).

        Args:
            split: the split about to be scored.
            model_sha256: SHA-256 of the model about to score it.
            declaration: why another model may look (recorded in the ledger), or None.

        Returns:
            The looks so far.

        Raises:
            ConfigError: another model already scored `split` and no declaration was given;
                the message gives the looks so far and the option that declares one.
            LedgerError: the chain does not verify.
        """
        return self._check(
            self._read(), split, _sha(model_sha256, "model_sha256"), _declaration(declaration)
        )

    def append(
        self,
        *,
        split: str,
        model_sha256: str,
        config_sha256: str,
        metrics: Mapping,
        analysis_plan_sha256: str | None = None,
        declaration: str | None = None,
        time: str | None = None,
    ) -> LedgerEntry:
        """Records one look at `split`, atomically and under an exclusive lock.

        `check_new_look` is repeated under the lock, so two new models cannot both slip
        past it at once.

        Args:
            split: "test" (or another split being scored).
            model_sha256: SHA-256 of the model file scored.
            config_sha256: SHA-256 of the run's configuration.
            metrics: headline figures, a small JSON-safe mapping (numbers finite or None,
                at most 16 kB as JSON).
            analysis_plan_sha256: `AnalysisPlan.sha256`, or None without a plan.
            declaration: the reason a new model may look (required when another model
                already scored `split`), or None.
            time: UTC ISO-8601 time stamp; default now.

        Returns:
            The entry written.

        Raises:
            ConfigError: a bad argument, or a new model without a declaration.
            LedgerError: the existing chain does not verify (nothing is written).
        """
        _check_split(split)
        model = _sha(model_sha256, "model_sha256")
        fields = {
            "version": LEDGER_VERSION,
            "cache_key": self.cache_key,
            "split": split,
            "model_sha256": model,
            "config_sha256": _sha(config_sha256, "config_sha256"),
            "analysis_plan_sha256": None
            if analysis_plan_sha256 is None
            else _sha(analysis_plan_sha256, "analysis_plan_sha256"),
            "declaration": _declaration(declaration),
            "metrics": _metrics(metrics),
            "time": time
            or datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        }
        with self._locked():
            entries = self._read()
            self._check(entries, split, model, fields["declaration"])
            fields["sequence"] = len(entries)
            fields["previous_sha256"] = entries[-1].sha256 if entries else GENESIS
            fields["sha256"] = entry_hash(fields)
            entry = LedgerEntry(**fields)
            lines = b"".join(_line(old.to_dict()) for old in entries) + _line(entry.to_dict())
            atomic_write_bytes(self.path, lines)
        return entry

    def repair_torn_tail(self) -> int:
        """Removes an incomplete last line left by an interrupted foreign write.

        `append` never leaves one (it renames a complete file into place); a copy cut
        short or a full disk can. Everything before the torn line must verify.

        Returns:
            The number of bytes removed (0 when the last line was complete).

        Raises:
            LedgerError: the lines before the torn one do not verify.
        """
        with self._locked():
            data = self._bytes()
            if not data or data.endswith(b"\n"):
                return 0
            kept = data[: data.rfind(b"\n") + 1]
            _parse(self.path, kept)
            atomic_write_bytes(self.path, kept)
            return len(data) - len(kept)

    def _check(self, entries, split, model, declaration) -> Looks:
        _check_split(split)
        models = [entry.model_sha256 for entry in entries if entry.split == split]
        looks = Looks(len(models), len(set(models)))
        if models and model not in models and declaration is None:
            raise ConfigError(
                f"{self.path}: the {split} split was already scored {looks.n_looks} time(s) "
                f"by {looks.n_models} model(s) (first {models[0][:12]}); model "
                f"{model[:12]} is a new one. Scoring it too needs a declaration with the "
                f"reason ({DECLARATION_OPTION}), which is recorded in the ledger"
            )
        return looks

    def _bytes(self) -> bytes:
        try:
            with open(self.path, "rb") as handle:
                size = os.fstat(handle.fileno()).st_size
                data = b"" if size > MAX_LEDGER_BYTES else handle.read(MAX_LEDGER_BYTES + 1)
        except FileNotFoundError:
            return b""
        except OSError as exc:
            raise LedgerError(self.path, None, f"unreadable ({exc.strerror})") from None
        if size > MAX_LEDGER_BYTES or len(data) > MAX_LEDGER_BYTES:
            raise LedgerError(self.path, None, f"larger than {MAX_LEDGER_BYTES} bytes")
        return data

    def _read(self) -> list[LedgerEntry]:
        return _parse(self.path, self._bytes())

    @contextlib.contextmanager
    def _locked(self) -> Iterator[None]:
        try:
            fd = os.open(self.lock_path, os.O_RDWR | os.O_CREAT, 0o666)
        except OSError as exc:
            raise ConfigError(
                f"{self.lock_path}: cannot open the ledger lock "
                f"({exc.strerror}); the cache directory must be writable to "
                "record a look at its test split"
            ) from None
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            yield
        finally:
            os.close(fd)  # releases the lock


def _parse(path: Path, data: bytes) -> list[LedgerEntry]:
    if not data:
        return []
    lines = data.split(b"\n")
    torn = lines.pop()  # b"" when the file ends with a newline, as every append leaves it
    entries: list[LedgerEntry] = []
    for number, line in enumerate(lines):
        entries.append(_entry(path, number, line, entries[-1] if entries else None))
    if torn:
        raise LedgerError(
            path,
            len(lines),
            "incomplete last line (no newline: a write was "
            f"interrupted); the {len(lines)} entries before it "
            "verify. Ledger.repair_torn_tail() removes it",
        )
    return entries


def _entry(path: Path, number: int, line: bytes, previous: LedgerEntry | None) -> LedgerEntry:
    try:
        fields = schemas.parse_json_bytes(line, where="line", what="ledger entry")
    except ECGPEError as exc:
        raise LedgerError(path, number, str(exc).removeprefix("line: ")) from None
    if not isinstance(fields, dict) or sorted(fields) != sorted(FIELDS):
        keys = sorted(fields) if isinstance(fields, dict) else type(fields).__name__
        raise LedgerError(path, number, f"not a ledger entry (keys {keys})")
    # Byte for byte: an edit that parses to the same values ("0.50" for "0.5") shows too.
    if fields["sha256"] != entry_hash(fields) or _line(fields) != line + b"\n":
        raise LedgerError(
            path, number, "its content does not match its sha256: the entry was edited"
        )
    try:  # the types later code relies on (a hand-made entry can carry a valid hash)
        _check_split(fields["split"])
        _sha(fields["model_sha256"], "model_sha256")
        _sha(fields["config_sha256"], "config_sha256")
        if not (
            isinstance(fields["metrics"], dict)
            and isinstance(fields["time"], str)
            and type(fields["sequence"]) is int
        ):
            raise ConfigError("metrics, time or sequence of the wrong type")
    except ConfigError as exc:
        raise LedgerError(path, number, f"malformed entry: {exc}") from None
    expected = previous.sha256 if previous else GENESIS
    if fields["previous_sha256"] != expected or fields["sequence"] != number:
        before = f"entry {number - 1}" if number else "the start of the ledger"
        raise LedgerError(
            path,
            number,
            f"does not follow {before} (sequence "
            f"{fields['sequence']!r}, previous_sha256 does "
            f"{'' if fields['previous_sha256'] == expected else 'not '}"
            "match): an entry was removed, inserted or reordered",
        )
    return LedgerEntry(**fields)


def _line(fields: dict) -> bytes:
    return (_canonical(fields) + "\n").encode("utf-8")


def _canonical(obj) -> str:
    return json.dumps(
        obj, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False
    )


def _check_split(split) -> None:
    if split not in SPLITS:
        raise ConfigError(f"`split` must be one of {SPLITS}. Received: split={split!r}")


def _sha(value, name: str) -> str:
    if not (isinstance(value, str) and len(value) == 64 and set(value) <= set("0123456789abcdef")):
        raise ConfigError(
            f"`{name}` must be a SHA-256 (64 lower-case hex digits). Received: {name}={value!r:.80}"
        )
    return value


def _declaration(reason) -> str | None:
    if reason is None:
        return None
    if not isinstance(reason, str) or not reason.strip():
        raise ConfigError(
            f"a new-model declaration must be a non-empty reason. Received: {reason!r:.80}"
        )
    if len(reason) > MAX_DECLARATION_CHARS:
        raise ConfigError(
            f"a new-model declaration may have at most {MAX_DECLARATION_CHARS} "
            f"characters. Received: {len(reason)}"
        )
    return reason.strip()


def _metrics(metrics) -> dict:
    if not isinstance(metrics, Mapping):
        raise ConfigError(f"`metrics` must be a mapping. Received: {type(metrics).__name__}")
    clean = _json_safe(dict(metrics), "metrics")
    if len(_canonical(clean)) > MAX_METRICS_CHARS:
        raise ConfigError(
            f"`metrics` is more than {MAX_METRICS_CHARS} characters as JSON; "
            "the ledger keeps headline figures only"
        )
    return clean


def _json_safe(value, where: str):
    """Plain JSON values; numpy scalars become Python numbers; NaN/inf are refused."""
    if value is None or isinstance(value, (str, bool)):
        return value
    if isinstance(value, numbers.Integral):
        return int(value)
    if isinstance(value, numbers.Real):
        if not math.isfinite(value):
            raise ConfigError(f"`{where}` is {value}: an undefined figure is None, not NaN")
        return float(value)
    if isinstance(value, Mapping):
        return {str(key): _json_safe(item, f"{where}.{key}") for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [_json_safe(item, f"{where}[{k}]") for k, item in enumerate(value)]
    raise ConfigError(f"`{where}` holds a {type(value).__name__}, which is not JSON")


def summarise(entries: list[LedgerEntry], split: str = "test") -> dict:
    """JSON-safe summary of the looks at `split` for reports: counts, head, declarations.

    Returns:
        `{"split", "n_looks", "n_models", "head_sha256", "looks": [{"sequence", "time",
        "model_sha256", "declaration"}], "declarations": [...]}`.
    """
    chosen = [entry for entry in entries if entry.split == split]
    per_model = collections.Counter(entry.model_sha256 for entry in chosen)
    return {
        "split": split,
        "n_looks": len(chosen),
        "n_models": len(per_model),
        "head_sha256": entries[-1].sha256 if entries else None,
        "looks": [
            {
                "sequence": e.sequence,
                "time": e.time,
                "model_sha256": e.model_sha256,
                "declaration": e.declaration,
            }
            for e in chosen
        ],
        "declarations": [e.declaration for e in chosen if e.declaration is not None],
    }

"""Reads and checks a WFDB `.hea` header before any signal byte is loaded.

wfdb's own regular expressions split the lines; this module adds what wfdb leaves to the
caller: refusing headers it would silently complete (no fs -> 250 Hz, gain 0 -> 200),
repairing the Georgia record line that names `E00666.mat` (which `wfdb.rdheader` rejects),
and checking that every signal file exists and is long enough for the samples the header
claims, so a truncated file or an absurd sample count fails before a read is attempted.
"""

from __future__ import annotations

import dataclasses
import math
import pathlib
import re

from wfdb.io import header as wfdb_header_syntax

from keras_ecgpe.data.readers.common import check_fs, check_length, mv_scale, parse_age, parse_sex
from keras_ecgpe.errors import RecordError

MAX_HEADER_BYTES = 1 << 20
# Bytes per sample of the uncompressed WFDB formats; FLAC formats cannot be sized up front.
_BYTES_PER_SAMPLE = {
    8: 1.0,
    16: 2.0,
    61: 2.0,
    80: 1.0,
    160: 2.0,
    24: 3.0,
    32: 4.0,
    212: 1.5,
    310: 4.0 / 3.0,
    311: 4.0 / 3.0,
}
_FLAC_FORMATS = (508, 516, 524)
# A record line whose name carries a file extension (Georgia: "E00666.mat 12 500 5000").
_NAME_WITH_EXTENSION = re.compile(r"^(\s*)([-\w]+)\.(mat|dat|hea)(?=\s)", re.IGNORECASE)


@dataclasses.dataclass(frozen=True)
class WFDBHeader:
    """The parts of a WFDB header the reader needs, plus the header text wfdb should parse."""

    path: pathlib.Path
    text: str
    fs: float
    sig_len: int | None
    file_names: tuple[str, ...]
    lead_names: tuple[str, ...]
    fixes: tuple[str, ...]
    age: float | None
    sex: str | None
    labels: tuple[str, ...]


def read_header(hea_path: pathlib.Path) -> WFDBHeader:
    """Reads, repairs where known and checks a `.hea` file.

    Raises:
        RecordError: missing, oversized or unparseable header; no or non-positive fs;
            multi-segment record; signal lines missing, uncalibrated or not in volts.
    """
    try:
        size = hea_path.stat().st_size
        if size > MAX_HEADER_BYTES:
            raise RecordError(
                hea_path, f"header is {size} bytes; refusing headers above {MAX_HEADER_BYTES} bytes"
            )
        text = hea_path.read_bytes().decode("ascii", errors="replace")
    except OSError as exc:
        raise RecordError(hea_path, f"cannot read WFDB header: {exc}") from exc
    lines, comments = wfdb_header_syntax.parse_header_content(text)
    if not lines:
        raise RecordError(hea_path, "WFDB header has no record line")
    lines[0], match, fixes = _record_line(lines[0], hea_path)
    if fixes:
        # The text wfdb parses later: the same lines, the record line repaired.
        text = "\n".join(lines + comments) + "\n"
    if match["n_seg"]:
        raise RecordError(hea_path, "multi-segment WFDB records are not supported")
    if not match["fs"]:
        # WFDB would assume 250 Hz here; a guessed rate would silently rescale time.
        raise RecordError(
            hea_path,
            f"sampling frequency must be a positive number; none found in record line {lines[0]!r}",
        )
    fs = check_fs(match["fs"], hea_path)
    n_sig = int(match["n_sig"])
    if n_sig != len(lines) - 1 or n_sig == 0:
        raise RecordError(
            hea_path,
            f"record line declares {n_sig} signals but the header "
            f"has {len(lines) - 1} signal lines",
        )
    file_names, lead_names = [], []
    for number, line in enumerate(lines[1:], start=1):
        file_name, name = _check_signal_line(line, number, hea_path)
        file_names.append(file_name)
        lead_names.append(name)
    age = sex = None
    labels: tuple[str, ...] = ()
    for comment in comments:
        key, _, value = comment.lstrip("#").partition(":")
        key = key.strip().strip("<>").lower()
        if key == "age":
            age = parse_age(value)
        elif key == "sex":
            sex = parse_sex(value)
        elif key == "dx":
            labels = tuple(code.strip() for code in value.split(",") if code.strip())
    return WFDBHeader(
        path=hea_path,
        text=text,
        fs=fs,
        sig_len=int(match["sig_len"]) if match["sig_len"] else None,
        file_names=tuple(file_names),
        lead_names=tuple(lead_names),
        fixes=tuple(fixes),
        age=age,
        sex=sex,
        labels=labels,
    )


def _record_line(line: str, hea_path):
    """Returns `(record line, its match, fixes)`, repairing the known Georgia quirks.

    Georgia headers write `E00666.mat 12 500 5000 05-May-2020 14:50:55`: a file name for
    the record name and a date in no WFDB syntax (wfdb would read "05" as 5 seconds).
    The name loses its extension and the unusable date/time is left out; both reported.
    """
    fixes = []
    repaired = _NAME_WITH_EXTENSION.sub(r"\1\2", line, count=1)
    if repaired != line:
        fixes.append(
            f"header fix: record line names {line.split()[0]!r}, read as {repaired.split()[0]!r}"
        )
    match = wfdb_header_syntax.rx_record.match(repaired)
    if match is not None and repaired[match.end() :].strip():
        fields = repaired.split()
        short = " ".join(fields[:4])
        match = wfdb_header_syntax.rx_record.match(short)
        if match is not None and not short[match.end() :].strip():
            fixes.append(
                f"header fix: ignored base time/date {' '.join(fields[4:])!r} (not WFDB syntax)"
            )
            repaired = short
    if match is None or repaired[match.end() :].strip():
        raise RecordError(hea_path, f"cannot parse WFDB record line {line!r}")
    return repaired, match, fixes


def _check_signal_line(line: str, number: int, hea_path) -> tuple[str, str]:
    """Returns `(file_name, lead_name)` of one signal line after checking it."""
    match = wfdb_header_syntax.rx_signal.match(line)
    if match is None or not match["file_name"] or not match["fmt"]:
        raise RecordError(hea_path, f"cannot parse WFDB signal line {number}: {line!r}")
    name = match["sig_name"].strip() or f"signal {number}"
    if match["file_name"] == "~" or "/" in match["file_name"]:
        raise RecordError(hea_path, f"signal {name} names no local file ({match['file_name']!r})")
    fmt = int(match["fmt"])
    if fmt not in _BYTES_PER_SAMPLE and fmt not in _FLAC_FORMATS:
        raise RecordError(hea_path, f"signal {name} uses WFDB format {fmt}, not supported")
    if match["samps_per_frame"] not in ("", "1"):
        raise RecordError(
            hea_path,
            f"signal {name} has {match['samps_per_frame']} samples "
            "per frame; only 1 is supported (no silent resampling)",
        )
    try:
        gain = float(match["adc_gain"]) if match["adc_gain"] else 0.0
    except ValueError:
        gain = float("nan")
    if not math.isfinite(gain) or gain == 0:
        # WFDB would assume 200 adu/mV for an uncalibrated signal: amplitudes would be guesses.
        raise RecordError(
            hea_path,
            f"signal {name} has no usable ADC gain ({match['adc_gain']!r}): cannot convert to mV",
        )
    mv_scale(match["units"] or "mV", hea_path, name)
    return match["file_name"], name


def check_signal_files(header: WFDBHeader, cap: int) -> int:
    """Checks every signal file exists and holds the header's samples; returns the count.

    The count comes from the header, or from the first file's size where the header
    omits it. Called before reading, so nothing is loaded from a truncated file or for
    a header claiming more than `cap` samples.

    Raises:
        RecordError: naming the signal file: missing, or
            "truncated: expected N samples, found M"; or naming the header when the
            sample count is above `cap`.
    """
    if header.sig_len == 0:
        raise RecordError(header.path, "header declares 0 samples per signal")
    if header.sig_len is not None:
        check_length(header.sig_len, cap, header.path, "header claims")
    frame_bytes, offsets = {}, {}
    lines, _ = wfdb_header_syntax.parse_header_content(header.text)
    for line in lines[1:]:
        match = wfdb_header_syntax.rx_signal.match(line)
        fmt, name = int(match["fmt"]), match["file_name"]
        size = _BYTES_PER_SAMPLE.get(fmt, math.nan)  # NaN marks a FLAC file: size unknown
        frame_bytes[name] = frame_bytes.get(name, 0.0) + size
        offsets.setdefault(name, int(match["byte_offset"] or 0))
    sig_len = header.sig_len
    for name, per_frame in frame_bytes.items():
        path = header.path.parent / name
        if not path.is_file():
            raise RecordError(path, f"signal file missing (named by {header.path.name})")
        if math.isnan(per_frame):
            continue
        available = max(0, int((path.stat().st_size - offsets[name]) // per_frame))
        if sig_len is None:
            sig_len = available
            check_length(sig_len, cap, path, "signal file holds")
            if sig_len == 0:
                raise RecordError(path, "signal file holds no complete sample")
        if available < sig_len:
            raise RecordError(path, f"truncated: expected {sig_len} samples, found {available}")
    if sig_len is None:
        raise RecordError(
            header.path,
            "header gives no sample count and its FLAC signal files cannot be sized before reading",
        )
    return sig_len

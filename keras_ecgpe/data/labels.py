"""One harmonised label vocabulary, keyed by SNOMED CT codes, for multi-source pretraining.

Each source names its labels in its own vocabulary: PTB-XL SCP statements (`scp`) or
superclasses (`scp_superclass`), CPSC2018 class names (`cpsc`), MedalCare-XL classes
(`medalcare`), or SNOMED CT codes already (`snomed`, CinC headers). The tables in
`keras_ecgpe/data/tables/*_to_snomed.csv` map them to SNOMED CT, following the
PhysioNet/CinC Challenge 2021 conversion of PTB-XL and CPSC2018; the `basis` column of each
row says where the row comes from. Codes the Challenge scores as one diagnosis (the pairs in
`weights.csv`, e.g. `713427006|59118001`) are merged onto the first code of the pair.

A row's `relation` is `equivalent` (label present <=> code present, so the source annotates
the code and its absence is a true negative) or `implies` (label present => code present, its
absence says nothing: e.g. PTB-XL NORM implies sinus rhythm but an MI record may be in sinus
rhythm too). `to_multi_hot` turns this into a per-record mask: 1 where the source's label set
decides the class, 0 where it does not, so no source is penalised for classes it never
annotates.
"""

from __future__ import annotations

import csv
import functools
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path

import numpy as np

from keras_ecgpe.errors import ConfigError, RecordError

TABLES_DIR = Path(__file__).resolve().parent / "tables"
RELATIONS = ("equivalent", "implies")


def _read_table(name: str):
    path = TABLES_DIR / name
    with open(path, newline="", encoding="utf-8") as handle:
        return path, list(csv.DictReader(handle))


@functools.cache
def cinc_scored_classes() -> tuple[tuple[str, ...], ...]:
    """Returns the 26 CinC 2021 scored classes, each a tuple of equivalent SNOMED CT codes.

    Read from the header of the Challenge's `weights.csv`, in its order; the first code of a
    tuple is the code keras_ecgpe uses for the class.
    """
    path = TABLES_DIR / "weights.csv"
    with open(path, newline="", encoding="utf-8") as handle:
        header = next(csv.reader(handle))
    return tuple(tuple(cell.split("|")) for cell in header[1:])


@functools.cache
def _canonical() -> dict[str, str]:
    return {code: group[0] for group in cinc_scored_classes() for code in group}


def canonical_code(code: str) -> str:
    """Maps a SNOMED CT code onto the first code of its CinC 2021 equivalence class."""
    code = str(code).strip()
    return _canonical().get(code, code)


@functools.cache
def snomed_names() -> dict[str, str]:
    """Returns `{code: abbreviation}` for every code of the CinC 2021 scored/unscored tables."""
    names = {}
    for table in ("dx_mapping_scored.csv", "dx_mapping_unscored.csv"):
        for row in _read_table(table)[1]:
            names[row["SNOMEDCTCode"].strip()] = row["Abbreviation"].strip()
    return names


@functools.cache
def label_mappings() -> dict[str, dict[str, tuple[tuple[str, str], ...]]]:
    """Returns `{vocabulary: {label: ((code, relation), ...)}}` from the mapping tables.

    A label listed with an empty code is known but unmapped and maps to `()`.
    """
    mappings: dict[str, dict[str, list]] = {}
    for table in sorted(TABLES_DIR.glob("*_to_snomed.csv")):
        path, rows = _read_table(table.name)
        for line, row in enumerate(rows, start=2):
            code, relation = row["snomed_code"].strip(), row["relation"].strip()
            targets = mappings.setdefault(row["vocabulary"], {}).setdefault(row["label"], [])
            if not code:
                continue
            if code not in snomed_names() or relation not in RELATIONS:
                raise RecordError(
                    path,
                    f"line {line}: code {code!r} is not in the CinC 2021 "
                    f"tables or relation {relation!r} not in {RELATIONS}",
                )
            targets.append((canonical_code(code), relation))
    return {
        vocab: {label: tuple(t) for label, t in labels.items()}
        for vocab, labels in mappings.items()
    }


def _code_rank():
    order = [group[0] for group in cinc_scored_classes()] + list(snomed_names())
    return {code: index for index, code in reversed(list(enumerate(order)))}


class HarmonisedVocabulary:
    """The union of SNOMED CT classes that a set of sources annotates.

    Build it with `from_sources`. `codes` lists the classes (CinC scored classes first, in the
    Challenge's order, then the other codes in the order of the CinC tables); `names` their
    abbreviations; `unmapped[source]` the source labels that map to no code (reported, never
    silently lost).

    Example:

    ```python
    vocabulary = HarmonisedVocabulary.from_sources(
        [("ptbxl", "scp", ("AFIB", "SR")), ("cpsc2018", "cpsc", ("SNR", "AF"))])
    y, mask = vocabulary.to_multi_hot("cpsc2018", ["AF"])
    ```
    """

    def __init__(
        self,
        sources: Mapping[str, tuple[str, tuple[str, ...]]],
        finding_codes: Mapping[str, Sequence[str]] | None = None,
    ):
        mappings = label_mappings()
        finding_codes = {name: tuple(codes) for name, codes in (finding_codes or {}).items()}
        self.sources = dict(sources)
        self.unmapped: dict[str, tuple[str, ...]] = {}
        rules: dict[str, dict[str, tuple[tuple[str, str], ...]]] = {}
        for name, (vocabulary, label_names) in self.sources.items():
            if vocabulary == "snomed":
                table = {code: ((canonical_code(code), "equivalent"),) for code in label_names}
            elif vocabulary in mappings:
                table = mappings[vocabulary]
            else:
                raise ConfigError(
                    f"source {name!r}: no SNOMED CT mapping for label vocabulary "
                    f"{vocabulary!r}; mapped vocabularies: "
                    f"{', '.join(sorted(mappings) + ['snomed'])}"
                )
            unknown = [label for label in label_names if label not in table]
            if unknown:
                raise ConfigError(
                    f"source {name!r}: labels {unknown} are not in the {vocabulary!r} mapping table"
                )
            rules[name] = {label: table[label] for label in label_names}
            self.unmapped[name] = tuple(label for label in label_names if not table[label])
        rank = _code_rank()
        found = {
            code for rule in rules.values() for targets in rule.values() for code, _ in targets
        }
        # Codes a source decides per record from its metadata (PTB-XL's heart axis), not
        # through a label: classes of the vocabulary, annotated only where a record says.
        found |= {canonical_code(code) for codes in finding_codes.values() for code in codes}
        self.codes: tuple[str, ...] = tuple(
            sorted(found, key=lambda code: (rank.get(code, len(rank)), code))
        )
        self.names = tuple(snomed_names().get(code, code) for code in self.codes)
        index = {code: i for i, code in enumerate(self.codes)}
        self._targets = {
            name: {
                label: tuple((index[c], r) for c, r in targets) for label, targets in rule.items()
            }
            for name, rule in rules.items()
        }
        self._annotated = {}
        for name, rule in self._targets.items():
            mask = np.zeros(len(self.codes), dtype=np.float32)
            for targets in rule.values():
                for i, relation in targets:
                    mask[i] = max(mask[i], 1.0 if relation == "equivalent" else 0.0)
            self._annotated[name] = mask

    @classmethod
    def from_sources(cls, sources: Iterable) -> HarmonisedVocabulary:
        """Builds the vocabulary of several sources.

        Args:
            sources: `DatasetSource` objects (their `name`, `label_vocabulary` and
                `label_names` are used) or `(name, vocabulary, label_names)` tuples.

        Raises:
            ConfigError: a duplicate source name, a vocabulary without a mapping table, or
                a label missing from its table.
        """
        table, findings = {}, {}
        for source in sources:
            if isinstance(source, tuple):
                name, vocabulary, label_names = source
            else:
                name, vocabulary = source.name, source.label_vocabulary
                label_names = source.label_names
                findings[name] = tuple(getattr(source, "finding_codes", ()))
            if name in table:
                raise ConfigError(f"source name {name!r} given twice")
            table[name] = (vocabulary, tuple(label_names))
        return cls(table, findings)

    def to_multi_hot(
        self,
        source_name: str,
        labels: Sequence[str],
        findings: Sequence[tuple[str, bool]] = (),
    ) -> tuple[np.ndarray, np.ndarray]:
        """Encodes one record's source labels on the harmonised classes.

        Args:
            source_name: a name given to `from_sources`.
            labels: the record's labels, names from that source's label names.
            findings: `(SNOMED CT code, present)` pairs the record's metadata decides
                (`SourceItem.findings`); each sets the class and unmasks it.

        Returns:
            `(y, mask)`, float32 arrays `(len(codes),)`: `y` 1 for present classes; `mask` 1
            where this record's class value is known from the source.

        Raises:
            ConfigError: unknown source name, or a label the source does not define.
        """
        if source_name not in self._targets:
            raise ConfigError(
                f"unknown source {source_name!r}; sources: {', '.join(self._targets)}"
            )
        targets = self._targets[source_name]
        y = np.zeros(len(self.codes), dtype=np.float32)
        mask = self._annotated[source_name].copy()
        for label in labels:
            if label not in targets:
                raise ConfigError(f"source {source_name!r} has no label {label!r}")
            for i, _ in targets[label]:
                y[i] = 1.0
                mask[i] = 1.0
        index = {code: i for i, code in enumerate(self.codes)}
        for code, present in findings:
            i = index.get(canonical_code(code))
            if i is None:
                raise ConfigError(
                    f"source {source_name!r}: finding {code!r} is not a class of the vocabulary"
                )
            y[i] = max(y[i], 1.0 if present else 0.0)
            mask[i] = 1.0
        return y, mask

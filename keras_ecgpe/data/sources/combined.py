"""Several dataset sources as one, on the harmonised SNOMED CT vocabulary, for pretraining.

PTB-XL, CPSC2018, MedalCare-XL and CinC folders name their classes differently and each
annotates only some classes. `CombinedSource` maps every record's labels onto one
`HarmonisedVocabulary` and records, per record, which classes its source annotates, so the
prepared cache's `label_mask` keeps a source from being penalised for classes it never
labels. Record and patient ids are prefixed with the source name (ids repeat across sets);
sources without an official split get a seeded patient-level one of their own.
"""

from __future__ import annotations

import collections
import dataclasses
from collections.abc import Sequence
from typing import TYPE_CHECKING

import numpy as np

from keras_ecgpe.data.labels import HarmonisedVocabulary
from keras_ecgpe.data.record import ECGRecord
from keras_ecgpe.data.sources.base import DatasetSource, SkippedItem, SourceItem
from keras_ecgpe.data.splits import patient_stratified_split
from keras_ecgpe.errors import ConfigError

if TYPE_CHECKING:
    from typing import Any


class CombinedSource(DatasetSource):
    """Concatenates sources, relabelled on their harmonised SNOMED CT classes.

    Args:
        sources: two or more `DatasetSource`s with distinct names.
        split_seed: seed of the patient-level split given to sources without one.

    Raises:
        ConfigError: fewer than two sources, repeated names, or labels without a mapping.

    Example:

    ```python
    combined = CombinedSource([make_source("ptbxl", "ptb-xl", task="all"),
                               make_source("cpsc2018", "cpsc")])
    combined.label_names[:3], combined.names[:3]   # SNOMED codes, their abbreviations
    ```
    """

    name = "combined"
    label_vocabulary = "snomed"

    def __init__(self, sources: Sequence[DatasetSource], split_seed: int = 0):
        if len(sources) < 2:
            raise ConfigError(
                f"a combined source needs two or more sources. Received: "
                f"{[source.name for source in sources]}"
            )
        self.sources = {}
        for source in sources:
            if source.name in self.sources:
                raise ConfigError(f"source {source.name!r} given twice")
            self.sources[source.name] = source
        self.root = next(iter(sources)).root
        self.split_seed = split_seed
        self.vocabulary = HarmonisedVocabulary.from_sources(sources)
        self.unmapped_counts: collections.Counter = collections.Counter()
        # Record ids whose split this set generated (sources without an official split):
        # `prepare_dataset` moves them to a duplicate's official split once hashes are known.
        self.generated_splits: set[str] = set()

    @property
    def label_names(self) -> tuple[str, ...]:
        return self.vocabulary.codes

    @property
    def names(self) -> tuple[str, ...]:
        """Abbreviations of `label_names` (e.g. "AF" for 164889003)."""
        return self.vocabulary.names

    def describe(self) -> dict:
        return {
            "name": self.name,
            "split_seed": self.split_seed,
            "sources": [source.describe() for source in self.sources.values()],
        }

    def ignored_labels(self) -> list[tuple[str, int, str]]:
        """Each source's own ignored codes, and labels with no SNOMED CT class, by source."""
        found = [
            (f"{name}:{code}", count, label)
            for name, source in self.sources.items()
            for code, count, label in source.ignored_labels()
        ]
        found += [
            (f"{name}:{label}", count, "no SNOMED CT mapping")
            for (name, label), count in self.unmapped_counts.items()
        ]
        return sorted(found, key=lambda entry: (-entry[1], entry[0]))

    def index(self) -> tuple[list[SourceItem], list[SkippedItem]]:
        items, skipped = [], []
        self.unmapped_counts = collections.Counter()
        self.generated_splits = set()
        for name, source in self.sources.items():
            own, own_skipped = source.index()
            unmapped = set(self.vocabulary.unmapped[name])
            self.unmapped_counts.update(
                (name, label) for item in own for label in item.labels if label in unmapped
            )
            skipped += [
                dataclasses.replace(skip, record_id=f"{name}:{skip.record_id}")
                for skip in own_skipped
            ]
            splits = self._splits(own)
            if not any(item.split for item in own):
                self.generated_splits.update(f"{name}:{item.record_id}" for item in own)
            for item, split in zip(own, splits):
                y, mask = self.vocabulary.to_multi_hot(name, item.labels, item.findings)
                codes = np.array(self.label_names)
                combined = dataclasses.replace(
                    item,
                    record_id=f"{name}:{item.record_id}",
                    patient_id=f"{name}:{item.patient_id or item.record_id}",
                    labels=tuple(codes[y > 0]),
                    annotated=tuple(codes[mask > 0]),
                    split=split,
                )
                items.append(combined)
        return items, skipped

    def _splits(self, items: list[SourceItem]) -> list[str]:
        if any(item.split for item in items):
            return [item.split for item in items]
        patients = [item.patient_id or item.record_id for item in items]
        labels = np.array([[1.0] if item.labels else [0.0] for item in items], np.float32)
        return list(patient_stratified_split(labels, patients, seed=self.split_seed))

    def read(self, item: SourceItem, **read_options: Any) -> ECGRecord:
        # The id's prefix names the source: no lookup table to ship to every worker.
        name, _, own_id = item.record_id.partition(":")
        record = self.sources[name].read(
            dataclasses.replace(item, record_id=own_id), **read_options
        )
        return dataclasses.replace(
            record, record_id=item.record_id, patient_id=item.patient_id, labels=item.labels
        )

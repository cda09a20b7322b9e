"""Seeding a store: the personas, then a deterministic synthetic population."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from typing import Any

import orjson

from sim06.mock_registry import eid_subjects, fidelity
from sim06.mock_registry.persona_records import persona_rows
from sim06.mock_registry.seed_workers import population_batches
from sim06.mock_registry.shards import SHARD_SIZE
from sim06.mock_registry.store.base import CitizenRow, CitizenStore

# Bump when the same seed would give different people. 2: issue 16 (accounts by rule, the
# 2024 law's other subjects, e-ID accounts of foreigners and organisations). 3: issue 20 (the
# population is generated in shards of 25,000; up to that size it is unchanged).
GENERATOR_VERSION = "3"


@dataclass(frozen=True, slots=True)
class SeedInfo:
    """What a store was seeded with (kept in its metadata)."""

    seed: int
    size: int
    as_of: date
    personas: int

    def as_meta(self) -> dict[str, str]:
        """Metadata entries of the store."""
        return {
            "seed": str(self.seed),
            "size": str(self.size),
            "as_of": self.as_of.isoformat(),
            "personas": str(self.personas),
            "citizens": str(self.size + self.personas),
            "generator_version": GENERATOR_VERSION,
        }


class RepresentativePicker:
    """Organisations' legal representatives: living adults with an active level-2 account,
    taken at a fixed stride from the generated rows (bytes tests: no record is parsed but the
    ones picked)."""

    _LEVEL2 = b'"eid":{"level":2,"status":"active"}'
    _ALIVE = b'"status":"alive"'
    STRIDE = 7

    def __init__(self, as_of: date, wanted: int) -> None:
        self.born_by = as_of.year - 20
        self.wanted = wanted
        self.seen = 0
        # Only the references are kept, not the records: 50,000 records held through a 10M
        # seed pinned their heap pages in the parent.
        self.references: list[dict[str, Any]] = []

    def scan(self, rows: list[CitizenRow]) -> None:
        """Note the qualifying rows of one batch."""
        for row in rows:
            if len(self.references) >= self.wanted:
                return
            if row.birth_year <= self.born_by and self._LEVEL2 in row.record:
                if self._ALIVE in row.record:
                    self.seen += 1
                    if self.seen % self.STRIDE == 0:
                        r = orjson.loads(row.record)
                        self.references.append({"pin": r["pin"], "cmnd": r["cmnd"],
                                                "full_name": r["name"]["full"],
                                                "nationality": r["nationality"]})  # fmt: skip

    def picked(self) -> list[dict[str, Any]]:
        """References (pin, cmnd, full_name, nationality) of the representatives picked."""
        return self.references


def seed_store(
    store: CitizenStore,
    *,
    seed: int,
    size: int,
    as_of: date,
    progress: Callable[[int], None] | None = None,
    workers: int = 1,
    shard_size: int = SHARD_SIZE,
) -> SeedInfo:
    """Fill an empty ``store`` with the personas and ``size`` generated citizens.

    ``workers`` processes generate the population's shards; the rows are the same whatever
    their number. ``shard_size`` is part of the population's definition (tests shrink it)."""
    begin = getattr(store, "begin_bulk", None)
    if begin is not None:
        begin()
    people = persona_rows(as_of)  # citizens and the 2024 law's other subjects
    if any(fidelity.postdates(orjson.loads(row.record), as_of) for row in people):
        people = []  # an earlier as-of date: the personas' stories have not happened yet
    store.add(people)
    picker = RepresentativePicker(as_of, round(size * eid_subjects.ORGANISATION_SHARE))
    batches = population_batches(seed, size, as_of, workers=workers, shard_size=shard_size)
    for batch in batches:
        store.add(batch)
        picker.scan(batch)
        if progress is not None:
            progress(len(batch))
    store.add_accounts(eid_subjects.account_rows(seed, size, as_of, picker.picked()))
    store.finish_load()
    info = SeedInfo(seed=seed, size=size, as_of=as_of, personas=len(people))
    for key, value in info.as_meta().items():
        store.set_meta(key, value)
    return info

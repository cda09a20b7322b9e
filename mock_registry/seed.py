"""Seeding a store: the personas, then a deterministic synthetic population."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from typing import Any

import orjson

from sim06.mock_registry import eid_subjects, fidelity, personas
from sim06.mock_registry.persona_records import persona_rows
from sim06.mock_registry.population import PopulationGenerator
from sim06.mock_registry.store.base import CitizenRow, CitizenStore

# Bump when the same seed would give different people. 2: issue 16 (accounts by rule, the
# 2024 law's other subjects, e-ID accounts of foreigners and organisations).
GENERATOR_VERSION = "2"


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
        self.records: list[bytes] = []

    def scan(self, rows: list[CitizenRow]) -> None:
        """Note the qualifying rows of one batch."""
        for row in rows:
            if len(self.records) >= self.wanted:
                return
            if row.birth_year <= self.born_by and self._LEVEL2 in row.record:
                if self._ALIVE in row.record:
                    self.seen += 1
                    if self.seen % self.STRIDE == 0:
                        self.records.append(row.record)

    def picked(self) -> list[dict[str, Any]]:
        """References (pin, cmnd, full_name, nationality) of the representatives picked."""
        out = []
        for raw in self.records:
            r = orjson.loads(raw)
            out.append({"pin": r["pin"], "cmnd": r["cmnd"], "full_name": r["name"]["full"],
                        "nationality": r["nationality"]})  # fmt: skip
        return out


def seed_store(
    store: CitizenStore,
    *,
    seed: int,
    size: int,
    as_of: date,
    progress: Callable[[int], None] | None = None,
) -> SeedInfo:
    """Fill an empty ``store`` with the personas and ``size`` generated citizens."""
    begin = getattr(store, "begin_bulk", None)
    if begin is not None:
        begin()
    people = persona_rows(as_of)  # citizens and the 2024 law's other subjects
    if any(fidelity.postdates(orjson.loads(row.record), as_of) for row in people):
        people = []  # an earlier as-of date: the personas' stories have not happened yet
    store.add(people)
    generator = PopulationGenerator(
        seed, as_of, personas.reserved_pins(), personas.reserved_cmnds()
    )
    picker = RepresentativePicker(as_of, round(size * eid_subjects.ORGANISATION_SHARE))
    for batch in generator.generate(size):
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

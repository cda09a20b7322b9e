"""Seeding a store: the personas, then a deterministic synthetic population."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date

import orjson

from mock_registry import personas
from mock_registry.citizen import record_of, row_of
from mock_registry.population import PopulationGenerator
from mock_registry.store.base import CitizenStore

GENERATOR_VERSION = "1"  # bump when the same seed would give different people


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
    data_as_of = f"{as_of.isoformat()}T00:00:00+07:00"
    people = personas.build(as_of)
    store.add([row_of(p, orjson.dumps(record_of(p, data_as_of))) for p in people])
    generator = PopulationGenerator(
        seed, as_of, personas.reserved_pins(), personas.reserved_cmnds()
    )
    for batch in generator.generate(size):
        store.add(batch)
        if progress is not None:
            progress(len(batch))
    store.finish_load()
    info = SeedInfo(seed=seed, size=size, as_of=as_of, personas=len(people))
    for key, value in info.as_meta().items():
        store.set_meta(key, value)
    return info

"""Seeding a store: the personas, then a deterministic synthetic population."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from functools import partial

import orjson

from sim06.mock_registry import eid_subjects, fidelity
from sim06.mock_registry.persona_records import persona_rows
from sim06.mock_registry.representatives import RepresentativePicker
from sim06.mock_registry.seed_workers import parallel, population_batches, population_into
from sim06.mock_registry.shards import SHARD_SIZE
from sim06.mock_registry.store.base import CitizenStore
from sim06.mock_registry.store.sqlite import SQLiteCitizenStore

__all__ = ["GENERATOR_VERSION", "RepresentativePicker", "SeedInfo", "seed_store"]

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
    accounts = partial(eid_subjects.account_rows, seed, size, as_of)  # of the picks
    accounts_added = False
    if (
        isinstance(store, SQLiteCitizenStore)
        and store.path != ":memory:"
        and parallel(size, workers, shard_size)
    ):
        # The workers append their shards to the file themselves, in order (seed_workers).
        shards = population_into(
            store.path,
            seed,
            size,
            as_of,
            workers=workers,
            first_id=store.next_id(),
            shard_size=shard_size,
        )
        for shard, qualifying in shards:
            if not picker.full():
                for record in store.records_by_id(picker.picks(qualifying)):
                    picker.take(record)
                if picker.full():
                    # Made while the workers still run rather than after the last shard, on
                    # one core (0.2 s at 1M): later rows change no pick.
                    store.add_accounts(accounts(picker.picked()))
                    accounts_added = True
            if progress is not None:
                progress(shard.count)
    else:
        batches = population_batches(seed, size, as_of, workers=workers, shard_size=shard_size)
        for batch in batches:
            store.add(batch)
            picker.scan(batch)
            if progress is not None:
                progress(len(batch))
    if not accounts_added:
        store.add_accounts(accounts(picker.picked()))
    store.finish_load()
    info = SeedInfo(seed=seed, size=size, as_of=as_of, personas=len(people))
    for key, value in info.as_meta().items():
        store.set_meta(key, value)
    return info

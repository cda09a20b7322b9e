"""Shards of a population: fixed by the size, disjoint numbering, same rows for any worker count."""

from __future__ import annotations

import hashlib
import sqlite3
from datetime import date
from pathlib import Path

import orjson
import pytest

from sim06.mock_registry import personas
from sim06.mock_registry.ids import SERIAL_SPACE, SerialAllocator, SerialsExhausted
from sim06.mock_registry.population import PopulationGenerator
from sim06.mock_registry.seed import seed_store
from sim06.mock_registry.seed_workers import population_batches
from sim06.mock_registry.shards import SHARD_SIZE, Shard, plan
from sim06.mock_registry.store import SQLiteCitizenStore
from sim06.mock_registry.store.base import CitizenRow

AS_OF = date(2026, 7, 1)


def test_plan_is_fixed_by_the_size() -> None:
    shards = plan(2500, 600)
    assert [(s.first, s.count) for s in shards] == [
        (0, 600), (600, 600), (1200, 600), (1800, 600), (2400, 100)
    ]  # fmt: skip
    assert {s.of for s in shards} == {5}
    assert plan(SHARD_SIZE) == [Shard(0, 0, SHARD_SIZE, 1)]
    assert plan(0) == []
    with pytest.raises(ValueError):
        plan(10, 0)


def test_numbering_blocks_are_disjoint() -> None:
    shards = plan(10_000, 1000)
    ranges = [s.serial_range() for s in shards]
    assert ranges[0][0] == 0 and ranges[-1][1] <= SERIAL_SPACE
    assert all(a[1] <= b[0] for a, b in zip(ranges, ranges[1:], strict=False))
    firsts = [s.cmnd_counters()["01"] for s in shards]
    assert firsts == sorted(set(firsts))
    # A shard that uses more than its block of CMND numbers is refused, not silently reused.
    last = shards[3]
    used = dict(last.cmnd_counters())
    used["01"] = shards[4].cmnd_counters()["01"] + 1
    with pytest.raises(SerialsExhausted):
        last.check_cmnd_counters(used)
    last.check_cmnd_counters(shards[4].cmnd_counters())  # exactly its block: fine


def test_a_serial_range_is_kept() -> None:
    alloc = SerialAllocator(3, first=10, limit=12)
    whole = SerialAllocator(3)
    expected = [whole.pin_at("001", 1990, "male", n) for n in (10, 11)]
    assert [alloc.allocate("001", 1990, "male") for _ in range(2)] == expected
    with pytest.raises(SerialsExhausted):
        alloc.allocate("001", 1990, "male")
    with pytest.raises(ValueError):
        SerialAllocator(3, first=5, limit=5)


def test_a_single_shard_is_the_single_stream() -> None:
    """Up to one shard, the population is what the generator always made (pins unchanged)."""

    def rows(shard: Shard | None) -> list[CitizenRow]:
        gen = PopulationGenerator(
            5, AS_OF, personas.reserved_pins(), personas.reserved_cmnds(), shard=shard
        )
        return [row for batch in gen.generate(3000) for row in batch]

    (only,) = plan(3000)
    assert rows(only) == rows(None)
    assert [r for b in population_batches(5, 3000, AS_OF) for r in b] == rows(None)


def test_shards_differ_and_do_not_collide() -> None:
    rows = [r for b in population_batches(7, 4000, AS_OF, shard_size=1000) for r in b]
    assert len(rows) == 4000
    pins = [r.pin for r in rows]
    assert len(set(pins)) == len(pins)
    cmnds = [r.cmnd for r in rows if r.cmnd]
    assert len(set(cmnds)) == len(cmnds)
    # Household ids of one shard are not reused by another; each household's head is in it.
    households: dict[int, set[int]] = {}
    for i, r in enumerate(rows):
        assert r.household_id is not None
        households.setdefault(r.household_id, set()).add(i // 1000)
    assert all(len(found) == 1 for found in households.values())
    first_names = [orjson.loads(rows[i].record)["name"]["full"] for i in (0, 1000, 2000, 3000)]
    assert len(set(first_names)) == 4  # each shard has its own random stream


def digest(path: Path) -> str:
    store = SQLiteCitizenStore(path, readonly=True)
    h = hashlib.sha256()
    for record in store.records():
        h.update(record)
    for record in store.accounts():
        h.update(record)
    store.close()
    return h.hexdigest()


def test_one_or_two_workers_give_the_same_export(tmp_path: Path) -> None:
    for workers in (1, 2):
        store = SQLiteCitizenStore(tmp_path / f"w{workers}.db")
        seed_store(store, seed=9, size=2500, as_of=AS_OF, workers=workers, shard_size=600)
        store.close()
    assert digest(tmp_path / "w1.db") == digest(tmp_path / "w2.db")


def test_sqlite_bulk_load_builds_the_indexes_after(tmp_path: Path) -> None:
    store = SQLiteCitizenStore(tmp_path / "bulk.db")
    row = CitizenRow("001090000042", None, 1, 1990, b"{}")
    store.begin_bulk()

    def indexes() -> set[str]:
        found = store._db.execute(
            "SELECT name FROM sqlite_master WHERE type = 'index' AND tbl_name = 'citizens'"
        )
        return {str(r[0]) for r in found}

    assert indexes() == set()  # loading into an empty table: no index maintained per row
    store.add([row])
    store.add([row._replace(pin="001090000043")])
    store.finish_load()
    assert indexes() == {"citizens_pin", "citizens_cmnd", "citizens_household"}
    assert store.get("001090000043") == b"{}"
    store.close()
    dup = SQLiteCitizenStore(tmp_path / "dup.db")
    dup.begin_bulk()
    dup.add([row, row])
    with pytest.raises(sqlite3.IntegrityError):
        dup.finish_load()  # a duplicate PIN still fails the load
    dup.close()


def test_workers_shard_files_are_removed(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Workers hand their shards over as files: none is left once read, nor when the reader
    stops early (an interrupted seed)."""
    monkeypatch.setattr("tempfile.tempdir", str(tmp_path))
    single = [r for b in population_batches(3, 1500, AS_OF, shard_size=500) for r in b]
    assert [
        r for b in population_batches(3, 1500, AS_OF, workers=2, shard_size=500) for r in b
    ] == (single)
    assert list(tmp_path.iterdir()) == []
    batches = population_batches(3, 1500, AS_OF, workers=2, shard_size=500)
    next(batches)
    assert [p.name for p in tmp_path.iterdir()][0].startswith("sim06-shards-")
    batches.close()
    assert list(tmp_path.iterdir()) == []

"""Shards of a population: fixed by the size, disjoint numbering, same rows for any worker count."""

from __future__ import annotations

import hashlib
import multiprocessing
import sqlite3
import threading
from datetime import date
from pathlib import Path

import orjson
import pytest

from sim06.mock_registry import personas
from sim06.mock_registry.cmnd import CmndAllocator
from sim06.mock_registry.ids import SERIAL_SPACE, SerialAllocator, SerialsExhausted
from sim06.mock_registry.persona_records import persona_rows
from sim06.mock_registry.population import PopulationGenerator
from sim06.mock_registry.representatives import RepresentativePicker, candidates, qualifies
from sim06.mock_registry.seed import seed_store
from sim06.mock_registry.seed_workers import (
    SeedStopped,
    Turns,
    _context,
    population_batches,
    population_into,
)
from sim06.mock_registry.shards import SHARD_SIZE, Shard, plan
from sim06.mock_registry.store import SQLiteCitizenStore
from sim06.mock_registry.store.base import CitizenRow
from sim06.mock_registry.store.sqlite_shards import append_shard

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
    # A shard's CMND block ends where the next one's begins.
    for shard, after in zip(shards, shards[1:], strict=False):
        assert shard.cmnd_limits() == after.cmnd_counters()
    assert shards[-1].cmnd_limits()["01"] <= 10**7 and shards[-1].cmnd_limits()["280"] <= 10**6


def test_a_shard_of_a_national_population_uses_up_a_prefix_without_repeating_it() -> None:
    """At 100M citizens (4,000 shards) a shard's block of Bình Dương's 3-digit CMND prefix
    (250 of its million numbers) is smaller than the shard's holders: the block is used to its
    end, no number repeats or leaves it, and the holders after it have no 9-digit CMND and no
    card issued before 2016 (the first one they hold is numbered by the PIN)."""
    shards = plan(100_000_000)
    shard = shards[1234]
    gen = PopulationGenerator(
        6, AS_OF, personas.reserved_pins(), personas.reserved_cmnds(), shard=shard
    )
    records = [orjson.loads(row.record) for batch in gen.generate(shard.count) for row in batch]
    assert len(records) == SHARD_SIZE
    first, limit = shard.cmnd_counters()["280"], shard.cmnd_limits()["280"]
    assert gen.life.cmnds.counters["280"] == limit  # used to its end, not beyond
    whole = CmndAllocator(6)
    block = set()
    for n in range(first, limit):
        whole.counters = {"280": n}
        number = whole.allocate("74", 0.0)
        assert number is not None
        block.add(number)
    numbers = [r["cmnd"] for r in records if r["cmnd"]]
    assert len(numbers) == len(set(numbers))
    ours = {n for n in numbers if n.startswith("280")}
    assert ours <= block and len(ours) == limit - first - len(block & personas.reserved_cmnds())
    # Holders of a CMND-era card with no number: none; citizens of Bình Dương whose first card
    # came from 2016 are many (the young, and those past the block).
    for r in records:
        history = r["card_history"] or []
        kinds = [e["kind"] for e in history]
        assert ("cmnd" in kinds) == (r["cmnd"] is not None)
        assert all(e["number"] for e in history)


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
    """One worker stores batches, two append their shards to the file themselves: the same
    rows under the same ids, the same representatives picked (the accounts)."""

    def rows(path: Path) -> list[tuple[object, ...]]:
        db = sqlite3.connect(path)
        found = db.execute("SELECT * FROM citizens ORDER BY id").fetchall()
        db.close()
        return found

    for workers in (1, 2):
        store = SQLiteCitizenStore(tmp_path / f"w{workers}.db")
        seed_store(store, seed=9, size=2500, as_of=AS_OF, workers=workers, shard_size=600)
        store.close()
    assert digest(tmp_path / "w1.db") == digest(tmp_path / "w2.db")
    one = rows(tmp_path / "w1.db")
    assert one == rows(tmp_path / "w2.db")
    assert [r[0] for r in one] == list(range(1, len(one) + 1))


def test_the_picker_takes_the_same_rows_by_batch_or_by_shard() -> None:
    rows = [r for b in population_batches(4, 3000, AS_OF, shard_size=1000) for r in b]
    by_batch = RepresentativePicker(AS_OF, 40)
    for i in range(0, len(rows), 700):
        by_batch.scan(rows[i : i + 700])
    by_shard = RepresentativePicker(AS_OF, 40)
    for i in range(0, len(rows), 1000):  # ids from 1, as a worker gives them
        shard = rows[i : i + 1000]
        for n in by_shard.picks(candidates(shard, by_shard.born_by, i + 1)):
            by_shard.take(rows[n - 1].record)
    assert len(by_batch.picked()) == 40  # enough candidates: the cap is reached
    assert by_batch.full() and by_batch.picks(range(100)) == []  # later rows change nothing
    assert not RepresentativePicker(AS_OF, 1).full()
    assert by_shard.picked() == by_batch.picked()


def test_a_representative_qualifies_by_the_record_s_top_level_fields() -> None:
    """The test from the record's end says what its parsed fields say, for generated citizens
    and the personas (whose records are written by other code)."""
    rows = [r for b in population_batches(5, 3000, AS_OF) for r in b] + persona_rows(AS_OF)
    seen = set()
    for row in rows:
        r = orjson.loads(row.record)
        expected = r["status"] == "alive" and r["eid"] == {"level": 2, "status": "active"}
        assert qualifies(row.record) is expected, r["pin"]
        seen.add(expected)
    assert seen == {True, False}
    record = persona_rows(AS_OF)[0].record
    assert not qualifies(record.replace(b'"eid":', b'"eID":'))  # no top-level e-ID object
    assert not qualifies(b"")


def test_workers_fork_only_where_no_other_thread_runs(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """One thread: the workers are forked; another one running: spawned. The same rows."""
    paths = {}
    for threads, method in ((1, "fork"), (2, "spawn")):
        monkeypatch.setattr(threading, "active_count", lambda n=threads: n)
        assert _context().get_start_method() == method  # the suite runs on Linux
        paths[method] = tmp_path / f"{method}.db"
        store = SQLiteCitizenStore(paths[method])
        seed_store(store, seed=9, size=1200, as_of=AS_OF, workers=2, shard_size=500)
        store.close()
    assert digest(paths["fork"]) == digest(paths["spawn"])


def test_sqlite_bulk_load_builds_the_indexes_after(tmp_path: Path) -> None:
    store = SQLiteCitizenStore(tmp_path / "bulk.db")
    row = CitizenRow("001090000042", None, 1, 1990, b"{}")
    store.begin_bulk()

    def indexes() -> set[str]:
        found = store._db.execute(
            "SELECT name FROM sqlite_master WHERE type = 'index' AND tbl_name = 'citizens'"
        )
        return {str(r[0]) for r in found}

    # Loading into an empty table: only the households' index, whose rows come in order, is
    # maintained row by row.
    assert indexes() == {"citizens_household"}
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


def test_workers_append_their_shards_in_order(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Each shard lands under the ids it would have had from one process, at the table's end;
    no temporary file is made; closing early stops the workers; a failing shard stops the
    seed (the shards after it are not appended)."""
    monkeypatch.setattr("tempfile.tempdir", str(tmp_path / "tmp"))
    (tmp_path / "tmp").mkdir()
    single = [r for b in population_batches(3, 1500, AS_OF, shard_size=500) for r in b]
    store = SQLiteCitizenStore(tmp_path / "s.db")
    store.begin_bulk()
    done = []
    for shard, qualifying in population_into(
        str(tmp_path / "s.db"), 3, 1500, AS_OF, workers=2, first_id=11, shard_size=500
    ):
        done.append(shard.index)
        assert store.next_id() >= 11 + 500 * (shard.index + 1)  # this shard is in (maybe more)
        assert qualifying == sorted(qualifying)
        assert store.records_by_id(qualifying[:2]) == [
            single[i - 11].record for i in qualifying[:2]
        ]
    assert done == [0, 1, 2]
    rows = store._db.execute("SELECT id, pin, record FROM citizens ORDER BY rowid").fetchall()
    assert [r[0] for r in rows] == list(range(11, 1511))
    assert [(f"{r[1]:012d}", r[2]) for r in rows] == [(r.pin, r.record) for r in single]
    assert list((tmp_path / "tmp").iterdir()) == []
    store.close()
    early = SQLiteCitizenStore(tmp_path / "early.db")
    early.begin_bulk()
    shards = population_into(
        str(tmp_path / "early.db"), 3, 1500, AS_OF, workers=2, first_id=1, shard_size=500
    )
    next(shards)
    shards.close()
    assert early.count() in (500, 1000)  # the shard being written when it closed may land
    early.close()
    (tmp_path / "ro").mkdir()
    with pytest.raises(sqlite3.OperationalError):  # no such table: the first shard fails
        list(
            population_into(
                str(tmp_path / "ro" / "none.db"),
                3,
                1500,
                AS_OF,
                workers=2,
                first_id=1,
                shard_size=500,
            )
        )


def test_turns_stop_the_later_shards() -> None:
    turns = Turns(multiprocessing.get_context("spawn"))
    turns.wait(0)
    turns.done(0, ok=True)
    turns.wait(1)
    turns.done(1, ok=False)
    with pytest.raises(SeedStopped):
        turns.wait(2)
    turns = Turns(multiprocessing.get_context("spawn"))
    turns.stop()
    turns.done(0, ok=True)  # a shard finishing after the stop does not restart the others
    with pytest.raises(SeedStopped):
        turns.wait(1)


def test_a_shard_is_appended_with_its_ids(tmp_path: Path) -> None:
    rows = [CitizenRow(f"0010900000{n:02d}", None, n, 1990, b'{"n":%d}' % n) for n in range(6)]
    store = SQLiteCitizenStore(tmp_path / "store.db")  # indexes kept: maintained row by row
    append_shard(str(tmp_path / "store.db"), [rows[:2], rows[2:4]], 5)
    assert store.next_id() == 9
    append_shard(str(tmp_path / "store.db"), [rows[4:]], 9)
    assert store.get("001090000005") == b'{"n":5}'
    assert store.records_by_id([9, 5]) == [b'{"n":4}', b'{"n":0}']
    with pytest.raises(sqlite3.IntegrityError):
        append_shard(str(tmp_path / "store.db"), [rows[4:]], 9)  # the same ids again
    assert store.count() == 6  # the failed shard left nothing
    store.close()

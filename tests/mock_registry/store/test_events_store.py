"""The write path's store contract (civil-status events), run against SQLite and PostgreSQL.

Both backends hold the same small population (seed 6, 300 citizens and the personas), so their
``records()`` digests compare and a dump of one loads into the other. PostgreSQL works in a
throwaway database of this module (emptied of events before each test); without
``SIM06_TEST_POSTGRES_URL`` its cases are skipped.
"""

from __future__ import annotations

import hashlib
import sqlite3
import threading
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import orjson
import pytest

from sim06.mock_registry.events import Birth, BirthResidence, Death, EventContext, EventRefused
from sim06.mock_registry.seed import seed_store
from sim06.mock_registry.store import SQLiteCitizenStore
from sim06.mock_registry.store.base import OVERLAY_TABLES
from sim06.mock_registry.store.events import fingerprint
from tests.backends import NO_POSTGRES, POSTGRES_URL, needs_postgres
from tests.mock_registry.store.conftest import throwaway_database

SEED, SIZE, AS_OF = 6, 300, date(2026, 7, 1)
# A fixed clock after the example birth: the events and their answers are reproducible.
NOW = datetime(2026, 12, 1, 2, 0, tzinfo=UTC)
CTX = EventContext(seed=SEED, now=NOW, actor="test")
MOTHER = "001195208733"  # persona level1-only: Trần Thị Bình, married to FATHER
FATHER = "001090104217"  # persona adult-level2: Nguyễn Văn An
HANOI_BA_DINH = "00004"  # Phường Ba Đình, Hà Nội


def birth(given: str = "Anh", day: date = date(2026, 11, 30), **extra: Any) -> Birth:
    return Birth(
        family="Nguyễn",
        middle="Minh",
        given=given,
        sex="female",
        date_of_birth=day,
        place_of_birth="Bệnh viện Phụ sản Hà Nội",
        registration_commune_code=HANOI_BA_DINH,
        mother_pin=MOTHER,
        **extra,
    )


def commit(store: Any, key: str, event: Any, ctx: EventContext = CTX) -> Any:
    """``store.commit_event`` with the request's fingerprint made of the key and the event."""
    return store.commit_event(key, fingerprint(repr(event).encode()), event, ctx)


def digest(store: Any) -> str:
    h = hashlib.sha256()
    for record in store.records():
        h.update(record)
        h.update(b"\n")
    return h.hexdigest()


def feed(store: Any, after: int = 0) -> list[dict[str, Any]]:
    return [orjson.loads(item) for item in store.changes(after, 10_000)]


# -- fixtures ------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def pristine_db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A SQLite file of the population, never written by an event (copied per test)."""
    path = tmp_path_factory.mktemp("events") / "pristine.db"
    store = SQLiteCitizenStore(path)
    seed_store(store, seed=SEED, size=SIZE, as_of=AS_OF)
    store.close()
    return path


@pytest.fixture(scope="module")
def fresh_digest(pristine_db: Path) -> str:
    """The ``records()`` digest of the freshly seeded population."""
    store = SQLiteCitizenStore(pristine_db, readonly=True)
    try:
        return digest(store)
    finally:
        store.close()


@pytest.fixture(scope="module")
def pg_events_url() -> Iterator[str]:
    """A PostgreSQL database of this module, seeded like ``pristine_db``."""
    if POSTGRES_URL is None:
        pytest.skip(NO_POSTGRES)
    from sim06.mock_registry.store.postgres import seed_postgres

    with throwaway_database(POSTGRES_URL) as url:
        assert seed_postgres(url, seed=SEED, size=SIZE, as_of=AS_OF, replace=True) is not None
        yield url


def sqlite_copy(pristine_db: Path, path: Path) -> SQLiteCitizenStore:
    source = sqlite3.connect(f"file:{pristine_db}?mode=ro", uri=True)
    target = sqlite3.connect(path)
    try:
        source.backup(target)
    finally:
        source.close()
        target.close()
    return SQLiteCitizenStore(path)


def postgres_store(url: str, *, pool_size: int = 4) -> Any:
    """The module's database with no event and no snapshot, as after seeding."""
    import psycopg

    from sim06.mock_registry.store.postgres import PostgresCitizenStore

    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(f"TRUNCATE {', '.join([*OVERLAY_TABLES, 'snapshots'])}")
    return PostgresCitizenStore(url, pool_size=pool_size)


@pytest.fixture(params=["sqlite", "postgres"])
def store(request: pytest.FixtureRequest, pristine_db: Path, tmp_path: Path) -> Iterator[Any]:
    """A writable store of each backend holding the fresh population."""
    if request.param == "sqlite":
        s = sqlite_copy(pristine_db, tmp_path / "population.db")
    else:
        s = postgres_store(request.getfixturevalue("pg_events_url"))
    yield s
    s.close()


# -- the contract --------------------------------------------------------------------------


def test_a_birth_gets_a_pin_that_get_returns(store: Any, fresh_digest: str) -> None:
    assert digest(store) == fresh_digest and store.feed_head() == 0
    before = store.count()
    committed = commit(store, "birth-1", birth())
    assert committed.status == 201 and committed.replayed is False
    body = orjson.loads(committed.body)
    pin = body["pin"]
    assert body["type"] == "birth" and body["cursor"] == "1"
    assert len(pin) == 12 and pin.startswith("001")  # Hà Nội, then 3 (female, 21st c.), 26
    assert pin[3:6] == "326"
    record = store.get(pin)
    assert record is not None
    child = orjson.loads(record)
    assert child["name"]["full"] == "Nguyễn Minh Anh" and child["mother"]["pin"] == MOTHER
    mother = orjson.loads(store.get(MOTHER))
    assert {"pin": pin, "full_name": "Nguyễn Minh Anh"} in mother["children"]
    assert store.count() == before + 1
    pins = [orjson.loads(r)["pin"] for r in store.records()]
    assert pin in pins and pins == sorted(pins) and len(pins) == before + 1
    assert store.feed_head() == 1
    assert [(i["cursor"], i["type"], i["pin"]) for i in feed(store)] == [("1", "birth", pin)]


def test_a_birth_joins_the_mothers_household(store: Any) -> None:
    mother = orjson.loads(store.get(MOTHER))
    household_id = mother["household"]["id"]
    members = [orjson.loads(r)["pin"] for r in store.household(household_id)]
    event = birth(residence=BirthResidence(with_pin=MOTHER))
    pin = orjson.loads(commit(store, "birth-home", event).body)["pin"]
    after = [orjson.loads(r) for r in store.household(household_id)]
    assert [m["pin"] for m in after] == sorted([*members, pin])
    # Every member is read in its current version: the mother's lists the child.
    by_pin = {m["pin"]: m for m in after}
    assert by_pin[MOTHER]["children"][-1]["pin"] == pin
    assert by_pin[pin]["household"]["id"] == household_id


def test_the_same_key_twice_replays_the_first_answer(store: Any) -> None:
    before = store.count()
    first = commit(store, "birth-once", birth())
    again = commit(store, "birth-once", birth())
    assert again.replayed is True and (again.status, again.body) == (first.status, first.body)
    assert store.count() == before + 1 and store.feed_head() == 1


def test_the_same_key_with_another_body_is_refused(store: Any) -> None:
    commit(store, "birth-key", birth())
    head, snapshot = store.feed_head(), digest(store)
    with pytest.raises(EventRefused) as refused:
        commit(store, "birth-key", birth(given="Bình"))
    assert refused.value.code == "IDEMPOTENCY_KEY_REUSED"
    assert store.feed_head() == head and digest(store) == snapshot


def test_a_refused_event_writes_nothing(store: Any, fresh_digest: str) -> None:
    death = Death(
        pin=MOTHER,
        date_of_death=date(1990, 1, 1),  # before her birth in 1995
        place_of_death="Hà Nội",
        registration_reference="KT-1",
    )
    with pytest.raises(EventRefused) as refused:
        commit(store, "death-early", death)
    assert refused.value.code == "EVENT_DEATH_BEFORE_BIRTH"
    assert digest(store) == fresh_digest and store.feed_head() == 0
    # The key was not kept: it can carry a valid event (and the writers' lock was let go).
    fixed = Death(MOTHER, date(2026, 11, 1), "Hà Nội", "KT-1")
    assert commit(store, "death-early", fixed).replayed is False
    assert orjson.loads(store.get(MOTHER))["status"] == "deceased"


def test_a_refusal_after_the_writes_rolls_them_back(
    store: Any, fresh_digest: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The overlay row, feed row and birth index are written when the answer is built: a
    # refusal then must take them back, and the PIN counter with them.
    import sim06.mock_registry.store.events as events

    def refuse(_decision: object, _raws: object) -> None:
        raise EventRefused("TEST_REFUSAL", "refused after the writes")

    with monkeypatch.context() as patched:
        patched.setattr(events, "record_digests", refuse)
        with pytest.raises(EventRefused, match="after the writes"):
            commit(store, "birth-late", birth())
    assert digest(store) == fresh_digest and store.feed_head() == 0
    assert store.changes(0, 10) == []
    committed = orjson.loads(commit(store, "birth-late", birth()).body)
    assert committed["cursor"] == "1"  # not a duplicate birth, not a cursor skipped
    data = orjson.loads(store.dump_events())
    assert sorted(row[0] for row in data["overlay"]) == sorted([int(committed["pin"]), int(MOTHER)])
    assert [row[1] for row in data["pin_serials"]] == [1]  # the first serial, taken once


def test_changes_pages_are_gap_free_and_resumable(store: Any) -> None:
    pins = []
    for i in range(7):
        moment = CTX.now + timedelta(minutes=i)
        event = birth(given=f"Anh{chr(0x41 + i)}")
        ctx = EventContext(seed=SEED, now=moment, actor="test")
        pins.append(orjson.loads(commit(store, f"page-{i}", event, ctx).body)["pin"])
    assert store.feed_head() == 7
    seen: list[dict[str, Any]] = []
    after = 0
    while page := store.changes(after, 3):
        items = [orjson.loads(i) for i in page]
        seen += items
        after = int(items[-1]["cursor"])  # resume from the last cursor read
    assert [int(i["cursor"]) for i in seen] == list(range(1, 8))
    assert [i["pin"] for i in seen] == pins
    times = [i["time"] for i in seen]
    assert times == sorted(times)
    assert feed(store, 4) == seen[4:]
    assert store.changes(7, 3) == []
    # A time maps to the cursor before its first change.
    assert store.change_cursor_at(times[3]) == 3
    assert store.change_cursor_at("2000-01-01T00:00:00.000000Z") == 0
    assert store.change_cursor_at("2100-01-01T00:00:00.000000Z") == store.feed_head() == 7


def test_reset_brings_back_the_fresh_population(store: Any, fresh_digest: str) -> None:
    count = store.count()
    pin = orjson.loads(commit(store, "birth-r", birth()).body)["pin"]
    commit(store, "death-r", Death(FATHER, date(2026, 11, 2), "Hà Nội", "KT-2"))
    assert digest(store) != fresh_digest
    store.reset_events()
    assert digest(store) == fresh_digest and store.count() == count
    assert store.get(pin) is None and store.feed_head() == 0 and store.changes(0, 10) == []
    # Everything went, the idempotency keys and PIN counters too: the same birth again gets
    # the same answer, as on a fresh store.
    again = commit(store, "birth-r", birth())
    assert again.replayed is False and orjson.loads(again.body)["pin"] == pin


def test_snapshots_round_trip(store: Any, fresh_digest: str) -> None:
    assert store.snapshot_names() == []
    assert store.restore_snapshot("missing") is False
    store.save_snapshot("empty")
    commit(store, "birth-s1", birth())
    one = digest(store)
    store.save_snapshot("one")
    commit(store, "birth-s2", birth(given="Bình"))
    two = digest(store)
    assert len({fresh_digest, one, two}) == 3
    assert store.restore_snapshot("one") is True
    assert digest(store) == one and store.feed_head() == 1
    assert commit(store, "birth-s1", birth()).replayed is True  # its keys came back too
    store.save_snapshot("one")  # replaces
    assert store.snapshot_names() == ["empty", "one"]
    assert store.restore_snapshot("empty") is True
    assert digest(store) == fresh_digest and store.feed_head() == 0
    assert store.restore_snapshot("one") is True and digest(store) == one


# -- across backends and writers (PostgreSQL) ----------------------------------------------


def canonical(dump: bytes) -> dict[str, list[list[Any]]]:
    """A dump with its rows sorted (SQLite keeps insertion order, PostgreSQL key order)."""
    data: dict[str, list[list[Any]]] = orjson.loads(dump)
    return {table: sorted(rows, key=lambda r: str(r[0])) for table, rows in data.items()}


def some_events(store: Any) -> None:
    commit(store, "x-birth", birth(residence=BirthResidence(with_pin=MOTHER)))
    commit(store, "x-death", Death(FATHER, date(2026, 11, 2), "Hà Nội", "KT-3"))
    commit(store, "x-birth-2", birth(given="Bình", day=date(2026, 11, 1)))


@needs_postgres
def test_a_sqlite_dump_loads_into_postgres(
    pristine_db: Path, tmp_path: Path, pg_events_url: str, fresh_digest: str
) -> None:
    lite = sqlite_copy(pristine_db, tmp_path / "population.db")
    pg = postgres_store(pg_events_url)
    try:
        assert digest(pg) == fresh_digest
        some_events(lite)
        pg.load_events(lite.dump_events())
        assert digest(pg) == digest(lite) != fresh_digest
        assert pg.count() == lite.count() and pg.feed_head() == lite.feed_head() == 3
        assert pg.changes(0, 100) == lite.changes(0, 100)
        assert canonical(pg.dump_events()) == canonical(lite.dump_events())
        # Both go on alike from there: the same next event, the same answer and PIN.
        assert commit(pg, "x-birth-3", birth(given="Chi")) == commit(
            lite, "x-birth-3", birth(given="Chi")
        )
        assert commit(pg, "x-birth", birth(residence=BirthResidence(MOTHER))).replayed is True
        # And back: PostgreSQL's dump loads into SQLite.
        lite.reset_events()
        lite.load_events(pg.dump_events())
        assert digest(lite) == digest(pg) and lite.changes(0, 100) == pg.changes(0, 100)
    finally:
        lite.close()
        pg.close()


@needs_postgres
def test_concurrent_writers_get_distinct_pins_and_a_gap_free_feed(pg_events_url: str) -> None:
    # Two stores (two pools, as two replicas) written by eight threads at once.
    replicas = [postgres_store(pg_events_url, pool_size=4) for _ in range(2)]
    count = replicas[0].count()
    children = len(orjson.loads(replicas[0].get(MOTHER))["children"])
    answers: list[dict[str, Any]] = []
    errors: list[BaseException] = []
    lock = threading.Lock()

    def write(worker: int) -> None:
        try:
            for i in range(worker, 200, 8):
                event = birth(day=date(2026, 1, 1) + timedelta(days=i))  # 200 distinct births
                body = orjson.loads(commit(replicas[worker % 2], f"c-{i}", event).body)
                with lock:
                    answers.append(body)
        except BaseException as exc:  # reported by the main thread
            errors.append(exc)

    threads = [threading.Thread(target=write, args=(w,)) for w in range(8)]
    try:
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert errors == []
        assert len({a["pin"] for a in answers}) == 200
        assert sorted(int(a["cursor"]) for a in answers) == list(range(1, 201))
        items = feed(replicas[1])
        assert [int(i["cursor"]) for i in items] == list(range(1, 201))
        assert {i["pin"] for i in items} == {a["pin"] for a in answers}
        times = [i["time"] for i in items]
        assert times == sorted(times)
        assert replicas[0].count() == count + 200 and replicas[0].feed_head() == 200
        mother = orjson.loads(replicas[1].get(MOTHER))
        assert len(mother["children"]) == children + 200  # no lost update of the mother
    finally:
        for r in replicas:
            r.close()

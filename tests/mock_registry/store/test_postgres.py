"""What only the PostgreSQL store has: migrations, bulk-load indexes, seeding a shared database."""

from __future__ import annotations

from datetime import date

import pytest

from tests.backends import POSTGRES_URL, needs_postgres
from tests.mock_registry.store.conftest import throwaway_database

pytestmark = needs_postgres

psycopg = pytest.importorskip("psycopg", reason="psycopg is not installed")

from sim06.mock_registry.store.postgres import (  # noqa: E402
    PostgresCitizenStore,
    apply_migrations,
    migrations,
    seed_postgres,
)

AS_OF = date(2026, 7, 1)


def index_names(url: str) -> set[str]:
    with psycopg.connect(url) as conn:
        rows = conn.execute("SELECT indexname FROM pg_indexes WHERE tablename = 'citizens'")
        return {r[0] for r in rows}


def test_migrations_are_numbered_and_applied_once(pg_scratch_url: str) -> None:
    found = migrations()
    assert found and [v for v, _, _ in found] == sorted({v for v, _, _ in found})
    PostgresCitizenStore(pg_scratch_url).close()  # applies them (if not yet)
    with psycopg.connect(pg_scratch_url, autocommit=True) as conn:
        assert apply_migrations(conn) == []  # nothing left to do
        rows = conn.execute("SELECT version, name FROM schema_version ORDER BY version").fetchall()
    assert rows == [(v, n) for v, n, _ in found]


def test_a_fresh_database_gets_every_migration() -> None:
    assert POSTGRES_URL is not None
    with throwaway_database(POSTGRES_URL) as url, psycopg.connect(url, autocommit=True) as conn:
        assert apply_migrations(conn) == [v for v, _, _ in migrations()]
        assert apply_migrations(conn) == []


def test_seed_builds_indexes_and_is_idempotent() -> None:
    assert POSTGRES_URL is not None
    with throwaway_database(POSTGRES_URL) as url:
        done = seed_postgres(url, seed=3, size=500, as_of=AS_OF)
        assert done is not None and done[0].size == 500 and done[1] > 0
        assert index_names(url) == {"citizens_pin", "citizens_cmnd", "citizens_household"}
        # Same population: nothing to do (a compose seed job runs at every start).
        assert seed_postgres(url, seed=3, size=500, as_of=AS_OF) is None
        # Another population is refused, unless asked to replace it.
        with pytest.raises(ValueError, match="already holds another population"):
            seed_postgres(url, seed=4, size=200, as_of=AS_OF)
        again = seed_postgres(url, seed=4, size=200, as_of=AS_OF, replace=True)
        assert again is not None
        store = PostgresCitizenStore(url)
        try:
            assert store.count() == 200 + again[0].personas
            assert store.get_meta("seed") == "4"
            assert store.size_bytes() > 0
        finally:
            store.close()


def test_interrupted_bulk_load_gets_its_indexes_back(pg_scratch_url: str) -> None:
    store = PostgresCitizenStore(pg_scratch_url)
    try:
        store.truncate()
        store.begin_bulk()
        assert index_names(pg_scratch_url) == set()
        store.close()  # the loader dies here
        store = PostgresCitizenStore(pg_scratch_url)
        store.finish_load()
        assert index_names(pg_scratch_url) == {
            "citizens_pin",
            "citizens_cmnd",
            "citizens_household",
        }
        assert store.get_meta("_bulk_dropped_indexes") is None
    finally:
        store.close()


def test_records_are_compressed_inline_not_toasted(pg_seeded_url: str) -> None:
    # One heap page per lookup: no record may live out of line in the TOAST table.
    with psycopg.connect(pg_seeded_url) as conn:
        toasted = conn.execute(
            "SELECT count(*) FROM citizens WHERE pg_column_size(record) > 2000"
        ).fetchone()
        ratio = conn.execute(
            "SELECT sum(pg_column_size(record))::float / sum(octet_length(record)) FROM citizens"
        ).fetchone()
    assert toasted == (0,)
    assert ratio is not None and ratio[0] < 0.7


def test_ping_is_false_when_the_server_is_gone(pg_scratch_url: str) -> None:
    store = PostgresCitizenStore(pg_scratch_url)
    assert store.ping() is True
    store.close()
    assert store.ping() is False


def test_bulk_load_errors_reach_the_caller(pg_scratch_url: str) -> None:
    from tests.mock_registry.store.test_store_contract import row

    store = PostgresCitizenStore(pg_scratch_url)
    try:
        store.truncate()
        store.begin_bulk()
        store.add([row("001090000001"), row("001090000002")])
        store.add([row("001090000001")])  # duplicate: found when the unique index is built
        with pytest.raises(psycopg.errors.UniqueViolation):
            store.finish_load()
        store.truncate()
        store.finish_load()  # the kept definitions still bring the indexes back
        assert "citizens_pin" in index_names(pg_scratch_url)
        store.begin_bulk()
        store.add([row("not-a-pin")])  # fails on the writer thread
        with pytest.raises(ValueError):
            for _ in range(3):
                store.add([row("001090000003")])
            store.finish_load()
    finally:
        store.close()

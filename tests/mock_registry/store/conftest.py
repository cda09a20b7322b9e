"""Store fixtures: the SQLite and PostgreSQL backends, seeded alike, for the contract tests.

PostgreSQL tests need ``SIM06_TEST_POSTGRES_URL`` (``eval "$(bash scripts/start-backends.sh)"``);
each test session works in a throwaway database created from it and dropped at the end.
"""

from __future__ import annotations

import secrets
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date
from pathlib import Path
from typing import Any

import pytest

from sim06.mock_registry.store import CitizenStore, SQLiteCitizenStore
from tests.backends import NO_POSTGRES, POSTGRES_URL

# Read at import: the autouse clean_environ fixture removes SIM06_* variables from each test.
SEED, SIZE, AS_OF = 6, 3000, date(2026, 7, 1)  # as tests/conftest.py's seeded_db


@contextmanager
def throwaway_database(admin_url: str) -> Iterator[str]:
    """Create an empty database next to ``admin_url``'s, yield its conninfo, drop it after."""
    psycopg = pytest.importorskip("psycopg", reason="psycopg is not installed")
    name = "sim06_test_" + secrets.token_hex(6)
    with psycopg.connect(admin_url, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    try:
        yield psycopg.conninfo.make_conninfo(admin_url, dbname=name)
    finally:
        _drop(psycopg, admin_url, name)


def _drop(psycopg: Any, admin_url: str, name: str) -> None:
    # FORCE cannot end a session of another role (an autovacuum worker that just started on
    # the new database): wait for it to finish. A database left behind only costs disk.
    for _ in range(20):
        with psycopg.connect(admin_url, autocommit=True) as conn:
            try:
                conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
                return
            except psycopg.errors.InsufficientPrivilege:
                pass
        time.sleep(0.25)


@pytest.fixture(scope="session")
def pg_seeded_url() -> Iterator[str]:
    """A PostgreSQL database seeded like ``seeded_db``."""
    if POSTGRES_URL is None:
        pytest.skip(NO_POSTGRES)
    from sim06.mock_registry.store.postgres import seed_postgres

    with throwaway_database(POSTGRES_URL) as url:
        assert seed_postgres(url, seed=SEED, size=SIZE, as_of=AS_OF) is not None
        yield url


@pytest.fixture(scope="session")
def pg_scratch_url() -> Iterator[str]:
    """An unseeded PostgreSQL database for tests that write."""
    if POSTGRES_URL is None:
        pytest.skip(NO_POSTGRES)
    with throwaway_database(POSTGRES_URL) as url:
        yield url


@pytest.fixture(params=["sqlite", "postgres"])
def seeded(request: pytest.FixtureRequest, seeded_db: Path) -> Iterator[CitizenStore]:
    """The seeded population, read through each backend."""
    store: CitizenStore
    if request.param == "sqlite":
        store = SQLiteCitizenStore(seeded_db, readonly=True)
    else:
        from sim06.mock_registry.store.postgres import PostgresCitizenStore

        store = PostgresCitizenStore(request.getfixturevalue("pg_seeded_url"))
    yield store
    store.close()


@pytest.fixture(params=["sqlite", "postgres"])
def empty(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[CitizenStore]:
    """An empty store of each backend (PostgreSQL: the scratch database, emptied)."""
    store: CitizenStore
    if request.param == "sqlite":
        store = SQLiteCitizenStore(tmp_path / "scratch.db")
    else:
        from sim06.mock_registry.store.postgres import PostgresCitizenStore

        pg = PostgresCitizenStore(request.getfixturevalue("pg_scratch_url"))
        pg.truncate()
        store = pg
    yield store
    store.close()

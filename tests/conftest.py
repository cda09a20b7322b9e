"""Shared fixtures: isolated settings, a small seeded store, app factories."""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from datetime import date
from pathlib import Path

import pytest

from sim06.mock_registry.seed import seed_store
from sim06.mock_registry.store import SQLiteCitizenStore
from sim06.services.common.settings import Settings

SMALL_POPULATION = 3000


@pytest.fixture(autouse=True)
def clean_environ(monkeypatch: pytest.MonkeyPatch) -> None:
    """No SIM06_* variable of the developer's shell may change a test's result."""
    for name in list(os.environ):
        if name.startswith("SIM06_"):
            monkeypatch.delenv(name)


@pytest.fixture(scope="session")
def seeded_db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A database with the personas and a small generated population (built once)."""
    path = tmp_path_factory.mktemp("db") / "population.db"
    store = SQLiteCitizenStore(path)
    seed_store(store, seed=6, size=SMALL_POPULATION, as_of=date(2026, 7, 1))
    store.close()
    return path


@pytest.fixture
def settings(tmp_path: Path, seeded_db: Path) -> Settings:
    """Settings pointing at the seeded database and a private data directory."""
    return Settings(data_dir=tmp_path / "data", db_path=seeded_db)


@pytest.fixture
def store(seeded_db: Path) -> Iterator[SQLiteCitizenStore]:
    """A read-only connection to the seeded database."""
    s = SQLiteCitizenStore(seeded_db, readonly=True)
    yield s
    s.close()


@pytest.fixture
def events_db(seeded_db: Path, tmp_path: Path) -> Path:
    """A private copy of the seeded database that civil-status events may write to."""
    copy = tmp_path / "events.db"
    shutil.copyfile(seeded_db, copy)
    return copy


@pytest.fixture
def events_settings(tmp_path: Path, events_db: Path) -> Settings:
    """Settings over :func:`events_db` (the shared seeded file is never written)."""
    return Settings(data_dir=tmp_path / "data", db_path=events_db)

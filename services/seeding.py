"""Seeding the embedded SQLite database, with a progress bar."""

from __future__ import annotations

import sys
import time

from tqdm import tqdm

from sim06.mock_registry.seed import SeedInfo, seed_store
from sim06.mock_registry.store import SQLiteCitizenStore
from sim06.services.common.settings import Settings


def seed_database(settings: Settings, *, progress: bool = True) -> tuple[SeedInfo, float]:
    """Create ``settings.database`` with the personas and the configured population."""
    store = SQLiteCitizenStore(settings.database)
    started = time.perf_counter()
    bar = tqdm(
        total=settings.population_size,
        unit=" citizens",
        unit_scale=True,
        disable=not progress,
        file=sys.stderr,
        desc="seeding",
    )
    try:
        info = seed_store(
            store,
            seed=settings.seed,
            size=settings.population_size,
            as_of=settings.as_of,
            progress=lambda n: None if bar.update(n) else None,
        )
    finally:
        bar.close()
        store.close()
    return info, time.perf_counter() - started


def ensure_seeded(settings: Settings, *, progress: bool = True) -> bool:
    """Seed the database if it does not exist or is empty; True when it seeded."""
    path = settings.database
    if path.exists():
        store = SQLiteCitizenStore(path)
        try:
            if store.get_meta("citizens") is not None:
                return False
        finally:
            store.close()
        for suffix in ("", "-wal", "-shm"):
            path.with_name(path.name + suffix).unlink(missing_ok=True)
    seed_database(settings, progress=progress)
    return True

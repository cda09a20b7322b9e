"""A seeding worker appending its population shard to the SQLite store's file.

Workers take turns in shard order (``seed_workers.population_into``), so the table grows at its
end as if one process had inserted every row; each row carries the id it would have had. The
store's connection in the seeding process stays open, without a transaction, meanwhile.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable, Sequence

from sim06.mock_registry.store.base import CitizenRow
from sim06.mock_registry.store.sqlite import LOAD_CACHE_KIB

INSERT = (
    "INSERT INTO citizens (id, pin, cmnd, household_id, birth_year, record) "
    "VALUES (?, ?, ?, ?, ?, ?)"
)


def append_shard(path: str, batches: Iterable[Sequence[CitizenRow]], first_id: int) -> None:
    """Insert the rows of ``batches`` into the ``citizens`` table of the SQLite file ``path``
    in one transaction, ids from ``first_id``."""
    # The seeding process may be reading a few records: wait for it rather than fail.
    db = sqlite3.connect(path, isolation_level=None, timeout=120)
    try:
        # As the store's begin_bulk: no journal (a failed seed is started again, never
        # repaired), no sync, SQLite's small page cache. A file still in WAL mode (no bulk
        # load begun) keeps it: leaving WAL needs the file to itself.
        if db.execute("PRAGMA journal_mode").fetchall()[0][0] != "wal":
            db.execute("PRAGMA journal_mode=OFF")
        db.execute("PRAGMA synchronous=OFF")
        db.execute(f"PRAGMA cache_size={LOAD_CACHE_KIB}")
        db.execute("BEGIN IMMEDIATE")
        try:
            n = first_id
            for batch in batches:
                db.executemany(
                    INSERT,
                    ((n + i, int(r.pin), r.cmnd, r.household_id, r.birth_year, r.record)
                     for i, r in enumerate(batch)),
                )  # fmt: skip
                n += len(batch)
        except BaseException:
            db.execute("ROLLBACK")
            raise
        db.execute("COMMIT")
    finally:
        db.close()

"""SQLite implementation of :class:`CitizenStore` (the embedded default).

Rows are appended in generation order (fast bulk loads: the big records are written
sequentially) and found through small indexes on the PIN (stored as an integer: 12 digits fit),
the old CMND and the household; a lookup is two B-tree seeks whatever the population size. WAL
lets readers run while a seed writes.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable, Iterator
from pathlib import Path

from mock_registry.store.base import CitizenRow

SCHEMA = """
CREATE TABLE IF NOT EXISTS citizens (
    id INTEGER PRIMARY KEY,
    pin INTEGER NOT NULL,             -- số định danh cá nhân as a number (leading zeros restored)
    cmnd TEXT,                        -- số CMND 9 số
    household_id INTEGER,             -- hộ gia đình
    birth_year INTEGER NOT NULL,
    record BLOB NOT NULL              -- JSON of the wire record
);
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE UNIQUE INDEX IF NOT EXISTS citizens_pin ON citizens(pin);
CREATE INDEX IF NOT EXISTS citizens_cmnd ON citizens(cmnd) WHERE cmnd IS NOT NULL;
CREATE INDEX IF NOT EXISTS citizens_household ON citizens(household_id);
"""


class SQLiteCitizenStore:
    """Citizen store in one SQLite file (or ``:memory:``)."""

    def __init__(self, path: Path | str, *, readonly: bool = False) -> None:
        self.path = str(path)
        if readonly:
            uri = f"file:{Path(self.path).resolve()}?mode=ro"
            self._db = sqlite3.connect(uri, uri=True, check_same_thread=False)
        else:
            if self.path != ":memory:":
                Path(self.path).parent.mkdir(parents=True, exist_ok=True)
            # check_same_thread=False: the services use the connection from the event loop thread,
            # but tests may open it in another thread first.
            self._db = sqlite3.connect(self.path, check_same_thread=False)
            # Records are about 2 KB: with the default 4 KB pages only one fits per page and half
            # the file is empty. 16 KB pages hold seven or eight. (Only takes effect on a new file.)
            self._db.execute("PRAGMA page_size=16384")
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.executescript(SCHEMA)
        self._db.execute("PRAGMA synchronous=NORMAL")
        self._db.execute("PRAGMA cache_size=-65536")  # 64 MiB page cache
        # Map the whole file (up to 8 GiB): reads become memory loads, not pread() calls.
        self._db.execute("PRAGMA mmap_size=8589934592")

    def get(self, pin: str) -> bytes | None:
        """The JSON record of ``pin`` (12 ASCII digits), or None."""
        row = self._db.execute("SELECT record FROM citizens WHERE pin = ?", (int(pin),)).fetchone()
        return None if row is None else bytes(row[0])

    def get_by_cmnd(self, cmnd: str) -> bytes | None:
        """The JSON record of the holder of an old 9-digit CMND, or None."""
        row = self._db.execute(
            "SELECT record FROM citizens WHERE cmnd = ? ORDER BY pin LIMIT 1", (cmnd,)
        ).fetchone()
        return None if row is None else bytes(row[0])

    def household(self, household_id: int) -> list[bytes]:
        """JSON records of the members of a household, by PIN."""
        rows = self._db.execute(
            "SELECT record FROM citizens WHERE household_id = ? ORDER BY pin", (household_id,)
        ).fetchall()
        return [bytes(r[0]) for r in rows]

    def add(self, rows: Iterable[CitizenRow]) -> None:
        """Insert citizens in one transaction; a PIN already present is an error."""
        with self._db:
            self._db.executemany(
                "INSERT INTO citizens (pin, cmnd, household_id, birth_year, record) "
                "VALUES (?, ?, ?, ?, ?)",
                ((int(r.pin), r.cmnd, r.household_id, r.birth_year, r.record) for r in rows),
            )

    def begin_bulk(self) -> None:
        """Relax durability for a bulk load (the file is rebuilt from the seed if it is lost).

        Memory-mapping is off while loading: mapped pages of a multi-GB file would count as the
        process's resident memory.
        """
        self._db.execute("PRAGMA synchronous=OFF")
        self._db.execute("PRAGMA mmap_size=0")
        # No journal while loading: WAL would write every page twice.
        self._db.execute("PRAGMA journal_mode=OFF")

    def finish_load(self) -> None:
        """Refresh the planner's statistics after a bulk load."""
        self._db.execute("ANALYZE")
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=NORMAL")
        self._db.commit()

    def records(self) -> Iterator[bytes]:
        """Every JSON record in PIN order (streams; constant memory)."""
        cursor = self._db.execute("SELECT record FROM citizens ORDER BY pin")
        while batch := cursor.fetchmany(2000):
            for (record,) in batch:
                yield bytes(record)

    def count(self) -> int:
        """Number of citizens."""
        return int(self._db.execute("SELECT count(*) FROM citizens").fetchone()[0])

    def get_meta(self, key: str) -> str | None:
        """A metadata value, or None."""
        row = self._db.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
        return None if row is None else str(row[0])

    def set_meta(self, key: str, value: str) -> None:
        """Set a metadata value."""
        with self._db:
            self._db.execute(
                "INSERT INTO meta (key, value) VALUES (?, ?) "
                "ON CONFLICT(key) DO UPDATE SET value = excluded.value",
                (key, value),
            )

    def ping(self) -> bool:
        """True when the database answers a trivial query."""
        try:
            self._db.execute("SELECT 1").fetchone()
        except sqlite3.Error:
            return False
        return True

    def close(self) -> None:
        """Close the connection."""
        self._db.close()

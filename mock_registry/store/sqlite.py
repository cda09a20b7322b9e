"""SQLite implementation of :class:`CitizenStore` (the embedded default).

Rows are appended in generation order (fast bulk loads: the big records are written
sequentially) and found through small indexes on the PIN (stored as an integer: 12 digits fit),
the old CMND and the household; a lookup is two B-tree seeks whatever the population size. WAL
lets readers run while a seed writes.
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import orjson

from sim06.mock_registry.store.base import OVERLAY_TABLES, AccountRow, CitizenRow
from sim06.mock_registry.store.sqlite_events import (
    CMND_SQL,
    COUNT_SQL,
    HOUSEHOLD_SQL,
    OVERLAY_SCHEMA,
    RECORDS_SQL,
    SQLiteEventTx,
)

if TYPE_CHECKING:  # the events package imports the citizen model, which imports this package
    from sim06.mock_registry.events import Event, EventContext
    from sim06.mock_registry.store.events import Committed, Outcome, Pending

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
-- e-ID accounts of foreigners and organisations (not in the population database).
CREATE TABLE IF NOT EXISTS eid_accounts (
    identifier TEXT PRIMARY KEY,      -- foreigner's identification number, or tax code
    kind TEXT NOT NULL,               -- foreigner | organisation
    record BLOB NOT NULL              -- JSON of the account record
) WITHOUT ROWID;
"""
# Dropped by begin_bulk on an empty table, built by finish_load (and at every open, so a file
# whose load was cut short still gets them).
INDEXES = """
CREATE UNIQUE INDEX IF NOT EXISTS citizens_pin ON citizens(pin);
CREATE INDEX IF NOT EXISTS citizens_cmnd ON citizens(cmnd) WHERE cmnd IS NOT NULL;
CREATE INDEX IF NOT EXISTS citizens_household ON citizens(household_id);
"""
# Page cache of a connection, in KiB (negative: SQLite's unit then is KiB, not pages).
CACHE_KIB = -262144
# ... and while loading: a bulk load reads and writes each page once, and building an index
# with SQLite's default 2 MB took 1.8-2.3 s of CPU at 1M citizens against 3.0-3.5 s with the
# 256 MiB (whose page buffers are fresh memory to fault in and evict, not reused warm ones).
LOAD_CACHE_KIB = -2048
GET_SQL = (
    "SELECT coalesce((SELECT record FROM overlay WHERE pin = ?1),"
    " (SELECT record FROM citizens WHERE pin = ?1))"
)
GET_BASE_SQL = "SELECT record FROM citizens WHERE pin = ?1"


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
            self._db.executescript(SCHEMA + INDEXES + OVERLAY_SCHEMA)
        self._db.execute("PRAGMA synchronous=NORMAL")
        # A read-only file seeded before the e-ID accounts table existed has none.
        self._accounts = (
            self._db.execute(
                "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'eid_accounts'"
            ).fetchone()
            is not None
        )
        # A read-only file written before the write path existed has no overlay: base reads.
        self._overlay = (
            self._db.execute(
                "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'overlay'"
            ).fetchone()
            is not None
        )
        self._write_lock = threading.Lock()
        # Up to 256 MiB of page cache, filled only as pages are read: a large population's hot
        # citizens then cost B-tree steps in memory, not a pread() and a 16 KB copy per page
        # (at 10M citizens, 5,000 warm lookups took 15.5 µs each with 64 MiB, 8.5 with 256).
        self._db.execute(f"PRAGMA cache_size={CACHE_KIB}")
        # Map the file: reads become memory loads, not pread() calls. SQLite's build caps the
        # map (2 GiB with Python's sqlite3 here); beyond it the page cache above serves.
        self._db.execute("PRAGMA mmap_size=8589934592")

    def get(self, pin: str) -> bytes | None:
        """The JSON record of ``pin`` (12 ASCII digits), or None; an event's version first."""
        if self._overlay:
            # coalesce evaluates lazily: a citizen no event touched costs one more B-tree seek
            # into the (small) overlay.
            row = self._db.execute(GET_SQL, (int(pin),)).fetchone()
        else:
            row = self._db.execute(GET_BASE_SQL, (int(pin),)).fetchone()
        return None if row is None or row[0] is None else bytes(row[0])

    def get_by_cmnd(self, cmnd: str) -> bytes | None:
        """The JSON record of the holder of an old 9-digit CMND, or None."""
        row = self._db.execute(
            CMND_SQL
            if self._overlay
            else "SELECT record FROM citizens WHERE cmnd = ?1 ORDER BY pin LIMIT 1",
            (cmnd,),
        ).fetchone()
        return None if row is None else bytes(row[0])

    def household(self, household_id: int) -> list[bytes]:
        """JSON records of the members of a household, by PIN."""
        rows = self._db.execute(
            HOUSEHOLD_SQL
            if self._overlay
            else "SELECT record FROM citizens WHERE household_id = ?1 ORDER BY pin",
            (household_id,),
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

    def next_id(self) -> int:
        """The id the next citizen appended gets."""
        return int(self._db.execute("SELECT coalesce(max(id), 0) + 1 FROM citizens").fetchone()[0])

    def records_by_id(self, ids: Iterable[int]) -> list[bytes]:
        """The records of the citizens ``ids`` (as :meth:`next_id` numbers them), in order."""
        query = "SELECT record FROM citizens WHERE id = ?"
        # fetchall: no statement is left open, so no lock held while seeding workers write.
        return [bytes(self._db.execute(query, (i,)).fetchall()[0][0]) for i in ids]

    def add_accounts(self, rows: Iterable[AccountRow]) -> None:
        """Insert e-ID accounts of foreigners and organisations in one transaction."""
        with self._db:
            self._db.executemany(
                "INSERT INTO eid_accounts (identifier, kind, record) VALUES (?, ?, ?)",
                ((r.identifier, r.kind, r.record) for r in rows),
            )

    def get_account(self, identifier: str) -> bytes | None:
        """The JSON record of a foreigner's or an organisation's e-ID account, or None."""
        if not self._accounts:
            return None
        row = self._db.execute(
            "SELECT record FROM eid_accounts WHERE identifier = ?", (identifier,)
        ).fetchone()
        return None if row is None else bytes(row[0])

    def accounts(self) -> Iterator[bytes]:
        """Every e-ID account of a foreigner or an organisation, by identifier."""
        if not self._accounts:
            return
        cursor = self._db.execute("SELECT record FROM eid_accounts ORDER BY identifier")
        while batch := cursor.fetchmany(2000):
            for (record,) in batch:
                yield bytes(record)

    def begin_bulk(self) -> None:
        """Relax durability for a bulk load (the file is rebuilt from the seed if it is lost).

        Memory-mapping is off while loading: mapped pages of a multi-GB file would count as the
        process's resident memory.
        """
        self._db.execute("PRAGMA synchronous=OFF")
        self._db.execute("PRAGMA mmap_size=0")
        self._db.execute(f"PRAGMA cache_size={LOAD_CACHE_KIB}")
        # Seeding workers may append to the file meanwhile (seed_workers.population_into): a
        # read here waits for a shard's transaction rather than fail after Python's 5 s.
        self._db.execute("PRAGMA busy_timeout=120000")
        # No journal while loading: WAL would write every page twice.
        self._db.execute("PRAGMA journal_mode=OFF")
        if self._db.execute("SELECT 1 FROM citizens LIMIT 1").fetchone() is None:
            # Into an empty table, building the PIN and CMND indexes once over the loaded rows
            # is about 1.7 times as fast as keeping them up to date row by row (those numbers
            # arrive in no order); a duplicate PIN then fails the unique index in finish_load.
            # Households arrive in order: their index grows at its end, 0.3-0.6 us a row in
            # the workers against a 0.55 s build (a scan of every record) after the last shard.
            with self._db:
                for name in ("citizens_pin", "citizens_cmnd"):
                    self._db.execute(f"DROP INDEX IF EXISTS {name}")

    def finish_load(self) -> None:
        """Build the indexes dropped by begin_bulk, then refresh the planner's statistics."""
        # A helper thread sorts while the statement scans the table: the builds run at the
        # end of a seed, when the seeding workers have stopped (1M: 1.7-1.9 s against 2.0-2.3).
        self._db.execute("PRAGMA threads=2")
        self._db.executescript(INDEXES)
        self._db.execute("PRAGMA threads=0")
        self._db.execute("ANALYZE")
        self._db.execute(f"PRAGMA cache_size={CACHE_KIB}")
        self._db.execute("PRAGMA busy_timeout=5000")  # sqlite3.connect's default
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=NORMAL")
        self._db.commit()

    def records(self) -> Iterator[bytes]:
        """Every JSON record in PIN order (streams; constant memory)."""
        cursor = self._db.execute(
            RECORDS_SQL if self._overlay else "SELECT record FROM citizens ORDER BY pin"
        )
        while batch := cursor.fetchmany(2000):
            for (record,) in batch:
                yield bytes(record)

    def count(self) -> int:
        """Number of citizens."""
        query = COUNT_SQL if self._overlay else "SELECT count(*) FROM citizens"
        return int(self._db.execute(query).fetchone()[0])

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

    # -- the write path: civil-status events over the overlay ------------------------------

    def commit_event(
        self, key: str, fingerprint: str, event: Event, ctx: EventContext
    ) -> Committed:
        """Apply ``event`` in one transaction (:func:`run_event`); EventRefused writes nothing."""
        from sim06.mock_registry.store.events import Pending, commit_one

        return commit_one(self.commit_events, Pending(key, fingerprint, event, ctx))

    def commit_events(self, batch: Sequence[Pending]) -> list[Outcome]:
        """Apply events in order in ONE transaction (a group commit); a refused event writes
        nothing and comes back as its EventRefused (:func:`run_batch`)."""
        from sim06.mock_registry.store.events import run_batch

        with self._write_lock:
            db = self._db
            db.execute("BEGIN IMMEDIATE")
            try:
                outcomes = run_batch(SQLiteEventTx(db), batch)
            except BaseException:
                db.rollback()
                raise
            db.commit()
        return outcomes

    def changes(self, after: int, limit: int) -> list[bytes]:
        """Feed items (JSON) with a cursor above ``after``, oldest first."""
        rows = self._db.execute(
            "SELECT item FROM changes WHERE seq > ? ORDER BY seq LIMIT ?", (after, limit)
        ).fetchall()
        return [bytes(r[0]) for r in rows]

    def change_cursor_at(self, time: str) -> int:
        """The cursor just before the first change at or after ``time`` (UTC RFC 3339 text)."""
        row = self._db.execute("SELECT min(seq) FROM changes WHERE time >= ?", (time,)).fetchone()
        if row is None or row[0] is None:
            return self.feed_head()
        return int(row[0]) - 1

    def feed_head(self) -> int:
        """The newest cursor (0 when no event was committed)."""
        if not self._overlay:
            return 0
        row = self._db.execute("SELECT max(seq) FROM changes").fetchone()
        return 0 if row is None or row[0] is None else int(row[0])

    def dump_events(self) -> bytes:
        """Every overlay table as JSON (a snapshot of the state after events)."""
        data: dict[str, list[list[object]]] = {}
        with self._write_lock:
            for table in OVERLAY_TABLES:
                rows = self._db.execute(f"SELECT * FROM {table}").fetchall()  # noqa: S608
                data[table] = [
                    [v.decode() if isinstance(v, bytes) else v for v in row] for row in rows
                ]
        return orjson.dumps(data)

    def load_events(self, dump: bytes | None) -> None:
        """Replace the overlay with ``dump`` (from :meth:`dump_events`); None empties it."""
        data = orjson.loads(dump) if dump is not None else {}
        blobs = {"overlay": 4, "changes": 4, "idempotency": 3}
        with self._write_lock:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                for table in OVERLAY_TABLES:
                    self._db.execute(f"DELETE FROM {table}")  # noqa: S608
                    rows = data.get(table, [])
                    if not rows:
                        continue
                    blob = blobs.get(table)
                    marks = ", ".join("?" * len(rows[0]))
                    self._db.executemany(
                        f"INSERT INTO {table} VALUES ({marks})",  # noqa: S608
                        (
                            [v.encode() if i == blob else v for i, v in enumerate(row)]
                            for row in rows
                        ),
                    )
            except BaseException:
                self._db.rollback()
                raise
            self._db.commit()

    def reset_events(self) -> None:
        """Drop every event: the store answers as the freshly seeded population again."""
        self.load_events(None)

    def save_snapshot(self, name: str) -> None:
        """Keep the state after events under ``name`` (replaces a snapshot of that name)."""
        dump = self.dump_events()
        with self._write_lock, self._db:
            self._db.execute(
                "INSERT INTO snapshots (name, data) VALUES (?, ?) "
                "ON CONFLICT(name) DO UPDATE SET data = excluded.data",
                (name, dump),
            )

    def restore_snapshot(self, name: str) -> bool:
        """Bring back the snapshot ``name``; False when there is none."""
        row = self._db.execute("SELECT data FROM snapshots WHERE name = ?", (name,)).fetchone()
        if row is None:
            return False
        self.load_events(bytes(row[0]))
        return True

    def snapshot_names(self) -> list[str]:
        """The saved snapshots, by name."""
        return [str(r[0]) for r in self._db.execute("SELECT name FROM snapshots ORDER BY name")]

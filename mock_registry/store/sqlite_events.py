"""The write path on SQLite: the overlay tables and a batch's transaction (BEGIN IMMEDIATE).

The overlay lives in the same file as the seeded population, so a record change, its feed row,
the PIN counter and the idempotency answer commit together; WAL makes a commit survive a killed
process (``synchronous=NORMAL`` only risks the last commits on a power loss, not on ``kill -9``).
"""

from __future__ import annotations

import sqlite3
from typing import Any

import orjson

from sim06.mock_registry.store.batch import Prefetched, Writes

OVERLAY_SCHEMA = """
CREATE TABLE IF NOT EXISTS overlay (      -- records changed by events: shadow citizens by PIN
    pin INTEGER PRIMARY KEY,
    cmnd TEXT,
    household_id INTEGER,
    birth_year INTEGER NOT NULL,
    record BLOB NOT NULL,
    seq INTEGER NOT NULL                  -- the change that last wrote the row
);
CREATE INDEX IF NOT EXISTS overlay_household ON overlay(household_id);
CREATE INDEX IF NOT EXISTS overlay_cmnd ON overlay(cmnd) WHERE cmnd IS NOT NULL;
CREATE TABLE IF NOT EXISTS changes (      -- the change feed: cursor = commit order
    seq INTEGER PRIMARY KEY,
    type TEXT NOT NULL,
    pin TEXT NOT NULL,
    time TEXT NOT NULL,
    item BLOB NOT NULL                    -- the feed item's JSON, cursor included
);
CREATE INDEX IF NOT EXISTS changes_time ON changes(time);
CREATE TABLE IF NOT EXISTS idempotency (  -- request id -> first answer
    key TEXT PRIMARY KEY,
    fingerprint TEXT NOT NULL,
    status INTEGER NOT NULL,
    body BLOB NOT NULL,
    seq INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS pin_serials (head TEXT PRIMARY KEY, next INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS births (key TEXT PRIMARY KEY, pin TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS overlay_meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS snapshots (name TEXT PRIMARY KEY, data BLOB NOT NULL);
"""


class SQLiteEventTx:
    """The reads of an open write transaction on ``db`` and its flush (``store.batch``)."""

    def __init__(self, db: sqlite3.Connection) -> None:
        self.db = db

    def record(self, pin: str) -> dict[str, Any] | None:
        row = self.db.execute(
            "SELECT coalesce((SELECT record FROM overlay WHERE pin = ?1),"
            " (SELECT record FROM citizens WHERE pin = ?1))",
            (int(pin),),
        ).fetchone()
        if row is None or row[0] is None:
            return None
        parsed: dict[str, Any] = orjson.loads(row[0])
        return parsed

    def household_members(self, household_id: int) -> list[dict[str, Any]]:
        rows = self.db.execute(HOUSEHOLD_SQL, (household_id,)).fetchall()
        return [orjson.loads(r[0]) for r in rows]

    def pin_taken(self, pin: str) -> bool:
        number = int(pin)
        return (
            self.db.execute(
                "SELECT 1 FROM overlay WHERE pin = ?1 UNION ALL "
                "SELECT 1 FROM citizens WHERE pin = ?1",
                (number,),
            ).fetchone()
            is not None
        )

    def serial(self, head: str) -> int:
        row = self.db.execute("SELECT next FROM pin_serials WHERE head = ?", (head,)).fetchone()
        return 0 if row is None else int(row[0])

    def household_id_base(self) -> int:
        row = self.db.execute(
            "SELECT value FROM overlay_meta WHERE key = 'next_household_id'"
        ).fetchone()
        if row is not None:
            return int(row[0])
        top = self.db.execute(
            "SELECT max(coalesce((SELECT max(household_id) FROM citizens), 0),"
            " coalesce((SELECT max(household_id) FROM overlay), 0))"
        ).fetchone()
        return int(top[0]) + 1

    def birth_registered(self, key: str) -> str | None:
        row = self.db.execute("SELECT pin FROM births WHERE key = ?", (key,)).fetchone()
        return None if row is None else str(row[0])

    def prefetch(self, keys: list[str], pins: list[str], births: list[str]) -> Prefetched:
        # Indexed reads of a few microseconds each: no need to gather them into one statement.
        return Prefetched(
            self.remembered_many(keys) if keys else {},
            self.records_many(pins),
            self.births_many(births),
            self.last_change(),
        )

    def remembered_many(self, keys: list[str]) -> dict[str, tuple[str, int, bytes]]:
        found: dict[str, tuple[str, int, bytes]] = {}
        for start in range(0, len(keys), 500):  # SQLite's limit of bound parameters
            part = keys[start : start + 500]
            marks = ", ".join("?" * len(part))
            for key, fingerprint, status, body in self.db.execute(
                "SELECT key, fingerprint, status, body FROM idempotency "  # noqa: S608
                f"WHERE key IN ({marks})",
                part,
            ):
                found[str(key)] = (str(fingerprint), int(status), bytes(body))
        return found

    def records_many(self, pins: list[str]) -> dict[str, bytes]:
        found: dict[str, bytes] = {}
        for pin in pins:  # an indexed read is a few microseconds: no need for IN (...)
            record = self.db.execute(
                "SELECT coalesce((SELECT record FROM overlay WHERE pin = ?1),"
                " (SELECT record FROM citizens WHERE pin = ?1))",
                (int(pin),),
            ).fetchone()[0]
            if record is not None:
                found[pin] = bytes(record)
        return found

    def births_many(self, keys: list[str]) -> dict[str, str]:
        found: dict[str, str] = {}
        for key in keys:
            pin = self.birth_registered(key)
            if pin is not None:
                found[key] = pin
        return found

    def last_change(self) -> tuple[int, str]:
        row = self.db.execute("SELECT seq, time FROM changes ORDER BY seq DESC LIMIT 1").fetchone()
        return (0, "") if row is None else (int(row[0]), str(row[1]))

    def flush(self, writes: Writes) -> None:
        db = self.db
        if writes.records:
            db.executemany(
                "INSERT OR REPLACE INTO overlay (pin, cmnd, household_id, birth_year, record, seq)"
                " VALUES (?, ?, ?, ?, ?, ?)",
                writes.records.values(),
            )
        if writes.changes:
            db.executemany(
                "INSERT INTO changes (seq, type, pin, time, item) VALUES (?, ?, ?, ?, ?)",
                writes.changes,
            )
        if writes.idempotency:
            db.executemany(
                "INSERT INTO idempotency (key, fingerprint, status, body, seq)"
                " VALUES (?, ?, ?, ?, ?)",
                ((k, *v) for k, v in writes.idempotency.items()),
            )
        if writes.serials:
            db.executemany(
                "INSERT INTO pin_serials (head, next) VALUES (?, ?)"
                " ON CONFLICT(head) DO UPDATE SET next = excluded.next",
                writes.serials.items(),
            )
        if writes.births:
            db.executemany("INSERT INTO births (key, pin) VALUES (?, ?)", writes.births.items())
        if writes.next_household_id is not None:
            db.execute(
                "INSERT INTO overlay_meta (key, value) VALUES ('next_household_id', ?) "
                "ON CONFLICT(key) DO UPDATE SET value = excluded.value",
                (str(writes.next_household_id),),
            )


# Members of a household: overlay rows, plus base rows that no overlay row shadows.
HOUSEHOLD_SQL = (
    "SELECT record FROM ("
    " SELECT pin, record FROM overlay WHERE household_id = ?1"
    " UNION ALL"
    " SELECT c.pin, c.record FROM citizens c WHERE c.household_id = ?1"
    "  AND NOT EXISTS (SELECT 1 FROM overlay o WHERE o.pin = c.pin)"
    ") ORDER BY pin"
)
CMND_SQL = (
    "SELECT record FROM ("
    " SELECT pin, record FROM overlay WHERE cmnd = ?1"
    " UNION ALL"
    " SELECT c.pin, c.record FROM citizens c WHERE c.cmnd = ?1"
    "  AND NOT EXISTS (SELECT 1 FROM overlay o WHERE o.pin = c.pin)"
    ") ORDER BY pin LIMIT 1"
)
RECORDS_SQL = (
    "SELECT record FROM ("
    " SELECT pin, record FROM overlay"
    " UNION ALL"
    " SELECT c.pin, c.record FROM citizens c"
    "  WHERE NOT EXISTS (SELECT 1 FROM overlay o WHERE o.pin = c.pin)"
    ") ORDER BY pin"
)
COUNT_SQL = (
    "SELECT (SELECT count(*) FROM citizens) + (SELECT count(*) FROM overlay o"
    " WHERE NOT EXISTS (SELECT 1 FROM citizens c WHERE c.pin = o.pin))"
)

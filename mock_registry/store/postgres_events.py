"""The write path on PostgreSQL: one event transaction over a pooled connection.

The overlay tables (``migrations/002_events.sql``) sit next to the seeded ``citizens`` table, so
a record change, its feed row, the PIN counter and the idempotency answer commit together.
Several processes (replicas) may write: :data:`SERIALISE_WRITERS` starts every event
transaction by taking a transaction-scoped advisory lock, so writers run one at a time and the
feed cursor ``last_change() + 1`` is gap-free and in commit order. It also pins the isolation
to READ COMMITTED: each statement after the lock sees every event committed before it.
"""

from __future__ import annotations

from typing import Any

import orjson
import psycopg

from mock_registry.store.batch import Writes

# Advisory lock of the event writers (the migrations use 0x51306, "sim06").
EVENTS_LOCK_ID = 0x51306E
# The first statement of an event transaction (no parameters: simple query protocol, one round
# trip). SET TRANSACTION must come first; the lock is held until COMMIT or ROLLBACK.
SERIALISE_WRITERS = (
    "SET TRANSACTION ISOLATION LEVEL READ COMMITTED;"
    f" SELECT pg_advisory_xact_lock({EVENTS_LOCK_ID})"
).encode()

# A record by PIN in one statement: coalesce evaluates lazily, so a PIN no event touched costs
# one more index seek into the (small) overlay. Parameters: (pin, pin).
GET_SQL = (
    b"SELECT coalesce((SELECT record FROM overlay WHERE pin = %s),"
    b" (SELECT record FROM citizens WHERE pin = %s))"
)
# Members of a household: overlay rows, plus base rows no overlay row shadows. (id, id)
HOUSEHOLD_SQL = (
    b"SELECT record FROM ("
    b" SELECT pin, record FROM overlay WHERE household_id = %s"
    b" UNION ALL"
    b" SELECT c.pin, c.record FROM citizens c WHERE c.household_id = %s"
    b"  AND NOT EXISTS (SELECT 1 FROM overlay o WHERE o.pin = c.pin)"
    b") AS m ORDER BY pin"
)
# The holder of an old CMND number. (cmnd, cmnd)
CMND_SQL = (
    b"SELECT record FROM ("
    b" SELECT pin, record FROM overlay WHERE cmnd = %s"
    b" UNION ALL"
    b" SELECT c.pin, c.record FROM citizens c WHERE c.cmnd = %s"
    b"  AND NOT EXISTS (SELECT 1 FROM overlay o WHERE o.pin = c.pin)"
    b") AS m ORDER BY pin LIMIT 1"
)
# Every record in PIN order. Each branch is ordered on its own so that the planner merges them
# (Merge Append over the PIN indexes, a Merge Anti Join for the shadowed rows) and streams:
# without it, it sorts the whole population.
RECORDS_SQL = (
    b"SELECT record FROM ("
    b" (SELECT pin, record FROM overlay ORDER BY pin)"
    b" UNION ALL"
    b" (SELECT c.pin, c.record FROM citizens c"
    b"  WHERE NOT EXISTS (SELECT 1 FROM overlay o WHERE o.pin = c.pin) ORDER BY c.pin)"
    b") AS m ORDER BY pin"
)
COUNT_SQL = (
    b"SELECT (SELECT count(*) FROM citizens) + (SELECT count(*) FROM overlay o"
    b" WHERE NOT EXISTS (SELECT 1 FROM citizens c WHERE c.pin = o.pin))"
)


class PostgresEventTx:
    """The reads of an open write transaction on ``conn`` and its flush (``store.batch``).

    The caller opens the transaction and runs :data:`SERIALISE_WRITERS` first.
    """

    def __init__(self, conn: psycopg.Connection[tuple[Any, ...]]) -> None:
        self.conn = conn

    def _row(self, query: bytes, params: tuple[object, ...]) -> tuple[Any, ...] | None:
        # binary=True: bytea arrives as raw bytes, not hex text to decode.
        return self.conn.execute(query, params, binary=True).fetchone()

    # -- Ledger: reads ---------------------------------------------------------------------

    def record(self, pin: str) -> dict[str, Any] | None:
        number = int(pin)
        row = self._row(GET_SQL, (number, number))
        if row is None or row[0] is None:
            return None
        parsed: dict[str, Any] = orjson.loads(row[0])
        return parsed

    def household_members(self, household_id: int) -> list[dict[str, Any]]:
        rows = self.conn.execute(
            HOUSEHOLD_SQL, (household_id, household_id), binary=True
        ).fetchall()
        return [orjson.loads(r[0]) for r in rows]

    def pin_taken(self, pin: str) -> bool:
        number = int(pin)
        row = self._row(
            b"SELECT EXISTS (SELECT 1 FROM overlay WHERE pin = %s)"
            b" OR EXISTS (SELECT 1 FROM citizens WHERE pin = %s)",
            (number, number),
        )
        return bool(row and row[0])

    def serial(self, head: str) -> int:
        row = self._row(b"SELECT next FROM pin_serials WHERE head = %s", (head,))
        return 0 if row is None else int(row[0])

    def household_id_base(self) -> int:
        row = self._row(b"SELECT value FROM overlay_meta WHERE key = 'next_household_id'", ())
        if row is not None:
            return int(row[0])
        top = self._row(
            b"SELECT greatest(coalesce((SELECT max(household_id) FROM citizens), 0),"
            b" coalesce((SELECT max(household_id) FROM overlay), 0))",
            (),
        )
        return (int(top[0]) if top else 0) + 1

    def birth_registered(self, key: str) -> str | None:
        row = self._row(b"SELECT pin FROM births WHERE key = %s", (key,))
        return None if row is None else str(row[0])

    def remembered_many(self, keys: list[str]) -> dict[str, tuple[str, int, bytes]]:
        rows = self.conn.execute(
            b"SELECT key, fingerprint, status, body FROM idempotency WHERE key = ANY(%s)",
            (keys,),
            binary=True,
        ).fetchall()
        return {str(r[0]): (str(r[1]), int(r[2]), bytes(r[3])) for r in rows}

    def records_many(self, pins: list[str]) -> dict[str, bytes]:
        numbers = [int(p) for p in pins]
        rows = self.conn.execute(
            b"SELECT n, coalesce((SELECT record FROM overlay WHERE pin = n),"
            b" (SELECT record FROM citizens WHERE pin = n)) FROM unnest(%s::bigint[]) AS n",
            (numbers,),
            binary=True,
        ).fetchall()
        return {f"{int(r[0]):012d}": bytes(r[1]) for r in rows if r[1] is not None}

    def births_many(self, keys: list[str]) -> dict[str, str]:
        rows = self.conn.execute(
            b"SELECT key, pin FROM births WHERE key = ANY(%s)", (keys,)
        ).fetchall()
        return {str(r[0]): str(r[1]) for r in rows}

    def last_change(self) -> tuple[int, str]:
        row = self._row(b"SELECT seq, time FROM changes ORDER BY seq DESC LIMIT 1", ())
        return (0, "") if row is None else (int(row[0]), str(row[1]))

    def flush(self, writes: Writes) -> None:
        # executemany pipelines its statements: one round trip per table, not per row.
        with self.conn.cursor() as cur:
            if writes.records:
                cur.executemany(
                    b"INSERT INTO overlay (pin, cmnd, household_id, birth_year, record, seq)"
                    b" VALUES (%s, %s, %s, %s, %b, %s)"
                    b" ON CONFLICT (pin) DO UPDATE SET cmnd = excluded.cmnd,"
                    b" household_id = excluded.household_id, birth_year = excluded.birth_year,"
                    b" record = excluded.record, seq = excluded.seq",
                    list(writes.records.values()),
                )
            if writes.changes:
                cur.executemany(
                    b"INSERT INTO changes (seq, type, pin, time, item) VALUES (%s, %s, %s, %s, %b)",
                    writes.changes,
                )
            if writes.idempotency:
                cur.executemany(
                    b"INSERT INTO idempotency (key, fingerprint, status, body, seq)"
                    b" VALUES (%s, %s, %s, %b, %s)",
                    [(k, *v) for k, v in writes.idempotency.items()],
                )
            if writes.serials:
                cur.executemany(
                    b"INSERT INTO pin_serials (head, next) VALUES (%s, %s)"
                    b" ON CONFLICT (head) DO UPDATE SET next = excluded.next",
                    list(writes.serials.items()),
                )
            if writes.births:
                cur.executemany(
                    b"INSERT INTO births (key, pin) VALUES (%s, %s)", list(writes.births.items())
                )
            if writes.next_household_id is not None:
                cur.execute(
                    b"INSERT INTO overlay_meta (key, value) VALUES ('next_household_id', %s)"
                    b" ON CONFLICT (key) DO UPDATE SET value = excluded.value",
                    (str(writes.next_household_id),),
                )

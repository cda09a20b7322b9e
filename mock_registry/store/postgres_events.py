"""The write path on PostgreSQL: a batch's transaction over a pooled connection.

The overlay tables (``migrations/002_events.sql``) sit next to the seeded ``citizens`` table, so
a record change, its feed row, the PIN counter and the idempotency answer commit together.
Several processes (replicas) may write: :data:`SERIALISE_WRITERS` starts every batch's
transaction by taking a transaction-scoped advisory lock, so writers run one at a time and the
feed cursor (the newest one plus one) is gap-free and in commit order. It also pins the
isolation to READ COMMITTED: each statement after the lock sees every event committed before it.

A batch costs few round trips whatever its size: the lock, one tagged read of what its events
read first (:data:`PREFETCH_SQL`), the reads the decisions still need (a candidate PIN, a PIN
bucket's counter, a household), one write of every table (:data:`FLUSH_SQL`) and the commit.
"""

from __future__ import annotations

from typing import Any

import orjson
import psycopg

from sim06.mock_registry.store.batch import Prefetched, Writes

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


# What a batch reads first: (tag, key, text, number, bytes) rows; tags k = an idempotency answer,
# r = a record by PIN (NULL data: no such citizen), b = a registered birth, c = the newest change.
# Parameters: (keys text[], pins bigint[], birth keys text[]).
PREFETCH_SQL = (
    b"SELECT 'k', key, fingerprint, status::bigint, body FROM idempotency"
    b" WHERE key = ANY(%(k)s::text[])"
    b" UNION ALL SELECT 'r', n::text, NULL, NULL, coalesce("
    b"(SELECT record FROM overlay WHERE pin = n), (SELECT record FROM citizens WHERE pin = n))"
    b" FROM unnest(%(r)s::bigint[]) AS n"
    b" UNION ALL SELECT 'b', key, pin, NULL, NULL FROM births WHERE key = ANY(%(b)s::text[])"
    b" UNION ALL (SELECT 'c', NULL, time, seq, NULL FROM changes ORDER BY seq DESC LIMIT 1)"
)
# Everything a batch writes, in one statement (each table's rows as parallel arrays).
FLUSH_SQL = (
    b"WITH o AS (INSERT INTO overlay (pin, cmnd, household_id, birth_year, record, seq)"
    b" SELECT * FROM unnest(%s::bigint[], %s::text[], %s::bigint[], %s::smallint[],"
    b" %b::bytea[], %s::bigint[])"
    b" ON CONFLICT (pin) DO UPDATE SET cmnd = excluded.cmnd,"
    b" household_id = excluded.household_id, birth_year = excluded.birth_year,"
    b" record = excluded.record, seq = excluded.seq),"
    b" c AS (INSERT INTO changes (seq, type, pin, time, item)"
    b" SELECT * FROM unnest(%s::bigint[], %s::text[], %s::text[], %s::text[], %b::bytea[])),"
    b" i AS (INSERT INTO idempotency (key, fingerprint, status, body, seq)"
    b" SELECT * FROM unnest(%s::text[], %s::text[], %s::int[], %b::bytea[], %s::bigint[])),"
    b" s AS (INSERT INTO pin_serials (head, next) SELECT * FROM unnest(%s::text[], %s::bigint[])"
    b" ON CONFLICT (head) DO UPDATE SET next = excluded.next),"
    b" b AS (INSERT INTO births (key, pin) SELECT * FROM unnest(%s::text[], %s::text[]))"
    b" INSERT INTO overlay_meta (key, value) SELECT 'next_household_id', v"
    b" FROM (SELECT %s::text AS v) AS m WHERE v IS NOT NULL"
    b" ON CONFLICT (key) DO UPDATE SET value = excluded.value"
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

    def prefetch(self, keys: list[str], pins: list[str], births: list[str]) -> Prefetched:
        # One statement, one round trip: each branch is tagged by its first column.
        rows = self.conn.execute(
            PREFETCH_SQL, {"k": keys, "r": [int(p) for p in pins], "b": births}, binary=True
        ).fetchall()
        seen: dict[str, tuple[str, int, bytes]] = {}
        records: dict[str, bytes] = {}
        registered: dict[str, str] = {}
        last = (0, "")
        for tag, key, text, number, data in rows:
            if tag == "k":
                seen[key] = (text, int(number), bytes(data))
            elif tag == "r":
                if data is not None:
                    records[f"{int(key):012d}"] = bytes(data)
            elif tag == "b":
                registered[key] = text
            else:
                last = (int(number), text)
        return Prefetched(seen, records, registered, last)

    def flush(self, writes: Writes) -> None:
        # One statement for the whole batch: data-modifying CTEs over unnest()ed arrays.
        rows = list(writes.records.values())
        changes, answers = writes.changes, list(writes.idempotency.items())
        self.conn.execute(
            FLUSH_SQL,
            (
                [r.pin for r in rows],
                [r.cmnd for r in rows],
                [r.household_id for r in rows],
                [r.birth_year for r in rows],
                [r.record for r in rows],
                [r.seq for r in rows],
                [c[0] for c in changes],
                [c[1] for c in changes],
                [c[2] for c in changes],
                [c[3] for c in changes],
                [c[4] for c in changes],
                [k for k, _ in answers],
                [a[0] for _, a in answers],
                [a[1] for _, a in answers],
                [a[2] for _, a in answers],
                [a[3] for _, a in answers],
                list(writes.serials),
                list(writes.serials.values()),
                list(writes.births),
                list(writes.births.values()),
                None if writes.next_household_id is None else str(writes.next_household_id),
            ),
        )

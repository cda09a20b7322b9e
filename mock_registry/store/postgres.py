"""PostgreSQL implementation of :class:`CitizenStore`: a shared environment, tens of millions.

Same shape as the SQLite store: the JSON record as ``bytea`` (returned byte for byte, so both
backends answer identically), a unique b-tree on the PIN as ``bigint`` and small indexes on the
old CMND and the household, so a lookup is one index seek and one heap page whatever the size.
Connections come from a pool (autocommit: a read is one round trip, no BEGIN/COMMIT). The
schema is applied from ``migrations/NNN_name.sql`` in order and recorded in ``schema_version``;
an advisory lock lets several replicas start at once. Bulk loads use binary ``COPY`` per batch,
with the secondary indexes dropped during the load and rebuilt by :meth:`finish_load`.

Civil-status events write an overlay (``migrations/002_events.sql``) that shadows the seeded
``citizens`` table by PIN, as in the SQLite store: a lookup stays one statement (overlay row
first, else the base row), the seeded table is never written, and each event commits in one
transaction with its feed row and idempotency answer, writers serialised by an advisory lock
(:mod:`mock_registry.store.postgres_events`) so that the feed is gap-free across replicas.
"""

from __future__ import annotations

import importlib.resources
import queue
import re
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from datetime import date
from typing import TYPE_CHECKING, Any

import orjson
import psycopg
from psycopg import sql
from psycopg_pool import ConnectionPool

from sim06.mock_registry.seed import GENERATOR_VERSION, SeedInfo, seed_store
from sim06.mock_registry.seed_workers import default_workers
from sim06.mock_registry.store.base import OVERLAY_TABLES, AccountRow, CitizenRow
from sim06.mock_registry.store.postgres_events import (
    CMND_SQL,
    COUNT_SQL,
    GET_SQL,
    HOUSEHOLD_SQL,
    RECORDS_SQL,
    SERIALISE_WRITERS,
    PostgresEventTx,
)

if TYPE_CHECKING:
    from sim06.mock_registry.events import Event, EventContext
    from sim06.mock_registry.store.events import Committed, Outcome, Pending

__all__ = ["PostgresCitizenStore", "apply_migrations", "migrations", "seed_postgres"]

_MIGRATION_NAME = re.compile(r"^(\d{3})_[a-z0-9_]+\.sql$")
_LOCK_ID = 0x51306  # advisory lock of the migrations ("sim06")
_DROPPED = "_bulk_dropped_indexes"  # meta key: definitions of the indexes dropped for a load
_COPY = "COPY citizens (pin, cmnd, household_id, birth_year, record) FROM STDIN (FORMAT BINARY)"
_COPY_TYPES = ["int8", "text", "int8", "int2", "bytea"]
_COPY_ACCOUNTS = b"COPY eid_accounts (identifier, kind, record) FROM STDIN (FORMAT BINARY)"
# Columns of the overlay tables that hold JSON bytes (text in a dump), by position.
_DUMP_BLOBS = {"overlay": 4, "changes": 4, "idempotency": 3}
# A consistent read of every overlay table that does not wait for (or hold up) the writers.
_SNAPSHOT_READ = b"SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY"


def migrations() -> list[tuple[int, str, str]]:
    """The packaged migrations as ``(version, file name, SQL)``, in version order."""
    folder = importlib.resources.files("sim06.mock_registry.store") / "migrations"
    found = []
    for entry in folder.iterdir():
        match = _MIGRATION_NAME.match(entry.name)
        if match:
            found.append((int(match.group(1)), entry.name, entry.read_text("utf-8")))
    found.sort()
    versions = [v for v, _, _ in found]
    if len(set(versions)) != len(versions):
        raise RuntimeError(f"two migrations share a version: {[n for _, n, _ in found]}")
    return found


def apply_migrations(conn: psycopg.Connection[tuple[Any, ...]]) -> list[int]:
    """Apply the migrations not yet recorded in ``schema_version``; the versions applied."""
    applied: list[int] = []
    with conn.transaction():
        # Serialises concurrent starts (replicas): the second one finds the work done.
        conn.execute("SELECT pg_advisory_xact_lock(%s)", (_LOCK_ID,))
        conn.execute(
            "CREATE TABLE IF NOT EXISTS schema_version (version integer PRIMARY KEY,"
            " name text NOT NULL, applied_at timestamptz NOT NULL DEFAULT now())"
        )
        row = conn.execute("SELECT coalesce(max(version), 0) FROM schema_version").fetchone()
        current = int(row[0]) if row else 0
        for version, name, text in migrations():
            if version <= current:
                continue
            conn.execute(text.encode())  # several statements: simple query protocol
            conn.execute(
                "INSERT INTO schema_version (version, name) VALUES (%s, %s)", (version, name)
            )
            applied.append(version)
    return applied


class PostgresCitizenStore:
    """Citizen store in a PostgreSQL database (``postgresql://user:pw@host:port/db``)."""

    def __init__(self, url: str, *, pool_size: int = 4, migrate: bool = True) -> None:
        self.url = url
        if migrate:
            with psycopg.connect(url, autocommit=True) as conn:
                apply_migrations(conn)
        self._pool: ConnectionPool[psycopg.Connection[tuple[Any, ...]]] = ConnectionPool(
            url,
            min_size=1,
            max_size=max(1, pool_size),
            kwargs={"autocommit": True},
            open=True,
            name="sim06-citizens",
        )
        self._pool.wait(timeout=30.0)
        self._bulk = False
        self._writer: _Writer | None = None
        # A database not migrated to the write path (a replica started with migrate=False
        # before the migration job) has no overlay: base reads, as a read-only SQLite file.
        with self._pool.connection() as conn:
            found = conn.execute("SELECT to_regclass('overlay') IS NOT NULL").fetchone()
        self._overlay = bool(found and found[0])

    def _one(self, query: bytes, params: tuple[object, ...]) -> bytes | None:
        with self._pool.connection() as conn:
            # binary=True: bytea arrives as raw bytes, not hex text to decode.
            row = conn.execute(query, params, binary=True).fetchone()
        return None if row is None or row[0] is None else bytes(row[0])

    def get(self, pin: str) -> bytes | None:
        """The JSON record of ``pin`` (12 ASCII digits), or None; an event's version first."""
        number = int(pin)
        if self._overlay:
            return self._one(GET_SQL, (number, number))  # one statement, one round trip
        return self._one(b"SELECT record FROM citizens WHERE pin = %s", (number,))

    def get_by_cmnd(self, cmnd: str) -> bytes | None:
        """The JSON record of the holder of an old 9-digit CMND, or None."""
        if self._overlay:
            return self._one(CMND_SQL, (cmnd, cmnd))
        return self._one(
            b"SELECT record FROM citizens WHERE cmnd = %s ORDER BY pin LIMIT 1", (cmnd,)
        )

    def household(self, household_id: int) -> list[bytes]:
        """JSON records of the members of a household, by PIN."""
        with self._pool.connection() as conn:
            if self._overlay:
                cursor = conn.execute(HOUSEHOLD_SQL, (household_id, household_id), binary=True)
            else:
                cursor = conn.execute(
                    b"SELECT record FROM citizens WHERE household_id = %s ORDER BY pin",
                    (household_id,),
                    binary=True,
                )
            rows = cursor.fetchall()
        return [bytes(r[0]) for r in rows]

    def add(self, rows: Iterable[CitizenRow]) -> None:
        """Insert citizens with one binary ``COPY``; a PIN already present is an error.

        During a bulk load (begin_bulk) the COPY runs on a writer thread while the caller
        generates the next batch; an error then surfaces at the next add or at finish_load,
        and a duplicate PIN when finish_load builds the unique index.
        """
        if self._writer is not None:
            self._writer.submit(list(rows))
        else:
            self._copy(rows)

    def _copy(self, rows: Iterable[CitizenRow]) -> None:
        with self._pool.connection() as conn, conn.transaction():
            if self._bulk:
                # The database is rebuilt from the seed if a crash loses the last batches.
                conn.execute("SET LOCAL synchronous_commit = off")
            with conn.cursor() as cur, cur.copy(_COPY.encode()) as copy:
                copy.set_types(_COPY_TYPES)
                for r in rows:
                    copy.write_row((int(r.pin), r.cmnd, r.household_id, r.birth_year, r.record))

    def add_accounts(self, rows: Iterable[AccountRow]) -> None:
        """Insert e-ID accounts of foreigners and organisations (one binary ``COPY``)."""
        with self._pool.connection() as conn, conn.transaction():
            with conn.cursor() as cur, cur.copy(_COPY_ACCOUNTS) as copy:
                copy.set_types(["text", "text", "bytea"])
                for r in rows:
                    copy.write_row((r.identifier, r.kind, r.record))

    def get_account(self, identifier: str) -> bytes | None:
        """The JSON record of a foreigner's or an organisation's e-ID account, or None."""
        return self._one(b"SELECT record FROM eid_accounts WHERE identifier = %s", (identifier,))

    def accounts(self) -> Iterator[bytes]:
        """Every e-ID account of a foreigner or an organisation, by identifier."""
        with self._pool.connection() as conn:
            cursor = conn.execute(
                b"SELECT record FROM eid_accounts ORDER BY identifier", binary=True
            )
            rows = cursor.fetchall()  # about 0.6 % of the population: fits in memory
        for (record,) in rows:
            yield bytes(record)

    def begin_bulk(self) -> None:
        """Prepare a bulk load into an empty table: drop the indexes, rebuilt by finish_load.

        Building an index once over sorted keys is several times faster than maintaining it
        row by row over PINs that arrive in no order. Their definitions are kept in ``meta``
        so that a load interrupted half way still gets them back on the next finish_load.
        """
        self._bulk = True
        self._writer = _Writer(self._copy)
        with self._pool.connection() as conn, conn.transaction():
            if conn.execute("SELECT 1 FROM citizens LIMIT 1").fetchone() is not None:
                return  # adding to a populated table: keep the indexes (and uniqueness) live
            defs = conn.execute(
                "SELECT indexname, indexdef FROM pg_indexes"
                " WHERE schemaname = current_schema() AND tablename = 'citizens'"
            ).fetchall()
            if not defs:
                return
            saved = orjson.dumps(dict(defs)).decode()
            conn.execute(
                "INSERT INTO meta (key, value) VALUES (%s, %s)"
                " ON CONFLICT (key) DO UPDATE SET value = excluded.value",
                (_DROPPED, saved),
            )
            for name, _ in defs:
                conn.execute(sql.SQL("DROP INDEX {}").format(sql.Identifier(str(name))))

    def finish_load(self) -> None:
        """Rebuild the indexes dropped by begin_bulk, then refresh the planner's statistics."""
        writer, self._writer = self._writer, None
        if writer is not None:
            writer.join()  # re-raises a failed COPY
        with self._pool.connection() as conn:
            row = conn.execute("SELECT value FROM meta WHERE key = %s", (_DROPPED,)).fetchone()
            if row is not None:
                with conn.transaction():
                    # More memory for the sorts: the PIN index of 10M rows sorts in one pass.
                    conn.execute("SET LOCAL maintenance_work_mem = '512MB'")
                    for definition in orjson.loads(str(row[0])).values():
                        conn.execute(str(definition).encode())
                    conn.execute("DELETE FROM meta WHERE key = %s", (_DROPPED,))
            conn.execute("VACUUM (ANALYZE) citizens")  # also sets the visibility map
        self._bulk = False

    def records(self) -> Iterator[bytes]:
        """Every JSON record in PIN order (a server-side cursor: constant memory)."""
        with self._pool.connection() as conn, conn.transaction():
            cursor = conn.cursor("sim06_records", binary=True)
            cursor.itersize = 2000
            cursor.execute(
                RECORDS_SQL if self._overlay else b"SELECT record FROM citizens ORDER BY pin"
            )
            for (record,) in cursor:
                yield bytes(record)
            cursor.close()

    def count(self) -> int:
        """Number of citizens, births by events included (exact: a scan of the PIN index)."""
        with self._pool.connection() as conn:
            row = conn.execute(
                COUNT_SQL if self._overlay else b"SELECT count(*) FROM citizens"
            ).fetchone()
        return int(row[0]) if row else 0

    def get_meta(self, key: str) -> str | None:
        """A metadata value, or None."""
        with self._pool.connection() as conn:
            row = conn.execute("SELECT value FROM meta WHERE key = %s", (key,)).fetchone()
        return None if row is None else str(row[0])

    def set_meta(self, key: str, value: str) -> None:
        """Set a metadata value."""
        with self._pool.connection() as conn:
            conn.execute(
                "INSERT INTO meta (key, value) VALUES (%s, %s)"
                " ON CONFLICT (key) DO UPDATE SET value = excluded.value",
                (key, value),
            )

    def truncate(self) -> None:
        """Remove every citizen, every event and snapshot, and the metadata (before seeding
        again: events of another population would shadow the new one)."""
        with self._pool.connection() as conn, conn.transaction():
            tables = ["citizens", "eid_accounts"]
            if self._overlay:
                conn.execute(SERIALISE_WRITERS)  # first: an event holds it, then table locks
                tables += [*OVERLAY_TABLES, "snapshots"]
            conn.execute(
                sql.SQL("TRUNCATE {}").format(sql.SQL(", ").join(map(sql.Identifier, tables)))
            )
            conn.execute("DELETE FROM meta WHERE key <> %s", (_DROPPED,))

    def size_bytes(self) -> int:
        """Disk size of the citizens table with its indexes and TOAST."""
        with self._pool.connection() as conn:
            row = conn.execute("SELECT pg_total_relation_size('citizens')").fetchone()
        return int(row[0]) if row else 0

    def ping(self) -> bool:
        """True when the database answers a trivial query."""
        try:
            with self._pool.connection(timeout=2.0) as conn:
                conn.execute("SELECT 1").fetchone()
        except (psycopg.Error, OSError):
            return False
        return True

    def close(self) -> None:
        """Close every pooled connection (a bulk load not finished is abandoned)."""
        writer, self._writer = self._writer, None
        if writer is not None:
            writer.abandon()
        self._pool.close()

    # -- the write path: civil-status events over the overlay ------------------------------

    def commit_event(
        self, key: str, fingerprint: str, event: Event, ctx: EventContext
    ) -> Committed:
        """Apply ``event`` in one transaction (:func:`run_event`); EventRefused writes nothing.

        Writers of every process wait for one advisory lock, taken first: the feed cursor is
        the last one plus one, so the feed is gap-free and in commit order.
        """
        from sim06.mock_registry.store.events import Pending, commit_one

        return commit_one(self.commit_events, Pending(key, fingerprint, event, ctx))

    # Blocking network I/O: the services call commit_events from a worker thread.
    blocking_writes = True

    def commit_events(self, batch: Sequence[Pending]) -> list[Outcome]:
        """Apply events in order in ONE transaction (a group commit); a refused event writes
        nothing and comes back as its EventRefused (:func:`run_batch`)."""
        from sim06.mock_registry.store.events import run_batch

        with self._pool.connection() as conn, conn.transaction():
            conn.execute(SERIALISE_WRITERS)
            return run_batch(PostgresEventTx(conn), batch)

    def changes(self, after: int, limit: int) -> list[bytes]:
        """Feed items (JSON) with a cursor above ``after``, oldest first."""
        with self._pool.connection() as conn:
            rows = conn.execute(
                b"SELECT item FROM changes WHERE seq > %s ORDER BY seq LIMIT %s",
                (after, limit),
                binary=True,
            ).fetchall()
        return [bytes(r[0]) for r in rows]

    def change_cursor_at(self, time: str) -> int:
        """The cursor just before the first change at or after ``time`` (UTC RFC 3339 text)."""
        with self._pool.connection() as conn:
            row = conn.execute(b"SELECT min(seq) FROM changes WHERE time >= %s", (time,)).fetchone()
        if row is None or row[0] is None:
            return self.feed_head()
        return int(row[0]) - 1

    def feed_head(self) -> int:
        """The newest cursor (0 when no event was committed)."""
        if not self._overlay:
            return 0
        with self._pool.connection() as conn:
            row = conn.execute(b"SELECT max(seq) FROM changes").fetchone()
        return 0 if row is None or row[0] is None else int(row[0])

    def dump_events(self) -> bytes:
        """Every overlay table as JSON (a snapshot of the state after events).

        Rows are positional, in primary-key order, JSON bytes as text: a dump of either
        backend loads into the other."""
        with self._pool.connection() as conn, conn.transaction():
            conn.execute(_SNAPSHOT_READ)  # one snapshot for every table; writers go on
            data = {table: _dump_table(conn, table) for table in OVERLAY_TABLES}
        return orjson.dumps(data)

    def load_events(self, dump: bytes | None) -> None:
        """Replace the overlay with ``dump`` (from :meth:`dump_events`); None empties it."""
        data = orjson.loads(dump) if dump is not None else {}
        with self._pool.connection() as conn, conn.transaction():
            conn.execute(SERIALISE_WRITERS)  # no event commits half way through
            for table in OVERLAY_TABLES:
                # DELETE, not TRUNCATE: readers keep the old overlay until the commit.
                conn.execute(sql.SQL("DELETE FROM {}").format(sql.Identifier(table)))
                rows = data.get(table, [])
                if not rows:
                    continue
                blob = _DUMP_BLOBS.get(table)
                insert = sql.SQL("INSERT INTO {} VALUES ({})").format(
                    sql.Identifier(table), sql.SQL(", ").join([sql.Placeholder()] * len(rows[0]))
                )
                with conn.cursor() as cur:
                    cur.executemany(
                        insert,
                        [[v.encode() if i == blob else v for i, v in enumerate(r)] for r in rows],
                    )

    def reset_events(self) -> None:
        """Drop every event: the store answers as the freshly seeded population again."""
        self.load_events(None)

    def save_snapshot(self, name: str) -> None:
        """Keep the state after events under ``name`` (replaces a snapshot of that name)."""
        dump = self.dump_events()
        with self._pool.connection() as conn:
            conn.execute(
                b"INSERT INTO snapshots (name, data) VALUES (%s, %s)"
                b" ON CONFLICT (name) DO UPDATE SET data = excluded.data",
                (name, dump),
            )

    def restore_snapshot(self, name: str) -> bool:
        """Bring back the snapshot ``name``; False when there is none."""
        found = self._one(b"SELECT data FROM snapshots WHERE name = %s", (name,))
        if found is None:
            return False
        self.load_events(found)
        return True

    def snapshot_names(self) -> list[str]:
        """The saved snapshots, by name."""
        with self._pool.connection() as conn:
            rows = conn.execute(b"SELECT name FROM snapshots ORDER BY name").fetchall()
        return [str(r[0]) for r in rows]


def _dump_table(conn: psycopg.Connection[tuple[Any, ...]], table: str) -> list[list[object]]:
    rows = conn.execute(
        sql.SQL("SELECT * FROM {} ORDER BY 1").format(sql.Identifier(table)), binary=True
    ).fetchall()
    return [[v.decode() if isinstance(v, bytes) else v for v in row] for row in rows]


class _Writer:
    """One thread running ``copy`` over submitted batches, at most two batches behind."""

    def __init__(self, copy: Callable[[list[CitizenRow]], None]) -> None:
        self._copy = copy
        self._queue: queue.Queue[list[CitizenRow] | None] = queue.Queue(maxsize=2)
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._run, name="sim06-copy", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while (batch := self._queue.get()) is not None:
            if self._error is None:  # after a failure, drain without writing
                try:
                    self._copy(batch)
                except BaseException as exc:  # handed to the caller's thread
                    self._error = exc

    def _raise(self) -> None:
        if self._error is not None:
            raise self._error

    def submit(self, batch: list[CitizenRow]) -> None:
        self._raise()
        self._queue.put(batch)

    def join(self) -> None:
        self._queue.put(None)
        self._thread.join()
        self._raise()

    def abandon(self) -> None:
        self._error = self._error or RuntimeError("bulk load abandoned")
        self._queue.put(None)
        self._thread.join()


def seed_postgres(
    url: str,
    *,
    seed: int,
    size: int,
    as_of: date,
    replace: bool = False,
    progress: Callable[[int], None] | None = None,
    pool_size: int = 2,
    workers: int | None = None,
) -> tuple[SeedInfo, float] | None:
    """Seed the database at ``url`` (``sim06 seed --db postgresql://...``).

    Returns ``(info, seconds)``, or None when it already holds exactly this population (a seed
    job can run at every start). A database holding anything else is refused unless
    ``replace``, which empties it first: a shared environment is not wiped by accident.
    ``workers`` processes generate the shards (default: every core; same rows either way).
    """
    store = PostgresCitizenStore(url, pool_size=pool_size)
    try:
        wanted = {
            "seed": str(seed),
            "size": str(size),
            "as_of": as_of.isoformat(),
            "generator_version": GENERATOR_VERSION,
        }
        held = {key: store.get_meta(key) for key in wanted}
        if held == wanted and store.get_meta("citizens") is not None:
            return None
        if any(v is not None for v in held.values()) or store.count() > 0:
            if not replace:
                raise ValueError(
                    f"{url.rsplit('@', 1)[-1]} already holds another population "
                    f"({ {k: v for k, v in held.items() if v is not None} }); "
                    "pass replace=True (sim06 seed --replace) to empty it first"
                )
            store.truncate()
        started = time.perf_counter()
        info = seed_store(
            store,
            seed=seed,
            size=size,
            as_of=as_of,
            progress=progress,
            workers=workers or default_workers(),
        )
        return info, time.perf_counter() - started
    finally:
        store.close()

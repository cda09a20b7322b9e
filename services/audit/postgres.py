"""The gateway's hash-chained audit log in PostgreSQL: one chain for every replica.

Same records, same hash (:func:`services.audit.records.chain`), same verdict
(:func:`services.audit.verify.verify_rows`) as the SQLite file; what changes is who may append.
Several gateway processes write to one chain, so each transaction first locks the one-row
``audit_head`` (``SELECT ... FOR UPDATE``), reads the last seq and hash *there*, appends its
records after them and moves the head, then commits: appends are serialised by the database,
and a replica never trusts a head it remembers.

Group commit as in :class:`~services.audit.sqlite.AuditLog`: the records of one event-loop
turn (and those arriving while a transaction is in flight) go into one transaction, run on a
one-thread committer so the loop keeps serving while PostgreSQL commits (``synchronous_commit``
on: durable once acknowledged).
"""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from concurrent.futures import Future, ThreadPoolExecutor
from typing import TYPE_CHECKING, Any

import psycopg
from psycopg.rows import dict_row

from sim06.services.audit.access import access_row, accesses_query
from sim06.services.audit.metrics import observe_commit
from sim06.services.audit.records import (
    DIGESTS,
    GENESIS,
    LEAF_COLUMNS,
    ROW_COLUMNS,
    AuditEntry,
    chain,
    write_failed,
)
from sim06.services.audit.sqlite import AuditLog
from sim06.services.audit.verify import Anchor, ChainReport, verify_rows

if TYPE_CHECKING:
    from sim06.services.audit.checkpoints import Checkpoints

__all__ = ["PostgresAuditLog", "migrate", "verify_postgres"]

log = logging.getLogger("sim06.audit")
_LOCK_ID = 0x51306A  # advisory lock of the schema creation (replicas starting together)

_SCHEMA = f"""
CREATE TABLE IF NOT EXISTS audit (
    seq bigint PRIMARY KEY,
    ts text NOT NULL,
    agency text NOT NULL,
    officer text NOT NULL,
    procedure text NOT NULL,
    purpose text NOT NULL,
    legal_basis text NOT NULL,
    request_id text NOT NULL,
    operation text NOT NULL,
    pins text NOT NULL,
    fields text NOT NULL,
    status integer NOT NULL,
    outcome text NOT NULL,
    latency_ms double precision NOT NULL,
    request_hash text NOT NULL,
    response_hash text NOT NULL,
    hidden_until text,
    prev_hash text NOT NULL,
    hash text NOT NULL,
    {DIGESTS} text
);
CREATE TABLE IF NOT EXISTS audit_subject (
    pin text NOT NULL, seq bigint NOT NULL, PRIMARY KEY (pin, seq)
);
CREATE TABLE IF NOT EXISTS audit_head (
    id integer PRIMARY KEY CHECK (id = 1), seq bigint NOT NULL, hash text NOT NULL
);
INSERT INTO audit_head (id, seq, hash) VALUES (1, 0, '{GENESIS}') ON CONFLICT (id) DO NOTHING;
"""
_INSERT = (
    f"INSERT INTO audit ({', '.join(ROW_COLUMNS)}) VALUES ({', '.join(['%s'] * len(ROW_COLUMNS))})"
)
# Tables created before civil-status writes get the column (their records keep their hashes:
# see audit.py). Checked first: ALTER TABLE takes an exclusive lock even when it has nothing to
# do, which would queue every replica's appends behind a running ``sim06 audit verify``.
_HAS_DIGESTS = (
    f"SELECT 1 FROM pg_attribute WHERE attrelid = 'audit'::regclass AND attname = '{DIGESTS}'"
    " AND NOT attisdropped"
)
_ADD_DIGESTS = f"ALTER TABLE audit ADD COLUMN IF NOT EXISTS {DIGESTS} text"
Conn = psycopg.Connection[Any]


def migrate(url: str) -> None:
    """Create the audit tables and the head row if missing, add the ``digests`` column to a
    table written before it existed (safe from several replicas)."""
    with psycopg.connect(url, autocommit=True) as conn, conn.transaction():
        conn.execute("SELECT pg_advisory_xact_lock(%s)", (_LOCK_ID,))
        conn.execute(_SCHEMA.encode())
        if conn.execute(_HAS_DIGESTS.encode()).fetchone() is None:
            conn.execute(_ADD_DIGESTS.encode())


def _write(conn: Conn, batch: list[AuditEntry], leaves: bytearray | None = None) -> tuple[int, str]:
    """Append ``batch`` in one transaction after the head, whichever replica wrote it (its
    Merkle leaves added to ``leaves`` if given)."""
    with conn.transaction():
        head = conn.execute("SELECT seq, hash FROM audit_head WHERE id = 1 FOR UPDATE").fetchone()
        if head is None:
            raise RuntimeError("audit_head is missing: the audit schema was not created")
        if leaves is not None:
            del leaves[:]  # a retried transaction starts its leaves anew
        rows, subjects, seq, prev = chain(batch, int(head[0]), str(head[1]), leaves=leaves)
        with conn.cursor() as cur:
            cur.executemany(_INSERT, rows)
            if subjects:
                # COPY, not executemany: a feed page names up to 1,000 citizens, whose INSERTs
                # cost ~9 ms of the gateway's CPU against ~1 ms (benchmarks/RESULTS.md, events).
                with cur.copy("COPY audit_subject (pin, seq) FROM STDIN") as copy:
                    for subject in subjects:
                        copy.write_row(subject)
        conn.execute("UPDATE audit_head SET seq = %s, hash = %s WHERE id = 1", (seq, prev))
    return seq, prev


def _resolve(waiters: list[asyncio.Future[None]], error: BaseException | None) -> None:
    """Settle each waiter on its own loop (from any thread)."""

    def settle(future: asyncio.Future[None]) -> None:
        if future.done():
            return
        if error is None:
            future.set_result(None)
        else:
            future.set_exception(write_failed(error))

    for future in waiters:
        loop = future.get_loop()
        try:
            running = asyncio.get_running_loop()
        except RuntimeError:
            running = None
        if running is loop:
            settle(future)
        elif not loop.is_closed():
            try:
                loop.call_soon_threadsafe(settle, future)
            except RuntimeError:  # closed in between: nobody waits any more
                pass


class PostgresAuditLog(AuditLog):
    """:class:`AuditLog`'s interface over a PostgreSQL database shared by the replicas."""

    def __init__(
        self, url: str, *, durable: bool = True, checkpoints: Checkpoints | None = None
    ) -> None:
        # Not AuditLog.__init__: no SQLite file. Every public method is overridden here.
        self.url = url
        self.durable = durable
        self.checkpoints = checkpoints
        migrate(url)
        self._pg_writer: Conn | None = None
        self._pg_reader = psycopg.connect(url, autocommit=True)
        self._read_lock = threading.Lock()
        self._pg_committer = ThreadPoolExecutor(1, thread_name_prefix="sim06-audit-pg")
        self._queue: list[AuditEntry] = []
        self._queue_waiters: list[asyncio.Future[None]] = []
        self._pg_scheduled = False
        self._busy = False
        self._closed = False
        if checkpoints is not None:
            head = self._read("SELECT seq FROM audit_head WHERE id = 1")
            checkpoints.attach(self.rows_after, int(head[0][0]) if head else 0)

    def describe(self) -> str:
        """Where the records go (the database, without the password)."""
        return self.where(self.url)

    @staticmethod
    def where(url: str) -> str:
        """``url`` without credentials, for messages (secrets never printed)."""
        info = psycopg.conninfo.conninfo_to_dict(url)
        return f"postgresql://{info.get('host', '')}:{info.get('port', 5432)}/{info.get('dbname')}"

    # --- appending (event loop) --------------------------------------------------------------

    async def append(self, entry: AuditEntry) -> None:
        """Queue ``entry`` for the next group commit; when durable, return once committed."""
        loop = asyncio.get_running_loop()
        self._queue.append(entry)
        future: asyncio.Future[None] | None = None
        if self.durable:
            future = loop.create_future()
            self._queue_waiters.append(future)
        if not self._pg_scheduled and not self._busy:
            self._pg_scheduled = True
            loop.call_soon(self._pg_next_batch, loop)
        if future is not None:
            await future

    def _pg_next_batch(self, loop: asyncio.AbstractEventLoop) -> None:
        self._pg_scheduled = False
        if self._busy or not self._queue:
            return
        batch, self._queue = self._queue, []
        waiters, self._queue_waiters = self._queue_waiters, []
        self._busy = True
        done = self._pg_committer.submit(self._commit, batch)
        done.add_done_callback(lambda f: self._threadsafe(loop, self._pg_settle, f, waiters, loop))

    @staticmethod
    def _threadsafe(loop: asyncio.AbstractEventLoop, callback: Any, *args: Any) -> None:
        if not loop.is_closed():
            try:
                loop.call_soon_threadsafe(callback, *args)
            except RuntimeError:
                pass

    def _pg_settle(
        self,
        done: Future[tuple[int, str]],
        waiters: list[asyncio.Future[None]],
        loop: asyncio.AbstractEventLoop,
    ) -> None:
        self._busy = False
        error = done.exception()
        if error is not None and not waiters:
            log.error("audit records lost (non-durable mode): %s", error)
        _resolve(waiters, error)
        if self._queue and not self._pg_scheduled:
            self._pg_next_batch(loop)

    # --- the committer thread ------------------------------------------------------------------

    def _commit(self, batch: list[AuditEntry]) -> tuple[int, str]:
        if not batch:
            return 0, GENESIS
        if self._pg_writer is None or self._pg_writer.closed or self._pg_writer.broken:
            # A connection lost with the database (restart, failover) is replaced on next use.
            self._pg_writer = psycopg.connect(self.url)
        started = time.perf_counter()
        leaves = bytearray() if self.checkpoints is not None else None
        seq, prev = _write(self._pg_writer, batch, leaves)
        observe_commit(time.perf_counter() - started, len(batch))
        if self.checkpoints is not None:
            # Contiguous with the leaves pushed before unless another replica wrote between.
            self.checkpoints.push(seq - len(batch) + 1, bytes(leaves or b""))
            self.checkpoints.note(seq)
        return seq, prev

    # --- synchronous callers -------------------------------------------------------------------

    def append_nowait(self, entry: AuditEntry) -> None:
        """Append and commit ``entry`` now (for callers outside an event loop)."""
        self._queue.append(entry)
        self.flush()

    def flush(self) -> None:
        """Commit whatever is pending, after the transaction in flight (same thread, in order)."""
        if self._closed:
            return
        self._pg_scheduled = False
        batch, self._queue = self._queue, []
        waiters, self._queue_waiters = self._queue_waiters, []
        error: BaseException | None = None
        try:
            self._pg_committer.submit(self._commit, batch).result()
        except (psycopg.Error, RuntimeError) as exc:
            error = exc
        _resolve(waiters, error)
        if error is not None:
            raise RuntimeError(f"audit write failed: {error}") from error

    def close(self) -> None:
        """Commit what is pending and close the connections."""
        if self._closed:
            return
        try:
            self.flush()
        finally:
            self._closed = True
            self._pg_committer.shutdown(wait=True)
            if self.checkpoints is not None:
                self.checkpoints.close()  # the last signed head: every record anchored
            if self._pg_writer is not None:
                self._pg_writer.close()
            self._pg_reader.close()

    # --- reading -------------------------------------------------------------------------------

    def _verify_records(self, anchor: Anchor | None) -> ChainReport:
        """The shared log's rows checked against ``anchor`` (``verify`` signs a head first)."""
        return verify_postgres(self.url, anchor)

    def rows_after(self, seq: int, limit: int) -> list[dict[str, Any]]:
        """The committed records after ``seq`` (``LEAF_COLUMNS``), in order (any thread)."""
        with psycopg.connect(self.url, autocommit=True, row_factory=dict_row) as conn:
            columns = ", ".join(LEAF_COLUMNS)
            query = f"SELECT {columns} FROM audit WHERE seq > %s ORDER BY seq LIMIT %s"
            return list(conn.execute(query.encode(), (seq, limit)).fetchall())

    def _read(self, query: str, args: list[Any] | tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
        with self._read_lock:
            if self._pg_reader.closed or self._pg_reader.broken:
                self._pg_reader = psycopg.connect(self.url, autocommit=True)  # after a restart
            return self._pg_reader.execute(query.encode(), args).fetchall()

    def count(self) -> int:
        rows = self._read("SELECT count(*) FROM audit")
        return int(rows[0][0]) if rows else 0

    def accesses(
        self,
        pin: str,
        *,
        now: str,
        since: str | None = None,
        until: str | None = None,
        agency: str | None = None,
        purpose: str | None = None,
        limit: int = 1000,
    ) -> list[dict[str, Any]]:
        """Successful exchanges that read ``pin``'s data, oldest first, hidden ones left out."""
        sql, args = accesses_query("%s", pin, now, since, until, agency, purpose, limit)
        return [access_row(row) for row in self._read(sql, args)]


def verify_postgres(url: str, anchor: Anchor | None = None) -> ChainReport:
    """Check the chain in PostgreSQL: rows and head read from one snapshot (REPEATABLE READ),
    so replicas appending meanwhile do not make an intact chain look broken."""
    with psycopg.connect(url) as conn:
        conn.isolation_level = psycopg.IsolationLevel.REPEATABLE_READ
        conn.read_only = True
        exists = conn.execute("SELECT to_regclass('audit') IS NOT NULL").fetchone()
        if not exists or not exists[0]:
            return ChainReport(False, 0, None, "no audit log in this database")
        with conn.cursor("sim06_audit_verify", row_factory=dict_row) as cur:
            cur.itersize = 5000
            cur.execute("SELECT * FROM audit ORDER BY seq")
            return verify_rows(
                cur,
                lambda: conn.execute("SELECT seq, hash FROM audit_head WHERE id = 1").fetchone(),
                anchor,
            )

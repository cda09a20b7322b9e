"""The audit log in one SQLite file: append-only, hash-chained, group-committed.

A one-row ``audit_head`` (last seq and hash, written in the same transaction) exposes deleting
records from the end, as long as it is not rewritten too; the signed tree heads outside the file
(:mod:`services.audit.checkpoints`) expose it whatever the database says.
:func:`verify_chain` checks a file's chain and says where it breaks.

Appends are serialised (so the chain is linear under any concurrency) and committed in
groups (see :class:`AuditLog`). With ``durable=True`` the request awaits its record's commit
(WAL, ``synchronous=FULL``: durable against power loss) before answering; the fsync is shared
by the whole batch and runs off the event loop, so durability does not cap throughput.
"""

from __future__ import annotations

import asyncio
import logging
import sqlite3
import threading
import time
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sim06.services.audit.access import access_row, accesses_query
from sim06.services.audit.index import SUBJECT_SEQS, ensure_mark, index_step
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
from sim06.services.audit.verify import Anchor, ChainReport, verify_rows

if TYPE_CHECKING:
    from sim06.services.audit.checkpoints import Checkpoints

log = logging.getLogger("sim06.audit")

# The per-citizen index (index.py) is built behind the chain: in chunks of this many records
# once no record was appended for _IDLE_S, and before the next commit once it trails the chain
# by _FORCE_LAG records (the bound on what an access-log read scans unindexed).
_INDEX_CHUNK = 4096
_IDLE_S = 0.05
_FORCE_LAG = 100_000

_SCHEMA = """
CREATE TABLE IF NOT EXISTS audit (
    seq INTEGER PRIMARY KEY,
    ts TEXT NOT NULL,
    agency TEXT NOT NULL,
    officer TEXT NOT NULL,
    procedure TEXT NOT NULL,
    purpose TEXT NOT NULL,
    legal_basis TEXT NOT NULL,
    request_id TEXT NOT NULL,
    operation TEXT NOT NULL,
    pins TEXT NOT NULL,
    fields TEXT NOT NULL,
    status INTEGER NOT NULL,
    outcome TEXT NOT NULL,
    latency_ms REAL NOT NULL,
    request_hash TEXT NOT NULL,
    response_hash TEXT NOT NULL,
    hidden_until TEXT,
    prev_hash TEXT NOT NULL,
    hash TEXT NOT NULL,
    digests TEXT
);
CREATE TABLE IF NOT EXISTS audit_subject (
    pin TEXT NOT NULL, seq INTEGER NOT NULL, PRIMARY KEY (pin, seq)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS audit_head (
    id INTEGER PRIMARY KEY CHECK (id = 1), seq INTEGER NOT NULL, hash TEXT NOT NULL
);
"""
_INSERT = (
    f"INSERT INTO audit ({', '.join(ROW_COLUMNS)}) VALUES ({', '.join('?' * len(ROW_COLUMNS))})"
)


@dataclass(slots=True)
class _Inflight:
    """A transaction finishing on the committer thread: a staged batch of records (its COMMIT),
    or an index step (``staged`` None; the future's result is the index's new mark)."""

    commit: Future[Any]
    staged: tuple[int, str] | None
    waiters: list[asyncio.Future[None]]
    loop: asyncio.AbstractEventLoop
    started: float = 0.0  # perf_counter when the batch was staged
    size: int = 0  # records in the batch


def _on_loop(loop: asyncio.AbstractEventLoop) -> bool:
    try:
        return asyncio.get_running_loop() is loop
    except RuntimeError:
        return False


def _call_soon_threadsafe(loop: asyncio.AbstractEventLoop, callback: Any, *args: Any) -> None:
    if not loop.is_closed():
        try:
            loop.call_soon_threadsafe(callback, *args)
        except RuntimeError:  # closed in between: nobody waits any more
            pass


def _resolve(waiters: list[asyncio.Future[None]], error: BaseException | None) -> None:
    for future in waiters:
        if future.done():
            continue
        if error is None:
            future.set_result(None)
        else:
            future.set_exception(write_failed(error))


def _connect(path: Path, *, durable: bool) -> sqlite3.Connection:
    path.parent.mkdir(parents=True, exist_ok=True)
    conn = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute(f"PRAGMA synchronous={'FULL' if durable else 'NORMAL'}")
    conn.execute("PRAGMA busy_timeout=5000")
    conn.executescript(_SCHEMA)
    _add_digests(conn)
    ensure_mark(conn)
    return conn


def _add_digests(conn: sqlite3.Connection) -> None:
    """Migrate a file written before the ``digests`` column existed (its records keep their
    hashes: a null digest is left out of the canonical JSON)."""
    if any(row[1] == DIGESTS for row in conn.execute("PRAGMA table_info(audit)")):
        return
    try:
        conn.execute(f"ALTER TABLE audit ADD COLUMN {DIGESTS} TEXT")
    except sqlite3.OperationalError as exc:
        if "duplicate column" not in str(exc):  # another process migrated it meanwhile
            raise


class AuditLog:
    """The append-only, hash-chained log in one SQLite file.

    Group commit (``durable=True``): records queued while no commit is running are staged in
    one transaction on the event loop (hashing, inserts: Python work) and its ``COMMIT`` (the
    WAL write and fsync, which release the GIL) runs on a one-thread committer. While that
    commit is in flight the loop keeps serving, and the records of those requests queue up for
    the next transaction, started as soon as the previous one is durable. Each request answers
    once its own transaction has committed, so the batch grows with the requests in flight.

    The per-citizen index follows the chain (see :mod:`~services.audit.index`): its
    steps run on the committer too, when appends pause, or before the next batch once the
    index trails by ``_FORCE_LAG`` records.
    """

    def __init__(
        self, path: Path, *, durable: bool = True, checkpoints: Checkpoints | None = None
    ) -> None:
        self.path = path
        self.durable = durable
        self.checkpoints = checkpoints
        self._staged_leaves: tuple[int, bytes] = (0, b"")
        self._conn = _connect(path, durable=durable)
        last = self._conn.execute(
            "SELECT seq, hash FROM audit ORDER BY seq DESC LIMIT 1"
        ).fetchone()
        self._seq, self._prev = (int(last[0]), str(last[1])) if last else (0, GENESIS)
        self._indexed = int(
            self._conn.execute("SELECT seq FROM audit_subject_mark WHERE id = 1").fetchone()[0]
        )
        self._appends = 0  # appends so far: the idle check's clock
        # Cleared by a failed index step: no more steps in this process (reads stay exact, they
        # scan the unindexed tail), so a broken index never holds up the records.
        self._indexing = True
        self._idle_timer: asyncio.TimerHandle | None = None
        self._closed = False
        self._pending: list[AuditEntry] = []
        self._waiters: list[asyncio.Future[None]] = []
        self._scheduled = False
        # The transaction whose COMMIT runs on the committer thread, if any.
        self._inflight: _Inflight | None = None
        self._committer: ThreadPoolExecutor | None = None
        # Held from staging a transaction to its end: one writer at a time, whatever the thread
        # (event loop, tests, CLI); uncontended in a server.
        self._lock = threading.Lock()
        self._settle_lock = threading.Lock()
        self._reader = sqlite3.connect(
            f"file:{path}?mode=ro", uri=True, check_same_thread=False, isolation_level=None
        )
        if checkpoints is not None:
            checkpoints.attach(self.rows_after, self._seq)

    async def append(self, entry: AuditEntry) -> None:
        """Queue ``entry`` for the next group commit; when durable, return once committed.

        A batch starts after the callbacks already ready on the loop (``call_soon``), so the
        exchanges that reached this point in the same loop iteration share it; while a commit
        is in flight, new records wait for it to finish and go into the next one.
        """
        loop = asyncio.get_running_loop()
        self._pending.append(entry)
        self._appends += 1
        future: asyncio.Future[None] | None = None
        if self.durable:
            future = loop.create_future()
            self._waiters.append(future)
        if not self._scheduled and self._inflight is None:
            self._scheduled = True
            loop.call_soon(self._next_batch, loop)
        if future is not None:
            await future

    def append_nowait(self, entry: AuditEntry) -> None:
        """Append and commit ``entry`` now (for callers outside an event loop)."""
        self._pending.append(entry)
        self._commit_pending()

    def flush(self) -> None:
        """Commit whatever is pending (waits for a commit in flight first)."""
        self._commit_pending()

    def close(self) -> None:
        """Commit what is pending and close the file (the index resumes on the next open)."""
        self._closed = True
        if self._idle_timer is not None:
            self._idle_timer.cancel()
        self._commit_pending()
        if self._committer is not None:
            self._committer.shutdown(wait=True)
        if self.checkpoints is not None:
            self.checkpoints.close()  # the last signed head: every record anchored
        self._conn.close()
        self._reader.close()

    # --- group commit ----------------------------------------------------------------------

    def _next_batch(self, loop: asyncio.AbstractEventLoop) -> None:
        self._scheduled = False
        if self._inflight is not None or not self._pending:
            return
        if not self._lock.acquire(blocking=False):
            # A synchronous writer (another thread) has the file; retry on the next iteration.
            self._scheduled = True
            loop.call_soon(self._next_batch, loop)
            return
        if self._indexing and self._seq - self._indexed >= _FORCE_LAG:
            self._submit(loop, self._committer_pool().submit(self._index_job), None, [])
            return  # the records wait for this one step
        batch, self._pending = self._pending, []
        waiters, self._waiters = self._waiters, []
        started = time.perf_counter()
        try:
            staged = self._stage(batch)
        except sqlite3.Error as exc:
            self._lock.release()
            _resolve(waiters, exc)
            return
        commit = self._committer_pool().submit(self._conn.execute, "COMMIT")
        self._submit(loop, commit, staged, waiters, started, len(batch))

    def _committer_pool(self) -> ThreadPoolExecutor:
        if self._committer is None:
            self._committer = ThreadPoolExecutor(1, thread_name_prefix="sim06-audit-commit")
        return self._committer

    def _submit(
        self,
        loop: asyncio.AbstractEventLoop,
        commit: Future[Any],
        staged: tuple[int, str] | None,
        waiters: list[asyncio.Future[None]],
        started: float = 0.0,
        size: int = 0,
    ) -> None:
        """Track ``commit`` (holding ``_lock``) as the transaction in flight until it settles."""
        inflight = _Inflight(commit, staged, waiters, loop, started, size)
        self._inflight = inflight
        commit.add_done_callback(lambda _: _call_soon_threadsafe(loop, self._settle, inflight))

    def _settle(self, inflight: _Inflight, *, resume: bool = True) -> None:
        """End ``inflight`` once its COMMIT returned (idempotent; the loop or a sync caller).

        ``resume`` starts the next batch at once (the loop's callback); a synchronous caller
        commits what is pending itself.
        """
        with self._settle_lock:
            if self._inflight is not inflight:
                return
            self._inflight = None
        error = inflight.commit.exception()  # waits if a sync caller got here first
        staged = inflight.staged
        indexing = staged is None
        if error is None:
            if staged is None:
                self._indexed = int(inflight.commit.result())
            else:
                self._seq, self._prev = staged
                self._committed(inflight.started, inflight.size)
        else:
            if self._conn.in_transaction:
                self._conn.execute("ROLLBACK")
            if indexing:  # the chain is intact; reads scan what is not indexed
                self._indexing = False
                log.error(
                    "audit index step failed (%s): index steps stop in this process; "
                    "access-log reads scan the unindexed records",
                    type(error).__name__,
                )
        self._lock.release()
        loop = inflight.loop
        if _on_loop(loop):
            _resolve(inflight.waiters, error)
            if not resume or self._scheduled:
                return
            if self._pending:
                # Not at once: after the callbacks already ready (the requests this commit
                # released, records staged meanwhile), which makes batches about half again
                # as large under load: fewer fsyncs per record.
                self._scheduled = True
                loop.call_soon(self._next_batch, loop)
            elif indexing:
                self._index_if_idle(loop, self._appends)  # still idle: the next step
            else:
                self._arm_idle(loop)
        else:
            _call_soon_threadsafe(loop, _resolve, inflight.waiters, error)

    # --- the index, behind the chain ----------------------------------------------------------

    def _arm_idle(self, loop: asyncio.AbstractEventLoop) -> None:
        """Index once no record was appended for ``_IDLE_S`` (if the index trails)."""
        if (
            self._idle_timer is None
            and self._indexing
            and not self._closed
            and self._seq > self._indexed
        ):
            self._idle_timer = loop.call_later(_IDLE_S, self._on_idle, loop, self._appends)

    def _on_idle(self, loop: asyncio.AbstractEventLoop, appends: int) -> None:
        self._idle_timer = None
        if appends == self._appends:
            self._index_if_idle(loop, appends)
        # Otherwise records came meanwhile: their commit re-arms the timer.

    def _index_if_idle(self, loop: asyncio.AbstractEventLoop, appends: int) -> None:
        if (
            self._closed
            or not self._indexing
            or appends != self._appends
            or self._inflight is not None
            or self._pending
            or self._seq <= self._indexed
            or not self._lock.acquire(blocking=False)
        ):
            return
        self._submit(loop, self._committer_pool().submit(self._index_job), None, [])

    def _index_job(self) -> int:
        """One index step in its own transaction (committer thread, ``_lock`` held)."""
        conn = self._conn
        conn.execute("BEGIN IMMEDIATE")
        try:
            mark = index_step(conn, _INDEX_CHUNK)
            conn.execute("COMMIT")
        except sqlite3.Error:
            if conn.in_transaction:
                conn.execute("ROLLBACK")
            raise
        return mark

    def _commit_pending(self) -> None:
        inflight = self._inflight
        if inflight is not None:
            self._settle(inflight, resume=False)
        with self._lock:
            self._scheduled = False
            batch, self._pending = self._pending, []
            waiters, self._waiters = self._waiters, []
            error: BaseException | None = None
            if batch:
                started = time.perf_counter()
                try:
                    staged = self._stage(batch)
                    forced = self._indexing and staged[0] - self._indexed >= _FORCE_LAG
                    mark = index_step(self._conn, None) if forced else self._indexed
                    self._conn.execute("COMMIT")
                    self._seq, self._prev = staged
                    self._indexed = mark
                    self._committed(started, len(batch))
                except sqlite3.Error as exc:
                    if self._conn.in_transaction:
                        self._conn.execute("ROLLBACK")
                    error = exc
        _resolve(waiters, error)

    def _committed(self, started: float, size: int) -> None:
        """A batch of ``size`` records staged at ``started`` is durable: metrics, and the
        checkpoints learn how far the log goes."""
        observe_commit(time.perf_counter() - started, size)
        if self.checkpoints is not None:
            self.checkpoints.push(*self._staged_leaves)
            self.checkpoints.note(self._seq)

    def _stage(self, batch: list[AuditEntry]) -> tuple[int, str]:
        """Open a transaction holding ``batch``; the chain's new head once it commits."""
        leaves = bytearray() if self.checkpoints is not None else None
        rows, _, seq, prev = chain(batch, self._seq, self._prev, with_subjects=False, leaves=leaves)
        # One transaction is staged at a time (``_lock``): its leaves wait here for its commit.
        self._staged_leaves = (self._seq + 1, bytes(leaves or b""))
        conn = self._conn
        try:
            conn.execute("BEGIN IMMEDIATE")
            conn.executemany(_INSERT, rows)
            conn.execute(
                "INSERT INTO audit_head (id, seq, hash) VALUES (1, ?, ?) "
                "ON CONFLICT (id) DO UPDATE SET seq = excluded.seq, hash = excluded.hash",
                (seq, prev),
            )
        except sqlite3.Error:
            if conn.in_transaction:
                conn.execute("ROLLBACK")
            raise
        return seq, prev

    # --- reading ---------------------------------------------------------------------------

    def verify(self) -> ChainReport:
        """Commit what is pending, sign a head over it, then check the whole log against the
        signed tree heads (``sim06 audit verify``)."""
        self.flush()
        if self.checkpoints is None:
            return self._verify_records(None)
        from sim06.services.audit.checkpoints import CheckpointError
        from sim06.services.audit.verify import load_anchor

        try:
            self.checkpoints.checkpoint()
            anchor = load_anchor(self.checkpoints.file.path, self.checkpoints.keys)
        except CheckpointError as exc:
            return ChainReport(False, 0, None, f"the signed tree heads are not valid: {exc}")
        return self._verify_records(anchor)

    def _verify_records(self, anchor: Anchor | None) -> ChainReport:
        """The stored records checked against ``anchor`` (the backend's own reading)."""
        return verify_chain(self.path, anchor)

    def rows_after(self, seq: int, limit: int) -> list[dict[str, Any]]:
        """The committed records after ``seq`` (``LEAF_COLUMNS``), in order (any thread)."""
        conn = sqlite3.connect(f"file:{self.path}?mode=ro", uri=True)
        try:
            columns = ", ".join(LEAF_COLUMNS)
            query = f"SELECT {columns} FROM audit WHERE seq > ? ORDER BY seq LIMIT ?"
            rows = conn.execute(query, (seq, limit))
            return [dict(zip(LEAF_COLUMNS, row, strict=True)) for row in rows]
        finally:
            conn.close()

    def describe(self) -> str:
        """Where the records go (for messages)."""
        return str(self.path)

    def count(self) -> int:
        return int(self._reader.execute("SELECT count(*) FROM audit").fetchone()[0])

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
        sql, args = accesses_query(
            "?", pin, now, since, until, agency, purpose, limit, subject_seqs=SUBJECT_SEQS
        )
        return [access_row(row) for row in self._reader.execute(sql, args)]


def verify_chain(path: Path, anchor: Anchor | None = None) -> ChainReport:
    """Check every record's hash and link, then the head; report the first break."""
    if not path.exists():
        return ChainReport(False, 0, None, f"{path} does not exist")
    conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        conn.row_factory = sqlite3.Row
        rows = (dict(raw) for raw in conn.execute("SELECT * FROM audit ORDER BY seq"))
        return verify_rows(rows, lambda: conn.execute(_HEAD).fetchone(), anchor)
    finally:
        conn.close()


_HEAD = "SELECT seq, hash FROM audit_head WHERE id = 1"

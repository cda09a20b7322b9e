"""Tamper-evident audit log of every exchange through the gateway, allowed or refused.

Each record carries ``prev_hash`` (the previous record's ``hash``; 64 zeros for the first) and
``hash`` = SHA-256 over ``prev_hash`` and the canonical JSON of the record with its sequence
number, so editing, deleting, reordering or inserting a record breaks the chain at that index.
A civil-status write also carries ``digests`` (SHA-256 of each record it changed, before and
after), hashed with the record when present: the column was added later (a migration on open),
and a record without digests hashes exactly as records always did.
A one-row ``audit_head`` (last seq and hash, written in the same transaction) also exposes
deleting records from the end. :func:`verify_chain` checks a file and says where it breaks.

Appends are serialised (so the chain is linear under any concurrency) and committed in
groups (see :class:`AuditLog`). With ``durable=True`` the request awaits its record's commit
(WAL, ``synchronous=FULL``: durable against power loss) before answering; the fsync is shared
by the whole batch and runs off the event loop, so durability does not cap throughput.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import sqlite3
import threading
from collections.abc import Callable, Iterable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson

from services.gateway.audit_access import access_row, accesses_query
from services.gateway.audit_index import SUBJECT_SEQS, ensure_mark, index_step

log = logging.getLogger("sim06.gateway.audit")

GENESIS = "0" * 64
# The per-citizen index (audit_index) is built behind the chain: in chunks of this many records
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
_COLUMNS = (
    "seq", "ts", "agency", "officer", "procedure", "purpose", "legal_basis", "request_id",
    "operation", "pins", "fields", "status", "outcome", "latency_ms", "request_hash",
    "response_hash", "hidden_until", "prev_hash",
)  # fmt: skip
# Hashed only when not null (records written before the column existed have none): a JSON text
# list of {"pin", "before", "after"}, SHA-256 hex of each record the write changed (before is
# null for a new PIN).
DIGESTS = "digests"
# The stored columns in the order of a :func:`chain` row.
ROW_COLUMNS = (*_COLUMNS, "hash", DIGESTS)
_INSERT = (
    f"INSERT INTO audit ({', '.join(ROW_COLUMNS)}) VALUES ({', '.join('?' * len(ROW_COLUMNS))})"
)


@dataclass(slots=True)
class AuditEntry:
    """One exchange as the gateway saw it (no personal data except the PINs looked up)."""

    ts: str
    agency: str
    officer: str
    procedure: str
    purpose: str
    legal_basis: str
    request_id: str
    operation: str
    status: int
    outcome: str
    latency_ms: float
    request_hash: str
    response_hash: str
    pins: list[str] = field(default_factory=list)
    fields: list[str] = field(default_factory=list)
    hidden_until: str | None = None
    # Civil-status writes: SHA-256 of each record before and after ({pin, before, after}).
    digests: list[dict[str, str | None]] | None = None


def record_hash(row: dict[str, Any]) -> str:
    """The chain hash of a stored row (every column but ``hash``; ``digests`` only if not null,
    so a row read from a file or table without that column hashes as before)."""
    record = {k: row[k] for k in _COLUMNS}
    digests = row.get(DIGESTS)
    if digests is not None:
        record[DIGESTS] = digests
    canonical = orjson.dumps(record, option=orjson.OPT_SORT_KEYS)
    return hashlib.sha256(row["prev_hash"].encode("ascii") + b"\n" + canonical).hexdigest()


_SORTED = tuple(sorted(_COLUMNS))  # the canonical key order of record_hash (OPT_SORT_KEYS)


def chain(
    batch: list[AuditEntry], seq: int, prev: str, *, with_subjects: bool = True
) -> tuple[list[tuple[Any, ...]], list[tuple[str, int]], int, str]:
    """The rows (``ROW_COLUMNS``) and ``(pin, seq)`` subjects of ``batch`` appended after
    record ``seq`` whose hash is ``prev``, and the new head ``(seq, hash)``. No subjects unless
    ``with_subjects`` (the SQLite log indexes them later: :mod:`.audit_index`).

    Each hash is :func:`record_hash` of the row; the canonical JSON is built with its keys
    already in sorted order (what ``OPT_SORT_KEYS`` yields, byte for byte) since this runs once
    per exchange on the event loop. A record with digests (a civil-status write, rare) is
    sorted by orjson instead, its ``digests`` key added.
    """
    rows: list[tuple[Any, ...]] = []
    subjects: list[tuple[str, int]] = []
    dumps, sha256 = orjson.dumps, hashlib.sha256
    for entry in batch:
        seq += 1
        pins = dumps(entry.pins).decode()
        fields = dumps(entry.fields).decode()
        record = {
            "agency": entry.agency,
            "fields": fields,
            "hidden_until": entry.hidden_until,
            "latency_ms": entry.latency_ms,
            "legal_basis": entry.legal_basis,
            "officer": entry.officer,
            "operation": entry.operation,
            "outcome": entry.outcome,
            "pins": pins,
            "prev_hash": prev,
            "procedure": entry.procedure,
            "purpose": entry.purpose,
            "request_hash": entry.request_hash,
            "request_id": entry.request_id,
            "response_hash": entry.response_hash,
            "seq": seq,
            "status": entry.status,
            "ts": entry.ts,
        }
        if entry.digests is None:
            digests = None
            canonical = dumps(record)
        else:
            digests = dumps(entry.digests).decode()
            record[DIGESTS] = digests
            canonical = dumps(record, option=orjson.OPT_SORT_KEYS)
        digest = sha256(prev.encode("ascii") + b"\n" + canonical).hexdigest()
        rows.append(
            (
                seq, entry.ts, entry.agency, entry.officer, entry.procedure, entry.purpose,
                entry.legal_basis, entry.request_id, entry.operation, pins, fields, entry.status,
                entry.outcome, entry.latency_ms, entry.request_hash, entry.response_hash,
                entry.hidden_until, prev, digest, digests,
            )
        )  # fmt: skip
        prev = digest
        pin_list = entry.pins
        if not with_subjects:
            continue
        if len(pin_list) == 1:
            subjects.append((pin_list[0], seq))
        else:
            subjects.extend((pin, seq) for pin in dict.fromkeys(pin_list))
    return rows, subjects, seq, prev


@dataclass(slots=True)
class _Inflight:
    """A transaction finishing on the committer thread: a staged batch of records (its COMMIT),
    or an index step (``staged`` None; the future's result is the index's new mark)."""

    commit: Future[Any]
    staged: tuple[int, str] | None
    waiters: list[asyncio.Future[None]]
    loop: asyncio.AbstractEventLoop


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
            future.set_exception(RuntimeError(f"audit write failed: {type(error).__name__}"))


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

    The per-citizen index follows the chain (see :mod:`~services.gateway.audit_index`): its
    steps run on the committer too, when appends pause, or before the next batch once the
    index trails by ``_FORCE_LAG`` records.
    """

    def __init__(self, path: Path, *, durable: bool = True) -> None:
        self.path = path
        self.durable = durable
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
        try:
            staged = self._stage(batch)
        except sqlite3.Error as exc:
            self._lock.release()
            _resolve(waiters, exc)
            return
        commit = self._committer_pool().submit(self._conn.execute, "COMMIT")
        self._submit(loop, commit, staged, waiters)

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
    ) -> None:
        """Track ``commit`` (holding ``_lock``) as the transaction in flight until it settles."""
        inflight = _Inflight(commit, staged, waiters, loop)
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
                try:
                    staged = self._stage(batch)
                    forced = self._indexing and staged[0] - self._indexed >= _FORCE_LAG
                    mark = index_step(self._conn, None) if forced else self._indexed
                    self._conn.execute("COMMIT")
                    self._seq, self._prev = staged
                    self._indexed = mark
                except sqlite3.Error as exc:
                    if self._conn.in_transaction:
                        self._conn.execute("ROLLBACK")
                    error = exc
        _resolve(waiters, error)

    def _stage(self, batch: list[AuditEntry]) -> tuple[int, str]:
        """Open a transaction holding ``batch``; the chain's new head once it commits."""
        rows, _, seq, prev = chain(batch, self._seq, self._prev, with_subjects=False)
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
        """Commit what is pending, then check the whole chain (``sim06 audit verify``)."""
        self.flush()
        return verify_chain(self.path)

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


@dataclass(frozen=True, slots=True)
class ChainReport:
    """The outcome of :func:`verify_chain`: ``index`` is the first bad record's seq."""

    ok: bool
    records: int
    index: int | None = None
    problem: str | None = None


def verify_chain(path: Path) -> ChainReport:
    """Check every record's hash and link, then the head; report the first break."""
    if not path.exists():
        return ChainReport(False, 0, None, f"{path} does not exist")
    conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        conn.row_factory = sqlite3.Row
        rows = (dict(raw) for raw in conn.execute("SELECT * FROM audit ORDER BY seq"))
        return verify_rows(rows, lambda: conn.execute(_HEAD).fetchone())
    finally:
        conn.close()


_HEAD = "SELECT seq, hash FROM audit_head WHERE id = 1"


def verify_rows(rows: Iterable[dict[str, Any]], head: Callable[[], Any]) -> ChainReport:
    """Walk ``rows`` (every stored column, in seq order), then compare the chain's end with
    ``head()`` (the ``(seq, hash)`` of the head row, or None): the verdict of any backend."""
    prev, expected, count = GENESIS, 1, 0
    for row in rows:
        seq = row["seq"]
        if seq != expected:
            return ChainReport(
                False, count, expected,
                f"record {expected} is missing (deleted); the next one is {seq}",
            )  # fmt: skip
        if row["prev_hash"] != prev:
            return ChainReport(
                False, count, seq,
                f"record {seq} does not follow record {seq - 1} (reordered, inserted or "
                "the previous record was replaced)",
            )  # fmt: skip
        if record_hash(row) != row["hash"]:
            return ChainReport(False, count, seq, f"record {seq} was altered")
        prev, expected, count = row["hash"], expected + 1, count + 1
    found = head()
    head_seq, head_hash = (int(found[0]), str(found[1])) if found else (0, GENESIS)
    if head_seq != count or head_hash != prev:
        return ChainReport(
            False, count, count + 1 if head_seq > count else head_seq,
            f"the head names record {head_seq} but the chain ends at {count} "
            "(records deleted from the end, or the head was altered)",
        )  # fmt: skip
    return ChainReport(True, count)

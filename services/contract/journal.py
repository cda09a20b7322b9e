"""The request journal: a bounded record of the exchanges a service served, for coverage.

Each exchange is a small summary, never a body: operation id, method, path *template* (no
PINs: they are personal data), status, problem ``code``, the query parameters and JSON fields
the client sent and the JSON fields the response carried (as pointers, arrays as ``*``). Kept
in memory (a bounded deque) or, with a path, in SQLite so that several workers share one
journal and it survives restarts. ``GET /__sim06/journal`` serves it; ``DELETE`` resets it.
"""

from __future__ import annotations

import sqlite3
import threading
import time
from collections import deque
from collections.abc import Iterable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qsl

import orjson
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from sim06.services.contract.openapi import escape

if TYPE_CHECKING:
    from sim06.services.contract.index import ContractIndex

__all__ = ["PREFIX", "Exchange", "Journal", "JournalMiddleware", "fields_of"]

PREFIX = "/__sim06/"
_MAX_CAPTURE = 1 << 20  # larger bodies are journaled without their fields
_MAX_ITEMS = 50  # array items walked per array: fields of later items are rarely new
_MAX_FIELDS = 500
_TRIM_EVERY = 1024


@dataclass(frozen=True, slots=True)
class Exchange:
    """One exchange as the journal keeps it."""

    seq: int
    time: float
    method: str
    path: str | None  # the contract's path template; None for undocumented paths
    operation_id: str | None
    status: int
    code: str | None
    duration_ms: float
    query: tuple[str, ...]
    request_fields: tuple[str, ...]
    response_fields: tuple[str, ...]


def fields_of(value: Any) -> tuple[str, ...]:
    """JSON pointers of the non-null members of ``value`` (array items as ``*``), sorted."""
    out: set[str] = set()
    _walk(value, "", out)
    return tuple(sorted(out))


def _walk(value: Any, pointer: str, out: set[str]) -> None:
    # Hot when the journal is on: recurse only into containers, escape only when needed.
    if len(out) >= _MAX_FIELDS:
        return
    if type(value) is dict:
        for key, item in value.items():
            if item is None:
                continue
            name = (
                key if type(key) is str and "/" not in key and "~" not in key else escape(str(key))
            )
            child = pointer + "/" + name
            out.add(child)
            if type(item) is dict or type(item) is list:
                _walk(item, child, out)
    elif type(value) is list:
        child = pointer + "/*"
        for item in value[:_MAX_ITEMS]:
            if type(item) is dict or type(item) is list:
                _walk(item, child, out)


class Journal:
    """The last ``size`` exchanges, in memory or in a SQLite file."""

    def __init__(self, size: int = 100_000, path: Path | None = None) -> None:
        self.size = size
        self._memory: deque[Exchange] = deque(maxlen=size)
        self._seq = 0
        self._lock = threading.Lock()
        self._shapes: dict[tuple[str, ...], tuple[str, ...]] = {}
        self._db: sqlite3.Connection | None = None
        if path is not None:
            path.parent.mkdir(parents=True, exist_ok=True)
            self._db = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("PRAGMA synchronous=OFF")  # a test journal, not a ledger
            self._db.execute(
                "CREATE TABLE IF NOT EXISTS exchange (seq INTEGER PRIMARY KEY, data BLOB NOT NULL)"
            )

    def record(self, **summary: Any) -> None:
        """Append one exchange (``Exchange`` fields except ``seq``)."""
        for name in ("query", "request_fields", "response_fields"):
            # Identical shapes share one tuple: 100,000 lookups keep a handful of field lists.
            shape = summary[name]
            summary[name] = self._shapes.setdefault(shape, shape)
        if len(self._shapes) > 10_000:
            self._shapes.clear()
        with self._lock:
            if self._db is None:
                self._seq += 1
                self._memory.append(Exchange(seq=self._seq, **summary))
                return
            cursor = self._db.execute(
                "INSERT INTO exchange (data) VALUES (?)", (orjson.dumps(summary),)
            )
            seq = cursor.lastrowid or 0
            if seq % _TRIM_EVERY == 0:
                self._db.execute("DELETE FROM exchange WHERE seq <= ?", (seq - self.size,))

    def entries(self, since: int = 0) -> list[Exchange]:
        """Exchanges with ``seq`` above ``since``, oldest first."""
        with self._lock:
            if self._db is None:
                return [e for e in self._memory if e.seq > since]
            rows = self._db.execute(
                "SELECT seq, data FROM exchange WHERE seq > ? ORDER BY seq DESC LIMIT ?",
                (since, self.size),
            ).fetchall()
        return [_from_row(seq, data) for seq, data in reversed(rows)]

    def recorded(self) -> int:
        """How many exchanges were recorded since the last reset (kept or dropped)."""
        with self._lock:
            if self._db is None:
                return self._seq
            row = self._db.execute("SELECT max(seq) FROM exchange").fetchone()
        return int(row[0] or 0)

    def reset(self) -> None:
        """Forget every exchange."""
        with self._lock:
            self._memory.clear()
            self._seq = 0
            if self._db is not None:
                self._db.execute("DELETE FROM exchange")

    def document(self, service: str, since: int = 0) -> dict[str, Any]:
        """The journal as served by ``GET /__sim06/journal``."""
        entries = self.entries(since)
        recorded = self.recorded()
        return {
            "service": service,
            "capacity": self.size,
            "recorded": recorded,
            "dropped": max(0, recorded - since - len(entries)),
            "entries": [asdict(e) for e in entries],
        }

    def close(self) -> None:
        """Close the SQLite file, if any."""
        if self._db is not None:
            self._db.close()
            self._db = None


def _from_row(seq: int, data: bytes) -> Exchange:
    raw = orjson.loads(data)
    for name in ("query", "request_fields", "response_fields"):
        raw[name] = tuple(raw[name])
    return Exchange(seq=seq, **raw)


class JournalMiddleware:
    """Record a summary of every exchange (outside ``/__sim06/``) in ``journal``."""

    def __init__(self, app: ASGIApp, journal: Journal, index: ContractIndex) -> None:
        self.app = app
        self.journal = journal
        self.index = index

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"].startswith(PREFIX):
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        method: str = scope["method"]
        found = self.index.find(method, scope["path"])
        request: list[bytes] = []
        response: list[bytes] = []
        state: dict[str, Any] = {"status": 0, "json": False, "size": 0, "in": 0}

        capture_request = found is not None and _is_json(_header(scope["headers"]))

        async def journal_receive() -> Message:
            message = await receive()
            if capture_request and message["type"] == "http.request":
                chunk = message.get("body", b"")
                state["in"] += len(chunk)
                if state["in"] <= _MAX_CAPTURE:
                    request.append(chunk)
            return message

        async def journal_send(message: Message) -> None:
            if message["type"] == "http.response.start":
                state["status"] = message["status"]
                state["json"] = _is_json(_header(message.get("headers", [])))
            elif message["type"] == "http.response.body" and state["json"]:
                chunk = message.get("body", b"")
                state["size"] += len(chunk)
                if state["size"] <= _MAX_CAPTURE:
                    response.append(chunk)
            await send(message)

        try:
            await self.app(scope, journal_receive if capture_request else receive, journal_send)
        finally:
            op = found[0] if found is not None else None
            body = _parse(request) if state["in"] <= _MAX_CAPTURE else None
            answer = _parse(response) if state["size"] <= _MAX_CAPTURE else None
            code = (
                answer.get("code") if isinstance(answer, dict) and state["status"] >= 400 else None
            )
            query = scope.get("query_string", b"").decode("latin-1")
            self.journal.record(
                time=time.time(),
                method=method,
                path=op.path if op else None,
                operation_id=(op.operation_id or None) if op else None,
                status=state["status"] or 500,
                code=str(code) if code is not None else None,
                duration_ms=round((time.perf_counter() - started) * 1000, 3),
                query=tuple(sorted({k for k, _ in parse_qsl(query, keep_blank_values=True)})),
                request_fields=fields_of(body) if body is not None else (),
                response_fields=fields_of(answer) if answer is not None else (),
            )


def _header(headers: Iterable[tuple[bytes, bytes]]) -> str:
    for name, value in headers:
        if name.lower() == b"content-type":
            return value.decode("latin-1")
    return ""


def _is_json(content_type: str) -> bool:
    base = content_type.split(";", 1)[0].strip().lower()
    return base == "application/json" or base.endswith("+json")


def _parse(chunks: list[bytes]) -> Any:
    if not chunks:
        return None
    try:
        return orjson.loads(b"".join(chunks))
    except orjson.JSONDecodeError:
        return None

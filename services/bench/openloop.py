"""Open-loop HTTP/1.1 load: requests sent at a fixed arrival rate, whatever the server does.

A closed-loop generator (:mod:`services.bench.loadgen`) slows down with the server, so it never
shows overload. Here request ``i`` is due at ``start + i / rate``; a scheduler sends every due
request on an idle keep-alive connection (opening more, up to ``max_connections``). Latency is
measured from the *due* time, so time spent waiting for a free connection counts (no
coordinated omission); a request that finds every connection busy at the cap is counted as
``client_backlog`` and sent as soon as one frees up.

Results are split by status class: answered (2xx), shed (503/429) and other. Latencies cover
every request due in the measured window, however late its answer; goodput counts only the 2xx
answers that arrived within the window (a backlog answered later is not capacity).
"""

from __future__ import annotations

import asyncio
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from sim06.services.bench._common import LatencyRecorder, latency_summary, run_sync
from sim06.services.bench._http import MAX_HEAD, Malformed, check_loopback, scan_head

__all__ = ["OpenLoopResult", "run_open_loop", "run_open_loop_async"]

_perf_ns = time.perf_counter_ns
_TICK_S = 0.0005


@dataclass(slots=True)
class OpenLoopResult:
    """One open-loop run; latencies in ms from each request's due time."""

    rate: float
    duration_s: float
    sent: int
    ok: dict[str, float]
    shed: dict[str, float]
    status_counts: dict[int, int]
    errors: dict[str, int] = field(default_factory=dict)
    goodput_rps: float = 0.0
    shed_rps: float = 0.0
    max_backlog: int = 0
    connections: int = 0

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready."""
        return {
            "rate": self.rate, "duration_s": self.duration_s, "sent": self.sent,
            "goodput_rps": self.goodput_rps, "shed_rps": self.shed_rps, "ok": self.ok,
            "shed": self.shed, "status_counts": {str(k): v for k, v in self.status_counts.items()},
            "errors": self.errors, "max_backlog": self.max_backlog,
            "connections": self.connections,
        }  # fmt: skip


class _Run:
    def __init__(self, measure_from: int, measure_to: int) -> None:
        self.idle: deque[_Conn] = deque()
        self.measure_to = measure_to
        self.good = 0  # 2xx answered within the measured window (goodput)
        self.ok = LatencyRecorder()
        self.shed = LatencyRecorder()
        self.counts: dict[int, int] = {}
        self.errors: dict[str, int] = {}
        self.measure_from = measure_from

    def record(self, status: int, due: int, now: int) -> None:
        if due < self.measure_from:
            return
        self.counts[status] = self.counts.get(status, 0) + 1
        if 200 <= status < 300:
            self.ok.add(now - due)
            self.good += now <= self.measure_to
        elif status in (503, 429):
            self.shed.add(now - due)

    def error(self, kind: str) -> None:
        self.errors[kind] = self.errors.get(kind, 0) + 1


class _Conn(asyncio.Protocol):
    def __init__(self, run: _Run) -> None:
        self.run = run
        self.transport: asyncio.Transport | None = None
        self.buf = bytearray()
        self.due = 0
        self.need = -1
        self.status = 0
        self.busy = False

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def send(self, data: bytes, due: int) -> None:
        self.due, self.need, self.busy = due, -1, True
        assert self.transport is not None
        self.transport.write(data)

    def data_received(self, data: bytes) -> None:
        buf = self.buf
        buf += data
        if self.need < 0:
            end = buf.find(b"\r\n\r\n")
            if end < 0:
                if len(buf) > MAX_HEAD:
                    self._fail("malformed")
                return
            try:
                self.status, length, _ = scan_head(buf, end)
            except Malformed:
                self._fail("malformed")
                return
            if length < 0:
                self._fail("unframed")
                return
            self.need = end + 4 + length
        if len(buf) >= self.need:
            del buf[: self.need]
            self.busy = False
            self.run.record(self.status, self.due, _perf_ns())
            self.run.idle.append(self)

    def _fail(self, kind: str) -> None:
        self.run.error(kind)
        self.busy = False
        if self.transport is not None:
            self.transport.abort()

    def connection_lost(self, exc: Exception | None) -> None:  # noqa: ARG002
        if self.busy:
            self.run.error("reset")
        self.busy = False
        try:
            self.run.idle.remove(self)
        except ValueError:
            pass


async def run_open_loop_async(
    port: int,
    request: Callable[[int], bytes],
    *,
    rate: float,
    duration: float,
    warmup: float = 1.0,
    max_connections: int = 512,
    host: str = "127.0.0.1",
) -> OpenLoopResult:
    """Send ``request(i)`` at ``rate`` per second for ``warmup + duration`` seconds."""
    check_loopback(host)
    loop = asyncio.get_running_loop()
    start = _perf_ns()
    run = _Run(start + int(warmup * 1e9), start + int((warmup + duration) * 1e9))
    conns: list[_Conn] = []
    opening = 0
    backlog: deque[int] = deque()  # due times of requests waiting for a connection
    max_backlog = 0
    interval_ns = 1e9 / rate
    total = int((warmup + duration) * rate)
    sent = 0

    async def open_one() -> None:
        nonlocal opening
        try:
            _, conn = await loop.create_connection(lambda: _Conn(run), host, port)
            conns.append(conn)
            run.idle.append(conn)
        except OSError:
            run.error("connect")
        finally:
            opening -= 1

    tasks: set[asyncio.Task[None]] = set()
    index = 0
    while index < total or backlog:
        now = _perf_ns()
        while index < total and start + index * interval_ns <= now:
            backlog.append(int(start + index * interval_ns))
            index += 1
        max_backlog = max(max_backlog, len(backlog))
        while backlog and run.idle:
            conn = run.idle.popleft()
            if conn.transport is None or conn.transport.is_closing():
                continue
            due = backlog.popleft()
            conn.send(request(sent), due)
            sent += 1
        want = min(len(backlog), max_connections - len(conns) - opening)
        for _ in range(max(0, want)):
            opening += 1
            task = loop.create_task(open_one())
            tasks.add(task)
            task.add_done_callback(tasks.discard)
        if now - start > (warmup + duration + 30) * 1e9:
            break  # the server stopped answering: give up on the backlog
        await asyncio.sleep(_TICK_S)
    deadline = _perf_ns() + 10 * 10**9
    while any(c.busy for c in conns) and _perf_ns() < deadline:
        await asyncio.sleep(0.01)
    for conn in conns:
        if conn.transport is not None:
            conn.transport.abort()
    await asyncio.sleep(0)
    measured = duration
    ok, shed = latency_summary(run.ok), latency_summary(run.shed)
    return OpenLoopResult(
        rate=rate, duration_s=measured, sent=sent, ok={"count": run.ok.count, **ok},
        shed={"count": run.shed.count, **shed}, status_counts=dict(sorted(run.counts.items())),
        errors=dict(sorted(run.errors.items())), goodput_rps=run.good / measured,
        shed_rps=run.shed.count / measured, max_backlog=max_backlog, connections=len(conns),
    )  # fmt: skip


def run_open_loop(port: int, request: Callable[[int], bytes], **kwargs: Any) -> OpenLoopResult:
    """Synchronous :func:`run_open_loop_async` on a fresh (uvloop) event loop."""
    return run_sync(run_open_loop_async(port, request, **kwargs))

"""The load generator's hot path: one ``asyncio.Protocol`` per keep-alive connection.

Everything per request happens in protocol callbacks (no task, no timer): parse the
response, record its latency, write the next pre-encoded request. A single watchdog task
sweeps the connections for timeouts.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from typing import cast

from sim06.services.bench._common import LatencyRecorder
from sim06.services.bench._http import (
    CHUNKED,
    MAX_HEAD,
    Malformed,
    has_no_body,
    scan_chunked,
    scan_head,
)

__all__ = ["Conn", "Run"]

_perf_ns = time.perf_counter_ns
_HEAD, _LENGTH, _CHUNKS, _TO_EOF = range(4)
_CONNECT_RETRY_S = 0.05


class Run:
    """State shared by the connections of one run (single-threaded, on the event loop)."""

    def __init__(
        self,
        loop: asyncio.AbstractEventLoop,
        port: int,
        source: list[bytes] | Callable[[int], bytes],
        connections: int,
        max_requests: int | None,
        timeout: float,
    ) -> None:
        self.loop = loop
        self.port = port
        self.connections = connections
        self.max_requests = max_requests
        self.timeout = timeout
        self.timeout_ns = int(timeout * 1e9)
        self.factory = None if isinstance(source, list) else source
        self.encoded = source if isinstance(source, list) else []
        self.head_flags = [data.startswith(b"HEAD ") for data in self.encoded]
        self.counter = 0
        self.cursors = [i % max(len(self.encoded), 1) for i in range(connections)]
        self.conns: list[Conn | None] = [None] * connections
        self.tasks: set[asyncio.Task[None]] = set()
        self.measure_start = 0
        self.sent = 0  # measured requests sent
        self.outstanding = 0  # measured requests not yet answered nor failed
        self.stopped = False
        self.last_ns = 0
        self.recorder = LatencyRecorder(max_requests or 1 << 16)
        self.status_counts: dict[int, int] = {}
        self.errors: dict[str, int] = {}
        self.bytes_received = 0
        self.bytes_sent = 0
        self.done: asyncio.Future[None] = loop.create_future()

    def budget_left(self) -> bool:
        return self.max_requests is None or self.sent < self.max_requests

    def count_error(self, kind: str) -> None:
        if not self.stopped and _perf_ns() >= self.measure_start:
            self.errors[kind] = self.errors.get(kind, 0) + 1

    def request_failed(self, kind: str, measured: bool) -> None:
        if measured:
            self.outstanding -= 1
            if not self.stopped:
                self.errors[kind] = self.errors.get(kind, 0) + 1
            self.check_done()

    def check_done(self) -> None:
        if self.outstanding == 0 and not self.budget_left() and not self.done.done():
            self.last_ns = _perf_ns()
            self.done.set_result(None)

    def fail(self, exc: BaseException) -> None:
        if not self.done.done():
            self.done.set_exception(exc)

    def connect(self, index: int) -> None:
        if not self.stopped and self.budget_left():
            task = self.loop.create_task(self._connect(index))
            self.tasks.add(task)
            task.add_done_callback(self.tasks.discard)

    async def _connect(self, index: int) -> None:
        while not self.stopped:
            try:
                async with asyncio.timeout(self.timeout):
                    await self.loop.create_connection(
                        lambda: Conn(self, index), "127.0.0.1", self.port
                    )
                return
            except OSError:  # includes TimeoutError and ConnectionRefusedError
                self.count_error("connect")
                await asyncio.sleep(_CONNECT_RETRY_S)

    async def watch(self) -> None:
        # One sweep over all connections is far cheaper than a timer per request.
        period = min(self.timeout / 4, 0.1)
        while True:
            await asyncio.sleep(period)
            now = _perf_ns()
            for conn in self.conns:
                if conn is not None and conn.busy and now - conn.sent_at > self.timeout_ns:
                    conn.fail("timeout")

    def stop(self) -> None:
        self.stopped = True
        for conn in self.conns:
            if conn is not None:
                conn.close()
        for task in list(self.tasks):
            task.cancel()


class Conn(asyncio.Protocol):
    """One keep-alive connection: send, parse the response, record, send again."""

    def __init__(self, run: Run, index: int) -> None:
        self.run = run
        self.index = index
        self.transport: asyncio.Transport | None = None
        self.buf = bytearray()
        self.state = _HEAD
        self.need = 0
        self.status = 0
        self.keep_alive = True
        self.sent_at = 0
        self.measured = False
        self.busy = False
        self.head_request = False
        self.closed = False

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.Transport, transport)
        self.run.conns[self.index] = self
        self.send_next()

    def send_next(self) -> None:
        run = self.run
        if run.stopped or self.closed:
            return
        measured = _perf_ns() >= run.measure_start
        if measured:
            if not run.budget_left():
                return
            run.sent += 1
            run.outstanding += 1
        try:
            if run.factory is not None:
                data = run.factory(run.counter)
                run.counter += 1
                self.head_request = data.startswith(b"HEAD ")
            else:
                i = run.cursors[self.index]
                data = run.encoded[i]
                self.head_request = run.head_flags[i]
                run.cursors[self.index] = (i + 1) % len(run.encoded)
        except Exception as exc:
            run.fail(exc)
            return
        self.state = _HEAD
        self.busy = True
        self.measured = measured
        run.bytes_sent += len(data)
        self.sent_at = _perf_ns()
        assert self.transport is not None
        self.transport.write(data)

    def data_received(self, data: bytes) -> None:
        self.run.bytes_received += len(data)
        if not self.busy:
            # Bytes nobody asked for: the framing of the previous response was wrong.
            self.run.count_error("malformed")
            self.drop()
            return
        buf = self.buf
        buf += data
        while True:  # loops only past the head (and 1xx interim responses)
            state = self.state
            if state == _HEAD:
                end = buf.find(b"\r\n\r\n")
                if end < 0:
                    if len(buf) > MAX_HEAD:
                        self.fail("malformed")
                    return
                try:
                    status, length, self.keep_alive = scan_head(buf, end)
                except Malformed:
                    self.fail("malformed")
                    return
                start = end + 4
                if 100 <= status < 200 and status != 101:
                    del buf[:start]
                    continue
                self.status = status
                if has_no_body(status, self.head_request):
                    self.complete(start)
                elif length >= 0:
                    self.need = start + length
                    self.state = _LENGTH
                    continue
                elif length == CHUNKED:
                    self.need = start
                    self.state = _CHUNKS
                    continue
                else:
                    self.state = _TO_EOF
                    self.keep_alive = False
                return
            if state == _LENGTH:
                if len(buf) >= self.need:
                    self.complete(self.need)
                return
            if state == _CHUNKS:
                try:
                    done, pos = scan_chunked(buf, self.need)
                except Malformed:
                    self.fail("malformed")
                    return
                if done:
                    self.complete(pos)
                else:
                    self.need = pos
            return  # _TO_EOF: the body ends when the server closes

    def complete(self, end: int) -> None:
        now = _perf_ns()
        run = self.run
        buf = self.buf
        del buf[:end]
        self.busy = False
        if self.measured:
            run.outstanding -= 1
            if not run.stopped:
                run.recorder.add(now - self.sent_at)
                counts = run.status_counts
                counts[self.status] = counts.get(self.status, 0) + 1
        if buf:
            run.count_error("malformed")
            self.drop()
        elif not self.keep_alive:
            self.drop()
        else:
            self.send_next()
        if self.measured:
            run.check_done()

    def fail(self, kind: str) -> None:
        if self.busy:
            self.busy = False
            self.run.request_failed(kind, self.measured)
        self.drop()

    def drop(self) -> None:
        """Close this connection and open a fresh one in its slot."""
        if not self.closed:
            self.close()
            self.run.connect(self.index)

    def close(self) -> None:
        self.closed = True
        self.busy = False
        if self.transport is not None:
            self.transport.abort()

    def eof_received(self) -> bool | None:
        return None  # let the transport close; connection_lost decides what it meant

    def connection_lost(self, exc: Exception | None) -> None:
        if self.closed:
            return
        if self.busy and self.state == _TO_EOF and exc is None:
            self.closed = True
            self.complete(len(self.buf))
            self.run.connect(self.index)
        elif self.busy:
            self.fail("reset")
        else:
            self.drop()  # an idle keep-alive connection closed by the server is no error

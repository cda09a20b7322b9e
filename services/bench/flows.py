"""Multi-step flow benchmarks: each step depends on the previous response.

A flow is an ``async def flow(client: FlowClient) -> None`` making a few requests, e.g. an
OAuth authorization-code flow (authorize, follow the redirect, token, userinfo). ``run_flows``
runs it in a closed loop on ``concurrency`` keep-alive connections and measures whole flows.
A flow fails when it raises: HTTP-level errors are counted under their kind
(``connect``, ``timeout``, ``reset``, ``malformed``, ``status NNN``), anything else under
the exception's class name (an ``AssertionError`` in the flow, say).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import asdict, dataclass, field
from typing import Any

from sim06.services.bench._common import LatencyRecorder, latency_summary, run_sync
from sim06.services.bench._http import (
    CHUNKED,
    MAX_HEAD,
    Malformed,
    check_loopback,
    encode_request,
    has_no_body,
    parse_headers,
    scan_head,
)

__all__ = [
    "FlowClient",
    "FlowError",
    "FlowResult",
    "Response",
    "UnexpectedStatus",
    "run_flows",
    "run_flows_async",
]

_perf_ns = time.perf_counter_ns


class FlowError(Exception):
    """An HTTP-level failure of a flow step; ``kind`` is the error count key."""

    def __init__(self, kind: str, detail: str = "") -> None:
        super().__init__(f"{kind}: {detail}" if detail else kind)
        self.kind = kind


class UnexpectedStatus(FlowError):
    """A step answered with a status the flow did not expect."""

    def __init__(self, status: int, expected: tuple[int, ...]) -> None:
        super().__init__(f"status {status}", f"expected {expected}")
        self.status = status


@dataclass(frozen=True, slots=True)
class Response:
    """A complete response; header names are lower-cased."""

    status: int
    headers: dict[str, str]
    body: bytes

    def expect(self, *statuses: int) -> Response:
        """Return self if the status is one of ``statuses``, else raise UnexpectedStatus."""
        if self.status not in statuses:
            raise UnexpectedStatus(self.status, statuses)
        return self


@dataclass(slots=True)
class _Tally:
    requests: int = 0
    status_counts: dict[int, int] = field(default_factory=dict)


class FlowClient:
    """An HTTP/1.1 client over one keep-alive connection to 127.0.0.1 (reopened as needed)."""

    def __init__(self, host: str, port: int, *, timeout: float = 5.0) -> None:
        check_loopback(host)
        self.port = port
        self.timeout = timeout
        self._host_header = f"127.0.0.1:{port}"
        self._reader: asyncio.StreamReader | None = None
        self._writer: asyncio.StreamWriter | None = None
        self._tally = _Tally()

    async def request(
        self,
        method: str,
        path: str,
        *,
        headers: Mapping[str, str] | None = None,
        body: bytes = b"",
    ) -> Response:
        """Send one request and read the whole response (raises FlowError on failure)."""
        data = encode_request(method, path, host=self._host_header, headers=headers, body=body)
        try:
            async with asyncio.timeout(self.timeout):
                reader, writer = await self._connection()
                writer.write(data)
                response, keep_alive = await _read_response(reader, method.upper() == "HEAD")
        except TimeoutError:
            await self.aclose()
            raise FlowError("timeout", f"{method} {path}") from None
        except (asyncio.IncompleteReadError, ConnectionError) as exc:
            await self.aclose()
            raise FlowError("reset", f"{method} {path}: {exc!r}") from None
        except (Malformed, asyncio.LimitOverrunError, ValueError) as exc:
            await self.aclose()
            raise FlowError("malformed", f"{method} {path}: {exc}") from None
        if not keep_alive:
            await self.aclose()
        self._tally.requests += 1
        counts = self._tally.status_counts
        counts[response.status] = counts.get(response.status, 0) + 1
        return response

    async def _connection(self) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
        if self._reader is None or self._writer is None or self._reader.at_eof():
            await self.aclose()
            try:
                self._reader, self._writer = await asyncio.open_connection(
                    "127.0.0.1", self.port, limit=MAX_HEAD
                )
            except OSError as exc:
                raise FlowError("connect", repr(exc)) from None
        return self._reader, self._writer

    async def aclose(self) -> None:
        """Close the connection (the next request opens a new one)."""
        writer, self._reader, self._writer = self._writer, None, None
        if writer is not None:
            writer.close()
            try:
                await writer.wait_closed()
            except OSError:
                pass


async def _read_response(reader: asyncio.StreamReader, head: bool) -> tuple[Response, bool]:
    while True:
        block = await reader.readuntil(b"\r\n\r\n")
        status, length, keep_alive = scan_head(block, len(block) - 4)
        if not (100 <= status < 200 and status != 101):
            break  # skip 1xx interim responses
    headers = parse_headers(block[:-4])
    if has_no_body(status, head):
        body = b""
    elif length >= 0:
        body = await reader.readexactly(length)
    elif length == CHUNKED:
        body = await _read_chunked(reader)
    else:
        body, keep_alive = await reader.read(), False
    return Response(status, headers, body), keep_alive


async def _read_chunked(reader: asyncio.StreamReader) -> bytes:
    chunks: list[bytes] = []
    while True:
        line = await reader.readuntil(b"\r\n")
        size = int(line.partition(b";")[0].strip(), 16)
        if size < 0:
            raise Malformed("bad chunk size")
        if size == 0:
            while await reader.readuntil(b"\r\n") != b"\r\n":
                pass  # trailers are dropped
            return b"".join(chunks)
        data = await reader.readexactly(size + 2)
        if data[-2:] != b"\r\n":
            raise Malformed("chunk not followed by CRLF")
        chunks.append(data[:-2])


Flow = Callable[[FlowClient], Awaitable[None]]


@dataclass(slots=True)
class FlowResult:
    """Completed flows per second and flow latency (ms), warmup excluded."""

    flows: int
    duration_s: float
    flows_per_s: float
    p50_ms: float
    p90_ms: float
    p99_ms: float
    p999_ms: float
    max_ms: float
    mean_ms: float
    errors: dict[str, int]
    requests: int = 0
    status_counts: dict[int, int] = field(default_factory=dict)
    concurrency: int = 0

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict (status codes become string keys)."""
        data = asdict(self)
        data["status_counts"] = {str(k): v for k, v in sorted(self.status_counts.items())}
        return data


async def run_flows_async(
    host: str,
    port: int,
    flow: Flow,
    *,
    concurrency: int = 8,
    duration: float = 10.0,
    warmup: float = 1.0,
    max_flows: int | None = None,
    timeout: float = 5.0,
) -> FlowResult:
    """Run ``flow`` in a closed loop on ``concurrency`` clients and measure whole flows.

    Stops after ``warmup + duration`` seconds or once ``max_flows`` measured flows have
    ended. Flows started during warmup are not recorded; requests and status codes are
    counted for the whole run.
    """
    check_loopback(host)
    if concurrency < 1 or duration <= 0 or (max_flows is not None and max_flows < 1):
        raise ValueError("concurrency, duration and max_flows must be positive")
    measure_start = _perf_ns() + int(warmup * 1e9)
    recorder = LatencyRecorder(max_flows or 1 << 12)
    errors: dict[str, int] = {}
    started = 0
    stopped = False
    clients = [FlowClient(host, port, timeout=timeout) for _ in range(concurrency)]

    async def worker(client: FlowClient) -> None:
        nonlocal started
        while not stopped:
            begin = _perf_ns()
            measured = begin >= measure_start
            if measured:
                if max_flows is not None and started >= max_flows:
                    return
                started += 1
            try:
                await flow(client)
            except Exception as exc:
                await client.aclose()
                if measured and not stopped:
                    kind = getattr(exc, "kind", type(exc).__name__)
                    errors[kind] = errors.get(kind, 0) + 1
                if isinstance(exc, FlowError) and exc.kind == "connect":
                    await asyncio.sleep(0.05)  # no hot loop against a closed port
                continue
            if measured and not stopped:
                recorder.add(_perf_ns() - begin)

    tasks = [asyncio.create_task(worker(client)) for client in clients]
    try:
        await asyncio.wait(tasks, timeout=warmup + duration)
    finally:
        end = _perf_ns()
        stopped = True
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        for client in clients:
            await client.aclose()
    duration_s = max(end - measure_start, 1) / 1e9
    status_counts: dict[int, int] = {}
    for client in clients:
        for status, count in client._tally.status_counts.items():
            status_counts[status] = status_counts.get(status, 0) + count
    return FlowResult(
        flows=recorder.count,
        duration_s=duration_s,
        flows_per_s=recorder.count / duration_s,
        errors=dict(sorted(errors.items())),
        requests=sum(client._tally.requests for client in clients),
        status_counts=dict(sorted(status_counts.items())),
        concurrency=concurrency,
        **latency_summary(recorder),
    )


def run_flows(
    host: str,
    port: int,
    flow: Flow,
    *,
    concurrency: int = 8,
    duration: float = 10.0,
    warmup: float = 1.0,
    max_flows: int | None = None,
    timeout: float = 5.0,
) -> FlowResult:
    """Synchronous :func:`run_flows_async` on a fresh (uvloop) event loop."""
    return run_sync(
        run_flows_async(
            host,
            port,
            flow,
            concurrency=concurrency,
            duration=duration,
            warmup=warmup,
            max_flows=max_flows,
            timeout=timeout,
        )
    )

"""Closed-loop HTTP/1.1 load generator for benchmarking sim06 services on 127.0.0.1.

Each of C keep-alive connections sends its next request as soon as the previous response
is complete. The hot path is an ``asyncio.Protocol`` on uvloop with pre-encoded requests,
a shallow response parser and latencies in a preallocated ``array('q')``, so one client
core can keep a single uvicorn worker busy.

Errors are counted by kind, never raised:

    connect   the TCP connection could not be opened (or not within ``timeout``)
    timeout   no complete response within ``timeout``
    reset     the connection closed or broke before the response was complete
    malformed the bytes received are not an HTTP/1.1 response
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any, cast

from sim06.services.bench._common import latency_summary, run_sync
from sim06.services.bench._engine import Run
from sim06.services.bench._http import check_loopback, encode_request

__all__ = ["LoadResult", "Request", "RequestFactory", "Requests", "run_load", "run_load_async"]

_perf_ns = time.perf_counter_ns
_MAX_RUN_S = 600.0


@dataclass(frozen=True, slots=True)
class Request:
    """One request to cycle over; encoded once before the run."""

    method: str = "GET"
    path: str = "/"
    headers: Mapping[str, str] = field(default_factory=dict)
    body: bytes = b""

    def encode(self, host: str) -> bytes:
        """The request as bytes, with ``host`` as the ``Host`` header value."""
        return encode_request(
            self.method, self.path, host=host, headers=self.headers, body=self.body
        )


# Called with a global request index; returns a complete encoded request (see encode_request).
RequestFactory = Callable[[int], bytes]
Requests = Request | bytes | Sequence[Request | bytes] | RequestFactory


@dataclass(slots=True)
class LoadResult:
    """What one run measured; latencies in milliseconds, warmup excluded."""

    requests: int
    duration_s: float
    rps: float
    p50_ms: float
    p90_ms: float
    p99_ms: float
    p999_ms: float
    max_ms: float
    mean_ms: float
    status_counts: dict[int, int]
    errors: dict[str, int]
    connections: int = 0
    bytes_received: int = 0
    bytes_sent: int = 0

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict (status codes become string keys)."""
        data = asdict(self)
        data["status_counts"] = {str(k): v for k, v in sorted(self.status_counts.items())}
        return data

    def format(self) -> str:
        """A small human-readable table."""
        rows = [
            ("requests", f"{self.requests}"),
            ("duration", f"{self.duration_s:.2f} s"),
            ("throughput", f"{self.rps:,.0f} req/s"),
            ("latency p50", f"{self.p50_ms:.3f} ms"),
            ("latency p90", f"{self.p90_ms:.3f} ms"),
            ("latency p99", f"{self.p99_ms:.3f} ms"),
            ("latency p99.9", f"{self.p999_ms:.3f} ms"),
            ("latency max", f"{self.max_ms:.3f} ms"),
            ("latency mean", f"{self.mean_ms:.3f} ms"),
            ("status", " ".join(f"{k}:{v}" for k, v in sorted(self.status_counts.items()))),
            ("errors", " ".join(f"{k}:{v}" for k, v in sorted(self.errors.items())) or "0"),
            ("connections", f"{self.connections}"),
            ("received", f"{self.bytes_received / 1e6:.1f} MB"),
        ]
        return "\n".join(f"{name:<14}{value}" for name, value in rows)


def _source(requests: Requests, port: int) -> list[bytes] | RequestFactory:
    if isinstance(requests, (Request, bytes)):
        requests = [requests]
    if callable(requests):
        return requests
    host = f"127.0.0.1:{port}"
    encoded = [item.encode(host) if isinstance(item, Request) else bytes(item) for item in requests]
    if not encoded:
        raise ValueError("no requests to send")
    return encoded


async def run_load_async(
    host: str,
    port: int,
    requests: Requests,
    *,
    connections: int = 16,
    duration: float | None = 10.0,
    warmup: float = 1.0,
    max_requests: int | None = None,
    timeout: float = 5.0,
) -> LoadResult:
    """Run a closed-loop load against ``host:port`` (loopback only) and measure it.

    ``requests`` is one request, a list cycled round-robin on each connection, or a
    callable producing the encoded request for a global index. The run lasts ``warmup``
    then ``duration`` seconds, or stops once ``max_requests`` measured requests have been
    answered or failed, whichever comes first (``duration=None`` still stops after 600 s).
    Requests sent during warmup are not recorded.
    """
    check_loopback(host)
    if duration is None and max_requests is None:
        raise ValueError("give a duration, max_requests or both")
    if connections < 1 or (max_requests is not None and max_requests < 1) or timeout <= 0:
        raise ValueError("connections, max_requests and timeout must be positive")
    loop = asyncio.get_running_loop()
    run = Run(loop, port, _source(requests, port), connections, max_requests, timeout)
    run.measure_start = _perf_ns() + int(warmup * 1e9)
    for index in range(connections):
        run.connect(index)
    watchdog = loop.create_task(run.watch())
    # Without a duration, a run whose server never answers must still end.
    limit = warmup + (_MAX_RUN_S if duration is None else duration)
    try:
        await asyncio.wait([run.done], timeout=limit)
    finally:
        end = run.last_ns if run.done.done() and run.last_ns else _perf_ns()
        run.stop()
        watchdog.cancel()
        await asyncio.gather(watchdog, *run.tasks, return_exceptions=True)
        await asyncio.sleep(0)  # let aborted transports deliver connection_lost
    if run.done.done() and run.done.exception() is not None:
        raise cast(BaseException, run.done.exception())
    duration_s = max(end - run.measure_start, 1) / 1e9
    count = run.recorder.count
    return LoadResult(
        requests=count,
        duration_s=duration_s,
        rps=count / duration_s,
        status_counts=dict(sorted(run.status_counts.items())),
        errors=dict(sorted(run.errors.items())),
        connections=connections,
        bytes_received=run.bytes_received,
        bytes_sent=run.bytes_sent,
        **latency_summary(run.recorder),
    )


def run_load(
    host: str,
    port: int,
    requests: Requests,
    *,
    connections: int = 16,
    duration: float | None = 10.0,
    warmup: float = 1.0,
    max_requests: int | None = None,
    timeout: float = 5.0,
) -> LoadResult:
    """Synchronous :func:`run_load_async` on a fresh (uvloop) event loop."""
    return run_sync(
        run_load_async(
            host,
            port,
            requests,
            connections=connections,
            duration=duration,
            warmup=warmup,
            max_requests=max_requests,
            timeout=timeout,
        )
    )

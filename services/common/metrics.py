"""Prometheus metrics: ``GET /metrics`` on every service and the request counters behind it.

``install_metrics(app, settings, service=...)`` mounts one pure ASGI middleware, outermost among
the app's own middlewares (so outside the fast paths), that counts every HTTP request by route
template, method, status and agency, and times it into a histogram per route:

    sim06_http_requests_total{service,route,method,status,agency}
    sim06_http_request_duration_seconds{service,route}   (histogram)

The per-request work is a few dictionary updates of plain ints (no ``prometheus_client`` call
on the request path); the counters become metric families only when ``/metrics`` is scraped.
The same middleware answers ``/metrics`` itself, before any other layer of the app (admission,
strict contract mode), so a scrape is never shed or refused. The page also carries everything
registered on ``prometheus_client``'s default registry by the rest of sim06 (admission control,
the audit log) and by the client library (process, GC), plus the gauges of the app's
``probes`` (read at scrape time, e.g. the change feed's lag behind its webhook subscribers).

The route label is the matched route's template (``/v1/citizens/{pin}``); the fast paths, which
answer without routing, name theirs with :func:`mark_route`; anything else is ``unmatched``.
The agency label is what the gateway authenticated (:func:`note_agency`), empty elsewhere.

Counts are per process: under ``uvicorn --workers N`` each worker keeps its own, and a scrape
through the shared port reads one of them (run one worker per container and scale replicas for
exact figures; see the README).
"""

from __future__ import annotations

import time
from bisect import bisect_left
from collections.abc import Awaitable, Callable, Iterable, Iterator
from contextvars import ContextVar
from typing import Any

from fastapi import FastAPI
from prometheus_client import REGISTRY
from prometheus_client.exposition import choose_encoder
from prometheus_client.metrics_core import (
    CounterMetricFamily,
    HistogramMetricFamily,
    Metric,
)
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from sim06.services.common.settings import Settings

METRICS_PATH = "/metrics"
UNMATCHED = "unmatched"
ROUTE_KEY = "sim06.route"  # scope key a fast path sets to name its route template
# Seconds; sim06 answers in microseconds to milliseconds unless latency is injected.
BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})
_N_BUCKETS = len(BUCKETS) + 1  # the last one is +Inf

# The agency of the request being served: a one-item list the gateway's middleware creates per
# request and the authentication fills in (a context variable, so concurrent requests differ).
_AGENCY: ContextVar[list[str] | None] = ContextVar("sim06_metrics_agency", default=None)

Probe = Callable[[], Awaitable[Iterable[Metric]]]


def note_agency(code: str) -> None:
    """Label the current request with the agency that authenticated (no-op outside one)."""
    slot = _AGENCY.get()
    if slot is not None:
        slot[0] = code


def mark_route(scope: Scope, template: str) -> None:
    """Name the route of a request a fast path answers without routing (``template`` must be
    one of a fixed set, never the raw path)."""
    scope[ROUTE_KEY] = template


class RequestMetrics:
    """The request counters of one service in this process (plain ints; see the module doc).

    Updated from the event loop only, so no lock: ``dict`` updates are not interleaved there.
    """

    def __init__(self, service: str) -> None:
        self.service = service
        self.requests: dict[tuple[str, str, int, str], int] = {}
        self.buckets: dict[str, list[int]] = {}
        self.sums: dict[str, float] = {}

    def observe(self, route: str, method: str, status: int, agency: str, seconds: float) -> None:
        """Count one answered request and its duration."""
        key = (route, method, status, agency)
        requests = self.requests
        requests[key] = requests.get(key, 0) + 1
        counts = self.buckets.get(route)
        if counts is None:
            counts = self.buckets[route] = [0] * _N_BUCKETS
            self.sums[route] = 0.0
        counts[bisect_left(BUCKETS, seconds)] += 1
        self.sums[route] += seconds

    def collect(self) -> Iterator[Metric]:
        """The two metric families, from the counts as they are now."""
        service = self.service
        total = CounterMetricFamily(
            "sim06_http_requests",
            "HTTP requests answered, by route template, method, status and agency.",
            labels=("service", "route", "method", "status", "agency"),
        )
        for (route, method, status, agency), count in list(self.requests.items()):
            total.add_metric((service, route, method, str(status), agency), count)
        yield total
        duration = HistogramMetricFamily(
            "sim06_http_request_duration_seconds",
            "Time from the request reaching the service to its answer sent, by route template.",
            labels=("service", "route"),
        )
        for route, counts in list(self.buckets.items()):
            cumulative, running = [], 0
            for bound, count in zip((*BUCKETS, float("inf")), counts, strict=True):
                running += count
                cumulative.append((_bound_text(bound), running))
            duration.add_metric((service, route), cumulative, self.sums[route])
        yield duration


def _bound_text(bound: float) -> str:
    return "+Inf" if bound == float("inf") else repr(bound)


# One recorder per service name and process: apps rebuilt for the same service (tests, reloads)
# keep counting into it, so the counters never go backwards.
_RECORDERS: dict[str, RequestMetrics] = {}


def recorder(service: str) -> RequestMetrics:
    """The process's request counters of ``service``."""
    found = _RECORDERS.get(service)
    if found is None:
        found = _RECORDERS[service] = RequestMetrics(service)
    return found


class _Page:
    """What one service's ``/metrics`` shows: the default registry, its own request counters
    and the families its probes read (an object with ``collect()``, as the encoders take)."""

    def __init__(self, own: RequestMetrics, extra: list[Metric]) -> None:
        self.own = own
        self.extra = extra

    def collect(self) -> Iterator[Metric]:
        yield from REGISTRY.collect()
        yield from self.own.collect()
        yield from self.extra


class MetricsMiddleware:
    """Count and time every HTTP request; answer ``GET /metrics`` (see the module docstring)."""

    def __init__(
        self,
        app: ASGIApp,
        metrics: RequestMetrics,
        probes: tuple[Probe, ...] = (),
        agency_aware: bool = False,
    ) -> None:
        self.app = app
        self.metrics = metrics
        self.probes = probes
        self.agency_aware = agency_aware

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        if scope["path"] == METRICS_PATH:
            await self.scrape(scope, send)
            return
        started = time.perf_counter()
        status = [500]  # an exception before the response starts is a 500

        async def sending(message: Message) -> None:
            if message["type"] == "http.response.start":
                status[0] = message["status"]
            await send(message)

        slot = [""]
        token = _AGENCY.set(slot) if self.agency_aware else None
        try:
            await self.app(scope, receive, sending)
        finally:
            if token is not None:
                _AGENCY.reset(token)
            route = scope.get("route")
            label = (
                getattr(route, "path_format", UNMATCHED)
                if route is not None
                else scope.get(ROUTE_KEY, UNMATCHED)
            )
            method = scope["method"]
            self.metrics.observe(
                label,
                method if method in _METHODS else "OTHER",
                status[0],
                slot[0],
                time.perf_counter() - started,
            )

    async def scrape(self, scope: Scope, send: Send) -> None:
        """The Prometheus text format (or OpenMetrics, if the scraper asks for it)."""
        if scope["method"] not in ("GET", "HEAD"):
            headers = [(b"allow", b"GET, HEAD"), (b"content-length", b"0")]
            await send({"type": "http.response.start", "status": 405, "headers": headers})
            await send({"type": "http.response.body", "body": b""})
            return
        accept = ""
        for name, value in scope.get("headers", ()):
            if name == b"accept":
                accept = value.decode("latin-1")
                break
        extra: list[Metric] = []
        for probe in self.probes:
            extra.extend(await probe())
        encoder, media = choose_encoder(accept)
        body = encoder(_Page(self.metrics, extra))
        headers = [
            (b"content-type", media.encode("latin-1")),
            (b"content-length", str(len(body)).encode("ascii")),
            (b"cache-control", b"no-store"),
        ]
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        await send(
            {"type": "http.response.body", "body": b"" if scope["method"] == "HEAD" else body}
        )


def install_metrics(
    app: FastAPI,
    settings: Settings,
    *,
    service: str,
    probes: Iterable[Probe] = (),
    agency_aware: bool = False,
) -> RequestMetrics | None:
    """Mount ``/metrics`` and the request counters on ``app`` (nothing if ``SIM06_METRICS`` is
    off). Call it after every other ``add_middleware`` of the app factory, so it wraps them.

    ``agency_aware``: the app labels requests with :func:`note_agency` (the gateway).
    """
    if not settings.metrics:
        return None
    metrics = recorder(service)
    app.add_middleware(
        MetricsMiddleware, metrics=metrics, probes=tuple(probes), agency_aware=agency_aware
    )
    app.state.metrics = metrics
    return metrics


def agency_slot() -> tuple[list[str], Any]:
    """A fresh agency slot made current, for a path that bypasses the middleware (the gateway's
    express lane); pass the second item to :func:`release_agency_slot` when done."""
    slot = [""]
    return slot, _AGENCY.set(slot)


def release_agency_slot(token: Any) -> None:
    """Undo :func:`agency_slot`."""
    _AGENCY.reset(token)


__all__ = [
    "BUCKETS",
    "METRICS_PATH",
    "MetricsMiddleware",
    "RequestMetrics",
    "agency_slot",
    "install_metrics",
    "mark_route",
    "note_agency",
    "recorder",
    "release_agency_slot",
]

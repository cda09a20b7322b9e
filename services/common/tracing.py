"""OpenTelemetry traces: a span per request and per hop, W3C ``traceparent`` across services.

Off by default, and free when off: :func:`install_tracing` mounts nothing, outgoing clients get
no extra transport, and the helpers below return at their first test. On with
``SIM06_TRACING=true`` or ``SIM06_OTLP_ENDPOINT`` (spans exported by OTLP/HTTP in batches):

- every service's requests get a SERVER span (pure ASGI middleware, outermost), continuing the
  caller's trace from its ``traceparent``/``tracestate`` headers (W3C Trace Context);
- outgoing HTTP calls (gateway → registry, the procedure runner → gateway and identity) get a
  CLIENT span and carry ``traceparent`` (:class:`TracingTransport`, also over in-process ASGI
  transports); in-process hops that make no HTTP call (the gateway's embedded registry) get a
  span of their own under the callee's service name (:func:`span`);
- log records carry ``trace_id`` (:func:`install_log_trace_ids`), and problem+json errors a
  ``trace_id`` member (:func:`current_trace_id`, read by ``problems.problem_body``).

Each sim06 service is its own OpenTelemetry resource (``service.name`` ``sim06-<service>``),
even when ``sim06 up`` runs them all in one process. Tracing is process-wide state: the first
settings that turn it on configure it; tests add an in-memory exporter with
:func:`add_span_processor` and start afresh with :func:`reset`.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Mapping
from contextlib import AbstractContextManager, nullcontext
from typing import TYPE_CHECKING, Any

import httpx
from fastapi import FastAPI
from opentelemetry import trace
from opentelemetry.trace import SpanKind, Status, StatusCode
from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from sim06.services.common.settings import Settings

if TYPE_CHECKING:
    from opentelemetry.sdk.trace import SpanProcessor, TracerProvider

__all__ = [
    "TracingMiddleware",
    "TracingTransport",
    "add_span_processor",
    "client_transport",
    "configure",
    "current_trace_id",
    "enabled",
    "install_log_trace_ids",
    "install_tracing",
    "reset",
    "span",
]

# Scrapes and probes would drown the traces that matter.
UNTRACED = frozenset({"/metrics", "/healthz", "/readyz"})
_PROPAGATOR = TraceContextTextMapPropagator()
_CARRIED = (b"traceparent", b"tracestate")


class _Tracing:
    """The process's tracing set-up: one provider per sim06 service, shared processors."""

    def __init__(self, sample_ratio: float) -> None:
        self.sample_ratio = sample_ratio
        self.processors: list[SpanProcessor] = []
        self.providers: dict[str, TracerProvider] = {}
        # get_tracer() costs tens of microseconds (it reads the environment): once per service.
        self.tracers: dict[str, trace.Tracer] = {}

    def provider(self, service: str) -> TracerProvider:
        found = self.providers.get(service)
        if found is None:
            from opentelemetry.sdk.resources import Resource
            from opentelemetry.sdk.trace import TracerProvider
            from opentelemetry.sdk.trace.sampling import ParentBased, TraceIdRatioBased

            found = TracerProvider(
                resource=Resource.create(
                    {"service.name": f"sim06-{service}", "service.namespace": "sim06"}
                ),
                sampler=ParentBased(TraceIdRatioBased(self.sample_ratio)),
            )
            for processor in self.processors:
                found.add_span_processor(processor)
            self.providers[service] = found
        return found

    def add(self, processor: SpanProcessor) -> None:
        self.processors.append(processor)
        for provider in self.providers.values():
            provider.add_span_processor(processor)


_STATE: _Tracing | None = None


def enabled() -> bool:
    """Whether tracing is on in this process."""
    return _STATE is not None


def configure(settings: Settings) -> bool:
    """Turn tracing on for this process if ``settings`` ask for it (once); whether it is on."""
    global _STATE
    if not settings.tracing_on:
        return _STATE is not None
    if _STATE is None:
        state = _Tracing(settings.tracing_sample_ratio)
        if settings.otlp_endpoint:
            from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
            from opentelemetry.sdk.trace.export import BatchSpanProcessor

            state.add(BatchSpanProcessor(OTLPSpanExporter(endpoint=settings.otlp_endpoint)))
        _STATE = state
        install_log_trace_ids()
    return True


def add_span_processor(processor: SpanProcessor) -> None:
    """Send every span of this process to ``processor`` too (tests: an in-memory exporter)."""
    if _STATE is None:
        raise RuntimeError("tracing is off: configure() it with SIM06_TRACING first")
    _STATE.add(processor)


def reset() -> None:
    """Flush and forget the set-up (tests); tracing is off until configured again."""
    global _STATE
    state, _STATE = _STATE, None
    if state is not None:
        for provider in state.providers.values():
            provider.shutdown()


def tracer(service: str) -> trace.Tracer:
    """The tracer of ``service`` (a no-op tracer when tracing is off)."""
    state = _STATE
    if state is None:
        return trace.NoOpTracer()
    found = state.tracers.get(service)
    if found is None:
        found = state.tracers[service] = state.provider(service).get_tracer("sim06")
    return found


def span(
    service: str, name: str, attributes: Mapping[str, Any] | None = None
) -> AbstractContextManager[Any]:
    """A span of ``service`` around a block (an INTERNAL hop or step); nothing when off."""
    if _STATE is None:
        return nullcontext()
    return tracer(service).start_as_current_span(name, attributes=attributes)


def current_trace_id() -> str | None:
    """The current trace's id (32 hex digits), or None (tracing off, or outside a trace)."""
    if _STATE is None:
        return None
    context = trace.get_current_span().get_span_context()
    return format(context.trace_id, "032x") if context.is_valid else None


# --- logs -------------------------------------------------------------------------------------

_FACTORY_INSTALLED = False


def install_log_trace_ids() -> None:
    """Give every log record a ``trace_id`` attribute ("" outside a trace), so a format can
    show it (``%(trace_id)s``); done once, when tracing is turned on."""
    global _FACTORY_INSTALLED
    if _FACTORY_INSTALLED:
        return
    previous = logging.getLogRecordFactory()

    def factory(*args: Any, **kwargs: Any) -> logging.LogRecord:
        record = previous(*args, **kwargs)
        record.trace_id = current_trace_id() or ""
        return record

    logging.setLogRecordFactory(factory)
    _FACTORY_INSTALLED = True


# --- incoming requests ------------------------------------------------------------------------


class TracingMiddleware:
    """A SERVER span per HTTP request, in the caller's trace when it sent ``traceparent``."""

    def __init__(self, app: ASGIApp, service: str) -> None:
        self.app = app
        self.service = service

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"] in UNTRACED:
            await self.app(scope, receive, send)
            return
        carrier = {
            name.decode("latin-1"): value.decode("latin-1")
            for name, value in scope.get("headers", ())
            if name in _CARRIED
        }
        method: str = scope["method"]
        attributes = {
            "http.request.method": method,
            "url.path": scope["path"],
            "sim06.service": self.service,
        }
        status = [500]

        async def sending(message: Message) -> None:
            if message["type"] == "http.response.start":
                status[0] = message["status"]
            await send(message)

        with tracer(self.service).start_as_current_span(
            method,
            context=_PROPAGATOR.extract(carrier),
            kind=SpanKind.SERVER,
            attributes=attributes,
        ) as current:
            try:
                await self.app(scope, receive, sending)
            finally:
                route = scope.get("route")
                template = getattr(route, "path_format", None) or scope.get("sim06.route")
                if template:
                    current.update_name(f"{method} {template}")
                    current.set_attribute("http.route", template)
                current.set_attribute("http.response.status_code", status[0])
                if status[0] >= 500:
                    current.set_status(Status(StatusCode.ERROR))


def install_tracing(app: FastAPI, settings: Settings, *, service: str) -> bool:
    """Mount the SERVER spans on ``app`` if tracing is on (else nothing); whether it did.

    Call it after every other ``add_middleware`` (and after ``install_metrics``), so the span
    covers the whole request and every layer sees its context."""
    if not configure(settings):
        return False
    app.add_middleware(TracingMiddleware, service=service)
    return True


# --- outgoing calls ---------------------------------------------------------------------------


class TracingTransport(httpx.AsyncBaseTransport):
    """A CLIENT span per outgoing request, with ``traceparent`` added to it (wraps ``inner``)."""

    def __init__(self, inner: httpx.AsyncBaseTransport, service: str, peer: str = "") -> None:
        self.inner = inner
        self.service = service
        self.peer = peer

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        name = f"{request.method} {self.peer}".rstrip() if self.peer else request.method
        attributes = {
            "http.request.method": request.method,
            "url.full": str(request.url.copy_with(query=None)),
            "server.address": request.url.host,
        }
        with tracer(self.service).start_as_current_span(
            name, kind=SpanKind.CLIENT, attributes=attributes
        ) as current:
            carrier: dict[str, str] = {}
            _PROPAGATOR.inject(carrier)
            for key, value in carrier.items():
                request.headers[key] = value
            started = time.perf_counter()
            response = await self.inner.handle_async_request(request)
            current.set_attribute("http.response.status_code", response.status_code)
            current.set_attribute("sim06.ms", round((time.perf_counter() - started) * 1000, 3))
            if response.status_code >= 500:
                current.set_status(Status(StatusCode.ERROR))
            return response

    async def aclose(self) -> None:
        await self.inner.aclose()


def client_transport(
    settings: Settings,
    service: str,
    inner: httpx.AsyncBaseTransport | None = None,
    peer: str = "",
) -> httpx.AsyncBaseTransport | None:
    """The transport an outgoing client of ``service`` should use: ``inner`` (None: httpx's
    default) unchanged when tracing is off, wrapped in :class:`TracingTransport` when on."""
    if not configure(settings):
        return inner
    return TracingTransport(inner or httpx.AsyncHTTPTransport(), service, peer)

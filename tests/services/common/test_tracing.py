"""OpenTelemetry traces across the hops, collected by the SDK's in-memory exporter.

One gateway lookup is a trace gateway → registry (in process and over HTTP); one linked
procedure (16: birth – permanent residence – health insurance) is a trace with a span per step
and per hop. With tracing off nothing is mounted and errors are unchanged.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator

import httpx
import orjson
import pytest
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind

from sim06.mock_registry.store import SQLiteCitizenStore
from sim06.services.common import tracing
from sim06.services.common.settings import Settings
from sim06.services.gateway.app import create_app as create_gateway
from sim06.services.gateway.registry_client import HttpRegistryClient, InProcessRegistryClient
from sim06.services.gateway.registry_tracing import TracedRegistryClient
from sim06.services.procedures.catalogue import REPO_DIR, Catalogue
from sim06.services.procedures.clients import in_process_runner
from sim06.services.registry.app import create_app as create_registry
from tests.services.gateway.helpers import ADMIN, ADULT, COMMUNE, exchange_headers, get_token

pytestmark = pytest.mark.anyio
AGENCY_TRACE = "4bf92f3577b34da6a3ce929d0e0e4736"
AGENCY_SPAN = "00f067aa0ba902b7"
TRACEPARENT = f"00-{AGENCY_TRACE}-{AGENCY_SPAN}-01"


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture
def traced(settings: Settings) -> Settings:
    return settings.model_copy(update={"tracing": True, "gateway_admin_token": ADMIN})


@pytest.fixture
def exporter(traced: Settings) -> Iterator[InMemorySpanExporter]:
    tracing.reset()
    assert tracing.configure(traced)
    memory = InMemorySpanExporter()
    tracing.add_span_processor(SimpleSpanProcessor(memory))
    yield memory
    tracing.reset()


def hex_id(value: int, width: int) -> str:
    return format(value, f"0{width}x")


def service(span: ReadableSpan) -> str:
    return str(span.resource.attributes["service.name"])


def parent_of(span: ReadableSpan, spans: list[ReadableSpan]) -> ReadableSpan | None:
    if span.parent is None:
        return None
    return next((s for s in spans if s.context.span_id == span.parent.span_id), None)


async def _lookup(client: httpx.AsyncClient, **extra: str) -> httpx.Response:
    token = await get_token(client, COMMUNE)
    headers = {**exchange_headers(token, COMMUNE), **extra}
    return await client.get(f"/v1/registry/citizens/{ADULT}", headers=headers)


async def test_a_lookup_is_one_trace_gateway_then_registry_in_process(
    traced: Settings, exporter: InMemorySpanExporter
) -> None:
    app = create_gateway(traced)
    assert isinstance(app.state.gateway.registry, TracedRegistryClient)
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://gateway"
    ) as client:
        exporter.clear()
        r = await _lookup(client, traceparent=TRACEPARENT)
    assert r.status_code == 200, r.text
    spans = list(exporter.get_finished_spans())
    server = next(s for s in spans if s.kind == SpanKind.SERVER and "citizens" in s.name)
    hop = next(s for s in spans if s.name == "registry lookup")
    # The agency's trace goes on: its span is the gateway span's parent.
    assert hex_id(server.context.trace_id, 32) == AGENCY_TRACE
    assert server.parent is not None and hex_id(server.parent.span_id, 16) == AGENCY_SPAN
    assert server.parent.is_remote
    assert server.name == "GET /v1/registry/citizens/{pin}"
    assert server.attributes is not None and server.attributes["http.response.status_code"] == 200
    assert service(server) == "sim06-gateway"
    # The registry hop: its own span, under the registry's name, child of the gateway's.
    assert hop.context.trace_id == server.context.trace_id
    assert parent_of(hop, spans) is server
    assert service(hop) == "sim06-registry"
    times = (server.start_time, hop.start_time, hop.end_time, server.end_time)
    assert None not in times and list(times) == sorted(times)  # type: ignore[type-var]
    await app.state.gateway.registry.aclose()
    app.state.audit.close()


async def test_traceparent_crosses_the_http_hop_to_the_registry(
    traced: Settings, exporter: InMemorySpanExporter
) -> None:
    registry = create_registry(traced)
    transport = tracing.client_transport(
        traced, "gateway", httpx.ASGITransport(app=registry), peer="registry"
    )
    assert isinstance(transport, tracing.TracingTransport)
    client_of_registry = HttpRegistryClient("http://registry", transport=transport)
    app = create_gateway(traced, registry=client_of_registry)
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://gateway"
    ) as client:
        exporter.clear()
        r = await _lookup(client)
    assert r.status_code == 200, r.text
    spans = list(exporter.get_finished_spans())
    gateway = next(
        s for s in spans if s.kind == SpanKind.SERVER and s.name.endswith("citizens/{pin}")
        and service(s) == "sim06-gateway"
    )  # fmt: skip
    call = next(s for s in spans if s.kind == SpanKind.CLIENT)
    served = next(s for s in spans if s.kind == SpanKind.SERVER and service(s) == "sim06-registry")
    assert gateway.parent is None  # no traceparent from the agency: the gateway starts the trace
    assert {s.context.trace_id for s in (gateway, call, served)} == {gateway.context.trace_id}
    assert parent_of(call, spans) is gateway and parent_of(served, spans) is call
    assert call.name == "GET registry" and service(call) == "sim06-gateway"
    assert served.name == "GET /v1/citizens/{pin}"
    assert served.parent is not None and served.parent.is_remote  # it came by traceparent
    await client_of_registry.aclose()
    app.state.audit.close()


@pytest.mark.usefixtures("exporter")
async def test_errors_and_logs_carry_the_trace_id(
    traced: Settings, caplog: pytest.LogCaptureFixture
) -> None:
    registry = create_registry(traced)
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=registry), base_url="http://registry"
    ) as client:
        r = await client.get("/v1/citizens/123", headers={"traceparent": TRACEPARENT})
    assert r.status_code == 422
    assert r.headers["content-type"] == "application/problem+json"
    assert r.json()["trace_id"] == AGENCY_TRACE and r.json()["code"] == "INVALID_PIN"
    with (
        caplog.at_level(logging.INFO, logger="sim06.test"),
        tracing.span("registry", "work") as current,
    ):
        logging.getLogger("sim06.test").info("inside")
    record = next(r for r in caplog.records if r.getMessage() == "inside")
    assert record.__dict__["trace_id"] == hex_id(current.get_span_context().trace_id, 32)


async def test_off_mounts_nothing_and_errors_are_unchanged(settings: Settings) -> None:
    tracing.reset()
    assert not tracing.enabled() and not settings.tracing_on
    registry = create_registry(settings)
    classes: list[object] = [m.cls for m in registry.user_middleware]
    assert tracing.TracingMiddleware not in classes
    inner = httpx.ASGITransport(app=registry)
    assert tracing.client_transport(settings, "gateway", inner) is inner
    app = create_gateway(settings.model_copy(update={"gateway_admin_token": ADMIN}))
    assert isinstance(app.state.gateway.registry, InProcessRegistryClient)
    async with httpx.AsyncClient(transport=inner, base_url="http://registry") as client:
        r = await client.get("/v1/citizens/123", headers={"traceparent": TRACEPARENT})
    assert "trace_id" not in r.json()
    assert tracing.current_trace_id() is None
    app.state.audit.close()


async def test_off_asks_no_telemetry_provider_per_request(
    settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The framework's own OpenTelemetry bridge is off in every app: with tracing off, serving
    a request never asks for a global provider (it did, three times a request, ~15 us)."""
    from opentelemetry import _logs, metrics, trace

    from sim06.services.admin.app import create_app as create_admin
    from sim06.services.chip.app import create_app as create_chip
    from sim06.services.common.faults import FaultController
    from sim06.services.identity import create_app as create_identity
    from sim06.services.procedures.app import create_app as create_procedures

    asked: list[str] = []

    def counted(name: str, real: Callable[[], object]) -> Callable[[], object]:
        def provider() -> object:
            asked.append(name)
            return real()

        return provider

    for module, name in ((trace, "get_tracer_provider"), (metrics, "get_meter_provider"),
                         (_logs, "get_logger_provider")):  # fmt: skip
        monkeypatch.setattr(module, name, counted(name, getattr(module, name)))
    gateway_settings = settings.model_copy(update={"gateway_admin_token": ADMIN})
    apps = {
        "registry": create_registry(settings), "gateway": create_gateway(gateway_settings),
        "identity": create_identity(settings), "chip": create_chip(settings),
        "procedures": create_procedures(settings),
        "admin": create_admin(settings, FaultController.from_settings(settings)),
    }  # fmt: skip
    for name, app in apps.items():
        async with httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app), base_url="http://sim06"
        ) as client:
            assert (await client.get("/healthz")).status_code in (200, 404), name
            await client.get(f"/v1/citizens/{ADULT}")
        assert asked == [], (name, asked)
    apps["gateway"].state.audit.close()


async def test_a_linked_procedure_has_a_span_per_step_and_hop(
    events_settings: Settings, exporter: InMemorySpanExporter
) -> None:
    procedure = Catalogue.load(REPO_DIR).procedures["linked-birth-residence-insurance"]
    settings = events_settings.model_copy(update={"tracing": True, "gateway_audit_durable": False})
    # The commune of the father's residence receives the dossier (this test is about the trace,
    # not about which commune the persona lives in).
    store = SQLiteCitizenStore(settings.database, readonly=True)
    father = orjson.loads(store.get(ADULT) or b"{}")
    store.close()
    office = {"office_commune": father["permanent_residence"]["commune_code"]}
    async with in_process_runner(settings) as runner:
        exporter.clear()
        result = await runner.run(
            procedure, "adult-level2", params=office, request_id_prefix="trace-16"
        )
    steps_seen = [(s.id, s.status, s.detail) for s in result.steps]
    assert result.decision == "approved" and result.closed, (result.rules, steps_seen)
    spans = list(exporter.get_finished_spans())
    (root,) = [s for s in spans if s.parent is None]
    assert root.name == "procedure linked-birth-residence-insurance"
    assert {s.context.trace_id for s in spans} == {root.context.trace_id}
    steps = {s.name.removeprefix("step "): s for s in spans if s.name.startswith("step ")}
    ran = [s.id for s in result.steps if s.status != "skipped"]
    assert sorted(steps) == sorted(s.id for s in result.steps)
    assert all(parent_of(s, spans) is root for s in steps.values())
    # Every HTTP call is a CLIENT span under its step, continued by the service it reached.
    calls = [s for s in spans if s.kind == SpanKind.CLIENT]
    assert calls
    for call in calls:
        assert parent_of(call, spans) in steps.values()
        (served,) = [s for s in spans if s.kind == SpanKind.SERVER and s.parent
                     and s.parent.span_id == call.context.span_id]  # fmt: skip
        assert service(served) in ("sim06-gateway", "sim06-identity")

    # Each step that ran went somewhere: the login to identity, the rest to the gateway and on
    # to the registry (the write, the read-back, the feed).
    def reached(step_id: str) -> set[str]:
        below: set[str] = set()
        frontier = [steps[step_id]]
        while frontier:
            node = frontier.pop()
            children = [s for s in spans if s.parent and s.parent.span_id == node.context.span_id]
            below.update(service(c) for c in children)
            frontier.extend(children)
        return below

    kinds = {s.id: s.kind for s in result.steps}
    for step_id in ran:
        if kinds[step_id] == "vneid-login":
            assert "sim06-identity" in reached(step_id)
        elif kinds[step_id] != "issue":
            assert {"sim06-gateway", "sim06-registry"} <= reached(step_id), step_id


async def test_spans_are_exported_by_otlp_http(settings: Settings) -> None:
    """A real OTLP/HTTP endpoint on 127.0.0.1 receives the spans (protobuf), decoded here."""
    import threading
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
        ExportTraceServiceRequest,
    )

    received: list[tuple[str, str, bytes]] = []

    class Collector(BaseHTTPRequestHandler):
        def do_POST(self) -> None:  # noqa: N802 (the http.server API)
            body = self.rfile.read(int(self.headers["content-length"]))
            received.append((self.path, self.headers["content-type"], body))
            self.send_response(200)
            self.send_header("content-type", "application/x-protobuf")
            self.send_header("content-length", "0")
            self.end_headers()

        def log_message(self, *_: object) -> None:  # quiet
            return None

    server = ThreadingHTTPServer(("127.0.0.1", 0), Collector)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    endpoint = f"http://127.0.0.1:{server.server_address[1]}/v1/traces"
    tracing.reset()
    try:
        registry = create_registry(settings.model_copy(update={"otlp_endpoint": endpoint}))
        async with httpx.AsyncClient(
            transport=httpx.ASGITransport(app=registry), base_url="http://registry"
        ) as client:
            r = await client.get(f"/v1/citizens/{ADULT}", headers={"traceparent": TRACEPARENT})
        assert r.status_code == 200
        tracing.reset()  # shuts the providers down: the batch is sent now
    finally:
        server.shutdown()
        server.server_close()
    assert received, "nothing was exported"
    path, media, body = received[0]
    assert path == "/v1/traces" and media == "application/x-protobuf"
    request = ExportTraceServiceRequest.FromString(body)
    (resource,) = request.resource_spans
    names = {a.key: a.value.string_value for a in resource.resource.attributes}
    assert names["service.name"] == "sim06-registry"
    (span,) = [s for scope in resource.scope_spans for s in scope.spans]
    assert span.name == "GET /v1/citizens/{pin}" and span.trace_id.hex() == AGENCY_TRACE

"""``GET /metrics`` on every service: after traffic, the counters and histograms have moved.

Each test scrapes before and after its own traffic and compares, because the request counters
are per process and service (apps rebuilt for the same service keep counting into them).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from prometheus_client.parser import text_string_to_metric_families

from sim06.services.admin import create_app as create_admin
from sim06.services.common.faults import FaultController
from sim06.services.common.metrics import MetricsMiddleware
from sim06.services.common.settings import Settings
from sim06.services.gateway.app import create_app as create_gateway
from sim06.services.gateway.feed_metrics import feed_lag_probe
from sim06.services.identity import create_app as create_identity
from sim06.services.procedures.app import create_app as create_procedures
from sim06.services.registry.app import create_app as create_registry
from tests.services.gateway.helpers import ADMIN, ADULT, COMMUNE, exchange_headers, get_token

pytestmark = pytest.mark.anyio
Samples = dict[tuple[str, frozenset[tuple[str, str]]], float]
PIN_ROUTE = "/v1/citizens/{pin}"


def parse(text: str) -> Samples:
    """Every sample of a scrape, keyed by name and labels."""
    return {
        (s.name, frozenset(s.labels.items())): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }


def value(samples: Samples, name: str, **labels: str) -> float:
    return samples.get((name, frozenset(labels.items())), 0.0)


async def scrape(client: httpx.AsyncClient) -> Samples:
    r = await client.get("/metrics")
    assert r.status_code == 200, r.text
    assert r.headers["content-type"].startswith("text/plain; version=0.0.4")
    return parse(r.text)


def requests(samples: Samples, service: str, route: str, status: str, agency: str = "") -> float:
    return value(
        samples, "sim06_http_requests_total", service=service, route=route, method="GET",
        status=status, agency=agency,
    )  # fmt: skip


def timed(samples: Samples, service: str, route: str) -> tuple[float, float, float]:
    """(count, sum, +Inf bucket) of the route's latency histogram."""
    labels = {"service": service, "route": route}
    return (
        value(samples, "sim06_http_request_duration_seconds_count", **labels),
        value(samples, "sim06_http_request_duration_seconds_sum", **labels),
        value(samples, "sim06_http_request_duration_seconds_bucket", le="+Inf", **labels),
    )


def assert_timed(before: Samples, after: Samples, service: str, route: str, n: int) -> None:
    count0, sum0, inf0 = timed(before, service, route)
    count1, sum1, inf1 = timed(after, service, route)
    assert count1 - count0 == n and inf1 - inf0 == n, (service, route, count0, count1)
    assert sum1 > sum0


@dataclass
class Service:
    name: str
    app: FastAPI
    client: httpx.AsyncClient


@pytest.fixture
async def serve() -> AsyncIterator[Callable[[str, FastAPI], Any]]:
    clients: list[httpx.AsyncClient] = []

    async def _serve(name: str, app: FastAPI) -> Service:
        client = httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app), base_url=f"http://{name}"
        )
        clients.append(client)
        return Service(name, app, client)

    yield _serve
    for client in clients:
        await client.aclose()


async def test_registry_counts_fast_path_routes_and_unmatched(
    settings: Settings, serve: Callable[..., Any]
) -> None:
    svc = await serve("registry", create_registry(settings))
    before = await scrape(svc.client)
    for _ in range(3):  # the fast path (no routing): labelled with the route it stands in for
        assert (await svc.client.get(f"/v1/citizens/{ADULT}")).status_code == 200
    assert (await svc.client.get("/v1/citizens/123")).status_code == 422  # the FastAPI route
    assert (await svc.client.get("/no/such/path/4711")).status_code == 404
    after = await scrape(svc.client)
    assert (
        requests(after, "registry", PIN_ROUTE, "200")
        - requests(before, "registry", PIN_ROUTE, "200")
        == 3
    )
    assert (
        requests(after, "registry", PIN_ROUTE, "422")
        - requests(before, "registry", PIN_ROUTE, "422")
        == 1
    )
    assert (
        requests(after, "registry", "unmatched", "404")
        - requests(before, "registry", "unmatched", "404")
        == 1
    )
    assert_timed(before, after, "registry", PIN_ROUTE, 4)
    # Raw paths never become labels; the scrape itself is not counted.
    names = {dict(labels).get("route") for (name, labels) in after if name.startswith("sim06_http")}
    assert not any(r and ("4711" in r or ADULT in r) for r in names)
    assert "/metrics" not in names
    # The default registry is on the page too: the client library's and admission control's.
    assert any(name == "process_cpu_seconds_total" for name, _ in after) or any(
        name.startswith("python_gc") for name, _ in after
    )
    assert value(after, "sim06_admission_limit", service="registry") > 0


async def test_gateway_labels_the_agency_on_every_path(
    settings: Settings, serve: Callable[..., Any]
) -> None:
    app = create_gateway(settings.model_copy(update={"gateway_admin_token": ADMIN}))
    svc = await serve("gateway", app)
    route = "/v1/registry/citizens/{pin}"
    token = await get_token(svc.client, COMMUNE)
    before = await scrape(svc.client)
    headers = exchange_headers(token, COMMUNE)
    # The express lane (before the middleware stack) counts as the middleware would ...
    r = await svc.client.get(f"/v1/registry/citizens/{ADULT}", headers=headers)
    assert r.status_code == 200, r.text
    # ... and so does the FastAPI route (a query string leaves the fast paths).
    headers = exchange_headers(token, COMMUNE)
    r = await svc.client.get(
        f"/v1/registry/citizens/{ADULT}", params={"fields": "pin"}, headers=headers
    )
    assert r.status_code == 200, r.text
    # No token: no agency.
    r = await svc.client.get(f"/v1/registry/citizens/{ADULT}")
    assert r.status_code == 401
    after = await scrape(svc.client)
    agency = COMMUNE["code"]
    moved = requests(after, "gateway", route, "200", agency) - requests(
        before, "gateway", route, "200", agency
    )
    assert moved == 2
    assert requests(after, "gateway", route, "401") - requests(before, "gateway", route, "401") == 1
    assert_timed(before, after, "gateway", route, 3)
    # The audit writer's histograms are on the gateway's page; the change feed's head too.
    assert value(after, "sim06_audit_commit_seconds_count") > value(
        before, "sim06_audit_commit_seconds_count"
    )
    assert ("sim06_feed_head_cursor", frozenset()) in after
    await app.state.gateway.registry.aclose()
    app.state.audit.close()


async def test_identity_procedures_and_admin_serve_metrics(
    settings: Settings, serve: Callable[..., Any]
) -> None:
    identity = await serve("identity", create_identity(settings))
    procedures = await serve("procedures", create_procedures(settings))
    admin = await serve("admin", create_admin(settings, FaultController.from_settings(settings)))
    calls = [
        (identity, "/.well-known/openid-configuration", "/.well-known/openid-configuration", "200"),
        (identity, "/userinfo", "/userinfo", "401"),  # a hot path: dispatched without routing
        (procedures, "/v1/procedures", "/v1/procedures", "200"),
        (procedures, "/v1/procedures/no-such-procedure", "/v1/procedures/{code}", "404"),
        (admin, "/", "/", "200"),
    ]
    before = {svc.name: await scrape(svc.client) for svc in (identity, procedures, admin)}
    for svc, path, _, status in calls:
        assert (await svc.client.get(path)).status_code == int(status), path
    after = {svc.name: await scrape(svc.client) for svc in (identity, procedures, admin)}
    for svc, _, route, status in calls:
        moved = requests(after[svc.name], svc.name, route, status) - requests(
            before[svc.name], svc.name, route, status
        )
        assert moved == 1, (svc.name, route, status)
        count0, _, _ = timed(before[svc.name], svc.name, route)
        count1, _, _ = timed(after[svc.name], svc.name, route)
        assert count1 - count0 >= 1
    # Each page shows its own service's requests only.
    assert all(
        dict(labels).get("service") in (None, "identity")
        for (name, labels) in after["identity"]
        if name.startswith("sim06_http")
    )


async def test_openmetrics_head_and_other_methods(
    settings: Settings, serve: Callable[..., Any]
) -> None:
    svc = await serve("registry", create_registry(settings))
    r = await svc.client.get(
        "/metrics", headers={"accept": "application/openmetrics-text; version=1.0.0"}
    )
    assert r.headers["content-type"].startswith("application/openmetrics-text")
    assert r.text.rstrip().endswith("# EOF")
    assert (await svc.client.head("/metrics")).content == b""
    r = await svc.client.post("/metrics")
    assert r.status_code == 405 and r.headers["allow"] == "GET, HEAD"


async def test_metrics_off_mounts_nothing(settings: Settings, serve: Callable[..., Any]) -> None:
    app = create_registry(settings.model_copy(update={"metrics": False}))
    classes: list[object] = [m.cls for m in app.user_middleware]
    assert MetricsMiddleware not in classes
    svc = await serve("registry", app)
    assert (await svc.client.get("/metrics")).status_code == 404


@dataclass
class _Sub:
    id: str
    agency: str
    cursor: int | None


class _Store:
    def all(self) -> list[_Sub]:
        return [_Sub("behind", "bhxh-ha-noi", 3), _Sub("current", "bv", 7), _Sub("new", "x", None)]


class _Deliverer:
    store = _Store()

    async def head(self) -> int:
        return 7


async def test_feed_lag_is_the_head_minus_each_cursor() -> None:
    families = list(await feed_lag_probe(_Deliverer())())  # type: ignore[arg-type]
    samples = {(s.name, frozenset(s.labels.items())): s.value for f in families for s in f.samples}
    assert samples[("sim06_feed_head_cursor", frozenset())] == 7
    lag = {
        dict(k[1])["subscription"]: v for k, v in samples.items() if k[0] == "sim06_feed_lag_items"
    }
    assert lag == {"behind": 4, "current": 0, "new": 0}


async def test_a_scrape_never_gets_an_injected_fault(
    faults_app: FastAPI, client: httpx.AsyncClient
) -> None:
    r = await client.put("/__sim06/faults", json={"fault": "http_503"})
    assert r.status_code == 200
    assert (await client.get(f"/v1/citizens/{ADULT}")).status_code == 503
    assert (await client.get("/metrics")).status_code == 200
    assert faults_app.state.faults.state.fault == "http_503"

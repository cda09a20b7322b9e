"""The fault middleware and its admin API through an ASGI app (in process)."""

from __future__ import annotations

import httpx
import pytest

from sim06.services.common.fault_middleware import install_faults
from sim06.services.common.settings import Settings
from sim06.services.registry.app import create_app

pytestmark = pytest.mark.anyio
ADULT = "/v1/citizens/001090104217"


async def test_no_fault_by_default(client: httpx.AsyncClient) -> None:
    r = await client.get(ADULT)
    assert r.status_code == 200


async def test_503_per_request_header(client: httpx.AsyncClient) -> None:
    r = await client.get(ADULT, headers={"X-Sim-Fault": "http_503"})
    assert r.status_code == 503
    assert r.headers["retry-after"] == "5"
    assert r.headers["content-type"] == "application/problem+json"
    body = r.json()
    assert body["code"] == "SIM_FAULT_UNAVAILABLE" and body["title_vi"]


async def test_runtime_toggle_through_the_admin_api(client: httpx.AsyncClient) -> None:
    r = await client.put("/__sim06/faults", json={"fault": "http_503", "retry_after": 9})
    assert r.status_code == 200 and r.json()["fault"] == "http_503"
    r = await client.get(ADULT)
    assert r.status_code == 503 and r.headers["retry-after"] == "9"
    assert (await client.get("/healthz")).status_code == 200  # health is exempt
    r = await client.put("/__sim06/faults", json={"fault": None})
    assert (await client.get(ADULT)).status_code == 200
    state = (await client.get("/__sim06/faults")).json()
    assert state["fault"] is None and "typical" in state["profiles"]


@pytest.mark.parametrize(
    ("body", "status", "code"),
    [
        ({"fault": "explode"}, 422, "VALIDATION_FAILED"),
        ({"rate": 2}, 422, "VALIDATION_FAILED"),
        ({"unknown": 1}, 422, "VALIDATION_FAILED"),
        ({"profile": "rush-hour"}, 400, "SIM_FAULT_INVALID"),
    ],
)
async def test_bad_admin_updates_are_problems(
    client: httpx.AsyncClient, body: object, status: int, code: str
) -> None:
    r = await client.put("/__sim06/faults", json=body)
    assert r.status_code == status and r.json()["code"] == code


async def test_an_unknown_service_name_is_refused(client: httpx.AsyncClient) -> None:
    r = await client.put("/__sim06/faults", json={"fault": "http_503", "services": ["nosuch"]})
    assert r.status_code == 422 and r.json()["code"] == "VALIDATION_FAILED"
    assert r.json()["errors"][0]["pointer"] == "/services"
    assert "nosuch" in r.json()["errors"][0]["reason"]
    assert (await client.get("/__sim06/faults")).json()["fault"] is None  # nothing changed
    ok = await client.put("/__sim06/faults", json={"services": ["procedures", "registry"]})
    assert ok.status_code == 200 and ok.json()["services"] == ["procedures", "registry"]


async def test_malformed_admin_body(client: httpx.AsyncClient) -> None:
    r = await client.put("/__sim06/faults", content=b"{oops")
    assert r.status_code == 422 and r.json()["code"] == "VALIDATION_FAILED"


async def test_unknown_header_values_are_400(client: httpx.AsyncClient) -> None:
    r = await client.get(ADULT, headers={"X-Sim-Latency-Profile": "rush-hour"})
    assert r.status_code == 400 and r.json()["code"] == "SIM_FAULT_INVALID"
    r = await client.get(ADULT, headers={"X-Sim-Fault": "explode"})
    assert r.status_code == 400


async def test_admin_needs_the_token_outside_the_demo(settings: Settings) -> None:
    locked = settings.model_copy(
        update={"gateway_embedded": False, "gateway_admin_token": "a-long-admin-token-123"}
    )
    app = create_app(locked)
    install_faults(app, locked, "registry")
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://r") as c:
        assert (await c.put("/__sim06/faults", json={"fault": "reset"})).status_code == 401
        auth = {"Authorization": "Bearer a-long-admin-token-123"}
        assert (await c.put("/__sim06/faults", json={}, headers=auth)).status_code == 200


async def test_journal_records_exchanges(client: httpx.AsyncClient) -> None:
    await client.get(ADULT)
    await client.get(ADULT, headers={"X-Sim-Fault": "http_503"})
    app = client._transport.app  # type: ignore[attr-defined]
    recent = app.state.faults.recent()
    assert [e.status for e in recent[:2]] == [503, 200]
    assert app.state.faults.percentiles()[0]["count"] == 2


async def test_sim06_up_mounts_the_fault_api_on_procedures_too(settings: Settings) -> None:
    from sim06.services.serve import build_apps, embedded_settings

    apps = build_apps(embedded_settings(settings))
    clients = {
        name: httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url=f"http://{name}")
        for name, (app, _) in apps.items()
    }
    try:
        procedures = clients["procedures"]
        assert (await procedures.get("/__sim06/faults")).status_code == 200
        # One controller: a fault set through the gateway reaches procedures (and only it).
        body = {"fault": "http_503", "services": ["procedures"]}
        assert (await clients["gateway"].put("/__sim06/faults", json=body)).status_code == 200
        r = await procedures.get("/v1/procedures")
        assert r.status_code == 503 and r.json()["code"] == "SIM_FAULT_UNAVAILABLE"
        assert (await clients["registry"].get(ADULT)).status_code == 200
        assert (await procedures.get("/healthz")).status_code == 200  # health is exempt
    finally:
        for client in clients.values():
            await client.aclose()
        apps["registry"][0].state.store.close()

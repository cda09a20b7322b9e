"""The express lane serves idle lookups before the stack, and steps aside whenever a layer of
the stack has something to do: a fault, an override header, an expectation, strict mode, TLS."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from sim06.services.common.fault_middleware import install_faults
from sim06.services.common.settings import Settings
from sim06.services.gateway import express
from sim06.services.gateway.app import create_app
from sim06.services.gateway.express import GatewayApp
from tests.services.gateway.helpers import ADMIN, ADULT, POLICE, exchange_headers, get_token

pytestmark = pytest.mark.anyio

LOOKUP = f"/v1/registry/citizens/{ADULT}"


@pytest.fixture
def served(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The paths the express lane answered."""
    seen: list[str] = []
    original = GatewayApp._serve

    async def spy(self: GatewayApp, profile: Any, scope: Any, *rest: Any) -> None:
        seen.append(scope["path"])
        await original(self, profile, scope, *rest)

    monkeypatch.setattr(GatewayApp, "_serve", spy)
    return seen


async def _app(settings: Settings) -> FastAPI:
    application = create_app(settings)
    install_faults(application, settings, "gateway")  # as services.asgi:gateway does
    return application


@pytest.fixture
async def faulty(gw_settings: Settings) -> AsyncIterator[httpx.AsyncClient]:
    application = await _app(gw_settings)
    transport = httpx.ASGITransport(app=application)
    async with httpx.AsyncClient(transport=transport, base_url="http://gateway") as c:
        c.app = application  # type: ignore[attr-defined]
        yield c
    await application.state.gateway.registry.aclose()
    application.state.audit.close()


async def _lookup(client: httpx.AsyncClient, **override: str) -> httpx.Response:
    token = await get_token(client, POLICE)
    return await client.get(LOOKUP, headers=exchange_headers(token, POLICE, **override))


async def test_an_idle_lookup_takes_the_express_lane_and_is_journalled(
    faulty: httpx.AsyncClient, served: list[str]
) -> None:
    r = await _lookup(faulty)
    assert r.status_code == 200 and r.json()["pin"] == ADULT
    assert "x-jws-signature" in r.headers and "x-request-hash" in r.headers
    assert served == [LOOKUP]
    [entry] = [e for e in faulty.app.state.faults.recent() if e.path == LOOKUP]  # type: ignore[attr-defined]
    assert entry.status == 200 and entry.service == "gateway" and entry.fault is None


async def test_other_operations_and_query_strings_take_the_stack(
    faulty: httpx.AsyncClient, served: list[str]
) -> None:
    token = await get_token(faulty, POLICE)
    r = await faulty.get(f"{LOOKUP}?fields=pin", headers=exchange_headers(token, POLICE))
    assert r.status_code == 200 and set(r.json()) == {"pin"}
    r = await faulty.get(f"{LOOKUP}/household", headers=exchange_headers(token, POLICE))
    assert r.status_code == 200
    assert served == []


async def test_an_active_fault_is_applied_by_the_stack(
    faulty: httpx.AsyncClient, served: list[str]
) -> None:
    token = await get_token(faulty, POLICE)  # before the fault: it hits /oauth/token too
    auth = {"Authorization": f"Bearer {ADMIN}"}
    r = await faulty.put("/__sim06/faults", json={"fault": "http_503", "rate": 1.0}, headers=auth)
    assert r.status_code == 200, r.text
    r = await faulty.get(LOOKUP, headers=exchange_headers(token, POLICE))
    assert r.status_code == 503 and r.json()["code"] == "SIM_FAULT_UNAVAILABLE"
    assert served == []


async def test_a_fault_header_is_applied_by_the_stack(
    faulty: httpx.AsyncClient, served: list[str]
) -> None:
    r = await _lookup(faulty, **{"X-Sim-Fault": "http_500"})
    assert r.status_code == 500
    assert served == []


async def test_a_latency_profile_with_delay_turns_the_lane_off(faulty: httpx.AsyncClient) -> None:
    controller = faulty.app.state.faults  # type: ignore[attr-defined]
    assert controller.quiet("gateway")
    auth = {"Authorization": f"Bearer {ADMIN}"}
    assert (
        await faulty.put("/__sim06/faults", json={"profile": "typical"}, headers=auth)
    ).is_success
    assert not controller.quiet("gateway")
    assert (await faulty.put("/__sim06/faults", json={"profile": "ideal"}, headers=auth)).is_success
    assert controller.quiet("gateway")


async def test_an_expectation_is_applied_by_the_stack(
    faulty: httpx.AsyncClient, served: list[str]
) -> None:
    auth = {"Authorization": f"Bearer {ADMIN}"}
    spec = {"pin": ADULT, "operation": "registry-lookup", "outcome": {"fault": "http_502"}}
    r = await faulty.put("/__sim06/expectations", json=spec, headers=auth)
    assert r.status_code in (200, 201), r.text
    r = await _lookup(faulty)
    assert r.status_code == 502
    assert served == []


async def test_strict_mode_keeps_every_lookup_in_the_stack(
    gw_settings: Settings, served: list[str]
) -> None:
    application = await _app(gw_settings.model_copy(update={"strict_contracts": True}))
    transport = httpx.ASGITransport(app=application)
    try:
        async with httpx.AsyncClient(transport=transport, base_url="http://gateway") as c:
            r = await _lookup(c)
        assert r.status_code == 200
        assert served == []
    finally:
        await application.state.gateway.registry.aclose()
        application.state.audit.close()


async def test_a_tls_connection_goes_through_the_certificate_layer(
    faulty: httpx.AsyncClient,
) -> None:
    app: GatewayApp = faulty.app  # type: ignore[attr-defined]
    scope = {
        "type": "http", "method": "GET", "path": LOOKUP, "query_string": b"", "root_path": "",
        "headers": [], "extensions": {"tls": {"client_cert_chain": []}},
    }  # fmt: skip
    assert not app._idle(scope)
    assert app._idle({**scope, "extensions": {}})


async def test_an_unexpected_error_is_a_problem(
    faulty: httpx.AsyncClient, served: list[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    async def broken(*_: Any, **__: Any) -> Any:
        raise RuntimeError("boom")

    app: GatewayApp = faulty.app  # type: ignore[attr-defined]
    assert app.express_profile is not None
    monkeypatch.setattr(app.express_profile, "exchange", broken)
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://gateway") as c:
        r = await _lookup(c)
    assert r.status_code == 500
    assert r.headers["content-type"] == "application/problem+json"
    assert r.json()["code"] == "INTERNAL_ERROR"
    assert served == [LOOKUP]
    assert express.log.name == "sim06.gateway"

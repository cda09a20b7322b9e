"""The gateway over the HTTP registry client, and its upstream faults."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest
from fastapi import FastAPI

from sim06.services.common.settings import Settings
from sim06.services.gateway.app import create_app
from sim06.services.gateway.registry_client import HttpRegistryClient
from sim06.services.registry.app import create_app as create_registry
from tests.services.gateway.helpers import (
    ADMIN,
    ADULT,
    COMMUNE,
    assert_problem,
    exchange_headers,
    get_token,
)

pytestmark = pytest.mark.anyio


@pytest.fixture
async def over_http(settings: Settings) -> AsyncIterator[httpx.AsyncClient]:
    registry = create_registry(settings)
    upstream = HttpRegistryClient("http://registry", transport=httpx.ASGITransport(app=registry))
    gw_settings = settings.model_copy(update={"gateway_admin_token": ADMIN})
    app: FastAPI = create_app(gw_settings, registry=upstream)
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://gateway"
    ) as c:
        yield c
    await upstream.aclose()
    app.state.audit.close()
    registry.state.store.close()


async def test_lookup_and_registry_problems_over_http(over_http: httpx.AsyncClient) -> None:
    token = await get_token(over_http, COMMUNE)
    r = await over_http.get(
        f"/v1/registry/citizens/{ADULT}", headers=exchange_headers(token, COMMUNE)
    )
    assert r.status_code == 200 and r.json()["pin"] == ADULT
    assert "date_of_birth" not in r.json()
    r = await over_http.get(
        "/v1/registry/citizens/000000000000", headers=exchange_headers(token, COMMUNE)
    )
    assert_problem(r, 422, "INVALID_PIN", source="registry")


async def test_unreachable_registry_is_a_gateway_fault(settings: Settings) -> None:
    upstream = HttpRegistryClient("http://127.0.0.1:9", timeout=2.0)  # discard port: refused
    app = create_app(settings.model_copy(update={"gateway_admin_token": ADMIN}), registry=upstream)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://gw") as c:
        token = await get_token(c, COMMUNE)
        r = await c.get(f"/v1/registry/citizens/{ADULT}", headers=exchange_headers(token, COMMUNE))
    await upstream.aclose()
    app.state.audit.close()
    assert_problem(r, 502, "GATEWAY_UPSTREAM_UNAVAILABLE", source="gateway")

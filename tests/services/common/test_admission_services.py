"""Admission control as the services mount it: outermost, fast paths included, fair at the
gateway (one agency's flood leaves another agency its share), never shedding health checks."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from sim06.services.common.admission import Admission, AdmissionMiddleware
from sim06.services.common.settings import Settings
from sim06.services.gateway.app import create_app as create_gateway
from sim06.services.gateway.fastpath import LookupFastPath as GatewayFastPath
from sim06.services.registry.app import create_app as create_registry
from sim06.services.registry.fastpath import LookupFastPath as RegistryFastPath
from tests.services.gateway.helpers import (
    ADMIN,
    ADULT,
    COMMUNE,
    POLICE,
    exchange_headers,
    get_token,
)

pytestmark = pytest.mark.anyio


def freeze(ctl: Admission, limit: int) -> None:
    """Hold the limit at ``limit`` and stop the timer: units in use are never freed, so the
    test sees exactly what one long turn of a busy event loop would."""
    g = ctl.gradient
    g.limit, g.minimum, g.maximum, ctl.limit = limit, limit, limit, limit
    ctl.loop = asyncio.get_running_loop()
    ctl.generation += 1  # the armed timer, if any, now stops at its next tick
    ctl.due = float("inf")  # and is never late


def order(app: FastAPI) -> list[Any]:
    """The middleware classes, outermost first."""
    return [m.cls for m in app.user_middleware]


@pytest.fixture
async def gateway(settings: Settings) -> AsyncIterator[tuple[FastAPI, httpx.AsyncClient]]:
    app = create_gateway(settings.model_copy(update={"gateway_admin_token": ADMIN}))
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://gateway") as c:
        yield app, c
    await app.state.gateway.registry.aclose()
    app.state.audit.close()


def test_admission_sits_outside_the_fast_paths(settings: Settings) -> None:
    registry = create_registry(settings)
    layers = order(registry)
    assert layers.index(AdmissionMiddleware) < layers.index(RegistryFastPath)
    ctl: Admission = registry.state.admission
    batch = {"method": "POST", "path": "/v1/citizens/verify-batch",
             "headers": [(b"content-length", b"64000")]}  # fmt: skip
    assert ctl.cost(batch) == 1000 and ctl.service == "registry"


async def test_registry_batches_are_shed_before_lookups(settings: Settings) -> None:
    app = create_registry(settings)
    transport = httpx.ASGITransport(app=app)
    items = [{"pin": ADULT, "full_name": "Nguyễn Văn An"}] * 200  # ~ 200 units
    async with httpx.AsyncClient(transport=transport, base_url="http://registry") as c:
        freeze(app.state.admission, 300)
        first = await c.post("/v1/citizens/verify-batch", json={"items": items})
        assert first.status_code == 200  # 150 units (half the limit)
        second = await c.post("/v1/citizens/verify-batch", json={"items": items})
        assert second.status_code == 503 and second.json()["code"] == "SERVICE_OVERLOADED"
        assert second.headers["retry-after"] == "1"
        lookup = await c.get(f"/v1/citizens/{ADULT}")  # the fast path, one unit
        assert lookup.status_code == 200
        assert (await c.get("/healthz")).status_code == 200
        assert (await c.get("/readyz")).status_code == 200
        snap = (await c.get("/__sim06/admission")).json()
    assert snap["shed"]["overload"] == 1 and snap["in_use"] == 151


async def test_gateway_agency_flood_leaves_other_agencies_their_share(
    gateway: tuple[FastAPI, httpx.AsyncClient],
) -> None:
    app, client = gateway
    layers = order(app)
    assert layers.index(AdmissionMiddleware) < layers.index(GatewayFastPath)
    police, commune = await get_token(client, POLICE), await get_token(client, COMMUNE)
    freeze(app.state.admission, 20)  # 10 units per agency once two want room
    lookup = f"/v1/registry/citizens/{ADULT}"

    async def get(agency: dict[str, str], token: str) -> httpx.Response:
        return await client.get(lookup, headers=exchange_headers(token, agency))

    alone = [await get(POLICE, police) for _ in range(14)]
    assert [r.status_code for r in alone] == [200] * 14  # alone: the whole limit
    other = await get(COMMUNE, commune)
    assert other.status_code == 200, other.text
    refused = await get(POLICE, police)
    assert refused.status_code == 429
    assert refused.json()["code"] == "AGENCY_SHARE_EXCEEDED"
    assert refused.headers["retry-after"] == "1"
    assert refused.headers["content-type"] == "application/problem+json"
    assert [(await get(COMMUNE, commune)).status_code for _ in range(9)] == [200] * 9
    assert (await client.get("/healthz")).status_code == 200
    snap = app.state.admission.snapshot()
    assert snap["agencies"] == {POLICE["code"]: 14, COMMUNE["code"]: 10}
    assert snap["shed"] == {"overload": 0, "agency_share": 1}


async def test_gateway_batches_cost_by_size(gateway: tuple[FastAPI, httpx.AsyncClient]) -> None:
    app, client = gateway
    police = await get_token(client, POLICE)
    freeze(app.state.admission, 100)
    body = {"items": [{"pin": ADULT}] * 300}  # about 10 kB: about 150 units
    r = await client.post(
        "/v1/registry/citizens/verify-batch", json=body, headers=exchange_headers(police, POLICE)
    )
    assert r.status_code == 200, r.text
    assert app.state.admission.snapshot()["agencies"] == {POLICE["code"]: 50}  # half the limit

"""Webhooks end to end: the gateway in process (its lifespan running the deliverer) over a
private writable database, civil-status events posted through it, and real receivers on
127.0.0.1 (a stdlib HTTP server in a thread)."""

from __future__ import annotations

import asyncio
import sqlite3
import time
from collections.abc import AsyncIterator, Callable
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from sim06.services.common.settings import Settings
from sim06.services.gateway.app import create_app
from tests.event_requests import CENTENARIAN, birth, death
from tests.services.gateway.helpers import ADMIN, BIRTH_OFFICE, DEATH_OFFICE, FUNERAL_OFFICE
from tests.services.gateway.webhook_receiver import receiver, verify, wait_for

pytestmark = pytest.mark.anyio

AUTH = {"Authorization": f"Bearer {ADMIN}"}
FAST = {
    "gateway_admin_token": ADMIN,
    "gateway_webhook_poll_interval": 0.05,
    "gateway_webhook_backoff": 0.05,
    "gateway_webhook_backoff_max": 0.2,
}
FUNERAL_GRANT = {"pin", "name", "date_of_birth", "sex", "status", "date_of_death",
                 "place_of_death", "death_registration", "permanent_residence",
                 "household"}  # fmt: skip


@pytest.fixture
def wh_settings(events_settings: Settings) -> Settings:
    return events_settings.model_copy(update=FAST)


@pytest.fixture
async def app(wh_settings: Settings) -> AsyncIterator[FastAPI]:
    application = create_app(wh_settings)
    async with application.router.lifespan_context(application):  # starts the deliverer
        yield application


async def subscribe(client: httpx.AsyncClient, url: str, **extra: Any) -> dict[str, Any]:
    document = {"agency": FUNERAL_OFFICE["client_id"], "procedure": FUNERAL_OFFICE["procedure"],
                "purpose": FUNERAL_OFFICE["purpose"], "url": url, **extra}  # fmt: skip
    r = await client.post("/admin/webhooks", json=document, headers=AUTH)
    assert r.status_code == 201, r.text
    body: dict[str, Any] = r.json()
    return body


async def deliveries(client: httpx.AsyncClient, webhook_id: str) -> list[dict[str, Any]]:
    r = await client.get(f"/admin/webhooks/{webhook_id}/deliveries", headers=AUTH)
    assert r.status_code == 200, r.text
    data: list[dict[str, Any]] = r.json()["data"]
    return data


async def test_a_birth_and_a_death_arrive_in_order_signed_and_cut_to_the_grant(
    app: FastAPI, client: httpx.AsyncClient, call: Callable[..., Any]
) -> None:
    with receiver() as rx:
        await subscribe(client, rx.url, id="funeral", legal_basis="Nghi dinh 20/2021/ND-CP")
        born = await call(BIRTH_OFFICE, "POST", "/v1/registry/births", birth())
        assert born.status_code == 201, born.text
        died = await call(DEATH_OFFICE, "POST", "/v1/registry/deaths", death(CENTENARIAN))
        assert died.status_code == 201, died.text
        await wait_for(lambda: len(rx.requests) >= 2)
        jwks = (await client.get("/.well-known/jwks.json")).json()
        items = [r.json for r in rx.requests]
        assert [(i["type"], i["cursor"]) for i in items] == [("birth", "1"), ("death", "2")]
        assert items[0]["pin"] == born.json()["pin"] and items[1]["pin"] == CENTENARIAN
        for request in rx.requests:
            assert request.headers["content-type"] == "application/json"
            assert request.headers["webhook-id"] == request.json["event_id"]
            header = verify(request, jwks)
            assert header["alg"] == "ES256" and header["b64"] is False
        # Data minimisation as in the pull feed: the same items, byte for byte in content.
        pulled = (await call(FUNERAL_OFFICE, "GET", "/v1/registry/changes?after=0")).json()
        assert items == pulled["items"]
        assert set(items[0]["changes"]) <= FUNERAL_GRANT and "ethnicity" not in items[0]["changes"]
        await wait_for(lambda: len(rx.delivered()) == 2)
    log = await deliveries(client, "funeral")
    assert [(a["cursor"], a["attempt"], a["status"]) for a in log] == [("2", 1, 200), ("1", 1, 200)]
    listed = (await client.get("/admin/webhooks/funeral", headers=AUTH)).json()
    assert listed["cursor"] == "2" and listed["paused"] is None
    # Each delivery is audited like a pull of the feed (the citizen's access log shows it).
    app.state.audit.flush()
    with sqlite3.connect(app.state.settings.data_dir / "audit.db") as db:
        rows = db.execute(
            "SELECT agency, operation, legal_basis, pins FROM audit WHERE request_id LIKE "
            "'webhook:funeral:%' ORDER BY seq"
        ).fetchall()
    db.close()
    assert [r[:3] for r in rows] == [
        (FUNERAL_OFFICE["code"], "changes", "Nghi dinh 20/2021/ND-CP")
    ] * 2
    assert CENTENARIAN in rows[1][3]
    verdict = (await client.get("/admin/audit/verify", headers=AUTH)).json()
    assert verdict["ok"] is True


async def test_after_two_failures_the_event_arrives_with_the_same_id(
    client: httpx.AsyncClient, call: Callable[..., Any]
) -> None:
    with receiver(fail_first=2) as rx:
        await subscribe(client, rx.url, id="flaky")
        r = await call(DEATH_OFFICE, "POST", "/v1/registry/deaths", death(CENTENARIAN))
        assert r.status_code == 201, r.text
        await wait_for(lambda: len(rx.requests) >= 3)
        jwks = (await client.get("/.well-known/jwks.json")).json()
        ids = {request.headers["webhook-id"] for request in rx.requests}
        assert len(rx.requests) == 3 and len(ids) == 1
        assert {request.body for request in rx.requests} == {rx.requests[0].body}
        for request in rx.requests:
            verify(request, jwks)

        async def logged() -> list[dict[str, Any]]:
            return [a for a in await deliveries(client, "flaky") if a["event_id"] in ids]

        deadline = time.monotonic() + 10
        while len(await logged()) < 3 and time.monotonic() < deadline:
            await asyncio.sleep(0.02)
    log = await logged()
    assert [(a["attempt"], a["status"]) for a in log] == [(3, 200), (2, 503), (1, 503)]
    assert all(a["error"] is None and a["latency_ms"] >= 0 for a in log)
    only = await client.get(
        "/admin/webhooks/flaky/deliveries", params={"event_id": ids.pop()}, headers=AUTH
    )
    assert only.json()["count"] == 3
    assert (await client.get("/admin/webhooks/flaky", headers=AUTH)).json()["cursor"] == "1"


async def test_a_hanging_subscriber_delays_neither_writes_nor_other_subscribers(
    wh_settings: Settings,
) -> None:
    settings = wh_settings.model_copy(update={"gateway_webhook_timeout": 60.0})
    application = create_app(settings)
    async with (
        application.router.lifespan_context(application),
        httpx.AsyncClient(
            transport=httpx.ASGITransport(app=application), base_url="http://gateway"
        ) as client,
    ):
        token = (
            await client.post(
                "/oauth/token",
                data={"grant_type": "client_credentials"},
                auth=(BIRTH_OFFICE["client_id"], BIRTH_OFFICE["secret"]),
            )
        ).json()["access_token"]

        async def births(names: list[str]) -> float:
            started = time.perf_counter()
            for name in names:
                headers = {
                    "Authorization": f"Bearer {token}", "X-Road-Client": BIRTH_OFFICE["code"],
                    "X-MaYeuCau": f"hang-{name}", "X-MaDVC": BIRTH_OFFICE["procedure"],
                    "X-MaCanBo": BIRTH_OFFICE["officer"], "X-Purpose": BIRTH_OFFICE["purpose"],
                    "X-Legal-Basis": "Luat Ho tich 2014",
                }  # fmt: skip
                r = await client.post("/v1/registry/births", json=birth(given=name),
                                      headers=headers)  # fmt: skip
                assert r.status_code == 201, r.text
            return time.perf_counter() - started

        baseline = await births([f"Con{i}" for i in range(5)])  # no subscriber at all
        with receiver(hang=True) as stuck, receiver() as healthy:
            await subscribe(client, stuck.url, id="stuck")
            await subscribe(client, healthy.url, id="healthy")
            await births(["Dau"])
            await wait_for(lambda: stuck.open_requests == 1 and len(healthy.requests) == 1)
            loaded = await births([f"Con{i}" for i in range(5, 10)])
            # The writes finished while the stuck subscriber still holds its first delivery:
            # nothing waited for it (a blocked writer would have waited the 60 s timeout).
            assert stuck.open_requests == 1 and len(stuck.requests) == 1
            assert loaded < 10 * baseline + 5.0
            # The healthy subscriber is not held back by the stuck one.
            await wait_for(lambda: len(healthy.requests) == 6)
            assert [r.json["cursor"] for r in healthy.requests] == [str(c) for c in range(6, 12)]
            # Once the subscriber answers, its backlog drains in order.
            stuck.release()
            await wait_for(lambda: len(stuck.requests) == 6)
            assert [r.json["cursor"] for r in stuck.requests] == [str(c) for c in range(6, 12)]

"""Snapshot and reset of every service's mutable state through /__sim06/snapshot and reset."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from sim06.services.common.settings import Settings
from sim06.services.testing import install_testing_tools
from tests.services.gateway.helpers import ADMIN, COMMUNE, exchange_headers, get_token

pytestmark = pytest.mark.anyio

ADULT = "001090104217"
NEW_AGENCY: dict[str, Any] = {
    "code": "000.99.01.H26", "name": "Test agency", "client_id": "test-agency",
    "client_secret": "test-only-secret-0123456789",
}  # fmt: skip


async def test_gateway_replay_cache_and_added_agencies_roll_back(
    clients: dict[str, httpx.AsyncClient],
) -> None:
    gateway = clients["gateway"]
    token = await get_token(gateway, COMMUNE)
    headers = exchange_headers(token, COMMUNE)
    assert (await gateway.post("/__sim06/snapshot")).json()["saved"] == [
        "expectations", "faults", "gateway.agencies", "gateway.assertions", "gateway.quota",
        "gateway.replay", "gateway.webhooks",
    ]  # fmt: skip
    assert (await gateway.get(f"/v1/registry/citizens/{ADULT}", headers=headers)).status_code == 200
    replayed = await gateway.get(f"/v1/registry/citizens/{ADULT}", headers=headers)
    assert replayed.status_code == 409
    admin = {"Authorization": f"Bearer {gateway_admin_token(gateway)}"}
    assert (
        await gateway.post("/admin/agencies", json=NEW_AGENCY, headers=admin)
    ).status_code == 201
    r = await gateway.post("/__sim06/reset")
    assert r.json()["to"] == "snapshot" and "gateway.replay" in r.json()["restored"]
    # The same X-MaYeuCau is fresh again, and the added agency is gone.
    assert (await gateway.get(f"/v1/registry/citizens/{ADULT}", headers=headers)).status_code == 200
    listed = (await gateway.get("/admin/agencies", headers=admin)).json()
    assert "test-agency" not in {a["client_id"] for a in listed["data"]}


def gateway_admin_token(client: httpx.AsyncClient) -> str:
    app = client._transport.app  # type: ignore[attr-defined]
    return str(app.state.settings.gateway_admin_token)


async def test_reset_without_snapshot_goes_back_to_startup(
    clients: dict[str, httpx.AsyncClient],
) -> None:
    registry = clients["registry"]
    await registry.put("/__sim06/faults", json={"fault": "http_503", "rate": 1.0})
    assert (await registry.get(f"/v1/citizens/{ADULT}")).status_code == 503
    await registry.put("/__sim06/expectations", json={"pin": ADULT, "outcome": {"fault": "reset"}})
    r = await registry.post("/__sim06/reset")
    restored = ["expectations", "faults", "registry.events"]
    assert r.json() == {"service": r.json()["service"], "restored": restored,
                        "to": "startup"}  # fmt: skip
    assert (await registry.get(f"/v1/citizens/{ADULT}")).status_code == 200
    assert (await registry.get("/__sim06/expectations")).json()["count"] == 0


async def test_identity_codes_and_consents_roll_back(
    clients: dict[str, httpx.AsyncClient],
) -> None:
    identity = clients["identity"]
    await identity.post("/__sim06/snapshot", json={"parts": ["identity.state"]})
    params = {
        "response_type": "code", "client_id": "demo-spa", "scope": "openid",
        "redirect_uri": "http://127.0.0.1:9003/callback", "state": "s",
        "code_challenge": "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM",
        "code_challenge_method": "S256", "login_hint": ADULT,
    }  # fmt: skip
    r = await identity.get("/authorize", params=params, headers={"X-Sim-Auto-Login": "true"})
    code = httpx.URL(r.headers["location"]).params["code"]
    await identity.post("/__sim06/reset", json={"parts": ["identity.state"]})
    token = await identity.post("/token", data={
        "grant_type": "authorization_code", "code": code, "client_id": "demo-spa",
        "redirect_uri": "http://127.0.0.1:9003/callback",
        "code_verifier": "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk",
    })  # fmt: skip
    assert token.status_code == 400 and token.json()["error"] == "invalid_grant"


async def test_journal_part_and_unknown_parts(settings: Settings) -> None:
    from sim06.services.registry.app import create_app

    app: FastAPI = create_app(settings.model_copy(update={"contract_journal": True}))
    install_testing_tools(app, settings)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app), base_url="http://r") as c:
        assert "journal" in (await c.get("/__sim06/state")).json()["parts"]
        await c.post("/__sim06/snapshot", json={"parts": ["journal"]})
        await c.get(f"/v1/citizens/{ADULT}")
        assert len((await c.get("/__sim06/journal")).json()["entries"]) == 1
        await c.post("/__sim06/reset", json={"parts": ["journal"]})
        assert (await c.get("/__sim06/journal")).json()["entries"] == []
        r = await c.post("/__sim06/snapshot", json={"parts": ["nope"]})
        assert r.status_code == 422 and "unknown state parts" in r.json()["detail"]


async def test_admin_token_outside_the_embedded_demo(settings: Settings) -> None:
    from sim06.services.registry.app import create_app

    strict = settings.model_copy(update={"gateway_embedded": False, "gateway_admin_token": ADMIN})
    app = create_app(strict)
    install_testing_tools(app, strict)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app), base_url="http://r") as c:
        r = await c.post("/__sim06/reset")
        assert r.status_code == 401 and r.json()["code"] == "GATEWAY_ADMIN_UNAUTHORIZED"
        r = await c.put(
            "/__sim06/expectations", json={"pin": ADULT, "outcome": {"code": "NOT_READY"}}
        )
        assert r.status_code == 401
        r = await c.post("/__sim06/reset", headers={"Authorization": f"Bearer {ADMIN}"})
        assert r.status_code == 200


async def test_not_in_the_published_contract(apps: dict[str, FastAPI]) -> None:
    for name in ("registry", "gateway", "identity"):
        assert not [p for p in apps[name].openapi()["paths"] if p.startswith("/__sim06/")]

"""The citizen access log: who read the data, when, for what purpose; covert records hidden."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import httpx
import pytest

from tests.services.gateway.helpers import (
    ADMIN,
    ADULT,
    COMMUNE,
    HOSPITAL,
    POLICE,
    assert_problem,
    get_token,
)

pytestmark = pytest.mark.anyio
Call = Callable[..., Any]
ADMIN_HEADERS = {"Authorization": f"Bearer {ADMIN}"}


async def test_lists_who_read_the_data_and_hides_covert_lookups(
    client: httpx.AsyncClient, call: Call
) -> None:
    assert (await call(COMMUNE, "GET", f"/v1/registry/citizens/{ADULT}")).status_code == 200
    assert (await call(HOSPITAL, "GET", f"/v1/registry/citizens/{ADULT}")).status_code == 200
    assert (await call(POLICE, "GET", f"/v1/registry/citizens/{ADULT}")).status_code == 200
    refused = await call(COMMUNE, "GET", f"/v1/registry/citizens/{ADULT}", **{"X-MaCanBo": "X"})
    assert refused.status_code == 403
    r = await client.get(f"/v1/citizens/{ADULT}/access-log", headers=ADMIN_HEADERS)
    assert r.status_code == 200, r.text
    body = r.json()
    # The police investigation is covert for 180 days; the refused call read nothing.
    assert [a["agency"] for a in body["accesses"]] == [COMMUNE["code"], HOSPITAL["code"]]
    first = body["accesses"][0]
    assert first["purpose"] == "residence" and first["officer"] == COMMUNE["officer"]
    assert first["procedure"] == COMMUNE["procedure"] and "permanent_residence" in first["fields"]
    assert first["agency_name_vi"].startswith("UBND")
    assert first["legal_basis"] == "Nghi dinh 104/2022/ND-CP"
    assert first["action"] == (
        f"record looked up by People's Committee of Ba Dinh ward, Ha Noi ({COMMUNE['code']})"
    )
    assert first["action_vi"].startswith("Tra cứu thông tin công dân do UBND phường Ba Đình")


async def test_filters(client: httpx.AsyncClient, call: Call) -> None:
    await call(COMMUNE, "GET", f"/v1/registry/citizens/{ADULT}")
    await call(HOSPITAL, "GET", f"/v1/registry/citizens/{ADULT}")
    url = f"/v1/citizens/{ADULT}/access-log"
    r = await client.get(url, params={"agency": HOSPITAL["code"]}, headers=ADMIN_HEADERS)
    assert [a["agency"] for a in r.json()["accesses"]] == [HOSPITAL["code"]]
    r = await client.get(url, params={"purpose": "residence"}, headers=ADMIN_HEADERS)
    assert r.json()["count"] == 1
    r = await client.get(url, params={"since": "2999-01-01"}, headers=ADMIN_HEADERS)
    assert r.json()["count"] == 0
    r = await client.get(url, params={"until": "2000-01-01"}, headers=ADMIN_HEADERS)
    assert r.json()["count"] == 0
    r = await client.get(url, params={"since": "yesterday"}, headers=ADMIN_HEADERS)
    assert_problem(r, 422, "VALIDATION_FAILED", source=None)


async def test_needs_admin_or_the_scope(client: httpx.AsyncClient, call: Call) -> None:
    r = await client.get(f"/v1/citizens/{ADULT}/access-log")
    assert r.status_code == 401 and r.json()["code"] == "GATEWAY_UNAUTHENTICATED"
    await call(COMMUNE, "GET", f"/v1/registry/citizens/{ADULT}")  # gives the commune a token
    token = await get_token(client, COMMUNE)
    r = await client.get(
        f"/v1/citizens/{ADULT}/access-log", headers={"Authorization": f"Bearer {token}"}
    )
    assert r.status_code == 403 and r.json()["code"] == "GATEWAY_INSUFFICIENT_SCOPE"
    r = await client.get("/v1/citizens/12345/access-log", headers=ADMIN_HEADERS)
    assert r.status_code == 422 and r.json()["code"] == "INVALID_PIN"


async def citizen_token(gw_settings: Any, scope: str, pin: str = ADULT) -> str:
    """An access token of the identity service for ``pin`` (auto-login, same key directory)."""
    from sim06.services.identity import create_app as create_identity
    from tests.services.identity.conftest import auth_params, pkce_pair

    app = create_identity(gw_settings)  # public clients need no file: register one
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://127.0.0.1:8002"
    ) as idp:
        client = (
            await idp.post(
                "/register",
                json={"redirect_uris": ["https://rp.example/callback"], "client_name": "portal"},
            )
        ).json()
        verifier, challenge = pkce_pair()
        params = auth_params(challenge, client_id=client["client_id"], scope=scope, login_hint=pin)
        r = await idp.get("/authorize", params=params, headers={"X-Sim-Auto-Login": "true"})
        code = r.headers["location"].split("code=")[1].split("&")[0]
        tokens = await idp.post(
            "/token",
            data={"grant_type": "authorization_code", "code": code, "code_verifier": verifier,
                  "redirect_uri": "https://rp.example/callback"},
            auth=(client["client_id"], client["client_secret"]),
        )  # fmt: skip
        assert tokens.status_code == 200, tokens.text
    app.state.store.close()
    token: str = tokens.json()["access_token"]
    return token


async def test_citizen_reads_own_log_with_an_identity_token(
    client: httpx.AsyncClient, call: Call, gw_settings: Any
) -> None:
    await call(COMMUNE, "GET", f"/v1/registry/citizens/{ADULT}")
    await call(POLICE, "GET", f"/v1/registry/citizens/{ADULT}")
    token = await citizen_token(gw_settings, "openid access_log")
    bearer = {"Authorization": f"Bearer {token}"}
    r = await client.get(f"/v1/citizens/{ADULT}/access-log", headers=bearer)
    assert r.status_code == 200, r.text
    assert [a["agency"] for a in r.json()["accesses"]] == [COMMUNE["code"]]  # covert hidden
    other = await client.get("/v1/citizens/001195208733/access-log", headers=bearer)
    assert_problem(other, 403, "GATEWAY_NOT_OWN_RECORD", source=None)
    tampered = token[:-4] + ("AAAA" if token[-4:] != "AAAA" else "BBBB")
    r = await client.get(
        f"/v1/citizens/{ADULT}/access-log", headers={"Authorization": f"Bearer {tampered}"}
    )
    assert_problem(r, 401, "GATEWAY_UNAUTHENTICATED", source=None)
    assert "invalid_token" in r.headers["www-authenticate"]
    plain = await citizen_token(gw_settings, "openid profile")  # no access_log scope
    r = await client.get(
        f"/v1/citizens/{ADULT}/access-log", headers={"Authorization": f"Bearer {plain}"}
    )
    assert_problem(r, 401, "GATEWAY_UNAUTHENTICATED", source=None)

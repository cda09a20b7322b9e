"""The citizen access log: who read the data, when, for what purpose; covert records hidden."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import httpx
import pytest

from tests.services.gateway.helpers import ADMIN, ADULT, COMMUNE, HOSPITAL, POLICE, assert_problem

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
    token = (
        await client.post(
            "/oauth/token",
            data={"grant_type": "client_credentials"},
            auth=(COMMUNE["client_id"], COMMUNE["secret"]),
        )
    ).json()["access_token"]
    r = await client.get(
        f"/v1/citizens/{ADULT}/access-log", headers={"Authorization": f"Bearer {token}"}
    )
    assert r.status_code == 403 and r.json()["code"] == "GATEWAY_INSUFFICIENT_SCOPE"
    r = await client.get("/v1/citizens/12345/access-log", headers=ADMIN_HEADERS)
    assert r.status_code == 422 and r.json()["code"] == "INVALID_PIN"

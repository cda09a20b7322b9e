"""Civil-status events and the change feed through the gateway (JSON profile), in process."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import httpx
import pytest

from sim06.mock_registry.ids import parse_pin
from sim06.services.common.settings import Settings
from tests.event_requests import CENTENARIAN, FATHER, birth, death
from tests.services.gateway.helpers import (
    BANK,
    BIRTH_OFFICE,
    DEATH_OFFICE,
    FUNERAL_OFFICE,
    SOCIAL_SECURITY,
    WARD_POLICE,
    assert_problem,
)

pytestmark = pytest.mark.anyio


@pytest.fixture
def gw_settings(gw_events_settings: Settings) -> Settings:
    return gw_events_settings  # events write: a private copy of the database


async def test_a_birth_through_the_gateway_is_signed_audited_and_fed(
    call: Callable[..., Any],
) -> None:
    r = await call(BIRTH_OFFICE, "POST", "/v1/registry/births", birth(),
                   **{"X-MaYeuCau": "ks-0001"})  # fmt: skip
    assert r.status_code == 201, r.text
    assert r.headers["x-jws-signature"] and r.headers["x-request-hash"]
    pin = r.json()["pin"]
    assert parse_pin(pin).province_code == "001"
    # A retry with the same MaYeuCau: the same answer, one record.
    again = await call(BIRTH_OFFICE, "POST", "/v1/registry/births", birth(),
                       **{"X-MaYeuCau": "ks-0001"})  # fmt: skip
    assert again.status_code == 200 and again.json() == r.json()
    assert again.headers["idempotent-replayed"] == "true"
    # Social Security reads the feed: the birth, cut to its grant.
    feed = await call(SOCIAL_SECURITY, "GET", "/v1/registry/changes?after=0")
    assert feed.status_code == 200, feed.text
    items = feed.json()["items"]
    assert [i["pin"] for i in items] == [pin] and items[0]["type"] == "birth"
    assert "ethnicity" not in items[0]["changes"] and items[0]["changes"]["sex"] == "female"
    assert items[0]["actor"] == BIRTH_OFFICE["code"]


async def test_writes_need_a_write_purpose(call: Callable[..., Any]) -> None:
    r = await call(BANK, "POST", "/v1/registry/births", birth())
    assert_problem(r, 403, "GATEWAY_PURPOSE_NOT_ALLOWED")
    r = await call(BIRTH_OFFICE, "POST", "/v1/registry/deaths", death(CENTENARIAN))
    assert_problem(r, 403, "GATEWAY_PURPOSE_NOT_ALLOWED")
    r = await call(BANK, "GET", "/v1/registry/changes")
    assert_problem(r, 403, "GATEWAY_PURPOSE_NOT_ALLOWED")


async def test_a_refused_event_passes_the_registry_problem_through(
    call: Callable[..., Any],
) -> None:
    r = await call(BIRTH_OFFICE, "POST", "/v1/registry/births",
                   birth(mother_pin="001195000000", father_pin=None, residence=None))  # fmt: skip
    body = assert_problem(r, 422, "EVENT_PARENT_NOT_FOUND", source="registry")
    assert body["errors"][0]["pointer"] == "/mother_pin"
    r = await call(BIRTH_OFFICE, "POST", "/v1/registry/births", {"child": {}})
    assert_problem(r, 422, "VALIDATION_FAILED", source="registry")


async def test_a_death_reaches_the_police_and_the_funeral_office(
    call: Callable[..., Any],
) -> None:
    r = await call(DEATH_OFFICE, "POST", "/v1/registry/deaths", death(FATHER))
    assert r.status_code == 201, r.text
    police = (await call(WARD_POLICE, "GET", "/v1/registry/changes")).json()["items"]
    assert police[0]["changes"]["permanent_residence"] is None
    funeral = (await call(FUNERAL_OFFICE, "GET", "/v1/registry/changes?limit=1")).json()
    item = funeral["items"][0]
    assert item["type"] == "death" and item["changes"]["date_of_death"] == "2026-12-01"
    assert "death_registration" in item["changes"] and "phone" not in item["changes"]
    assert funeral["next_cursor"] == "1"
    r = await call(WARD_POLICE, "GET", "/v1/registry/changes?after=7")
    assert_problem(r, 409, "FEED_CURSOR_AHEAD", source="registry")
    r = await call(WARD_POLICE, "GET", "/v1/registry/changes?after=x")
    assert_problem(r, 422, "FEED_INVALID_CURSOR", source="registry")


async def test_the_write_routes_carry_valid_examples(client: httpx.AsyncClient) -> None:
    doc = (await client.get("/openapi.json")).json()
    for kind in ("births", "deaths", "residence-changes", "marriages", "divorces", "corrections"):
        op = doc["paths"][f"/v1/registry/{kind}"]["post"]
        assert op["requestBody"]["content"]["application/json"]["examples"]
        assert "201" in op["responses"]

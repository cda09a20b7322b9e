"""The citizen's access-log page says what was written: a birth registered by the commune."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
from fastapi import FastAPI

from sim06.services.common.settings import Settings
from sim06.services.gateway.app import create_app as create_gateway
from sim06.services.identity import create_app
from sim06.services.identity.access_log_source import HttpAccessLogSource
from tests.event_requests import MOTHER, birth
from tests.services.gateway.helpers import (
    ADMIN,
    BIRTH_OFFICE,
    COMMUNE,
    exchange_headers,
    get_token as agency_token,
)
from tests.services.identity.conftest import ISSUER
from tests.services.identity.test_account import account_login

pytestmark = pytest.mark.anyio


@pytest.fixture
async def gateway(idp_settings: Settings, events_db: Path) -> AsyncIterator[FastAPI]:
    """A gateway over a private copy of the population that civil-status events may change."""
    app = create_gateway(
        idp_settings.model_copy(update={"gateway_admin_token": ADMIN, "db_path": events_db})
    )
    yield app
    await app.state.gateway.registry.aclose()
    app.state.audit.close()


async def test_the_page_shows_a_birth_registration(
    idp_settings: Settings, gateway: FastAPI
) -> None:
    transport = httpx.ASGITransport(app=gateway)
    async with httpx.AsyncClient(transport=transport, base_url="http://gateway") as gw:
        token = await agency_token(gw, BIRTH_OFFICE)
        headers = exchange_headers(token, BIRTH_OFFICE)
        r = await gw.post("/v1/registry/births", json=birth(), headers=headers)
        assert r.status_code == 201, r.text
        digests = [record["after"] for record in r.json()["records"]]
    source = HttpAccessLogSource("http://gateway", transport=transport)
    app = create_app(idp_settings, access_log=source)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url=ISSUER) as c:
        page = await account_login(c, MOTHER, "/account/access-log")
    await source.aclose()
    assert page.status_code == 200, page.text
    text = page.text
    assert 'id="count">1<' in text and "Hoạt động / Action" in text
    assert 'data-operation="register-birth"' in text
    assert "Đăng ký khai sinh do UBND phường Ba Đình, thành phố Hà Nội" in text
    assert (
        "birth registered by People&#x27;s Committee of Ba Dinh ward, Ha Noi "
        f"({COMMUNE['code']})" in text
    )
    assert not any(digest in text for digest in digests)  # the digests are not shown

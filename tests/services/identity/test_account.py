"""The citizen's account pages: remembered consents with revocation, and the access log."""

from __future__ import annotations

import sqlite3
from collections.abc import AsyncIterator

import httpx
import pytest
from fastapi import FastAPI

from sim06.services.common.settings import Settings
from sim06.services.gateway.app import create_app as create_gateway
from sim06.services.identity import create_app
from sim06.services.identity.access_log_source import HttpAccessLogSource
from tests.services.gateway.helpers import (
    ADMIN,
    COMMUNE,
    HOSPITAL,
    POLICE,
    exchange_headers,
    get_token as agency_token,
)
from tests.services.identity.conftest import ADULT, ISSUER, auth_params, pkce_pair, redirect_query
from tests.services.identity.test_flow import form_fields

pytestmark = pytest.mark.anyio


async def account_login(c: httpx.AsyncClient, pin: str, target: str) -> httpx.Response:
    """Log in through /account/login and follow the redirect to ``target``."""
    first = await c.get(target)
    assert first.status_code == 303 and "/account/login?next=" in first.headers["location"]
    page = await c.get(first.headers["location"])
    assert page.status_code == 200 and 'id="qr-start"' not in page.text
    r = await c.post(
        "/account/login",
        data={**form_fields(page.text), "pin": pin, "passcode": pin[-6:], "level": "1"},
    )
    assert r.status_code == 303 and r.headers["location"] == target, r.text
    return await c.get(target)


async def consent_through_pages(c: httpx.AsyncClient, scope: str) -> httpx.Response:
    """An interactive authorization; returns the response after login (consent or code)."""
    _, challenge = pkce_pair()
    params = auth_params(challenge, scope=scope)
    if c.cookies.get("vneid_sid"):
        return await c.get("/authorize", params=params)
    page = await c.get("/authorize", params=params)
    data = {**form_fields(page.text), "pin": ADULT, "passcode": ADULT[-6:], "level": "1"}
    return await c.post("/login", data=data)


async def test_consent_is_remembered_listed_and_revoked(idp: httpx.AsyncClient) -> None:
    consent = await consent_through_pages(idp, "openid profile")
    assert 'id="allow"' in consent.text
    redirect_query(
        await idp.post("/consent", data={**form_fields(consent.text), "decision": "allow"})
    )
    # Remembered: the next authorization goes straight back with a code.
    assert "code" in redirect_query(await consent_through_pages(idp, "openid profile"))
    page = await idp.get("/account/consents")
    assert page.status_code == 200 and 'id="consent-portal"' in page.text
    assert "Test portal" in page.text and "birthdate" in page.text and "Revoke" in page.text
    fields = form_fields(page.text)
    # CSRF: a forged form (no token, or another one) changes nothing.
    forged = await idp.post("/account/consents/revoke", data={"client_id": "portal", "csrf": "x"})
    assert forged.status_code == 403
    assert "code" in redirect_query(await consent_through_pages(idp, "openid profile"))
    r = await idp.post("/account/consents/revoke", data=fields)
    assert r.status_code == 303
    after = await idp.get(r.headers["location"])
    assert 'id="no-consents"' in after.text and 'id="notice"' in after.text
    # Revoked: the consent screen is back.
    again = await consent_through_pages(idp, "openid profile")
    assert again.status_code == 200 and 'id="allow"' in again.text
    # The token was single use.
    assert (await idp.post("/account/consents/revoke", data=fields)).status_code == 403


async def test_account_pages_need_a_login(idp: httpx.AsyncClient) -> None:
    for path in ("/account/consents", "/account/access-log"):
        r = await idp.get(path)
        assert r.status_code == 303 and r.headers["location"].startswith("/account/login")
    r = await idp.post("/account/consents/revoke", data={"client_id": "portal"})
    assert r.status_code == 303
    page = await idp.get("/account/login", params={"next": "https://evil.example/"})
    fields = form_fields(page.text)
    wrong = await idp.post("/account/login", data={**fields, "pin": ADULT, "passcode": "1"})
    assert wrong.status_code == 400 and "Wrong passcode" in wrong.text
    ok = await idp.post("/account/login", data={**fields, "pin": ADULT, "passcode": ADULT[-6:]})
    assert ok.headers["location"] == "/account/consents"  # no open redirect
    page = await idp.get("/account/consents")
    assert 'id="no-consents"' in page.text and "Nguyễn Văn An" in page.text


@pytest.fixture
async def gateway(idp_settings: Settings) -> AsyncIterator[FastAPI]:
    app = create_gateway(idp_settings.model_copy(update={"gateway_admin_token": ADMIN}))
    yield app
    await app.state.gateway.registry.aclose()
    app.state.audit.close()


async def test_access_log_page_shows_who_looked(idp_settings: Settings, gateway: FastAPI) -> None:
    transport = httpx.ASGITransport(app=gateway)
    async with httpx.AsyncClient(transport=transport, base_url="http://gateway") as gw:
        for agency in (COMMUNE, HOSPITAL, POLICE):
            headers = exchange_headers(await agency_token(gw, agency), agency)
            assert (
                await gw.get(f"/v1/registry/citizens/{ADULT}", headers=headers)
            ).status_code == 200
    source = HttpAccessLogSource("http://gateway", transport=transport)
    app = create_app(idp_settings, access_log=source)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url=ISSUER) as c:
        page = await account_login(c, ADULT, "/account/access-log")
        assert page.status_code == 200, page.text
        text = page.text
        assert 'id="count">2<' in text  # the police lookup is covert for 180 days
        assert COMMUNE["code"] in text and HOSPITAL["code"] in text and POLICE["code"] not in text
        assert COMMUNE["officer"] in text and COMMUNE["procedure"] in text
        assert "Nghi dinh 104/2022/ND-CP" in text and "permanent_residence" in text
        assert "UBND" in text and "Who looked at my data" in text
        assert "Tra cứu thông tin công dân do UBND" in text and "record looked up by" in text
        only = await c.get("/account/access-log", params={"purpose": HOSPITAL["purpose"]})
        assert 'id="count">1<' in only.text and COMMUNE["officer"] not in only.text
        assert f'value="{COMMUNE["code"]}"' in only.text  # agency choices from the whole log
        by_agency = await c.get("/account/access-log", params={"agency": COMMUNE["code"]})
        assert 'id="count">1<' in by_agency.text
        future = await c.get("/account/access-log", params={"since": "2999-01-01"})
        assert 'id="no-accesses"' in future.text
        today = await c.get("/account/access-log", params={"until": "2000-01-01"})
        assert 'id="count">0<' in today.text
        bad = await c.get("/account/access-log", params={"since": "yesterday"})
        assert bad.status_code == 400 and 'id="error"' in bad.text
        assert "UTC+7" in text and " UTC<" not in text  # Vietnam time, zone stated
        for odd in ("0", "x", "-1", "99"):  # a page out of range shows the nearest one
            paged = await c.get("/account/access-log", params={"page": odd})
            assert paged.status_code == 200 and 'id="count">2<' in paged.text
    await source.aclose()


async def test_access_log_page_says_when_the_gateway_is_down(idp_settings: Settings) -> None:
    source = HttpAccessLogSource("http://127.0.0.1:9")  # nothing listens on the discard port
    app = create_app(idp_settings, access_log=source)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url=ISSUER) as c:
        page = await account_login(c, ADULT, "/account/access-log")
    assert page.status_code == 503 and "Cannot read the access log" in page.text
    await source.aclose()


# The README's example as curl sends it: the header value's raw UTF-8 bytes.
LEGAL_BASIS_VI = "Luật Cư trú 2020"


@pytest.mark.parametrize(
    "sent",
    [
        LEGAL_BASIS_VI.encode(),  # curl -H 'X-Legal-Basis: Luật Cư trú 2020'
        b"Lu%E1%BA%ADt C%C6%B0 tr%C3%BA 2020",  # percent-encoded UTF-8
        b"UTF-8''Lu%E1%BA%ADt%20C%C6%B0%20tr%C3%BA%202020",  # RFC 8187 ext-value
    ],
    ids=["raw-utf8", "percent", "rfc8187"],
)
async def test_a_vietnamese_legal_basis_reaches_the_audit_log_and_the_page_intact(
    idp_settings: Settings, gateway: FastAPI, sent: bytes
) -> None:
    transport = httpx.ASGITransport(app=gateway)
    async with httpx.AsyncClient(transport=transport, base_url="http://gateway") as gw:
        base = exchange_headers(await agency_token(gw, COMMUNE), COMMUNE)
        # Both the fast path (a plain lookup) and the FastAPI route (?fields=) read it.
        for url in (
            f"/v1/registry/citizens/{ADULT}",
            f"/v1/registry/citizens/{ADULT}?fields=permanent_residence",
        ):
            named = {**base, "X-MaYeuCau": f"utf8-{url[-6:]}-{len(sent)}"}
            raw = [(k.encode(), v.encode()) for k, v in named.items() if k != "X-Legal-Basis"]
            r = await gw.get(url, headers=[*raw, (b"X-Legal-Basis", sent)])
            assert r.status_code == 200, r.text
        log = await gw.get(
            f"/v1/citizens/{ADULT}/access-log", headers={"Authorization": f"Bearer {ADMIN}"}
        )
    assert [a["legal_basis"] for a in log.json()["accesses"]] == [LEGAL_BASIS_VI] * 2
    audit = gateway.state.audit
    assert audit.verify().ok  # stored in the hash chain as sent, and the chain holds
    with sqlite3.connect(audit.path) as db:
        stored = [row[0] for row in db.execute("SELECT legal_basis FROM audit")]
    assert stored.count(LEGAL_BASIS_VI) == 2 and not any("Ã" in s or "Æ" in s for s in stored)
    source = HttpAccessLogSource("http://gateway", transport=transport)
    app = create_app(idp_settings, access_log=source)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url=ISSUER) as c:
        page = await account_login(c, ADULT, "/account/access-log")
    await source.aclose()
    assert page.status_code == 200 and page.text.count(LEGAL_BASIS_VI) == 2
    assert "Luáº" not in page.text

"""QR login with the VNeID app: approve, deny, expiry, replay, level-1 accounts refused."""

from __future__ import annotations

import re
import time

import httpx
import jwt
import pytest

from tests.services.identity.conftest import (
    ADULT,
    LEVEL1,
    auth_params,
    pkce_pair,
    redeem,
    redirect_query,
)
from tests.services.identity.test_flow import form_fields

pytestmark = pytest.mark.anyio


async def start_qr(c: httpx.AsyncClient, **extra: str) -> tuple[str, str, dict[str, str]]:
    """Login page → "show the QR code": ``(txn, verifier, params)``; the browser polls."""
    verifier, challenge = pkce_pair()
    params = auth_params(challenge, **extra)
    page = await c.get("/authorize", params=params)
    assert 'id="qr-start"' in page.text and "VNeID" in page.text
    r = await c.post("/qr/start", data=form_fields(page.text))
    assert r.status_code == 303, r.text
    assert r.headers["location"].startswith("/qr?txn=")
    poll = await c.get(r.headers["location"])
    assert poll.status_code == 200, poll.text
    assert '<meta http-equiv="refresh"' in poll.text and "<svg" in poll.text
    assert "script" not in poll.text.lower() and "src=" not in poll.text
    txn = re.search(r'id="qr-txn">([^<]+)<', poll.text)
    assert txn is not None
    assert f"app-simulator?txn={txn[1]}" in poll.text
    return txn[1], verifier, params


async def test_approve_in_the_app_completes_at_level_2(idp: httpx.AsyncClient) -> None:
    txn, verifier, params = await start_qr(idp, scope="openid profile vneid_profile")
    r = await idp.post(f"/v1/test/qr/{txn}/approve", json={"persona": "adult-level2"})
    assert r.status_code == 200 and r.json() == {"txn": txn, "decision": "approved"}
    q = redirect_query(await idp.get("/qr", params={"txn": txn}))
    assert q["state"] == params["state"] and "code" in q
    tokens = (await redeem(idp, q["code"], verifier)).json()
    claims = jwt.decode(tokens["id_token"], options={"verify_signature": False})
    assert claims["acr"] == "2" and "app" in claims["amr"]
    info = await idp.get("/userinfo", headers={"Authorization": f"Bearer {tokens['access_token']}"})
    assert info.json()["SoDinhDanh"] == ADULT
    # The approval was the consent, and the session now works for the next login.
    _, challenge = pkce_pair()
    again = params | {"code_challenge": challenge, "scope": "openid profile vneid_profile"}
    assert "code" in redirect_query(await idp.get("/authorize", params=again))


async def test_replay_of_a_used_transaction_is_refused(idp: httpx.AsyncClient) -> None:
    txn, _, _ = await start_qr(idp)
    assert (await idp.post(f"/v1/test/qr/{txn}/approve", json={"pin": ADULT})).status_code == 200
    second = await idp.post(f"/v1/test/qr/{txn}/deny", json={"pin": ADULT})
    assert second.status_code == 409 and second.json()["code"] == "IDENTITY_QR_USED"
    assert "code" in redirect_query(await idp.get("/qr", params={"txn": txn}))
    replay = await idp.get("/qr", params={"txn": txn})
    assert replay.status_code == 409 and 'id="qr-end"' in replay.text
    late = await idp.post(f"/v1/test/qr/{txn}/approve", json={"pin": ADULT})
    assert late.status_code == 409 and late.json()["code"] == "IDENTITY_QR_USED"


async def test_deny_is_access_denied_with_state(idp: httpx.AsyncClient) -> None:
    txn, _, params = await start_qr(idp)
    r = await idp.post(f"/v1/test/qr/{txn}/deny", json={"persona": "adult-level2"})
    assert r.status_code == 200 and r.json()["decision"] == "denied"
    q = redirect_query(await idp.get("/qr", params={"txn": txn}))
    assert q["error"] == "access_denied" and q["state"] == params["state"]


async def test_expired_transaction_shows_a_page(idp: httpx.AsyncClient) -> None:
    txn, _, _ = await start_qr(idp)
    qr = idp.app.state.qr_logins  # type: ignore[attr-defined]
    qr.clock = lambda: time.time() + qr.ttl + 1
    page = await idp.get("/qr", params={"txn": txn})
    assert page.status_code == 410 and "hết hạn" in page.text and "expired" in page.text
    assert 'id="qr-restart" href="authorize?' in page.text
    r = await idp.post(f"/v1/test/qr/{txn}/approve", json={"persona": "adult-level2"})
    assert r.status_code == 410 and r.json()["code"] == "IDENTITY_QR_EXPIRED"


async def test_level1_and_unknown_accounts_cannot_approve(idp: httpx.AsyncClient) -> None:
    txn, _, _ = await start_qr(idp)
    r = await idp.post(f"/v1/test/qr/{txn}/approve", json={"pin": LEVEL1})
    assert r.status_code == 403 and r.json()["code"] == "IDENTITY_QR_ACCOUNT_REFUSED"
    r = await idp.post(f"/v1/test/qr/{txn}/approve", json={"persona": "locked-account"})
    assert r.status_code == 403
    r = await idp.post(f"/v1/test/qr/{txn}/approve", json={"persona": "nobody"})
    assert r.status_code == 422 and r.json()["code"] == "VALIDATION_FAILED"
    r = await idp.post(
        f"/v1/test/qr/{txn}/approve", content=b"{", headers={"content-type": "application/json"}
    )
    assert r.status_code == 400 and r.json()["code"] == "MALFORMED_BODY"
    r = await idp.post("/v1/test/qr/nope/approve", json={"pin": ADULT})
    assert r.status_code == 404 and r.json()["code"] == "IDENTITY_QR_NOT_FOUND"
    pending = await idp.get("/qr", params={"txn": txn})  # the refusals decided nothing
    assert pending.status_code == 200 and 'id="qr-waiting"' in pending.text


async def test_polling_needs_the_browser_that_started(idp: httpx.AsyncClient) -> None:
    txn, _, _ = await start_qr(idp)
    await idp.post(f"/v1/test/qr/{txn}/approve", json={"pin": ADULT})
    async with httpx.AsyncClient(transport=idp._transport, base_url=str(idp.base_url)) as other:
        stolen = await other.get("/qr", params={"txn": txn})
    assert stolen.status_code == 404 and "code=" not in stolen.text
    assert "code" in redirect_query(await idp.get("/qr", params={"txn": txn}))


async def test_app_simulator_page_approves_with_passcode(idp: httpx.AsyncClient) -> None:
    txn, verifier, _ = await start_qr(idp, scope="openid vneid_profile")
    async with httpx.AsyncClient(transport=idp._transport, base_url=str(idp.base_url)) as phone:
        page = await phone.get("/app-simulator", params={"txn": txn})
        assert page.status_code == 200 and "HoVaTen" in page.text and "Approve" in page.text
        assert LEVEL1 not in page.text  # only level-2 accounts are offered
        fields = form_fields(page.text)
        wrong = await phone.post(
            "/app-simulator",
            data={**fields, "pin": ADULT, "passcode": "000000", "decision": "approve"},
        )
        assert wrong.status_code == 400 and "Wrong passcode" in wrong.text
        level1 = await phone.post(
            "/app-simulator",
            data={
                **form_fields(wrong.text),
                "pin": LEVEL1,
                "passcode": LEVEL1[-6:],
                "decision": "approve",
            },
        )
        assert level1.status_code == 400 and "level 1" in level1.text
        forged = await phone.post(
            "/app-simulator",
            data={
                "txn": txn,
                "csrf": "x",
                "pin": ADULT,
                "passcode": ADULT[-6:],
                "decision": "approve",
            },
        )
        assert forged.status_code == 400 and "CSRF" in forged.text
        ok = await phone.post(
            "/app-simulator",
            data={
                **form_fields(level1.text),
                "pin": ADULT,
                "passcode": ADULT[-6:],
                "decision": "approve",
            },
        )
        assert ok.status_code == 200 and 'id="app-done"' in ok.text
        used = await phone.get("/app-simulator", params={"txn": txn})
        assert 'id="app-done"' in used.text and "already" in used.text
    q = redirect_query(await idp.get("/qr", params={"txn": txn}))
    assert (await redeem(idp, q["code"], verifier)).status_code == 200


async def test_test_api_can_be_switched_off(idp: httpx.AsyncClient) -> None:
    txn, _, _ = await start_qr(idp)
    settings = idp.app.state.provider.settings  # type: ignore[attr-defined]
    idp.app.state.provider.settings = settings.model_copy(update={"identity_qr_test_api": False})  # type: ignore[attr-defined]
    try:
        r = await idp.post(f"/v1/test/qr/{txn}/approve", json={"pin": ADULT})
    finally:
        idp.app.state.provider.settings = settings  # type: ignore[attr-defined]
    assert r.status_code == 404 and r.json()["code"] == "NOT_FOUND"
    pending = await idp.get("/qr", params={"txn": txn})
    assert pending.status_code == 200 and 'id="qr-waiting"' in pending.text

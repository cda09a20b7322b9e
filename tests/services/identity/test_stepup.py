"""Level-2 step-up of a level-1 session: the simulated face check page, then consent."""

from __future__ import annotations

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


async def level1_login(c: httpx.AsyncClient, pin: str) -> None:
    """Log in at level 1 through the pages (sets the session cookie) and consent."""
    verifier, challenge = pkce_pair()
    page = await c.get("/authorize", params=auth_params(challenge, login_hint=pin))
    r = await c.post(
        "/login", data={**form_fields(page.text), "pin": pin, "passcode": pin[-6:], "level": "1"}
    )
    assert r.status_code == 200, r.text
    q = redirect_query(await c.post("/consent", data={**form_fields(r.text), "decision": "allow"}))
    tokens = (await redeem(c, q["code"], verifier)).json()
    assert jwt.decode(tokens["id_token"], options={"verify_signature": False})["acr"] == "1"


async def test_level2_request_steps_up_with_the_face_check(idp: httpx.AsyncClient) -> None:
    await level1_login(idp, ADULT)
    verifier, challenge = pkce_pair()
    params = auth_params(challenge, acr_values="2", scope="openid profile vneid_profile")
    page = await idp.get("/authorize", params=params)
    assert page.status_code == 200 and 'id="face-match"' in page.text
    assert "passcode" not in page.text  # a step-up, not a new login
    fields = form_fields(page.text)
    consent = await idp.post("/stepup", data={**fields, "face": "match"})
    assert consent.status_code == 200 and 'id="allow"' in consent.text
    # The step-up transaction is single use.
    again = await idp.post("/stepup", data={**fields, "face": "match"})
    assert again.status_code == 400
    q = redirect_query(
        await idp.post("/consent", data={**form_fields(consent.text), "decision": "allow"})
    )
    assert q["state"] == params["state"]
    id_token = (await redeem(idp, q["code"], verifier)).json()["id_token"]
    claims = jwt.decode(id_token, options={"verify_signature": False})
    assert claims["acr"] == "2" and claims["amr"] == ["pwd", "face"]


async def test_face_mismatch_and_cancel_are_access_denied(idp: httpx.AsyncClient) -> None:
    await level1_login(idp, ADULT)
    for choice in ({"face": "mismatch"}, {"cancel": "1"}):
        _, challenge = pkce_pair()
        params = auth_params(challenge, acr_values="LoA2")
        page = await idp.get("/authorize", params=params)
        q = redirect_query(await idp.post("/stepup", data={**form_fields(page.text), **choice}))
        assert q["error"] == "access_denied" and q["state"] == params["state"]


async def test_level1_account_cannot_step_up(idp: httpx.AsyncClient) -> None:
    await level1_login(idp, LEVEL1)
    _, challenge = pkce_pair()
    params = auth_params(challenge, acr_values="2", login_hint=LEVEL1)
    q = redirect_query(await idp.get("/authorize", params=params))
    assert q["error"] == "unmet_authentication_requirements"


async def test_step_up_needs_the_same_session_and_csrf(idp: httpx.AsyncClient) -> None:
    await level1_login(idp, ADULT)
    _, challenge = pkce_pair()
    page = await idp.get("/authorize", params=auth_params(challenge, acr_values="2"))
    fields = form_fields(page.text)
    r = await idp.post("/stepup", data={**fields, "csrf": "forged", "face": "match"})
    assert r.status_code == 400 and "CSRF" in r.text
    idp.cookies.delete("vneid_sid")
    page = await idp.get("/authorize", params=auth_params(challenge, acr_values="2"))
    assert 'id="login-form"' in page.text  # no session: the full login page

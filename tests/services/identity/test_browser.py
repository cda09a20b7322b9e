"""A real browser logs a persona in through the pages: headless Debian Chromium via Playwright.

Level 1 (persona search → passcode → consent → the client's redirect with a code), then a
level-2 request on the same session (face-check step-up → consent → redirect). The codes are
redeemed over HTTP to check what the browser achieved. The relying party's callback is
answered inside the browser (``route``): nothing leaves 127.0.0.1.
"""

from __future__ import annotations

from pathlib import Path
from urllib.parse import parse_qs, urlencode, urlsplit

import httpx
import jwt
import pytest

from sim06.services.common.settings import Settings
from tests.services.identity.conftest import ADULT, REDIRECT, basic, pkce_pair
from tests.services.identity.test_relying_party import live_server

CHROMIUM = Path("/usr/bin/chromium")
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
        "--disable-background-networking", "--disable-component-update",
        "--disable-sync"]  # fmt: skip

pytestmark = [
    pytest.mark.e2e,
    pytest.mark.skipif(not CHROMIUM.exists(), reason="needs Debian's chromium: /usr/bin/chromium"),
]


def authorize_url(base: str, challenge: str, state: str, **extra: str) -> str:
    params = {"response_type": "code", "client_id": "portal", "redirect_uri": REDIRECT,
              "scope": "openid profile", "state": state, "nonce": "n-" + state,
              "code_challenge": challenge, "code_challenge_method": "S256", **extra}  # fmt: skip
    return f"{base}/authorize?{urlencode(params)}"


def landed(url: str, state: str) -> str:
    """The code in the client's redirect URL the browser landed on."""
    assert url.startswith(REDIRECT + "?"), url
    query = {k: v[0] for k, v in parse_qs(urlsplit(url).query).items()}
    assert query["state"] == state and "error" not in query, query
    return query["code"]


def redeem(base: str, code: str, verifier: str) -> dict[str, object]:
    data = {"grant_type": "authorization_code", "code": code, "redirect_uri": REDIRECT,
            "code_verifier": verifier}  # fmt: skip
    r = httpx.post(base + "/token", data=data, headers=basic())
    assert r.status_code == 200, r.text
    id_token = r.json()["id_token"]
    claims: dict[str, object] = jwt.decode(id_token, options={"verify_signature": False})
    return claims


def test_browser_logs_in_at_level1_then_steps_up_to_level2(
    idp_settings: Settings, tmp_path: Path
) -> None:
    sync_api = pytest.importorskip("playwright.sync_api", reason="pip install playwright")
    with live_server(idp_settings) as base, sync_api.sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=str(CHROMIUM), headless=True, args=ARGS)
        context = browser.new_context(locale="vi-VN")

        def route(request: object) -> None:
            url = request.request.url  # type: ignore[attr-defined]
            if url.startswith(REDIRECT):  # the relying party's callback, answered here
                request.fulfill(status=200, content_type="text/html",  # type: ignore[attr-defined]
                                body="<!doctype html><title>RP</title><p>callback</p>")  # fmt: skip
            elif url.startswith(base):
                request.continue_()  # type: ignore[attr-defined]
            else:  # nothing else may leave the machine
                request.abort()  # type: ignore[attr-defined]

        context.route("**/*", route)
        page = context.new_page()

        # Level 1: persona picker with search, passcode, consent, back to the client.
        verifier, challenge = pkce_pair()
        page.goto(authorize_url(base, challenge, "s1"))
        assert "VNeID" in page.title()
        page.fill("#q", "Nguyễn Văn An")
        page.click("form[role=search] button")
        page.check("#p-adult-level2")
        page.fill("#passcode", ADULT[-6:])
        page.click("#login")
        page.wait_for_selector("#allow")
        assert page.inner_text("#citizen") == "Nguyễn Văn An"
        page.screenshot(path=str(tmp_path / "consent-level1.png"))
        page.click("#allow")
        page.wait_for_url(REDIRECT + "*")
        claims = redeem(base, landed(page.url, "s1"), verifier)
        assert claims["acr"] == "1" and claims["amr"] == ["pwd"]

        # Level 2 on the same session: the face check only, then consent to more claims.
        verifier, challenge = pkce_pair()
        page.goto(
            authorize_url(
                base, challenge, "s2", acr_values="2", scope="openid profile vneid_profile"
            )  # fmt: skip
        )
        page.wait_for_selector("#face-match")
        assert page.query_selector("#passcode") is None  # a step-up, not a new login
        page.click("#face-match")
        page.wait_for_selector("#allow")
        assert "SoDinhDanh" in page.inner_text("#claims")
        shot = tmp_path / "consent-level2.png"
        page.screenshot(path=str(shot), full_page=True)
        page.click("#allow")
        page.wait_for_url(REDIRECT + "*")
        claims = redeem(base, landed(page.url, "s2"), verifier)
        assert claims["acr"] == "2" and claims["amr"] == ["pwd", "face"]
        browser.close()
    assert shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert (tmp_path / "consent-level1.png").stat().st_size > 1000

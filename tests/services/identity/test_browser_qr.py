"""A real browser logs in with the QR code (the "phone" approves over the CI endpoint), then
sees on /account/access-log a lookup an agency just made through a live gateway.

Two live servers on 127.0.0.1 (identity, gateway), headless Debian Chromium via Playwright;
the relying party's callback is answered inside the browser, nothing leaves the machine.
"""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Literal

import httpx
import pytest
import uvicorn
from fastapi import FastAPI

from sim06.services.common.settings import Settings
from sim06.services.gateway.app import create_app as create_gateway
from sim06.services.identity import create_app
from tests.services.gateway.helpers import ADMIN, COMMUNE, exchange_headers
from tests.services.identity.conftest import ADULT, REDIRECT, pkce_pair
from tests.services.identity.test_browser import ARGS, CHROMIUM, authorize_url, landed, redeem

pytestmark = [
    pytest.mark.e2e,
    pytest.mark.skipif(not CHROMIUM.exists(), reason="needs Debian's chromium: /usr/bin/chromium"),
]


def _socket() -> tuple[socket.socket, str]:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.bind(("127.0.0.1", 0))
    return sock, f"http://127.0.0.1:{sock.getsockname()[1]}"


@contextmanager
def serving(
    app: FastAPI, sock: socket.socket, lifespan: Literal["on", "off"] = "off"
) -> Iterator[None]:
    # The identity app runs its lifespan: its shutdown closes the HTTP client to the gateway.
    config = uvicorn.Config(app, loop="asyncio", lifespan=lifespan, log_level="warning")
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 5
    while not server.started and thread.is_alive() and time.monotonic() < deadline:
        time.sleep(0.01)
    try:
        assert server.started, "uvicorn did not start"
        yield
    finally:
        server.should_exit = True
        thread.join(5)
        sock.close()


def test_qr_login_then_access_log_in_a_browser(idp_settings: Settings, tmp_path: Path) -> None:
    sync_api = pytest.importorskip("playwright.sync_api", reason="pip install playwright")
    idp_sock, base = _socket()
    gw_sock, gw_base = _socket()
    settings = idp_settings.model_copy(
        update={"identity_issuer": base, "identity_gateway_url": gw_base,
                "gateway_admin_token": ADMIN}
    )  # fmt: skip
    gateway, idp = create_gateway(settings), create_app(settings)
    with (
        serving(gateway, gw_sock),
        serving(idp, idp_sock, lifespan="on"),
        sync_api.sync_playwright() as pw,
    ):
        browser = pw.chromium.launch(executable_path=str(CHROMIUM), headless=True, args=ARGS)
        context = browser.new_context(locale="vi-VN")

        def route(request: object) -> None:
            url = request.request.url  # type: ignore[attr-defined]
            if url.startswith(REDIRECT):
                request.fulfill(status=200, content_type="text/html",  # type: ignore[attr-defined]
                                body="<!doctype html><title>RP</title><p>callback</p>")  # fmt: skip
            elif url.startswith(base):
                request.continue_()  # type: ignore[attr-defined]
            else:
                request.abort()  # type: ignore[attr-defined]

        context.route("**/*", route)
        page = context.new_page()
        verifier, challenge = pkce_pair()
        page.goto(authorize_url(base, challenge, "q1"))
        page.click("#qr-start")
        page.wait_for_selector("#qr svg")
        txn = page.inner_text("#qr-txn")
        page.screenshot(path=str(tmp_path / "qr.png"))
        # The meta refresh polls; the redirect it finally gets goes to the client. (A redirect
        # after a meta refresh escapes Playwright's routing, so catch the request itself.)
        with page.expect_request(lambda r: r.url.startswith(REDIRECT), timeout=10_000) as sent:
            approved = httpx.post(f"{base}/v1/test/qr/{txn}/approve", json={"pin": ADULT})
            assert approved.status_code == 200, approved.text
        claims = redeem(base, landed(sent.value.url, "q1"), verifier)
        assert claims["acr"] == "2" and "app" in claims["amr"]  # type: ignore[operator]

        token = httpx.post(
            f"{gw_base}/oauth/token", data={"grant_type": "client_credentials"},
            auth=(COMMUNE["client_id"], COMMUNE["secret"]),
        ).json()["access_token"]  # fmt: skip
        lookup = httpx.get(
            f"{gw_base}/v1/registry/citizens/{ADULT}", headers=exchange_headers(token, COMMUNE)
        )
        assert lookup.status_code == 200, lookup.text
        page.goto(f"{base}/account/access-log")
        page.wait_for_selector("#accesses")
        assert page.inner_text("#count") == "1"
        table = page.inner_text("#accesses")
        assert COMMUNE["officer"] in table and COMMUNE["procedure"] in table
        assert "residence" in table
        browser.close()
    idp.state.store.close()
    gateway.state.audit.close()

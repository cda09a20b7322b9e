"""Live identity server and a headless "browser" for the login-profile tests (realm, portal).

The browser is an ``httpx.Client`` with cookies that follows redirects and fills the pages a
citizen would: the VNeID login form (persona, passcode, level, simulated face check), the
consent form, and the portal's "Đăng nhập bằng VNeID" link.
"""

from __future__ import annotations

import contextlib
import re
import socket
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urljoin

import httpx
import uvicorn
import yaml
from fastapi import FastAPI

from sim06.services.common.settings import Settings
from sim06.services.identity import create_app

VNCONNECT_SECRET = "vnconnect-secret-for-tests"
RP_SECRET = "agency-rp-secret-for-tests"
RP_REDIRECT = "https://agency.example/sso/callback"
RP_BYE = "https://agency.example/bye"
KC_REDIRECT = "https://app.example/vneid/callback"


def login_profile_clients(path: Path) -> Path:
    """A clients file: ``vnconnect`` (realm, client_secret_post, PKCE optional as observed),
    ``agency-rp`` (portal, client_secret_basic) and ``root-rp`` (unbound)."""
    doc = {
        "clients": [
            {
                "client_id": "vnconnect",
                "client_name": "VNConnect (test)",
                "token_endpoint_auth_method": "client_secret_post",
                "client_secret": VNCONNECT_SECRET,
                "redirect_uris": [KC_REDIRECT],
                "require_pkce": False,
                "login_profile": "keycloak",
            },
            {
                "client_id": "agency-rp",
                "client_name": "Sở Tư pháp thử nghiệm (test)",
                "client_secret": RP_SECRET,
                "redirect_uris": [RP_REDIRECT],
                "post_logout_redirect_uris": [RP_BYE],
                "login_profile": "portal",
            },
            {
                "client_id": "root-rp",
                "client_secret": RP_SECRET,
                "redirect_uris": [RP_REDIRECT],
            },
        ]
    }
    path.write_text(yaml.safe_dump(doc, allow_unicode=True), "utf-8")
    return path


@contextlib.contextmanager
def live_identity(
    settings: Settings,
    prepare: Callable[[FastAPI, Settings], None] | None = None,
    update: Callable[[str], dict[str, Any]] | None = None,
) -> Iterator[tuple[str, FastAPI]]:
    """The identity app on uvicorn at 127.0.0.1 (issuer = its URL); ``prepare`` may wrap the
    app (e.g. install the fault middleware) before it serves; ``update(base URL)``: more
    settings."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.bind(("127.0.0.1", 0))
    base = f"http://127.0.0.1:{sock.getsockname()[1]}"
    more = update(base) if update is not None else {}
    live_settings = settings.model_copy(update={"identity_issuer": base, **more})
    app = create_app(live_settings)
    if prepare is not None:
        prepare(app, live_settings)
    server = uvicorn.Server(
        # lifespan on: its shutdown closes the back-channel clients (the portal's to the realm)
        uvicorn.Config(app, loop="asyncio", lifespan="on", log_level="warning")
    )
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 5
    while not server.started and thread.is_alive() and time.monotonic() < deadline:
        time.sleep(0.01)
    try:
        assert server.started, "uvicorn did not start"
        yield base, app
    finally:
        server.should_exit = True
        thread.join(5)
        sock.close()
        app.state.store.close()


def hidden_fields(html: str) -> dict[str, str]:
    return dict(re.findall(r'<input type="hidden" name="(\w+)" value="([^"]*)"', html))


@dataclass
class Browser:
    """Follows a login from an authorization URL to the relying party's redirect URI."""

    http: httpx.Client
    pin: str
    level: int = 1
    seen: list[httpx.Response] = field(default_factory=list)

    def login(self, url: str, until: str) -> str:
        """The URL of the redirect to ``until`` (the relying party's callback)."""
        response = self.http.get(url)
        for _ in range(25):
            self.seen.append(response)
            if response.is_redirect:
                target = urljoin(str(response.url), response.headers["location"])
                if target.startswith(until):
                    return target
                response = self.http.get(target)
            elif 'id="login-form"' in response.text:
                response = self._submit(response, "login", self._credentials())
            elif 'action="consent"' in response.text:
                response = self._submit(response, "consent", {"decision": "allow"})
            elif 'id="vneid-login"' in response.text:
                href = re.search(r'id="vneid-login" href="([^"]+)"', response.text)
                assert href is not None
                response = self.http.get(urljoin(str(response.url), href[1].replace("&amp;", "&")))
            else:
                raise AssertionError(f"unexpected page {response.url}: {response.text[:500]}")
        raise AssertionError("too many steps")

    def _credentials(self) -> dict[str, str]:
        form = {"persona": self.pin, "passcode": self.pin[-6:], "level": str(self.level)}
        if self.level == 2:
            form["face"] = "match"
        return form

    def _submit(self, page: httpx.Response, action: str, data: dict[str, str]) -> httpx.Response:
        assert page.status_code == 200, page.text[:500]
        fields = hidden_fields(page.text)
        return self.http.post(urljoin(str(page.url), action), data={**fields, **data})

    def response_to(self, path: str) -> httpx.Response:
        """The last response of a request to ``path``."""
        for response in reversed(self.seen):
            if response.url.path == path:
                return response
        raise AssertionError(f"no request to {path}")

"""The admin console: rendering and form handling in process, and a real browser toggling a fault.

The browser test runs headless Debian Chromium via Playwright against a live registry and the
console sharing one fault controller (as ``sim06 up`` would): it selects ``http_503`` in the
console, applies, and the next lookup answers 503 with Retry-After.
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest

from sim06.services.admin import create_app
from sim06.services.common.fault_middleware import install_faults
from sim06.services.common.faults import FaultController
from sim06.services.common.settings import Settings
from sim06.services.registry.app import create_app as create_registry
from tests.services.common.live import live_server

CHROMIUM = Path("/usr/bin/chromium")
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
        "--disable-background-networking", "--disable-component-update",
        "--disable-sync"]  # fmt: skip
ADULT = "/v1/citizens/001090104217"


def csrf_of(page: str) -> str:
    match = re.search(r'name="csrf" value="([^"]+)"', page)
    assert match
    return match.group(1)


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture
async def console(settings: Settings) -> AsyncIterator[tuple[httpx.AsyncClient, FaultController]]:
    ctl = FaultController.from_settings(settings)
    app = create_app(settings, ctl, {"registry": "http://127.0.0.1:1"})
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://admin") as c:
        yield c, ctl


@pytest.mark.anyio
async def test_page_is_bilingual_and_shows_the_state(settings: Settings) -> None:
    ctl = FaultController.from_settings(settings.model_copy(update={"fault": "reset"}))
    app = create_app(settings, ctl)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://admin") as client:
        html = (await client.get("/")).text
    assert "Bảng điều khiển" in html and "Admin console" in html
    assert 'id="current-fault" class="on">reset<' in html
    assert "evening-peak" in html and "http_503" in html


@pytest.mark.anyio
async def test_form_changes_the_controller_and_refuses_bad_input(
    console: tuple[httpx.AsyncClient, FaultController],
) -> None:
    client, ctl = console
    token = csrf_of((await client.get("/")).text)
    r = await client.post("/faults", data={"csrf": token, "profile": "typical", "fault": "timeout",
                                           "rate": "0.5", "services": "registry"})  # fmt: skip
    assert r.status_code == 303
    assert (ctl.state.profile, ctl.state.fault, ctl.state.rate) == ("typical", "timeout", 0.5)
    assert ctl.state.services == ["registry"]
    r = await client.post("/faults", data={"csrf": token, "profile": "nope"})
    assert r.status_code == 422 and 'id="error"' in r.text
    r = await client.post("/faults", data={"csrf": token, "rate": "lots"})
    assert r.status_code == 422
    r = await client.post("/faults", data={"csrf": "forged", "fault": "reset"})
    assert r.status_code == 422 and r.json()["code"] == "VALIDATION_FAILED"
    assert ctl.state.fault == "timeout"


@pytest.mark.e2e
@pytest.mark.skipif(not CHROMIUM.exists(), reason="needs Debian's chromium: /usr/bin/chromium")
def test_browser_toggles_a_fault_that_the_next_lookup_sees(settings: Settings) -> None:
    playwright = pytest.importorskip("playwright.sync_api")
    ctl = FaultController.from_settings(settings)
    registry = create_registry(settings)
    install_faults(registry, settings, "registry", ctl)
    with live_server(registry) as registry_url:
        admin = create_app(settings, ctl, {"registry": registry_url})
        with live_server(admin) as admin_url, httpx.Client(base_url=registry_url) as api:
            assert api.get(ADULT).status_code == 200
            with playwright.sync_playwright() as p:
                browser = p.chromium.launch(executable_path=str(CHROMIUM), args=ARGS)
                try:
                    page = browser.new_page()
                    page.goto(admin_url + "/")
                    assert page.inner_text("#current-fault").startswith("không")
                    page.select_option("#fault", "http_503")
                    page.click("#apply")
                    page.wait_for_selector("#current-fault.on")
                    assert page.inner_text("#current-fault") == "http_503"
                finally:
                    browser.close()
            r = api.get(ADULT)
            assert r.status_code == 503 and r.headers["retry-after"]
            assert r.json()["code"] == "SIM_FAULT_UNAVAILABLE"

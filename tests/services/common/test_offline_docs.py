"""``/docs`` and ``/redoc`` of every service work without internet (issue #18).

In process: the pages name only local assets and the assets are served. In a browser: headless
Chromium with every request that leaves 127.0.0.1 aborted renders each service's operations.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx
import pytest
from fastapi import FastAPI

from sim06.services.chip.app import create_app as create_chip
from sim06.services.common.offline_docs import ASSETS_PATH
from sim06.services.common.settings import Settings
from sim06.services.gateway.app import create_app as create_gateway
from sim06.services.identity.app import create_app as create_identity
from sim06.services.procedures.app import create_app as create_procedures
from sim06.services.registry.app import create_app as create_registry
from tests.services.common.live import live_server

CHROMIUM = Path("/usr/bin/chromium")
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
        "--disable-background-networking", "--disable-component-update",
        "--disable-sync"]  # fmt: skip

FACTORIES: dict[str, Callable[[Settings], FastAPI]] = {
    "gateway": create_gateway,
    "registry": create_registry,
    "identity": create_identity,
    "chip": create_chip,
    "procedures": create_procedures,
}


@pytest.mark.parametrize("service", sorted(FACTORIES))
def test_pages_name_only_local_assets_and_the_assets_are_served(
    service: str, settings: Settings
) -> None:
    app = FACTORIES[service](settings)
    transport = httpx.ASGITransport(app=app)

    async def check() -> None:
        async with httpx.AsyncClient(transport=transport, base_url="http://svc") as client:
            for page in ("/docs", "/redoc"):
                r = await client.get(page)
                assert r.status_code == 200, page
                assert "cdn." not in r.text and "googleapis" not in r.text
                assets = re.findall(r'(?:src|href)="([^"]+)"', r.text)
                scripts = [a for a in assets if a.endswith((".js", ".css"))]
                assert scripts and all(a.startswith(ASSETS_PATH) for a in scripts), scripts
                for asset in scripts:
                    got = await client.get(asset)
                    assert got.status_code == 200 and len(got.content) > 10_000, asset

    import anyio

    anyio.run(check)


def only_loopback(leaked: list[str]) -> Callable[[Any, Any], None]:
    """A Playwright route handler: requests to 127.0.0.1 go on, others are aborted and noted."""

    def handle(route: Any, request: Any) -> None:
        if urlsplit(request.url).hostname == "127.0.0.1":
            route.continue_()
        else:
            leaked.append(request.url)
            route.abort()

    return handle


@pytest.mark.e2e
@pytest.mark.skipif(not CHROMIUM.exists(), reason="needs Debian's chromium: /usr/bin/chromium")
def test_docs_render_the_operations_with_the_network_blocked(settings: Settings) -> None:
    playwright = pytest.importorskip("playwright.sync_api")
    with playwright.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), args=ARGS)
        try:
            for service, factory in sorted(FACTORIES.items()):
                app = factory(settings)
                operations = [
                    op.get("summary") or op["operationId"]
                    for item in app.openapi()["paths"].values()
                    for op in item.values()
                    if isinstance(op, dict) and "operationId" in op
                ]
                with live_server(app) as url:
                    context = browser.new_context()
                    leaked: list[str] = []
                    context.route("**/*", only_loopback(leaked))
                    page = context.new_page()
                    page.goto(url + "/docs")
                    page.wait_for_selector(".opblock", timeout=15_000)
                    shown = page.locator(".opblock").count()
                    assert shown == len(operations), (service, shown, len(operations))
                    page.goto(url + "/redoc")
                    page.wait_for_selector("[data-section-id^='operation/']", timeout=15_000)
                    body = page.inner_text("body")
                    assert operations[0] in body, (service, operations[0])
                    # ReDoc's "API docs by Redocly" badge is an image from its CDN: the page
                    # renders without it; no script, style or font may come from outside.
                    assert all(u.endswith(".svg") for u in leaked), (service, leaked)
                    context.close()
        finally:
            browser.close()

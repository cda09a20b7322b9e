"""Every service as ``sim06 up`` builds them, with the testing tools installed, in process."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest
from fastapi import FastAPI

from sim06.services.common.settings import Settings
from sim06.services.serve import build_apps, embedded_settings
from sim06.services.testing import install_testing_tools


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture
def apps(settings: Settings) -> dict[str, FastAPI]:
    built = build_apps(embedded_settings(settings))
    for app, _ in built.values():
        install_testing_tools(app, settings)  # idempotent: a no-op once create_app calls it
    return {name: app for name, (app, _) in built.items()}


@pytest.fixture
async def clients(apps: dict[str, FastAPI]) -> AsyncIterator[dict[str, httpx.AsyncClient]]:
    out: dict[str, httpx.AsyncClient] = {}
    for name in ("registry", "gateway", "identity"):
        out[name] = httpx.AsyncClient(
            transport=httpx.ASGITransport(apps[name]), base_url=f"http://{name}.sim06"
        )
    yield out
    for client in out.values():
        await client.aclose()

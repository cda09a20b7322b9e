"""Gateway fixtures: an app over the seeded store, demo agencies, tokens and exchange headers."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from sim06.services.common.settings import Settings
from sim06.services.gateway.app import create_app
from tests.services.gateway.helpers import ADMIN, exchange_headers, get_token


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture
def gw_settings(settings: Settings) -> Settings:
    return settings.model_copy(update={"gateway_admin_token": ADMIN})


@pytest.fixture
def gw_events_settings(events_settings: Settings) -> Settings:
    """Gateway settings over a private writable database (tests that register events):
    such a module overrides ``gw_settings`` with it."""
    return events_settings.model_copy(update={"gateway_admin_token": ADMIN})


@pytest.fixture
async def app(gw_settings: Settings) -> AsyncIterator[FastAPI]:
    application = create_app(gw_settings)
    yield application
    await application.state.gateway.registry.aclose()
    application.state.audit.close()


@pytest.fixture
async def client(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://gateway") as c:
        yield c


@pytest.fixture
async def call(
    client: httpx.AsyncClient,
) -> Callable[..., Any]:
    """``await call(agency, method, path, json=None, **header_overrides)``."""
    tokens: dict[str, str] = {}

    async def _call(
        agency: dict[str, str], method: str, path: str, json: Any = None, **override: str
    ) -> httpx.Response:
        if agency["client_id"] not in tokens:
            tokens[agency["client_id"]] = await get_token(client, agency)
        headers = exchange_headers(tokens[agency["client_id"]], agency, **override)
        return await client.request(method, path, json=json, headers=headers)

    return _call

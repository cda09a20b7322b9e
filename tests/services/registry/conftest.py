"""Registry fixtures: the app over the seeded test database, in process."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest

from sim06.services.common.settings import Settings
from sim06.services.registry.app import create_app


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture
async def client(settings: Settings) -> AsyncIterator[httpx.AsyncClient]:
    app = create_app(settings)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://registry") as c:
        yield c
    app.state.store.close()

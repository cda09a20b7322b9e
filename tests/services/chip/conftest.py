"""Chip fixtures: the chip service in process over the seeded store."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest

from sim06.services.chip.app import create_app
from sim06.services.common.settings import Settings


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture
async def client(settings: Settings) -> AsyncIterator[httpx.AsyncClient]:
    app = create_app(settings)
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://chip"
    ) as c:
        yield c
    app.state.store.close()

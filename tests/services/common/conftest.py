"""Fixtures of the fault tests: a registry with the fault middleware, in process."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest
from fastapi import FastAPI

from sim06.services.common.fault_middleware import install_faults
from sim06.services.common.settings import Settings
from sim06.services.registry.app import create_app


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture
def faults_app(settings: Settings) -> FastAPI:
    """The registry with the fault middleware; its controller is ``app.state.faults``."""
    app = create_app(settings)
    install_faults(app, settings, "registry")
    return app


@pytest.fixture
async def client(faults_app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=faults_app), base_url="http://registry"
    ) as c:
        yield c

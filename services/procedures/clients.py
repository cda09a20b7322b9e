"""How a runner reaches the services: live over HTTP, or in process (no server needed)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import httpx

from services.common.settings import Settings
from services.procedures.agencies import directory, ensure_registered, known_agencies
from services.procedures.runner import Runner

TIMEOUT = httpx.Timeout(30.0, connect=5.0)


def gateway_url(settings: Settings) -> str:
    return f"http://{settings.host}:{settings.gateway_port}"


def identity_url(settings: Settings) -> str:
    return f"http://{settings.host}:{settings.identity_port}"


@asynccontextmanager
async def live_runner(settings: Settings) -> AsyncIterator[Runner]:
    """A runner against the live gateway and identity provider of ``settings``.

    The procedure agencies are registered through the gateway's admin API first when it lacks
    them (``SIM06_GATEWAY_ADMIN_TOKEN``).
    """
    async with (
        httpx.AsyncClient(base_url=gateway_url(settings), timeout=TIMEOUT) as gateway,
        httpx.AsyncClient(base_url=identity_url(settings), timeout=TIMEOUT) as identity,
    ):
        await ensure_registered(gateway, settings.gateway_admin_token)
        yield Runner(gateway, identity, known_agencies(settings), settings.as_of)


@asynccontextmanager
async def in_process_runner(settings: Settings) -> AsyncIterator[Runner]:
    """A runner against a gateway and identity provider built in this process.

    The procedures write (births, deaths, residence, marriages): the store is opened writable,
    so the runs change ``settings.database`` as they would through ``sim06 up``."""
    from mock_registry.store import SQLiteCitizenStore
    from services.gateway.app import create_app as create_gateway
    from services.identity import create_app as create_identity

    issuer = "http://identity.in-process"
    local = settings.model_copy(update={"identity_issuer": issuer})
    store = SQLiteCitizenStore(local.database)
    gateway_app = create_gateway(local, store, agencies=directory(local))
    identity_app = create_identity(local, store)
    try:
        async with (
            httpx.AsyncClient(
                transport=httpx.ASGITransport(app=gateway_app), base_url="http://gateway"
            ) as gateway,
            httpx.AsyncClient(
                transport=httpx.ASGITransport(app=identity_app), base_url=issuer
            ) as identity,
        ):
            yield Runner(gateway, identity, known_agencies(local), local.as_of)
    finally:
        gateway_app.state.audit.close()
        store.close()


__all__ = ["gateway_url", "identity_url", "in_process_runner", "live_runner"]

"""How a runner reaches the services: live over HTTP, or in process (no server needed)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import httpx
from starlette.types import ASGIApp

from sim06.services.common.settings import Settings
from sim06.services.common.tracing import client_transport
from sim06.services.procedures.agencies import directory, ensure_registered, known_agencies
from sim06.services.procedures.runner import Runner

TIMEOUT = httpx.Timeout(30.0, connect=5.0)


def gateway_url(settings: Settings) -> str:
    return settings.procedures_gateway_url or f"http://{settings.host}:{settings.gateway_port}"


def identity_url(settings: Settings) -> str:
    return settings.procedures_identity_url or f"http://{settings.host}:{settings.identity_port}"


@asynccontextmanager
async def live_runner(settings: Settings) -> AsyncIterator[Runner]:
    """A runner against the live gateway and identity provider of ``settings``.

    The procedure agencies are registered through the gateway's admin API first when it lacks
    them (``SIM06_GATEWAY_ADMIN_TOKEN``).
    """
    async with (
        httpx.AsyncClient(
            base_url=gateway_url(settings),
            timeout=TIMEOUT,
            transport=client_transport(settings, "procedures", peer="gateway"),
        ) as gateway,
        httpx.AsyncClient(
            base_url=identity_url(settings),
            timeout=TIMEOUT,
            transport=client_transport(settings, "procedures", peer="identity"),
        ) as identity,
    ):
        await ensure_registered(gateway, settings.gateway_admin_token)
        yield Runner(gateway, identity, known_agencies(settings), settings.as_of)


@asynccontextmanager
async def in_process_runner(settings: Settings) -> AsyncIterator[Runner]:
    """A runner against a gateway and identity provider built in this process.

    The procedures write (births, deaths, residence, marriages): the store is opened writable,
    so the runs change ``settings.database`` as they would through ``sim06 up``."""
    from sim06.mock_registry.store import SQLiteCitizenStore
    from sim06.services.gateway.app import create_app as create_gateway
    from sim06.services.identity import create_app as create_identity

    issuer = "http://identity.in-process"
    local = settings.model_copy(update={"identity_issuer": issuer})
    store = SQLiteCitizenStore(local.database)
    gateway_app = create_gateway(local, store, agencies=directory(local))
    identity_app = create_identity(local, store)

    def traced(app: ASGIApp, peer: str) -> httpx.AsyncBaseTransport:
        # The in-process hops are HTTP too: with tracing on, spans and traceparent as live.
        inner = httpx.ASGITransport(app=app)
        return client_transport(local, "procedures", inner, peer=peer) or inner

    try:
        async with (
            httpx.AsyncClient(
                transport=traced(gateway_app, "gateway"), base_url="http://gateway"
            ) as gateway,
            httpx.AsyncClient(
                transport=traced(identity_app, "identity"), base_url=issuer
            ) as identity,
        ):
            yield Runner(gateway, identity, known_agencies(local), local.as_of)
    finally:
        gateway_app.state.audit.close()
        store.close()


__all__ = ["gateway_url", "identity_url", "in_process_runner", "live_runner"]

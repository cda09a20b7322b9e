"""ASGI factories for running one service per process (``uvicorn --factory``).

These are entry points: each builds the ``Settings`` from the environment once and passes it on.
"""

from __future__ import annotations

from fastapi import FastAPI

from services.common.settings import Settings


def registry() -> FastAPI:
    """The population registry (``uvicorn --factory services.asgi:registry``)."""
    from services.registry.app import create_app

    return create_app(Settings())


def identity() -> FastAPI:
    """The VNeID identity provider, with the chip endpoints (``services.asgi:identity``)."""
    from services.identity import create_app

    return create_app(Settings())


def gateway() -> FastAPI:
    """The data-sharing gateway over the in-process registry (or SIM06_GATEWAY_REGISTRY_URL)."""
    from services.gateway.app import create_app

    return create_app(Settings())

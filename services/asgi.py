"""ASGI factories for running one service per process (``uvicorn --factory``).

These are entry points: each builds the ``Settings`` from the environment once and passes it on.
With ``SIM06_DATABASE_URL`` the population is read from PostgreSQL; with ``SIM06_REDIS_URL`` the
state replicas must share (codes, sessions, replay caches, rate limits) lives in Redis.
"""

from __future__ import annotations

from fastapi import FastAPI

from sim06.mock_registry.store import CitizenStore
from sim06.services.common.runtime import tune_gc
from sim06.services.common.settings import Settings


def _store(settings: Settings) -> CitizenStore | None:
    if not settings.database_url:
        return None  # the SQLite file of the settings
    from sim06.mock_registry.store.postgres import PostgresCitizenStore

    return PostgresCitizenStore(
        settings.database_url, pool_size=settings.database_pool_size, migrate=False
    )


def _ready(app: FastAPI, settings: Settings, service: str) -> FastAPI:
    """The last step before serving: fault injection, then the GC settings of a server."""
    # Each process has its own fault controller; with SIM06_REDIS_URL it shares its state with
    # every replica through Redis (a PUT /__sim06/faults to one is in force on all within ~0.5 s).
    from sim06.services.common.fault_middleware import install_faults

    install_faults(app, settings, service)
    tune_gc()  # the app is built: what exists now stays (see services.common.runtime)
    return app


def registry() -> FastAPI:
    """The population registry (``uvicorn --factory services.asgi:registry``)."""
    from sim06.services.registry.app import create_app

    settings = Settings()
    return _ready(create_app(settings, _store(settings)), settings, "registry")


def identity() -> FastAPI:
    """The VNeID identity provider, with the chip endpoints (``services.asgi:identity``)."""
    from sim06.services.identity import create_app
    from sim06.services.identity.state import StateStore

    settings = Settings()
    state: StateStore | None = None
    if settings.redis_url:
        from sim06.services.common.redis_state import RedisStateStore

        state = RedisStateStore(settings.redis_url, prefix=settings.redis_prefix + "identity:")
    return _ready(create_app(settings, _store(settings), state), settings, "identity")


def gateway() -> FastAPI:
    """The data-sharing gateway over the in-process registry (or SIM06_GATEWAY_REGISTRY_URL)."""
    from sim06.services.gateway.app import create_app

    settings = Settings()
    return _ready(create_app(settings, _store(settings)), settings, "gateway")


def procedures() -> FastAPI:
    """The procedures API, running the catalogue against the live gateway and identity provider
    (``SIM06_PROCEDURES_GATEWAY_URL``, ``SIM06_PROCEDURES_IDENTITY_URL``)."""
    from sim06.services.procedures.app import create_app

    settings = Settings()
    app = create_app(settings)
    tune_gc()
    return app


def admin() -> FastAPI:
    """The admin console. With ``SIM06_REDIS_URL`` its fault controller is the one every
    replica of every service reads (faults and latency profiles set here are in force on all);
    the links it shows are ``http://localhost`` and the ``SIM06_*_PORT`` of the settings."""
    from sim06.services.admin import create_app
    from sim06.services.common.fault_middleware import shared_state
    from sim06.services.common.faults import FaultController

    settings = Settings()
    controller = FaultController.from_settings(settings, shared_state(settings))
    ports = {
        "gateway": settings.gateway_port,
        "registry": settings.registry_port,
        "identity": settings.identity_port,
        "procedures": settings.procedures_port,
    }
    app = create_app(settings, controller, {n: f"http://localhost:{p}" for n, p in ports.items()})
    tune_gc()
    return app

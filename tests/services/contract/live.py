"""ASGI factories with the contract tools installed, for live-server tests.

``install_contract_tools`` is idempotent, so these stay right once each ``create_app`` calls it.
"""

from __future__ import annotations

from fastapi import FastAPI

from sim06.services.common.settings import Settings
from sim06.services.contract import install_contract_tools


def registry() -> FastAPI:
    """``uvicorn --factory tests.services.contract.live:registry``."""
    from sim06.services.registry.app import create_app

    settings = Settings()
    app = create_app(settings)
    install_contract_tools(app, settings)
    return app


def identity() -> FastAPI:
    """``uvicorn --factory tests.services.contract.live:identity``."""
    from sim06.services.identity import create_app

    settings = Settings()
    app = create_app(settings)
    install_contract_tools(app, settings)
    return app

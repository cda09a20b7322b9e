"""``sim06 up``: every service in one process, each on its own port (embedded default)."""

from __future__ import annotations

import logging
import sys

import uvicorn

from services.common.settings import Settings
from services.registry.app import create_app as create_registry
from services.seeding import ensure_seeded


async def serve_all(settings: Settings) -> int:
    """Seed if needed, then serve until interrupted."""
    if ensure_seeded(settings):
        sys.stderr.write(f"seeded {settings.database}\n")
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    registry = create_registry(settings)
    config = uvicorn.Config(
        registry,
        host=settings.host,
        port=settings.registry_port,
        access_log=False,
        log_level="info",
        server_header=False,
    )
    server = uvicorn.Server(config)
    sys.stderr.write(
        f"registry: http://{settings.host}:{settings.registry_port}/v1/citizens/001090104217 "
        f"(docs at /docs)\n"
    )
    await server.serve()
    return 0

"""``sim06 up``: every service in one process, each on its own port (embedded default)."""

from __future__ import annotations

import asyncio
import logging
import sys
from pathlib import Path
from typing import Any

import uvicorn
from fastapi import FastAPI
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

from sim06.services.common.runtime import tune_gc
from sim06.services.common.settings import Settings
from sim06.services.seeding import ensure_seeded

DEMO_CLIENTS = Path("examples/identity-clients.yaml")
DEMO_AGENCIES = Path("examples/agencies.yaml")


def embedded_settings(settings: Settings) -> Settings:
    """Fill in the documented demo files when the user named none (embedded default only)."""
    updates: dict[str, object] = {}
    if settings.identity_clients_file is None and DEMO_CLIENTS.exists():
        updates["identity_clients_file"] = DEMO_CLIENTS
    return settings.model_copy(update=updates) if updates else settings


def build_apps(settings: Settings) -> dict[str, tuple[FastAPI, int]]:
    """Every service of ``sim06 up`` with its port."""
    from sim06.mock_registry.store import SQLiteCitizenStore
    from sim06.services.admin import create_app as create_admin
    from sim06.services.common.fault_middleware import install_faults
    from sim06.services.common.faults import FaultController
    from sim06.services.gateway.app import create_app as create_gateway
    from sim06.services.identity import create_app as create_identity
    from sim06.services.identity.demo_rp import make_demo_rp_key
    from sim06.services.procedures.agencies import directory
    from sim06.services.procedures.app import create_app as create_procedures
    from sim06.services.registry.app import create_app as create_registry

    demo_rp = settings.data_dir / "demo-rp"
    if not (demo_rp / "jwks.json").exists():
        make_demo_rp_key(demo_rp)  # the private_key_jwt demo client's key pair, local only
    # One process, one event loop: the services share one connection to the population file,
    # and the gateway calls the registry in process (no network hop). The gateway also knows
    # the agencies that run the procedure catalogue.
    store = SQLiteCitizenStore(settings.database)
    apps = {
        "gateway": (
            create_gateway(settings, store, agencies=directory(settings)),
            settings.gateway_port,
        ),
        "registry": (create_registry(settings, store), settings.registry_port),
        "identity": (create_identity(settings, store), settings.identity_port),
        "procedures": (create_procedures(settings), settings.procedures_port),
    }
    # One fault controller for all: the admin console and PUT /__sim06/faults (on any of them)
    # change them all. The console itself is left alone, so it can always undo a fault.
    faults = FaultController.from_settings(settings)
    for name, (app, _) in apps.items():
        install_faults(app, settings, name, faults)
    urls = {name: f"http://{settings.host}:{port}" for name, (_, port) in apps.items()}
    apps["admin"] = (create_admin(settings, faults, urls), settings.admin_port)
    return apps


async def serve_all(settings: Settings) -> int:
    """Seed if needed, then serve every service until interrupted."""
    if ensure_seeded(settings):
        sys.stderr.write(f"seeded {settings.database}\n")
    settings = embedded_settings(settings)
    # With tracing on, every record has a trace_id (set up before the first record is made).
    from sim06.services.common.tracing import configure as configure_tracing

    traced = " trace_id=%(trace_id)s" if configure_tracing(settings) else ""
    logging.basicConfig(level=logging.INFO, format=f"%(levelname)s %(name)s: %(message)s{traced}")
    from sim06.services.common.admission_http import admission_protocol
    from sim06.services.gateway.mtls import tls_config

    servers = []
    apps = build_apps(settings)

    def config(app: FastAPI, **extra: Any) -> uvicorn.Config:
        # Admission control refuses over-limit requests in the connection's protocol, before
        # the app (services.common.admission_http); over the mTLS listener's protocol too.
        extra["http"] = admission_protocol(extra.get("http", HttpToolsProtocol))
        return uvicorn.Config(
            app, host=settings.host, access_log=False, log_level="warning", server_header=False,
            **extra,
        )  # fmt: skip

    for name, (app, port) in apps.items():
        servers.append(uvicorn.Server(config(app, port=port)))
        page = "/" if name == "admin" else "/docs"  # the console is a page, with no API docs
        sys.stderr.write(f"{name:>9}: http://{settings.host}:{port}{page}\n")
    # The gateway again over HTTPS with optional client certificates (mTLS, RFC 8705): the same
    # app object, so tokens, replay state and the audit chain are shared with port 8000.
    tls = tls_config(settings)
    gateway_app = apps["gateway"][0]
    servers.append(uvicorn.Server(config(gateway_app, **tls)))
    sys.stderr.write(f"{'gateway':>9}: https://{settings.host}:{tls['port']} (mTLS optional)\n")
    sys.stderr.write(
        f"try: curl http://{settings.host}:{settings.registry_port}/v1/citizens/001090104217\n"
    )
    tune_gc()  # every app is built: what exists now stays (see services.common.runtime)
    await asyncio.gather(*(server.serve() for server in servers))
    return 0

"""``sim06 up --backend postgres --redis URL --replicas N``: the shared-environment topology
without Docker — each service in its own uvicorn processes on the same ports as the embedded
setup, reading the population from PostgreSQL and sharing state through Redis.

The gateway runs N processes too: its audit log is then one hash chain in PostgreSQL
(appends serialised by the database) and its quotas and replay caches are in Redis. Only with
an explicit ``SIM06_GATEWAY_AUDIT_PATH`` (one SQLite file) does it keep a single process.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Mapping
from pathlib import Path

from sim06.services.common.admission_http import PROTOCOL
from sim06.services.common.settings import Settings


def replica_commands(settings: Settings, replicas: int) -> dict[str, list[str]]:
    """The uvicorn command line of each service."""
    python = str(Path(sys.executable))
    ports = {
        "registry": (settings.registry_port, replicas),
        "identity": (settings.identity_port, replicas),
        "gateway": (settings.gateway_port, 1 if settings.gateway_audit_path else replicas),
    }
    return {
        name: [
            python, "-m", "uvicorn", "--factory", f"sim06.services.asgi:{name}",
            "--host", settings.host, "--port", str(port), "--workers", str(workers),
            "--no-access-log", "--log-level", "warning",
            "--http", PROTOCOL,  # admission refuses before the app (services.common.admission_http)
        ]
        for name, (port, workers) in ports.items()
    }  # fmt: skip


def replica_environment(
    settings: Settings, db_url: str, redis_url: str, base: Mapping[str, str]
) -> dict[str, str]:
    """The environment the service processes read their ``Settings`` from, on top of ``base``
    (the caller's own environment: PATH and the virtual environment)."""
    issuer = settings.identity_issuer or f"http://{settings.host}:{settings.identity_port}"
    env = {
        **base,
        "SIM06_DATABASE_URL": db_url,
        "SIM06_REDIS_URL": redis_url,
        "SIM06_DATA_DIR": str(settings.data_dir.resolve()),
        "SIM06_IDENTITY_ISSUER": issuer,
    }
    if settings.identity_clients_file is not None:
        env["SIM06_IDENTITY_CLIENTS_FILE"] = str(Path(settings.identity_clients_file).resolve())
    return env


def serve_replicas(settings: Settings, db_url: str, redis_url: str, replicas: int) -> int:
    """Seed PostgreSQL if needed, start every service's processes, wait for Ctrl-C."""
    from sim06.mock_registry.store.postgres import seed_postgres

    if seed_postgres(
        db_url, seed=settings.seed, size=settings.population_size, as_of=settings.as_of
    ):
        sys.stderr.write(f"seeded {settings.population_size:,} citizens into PostgreSQL\n")
    # The gateway's signing key exists before its processes start, lest each make its own.
    from sim06.services.common.keys import KeyStore

    KeyStore(settings.keys_dir / "gateway", alg="ES256")
    # Passed through, not read for configuration: the children need PATH and the virtualenv.
    env = replica_environment(settings, db_url, redis_url, os.environ)
    procs = {
        name: subprocess.Popen(cmd, env=env)
        for name, cmd in replica_commands(settings, replicas).items()
    }
    for name, cmd in replica_commands(settings, replicas).items():
        sys.stderr.write(f"{name:>9}: http://{settings.host}:{cmd[cmd.index('--port') + 1]}/docs\n")
    try:
        while all(p.poll() is None for p in procs.values()):
            time.sleep(0.5)
    except KeyboardInterrupt:
        pass
    for proc in procs.values():
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
    for proc in procs.values():
        proc.wait(timeout=30)
    failed = [name for name, p in procs.items() if p.returncode not in (0, -signal.SIGTERM)]
    return 1 if failed else 0

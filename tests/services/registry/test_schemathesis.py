"""Schemathesis against the live registry: no 5xx, no response that breaks the contract, no
schema-valid request refused and no schema-violating request accepted (``--checks all``)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from services.bench import start_uvicorn

pytestmark = pytest.mark.e2e


def test_registry_conforms_to_its_contract(seeded_db: Path, tmp_path: Path) -> None:
    env = {"SIM06_DB_PATH": str(seeded_db), "SIM06_DATA_DIR": str(tmp_path)}
    with start_uvicorn(
        "services.asgi:registry", factory=True, env=env, health_path="/healthz"
    ) as server:
        result = subprocess.run(
            [
                str(Path(sys.executable).parent / "schemathesis"),
                "run",
                f"http://127.0.0.1:{server.port}/openapi.json",
                "--checks",
                "all",
                "--max-examples",
                "60",
                "--seed",
                "6",
                "--no-color",
            ],
            capture_output=True,
            text=True,
            timeout=300,
            check=False,
        )
    assert result.returncode == 0, result.stdout[-4000:]

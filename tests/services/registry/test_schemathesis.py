"""Schemathesis against the live registry: no 5xx, no response that breaks the contract, no
schema-valid request refused and no schema-violating request accepted (``--checks all``).

The write routes are exercised with the write token on a private copy of the database. A
civil-status event that is valid by its schema may still be refused for the facts it names
(an unknown parent, a date before the birth: 422), which no JSON Schema can express, and a
fuzzed correction may cancel a PIN that a later lookup names (410); those statuses are listed
refusals (``schemathesis_tuning.py``)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from sim06.services.bench import start_uvicorn
from tests.services.schemathesis_tuning import config

pytestmark = pytest.mark.e2e

WRITE_TOKEN = "schemathesis-write-token-0123456789"
EVENTS = ("births", "deaths", "residence-changes", "marriages", "divorces", "corrections")
REFUSALS: dict[str, list[int]] = {f"POST /v1/{kind}": [400, 410, 422] for kind in EVENTS}
# The fuzzed events change the records: a correction may cancel a PIN that a later lookup uses.
REFUSALS.update(
    {
        op: [410]
        for op in (
            "GET /v1/citizens/{pin}",
            "GET /v1/citizens/{pin}/household",
            "GET /v1/citizens/{pin}/residence-confirmation",
            "POST /v1/citizens/verify",
        )
    }
)


def test_registry_conforms_to_its_contract(events_db: Path, tmp_path: Path) -> None:
    env = {
        "SIM06_DB_PATH": str(events_db),
        "SIM06_DATA_DIR": str(tmp_path),
        "SIM06_REGISTRY_WRITE_TOKEN": WRITE_TOKEN,
    }
    (tmp_path / "schemathesis.toml").write_text(config(REFUSALS))
    with start_uvicorn(
        "sim06.services.asgi:registry", factory=True, env=env, health_path="/healthz"
    ) as server:
        result = subprocess.run(
            [
                str(Path(sys.executable).parent / "schemathesis"),
                "--config-file", str(tmp_path / "schemathesis.toml"),
                "run", f"http://127.0.0.1:{server.port}/openapi.json",
                "--checks", "all",
                "--header", f"Authorization: Bearer {WRITE_TOKEN}",
                "--max-examples", "60", "--seed", "6", "--no-color",
            ],
            capture_output=True,
            text=True,
            timeout=300,
            check=False,
        )  # fmt: skip
    assert result.returncode == 0, result.stdout[-4000:]

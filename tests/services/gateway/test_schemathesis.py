"""Schemathesis against the live gateway as the demo police agency: no 5xx and no response
that breaks the published contract.

The gateway wants a bearer token and the X-Road-style headers, and refuses a reused
``X-MaYeuCau``: a schemathesis hook (``before_call``) puts a valid set of exchange headers and a
fresh request id on every generated call, so the cases reach the registry behind the gateway.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from services.bench import start_uvicorn

pytestmark = pytest.mark.e2e

POLICE = {  # examples/agencies.yaml, DEMO-ONLY secret
    "client_id": "cat-pc02", "secret": "demo-only-police-secret-0002",
    "X-Road-Client": "000.00.12.H30", "X-MaDVC": "BCA.DT.001", "X-MaCanBo": "CB.H30.0101",
    "X-Purpose": "investigation", "X-Legal-Basis": "Bo luat To tung hinh su 2015",
}  # fmt: skip

HOOKS = '''
import uuid

import schemathesis

EXCHANGE = {exchange!r}


@schemathesis.hook
def before_call(ctx, case, **kwargs):
    """Valid exchange headers and a fresh X-MaYeuCau on every call (a reused one is a 409)."""
    headers = {{k: v for k, v in (case.headers or {{}}).items()
               if k.lower() not in {{h.lower() for h in EXCHANGE}} | {{"x-mayeucau"}}}}
    headers.update(EXCHANGE)
    headers["X-MaYeuCau"] = "st-" + uuid.uuid4().hex
    case.headers = headers
'''


def test_gateway_conforms_to_its_contract(seeded_db: Path, tmp_path: Path) -> None:
    env = {
        "SIM06_DB_PATH": str(seeded_db), "SIM06_DATA_DIR": str(tmp_path),
        "SIM06_GATEWAY_TOKEN_TTL": "3600",
    }  # fmt: skip
    exchange = {k: v for k, v in POLICE.items() if k.startswith("X-")}
    (tmp_path / "gateway_hooks.py").write_text(HOOKS.format(exchange=exchange))
    with start_uvicorn(
        "services.asgi:gateway", factory=True, env=env, health_path="/healthz"
    ) as server:
        base = f"http://127.0.0.1:{server.port}"
        r = httpx.post(
            base + "/oauth/token", data={"grant_type": "client_credentials"},
            auth=(POLICE["client_id"], POLICE["secret"]),
        )  # fmt: skip
        assert r.status_code == 200, r.text
        token = r.json()["access_token"]
        # The floor over every operation: no 5xx.
        run = _schemathesis(base, token, tmp_path, "not_a_server_error")
        assert run.returncode == 0, run.stdout[-6000:]
        # Response schemas, except the known gaps (reported; remove once the contract is fixed).
        exclude = [arg for op in KNOWN_GAPS for arg in ("--exclude-operation-id", op)]
        run = _schemathesis(base, token, tmp_path, "response_schema_conformance", *exclude)
        assert run.returncode == 0, run.stdout[-6000:]


# Operations excluded from the response-schema check (none: /oauth/token now declares its
# RFC 6749 §5.2 error shape).
KNOWN_GAPS: tuple[str, ...] = ()


def _schemathesis(
    base: str, token: str, hooks_dir: Path, checks: str, *extra: str
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [
            str(Path(sys.executable).parent / "schemathesis"), "run", f"{base}/openapi.json",
            "--checks", checks, "--header", f"Authorization: Bearer {token}",
            "--max-examples", "30", "--seed", "6", "--no-color",
            "--exclude-path-regex", "^/admin/",  # needs the admin token, not the agency's
            *extra,
        ],
        capture_output=True, text=True, timeout=300, check=False,
        env={**os.environ, "SCHEMATHESIS_HOOKS": "gateway_hooks", "PYTHONPATH": str(hooks_dir)},
    )  # fmt: skip

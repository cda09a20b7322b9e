"""Schemathesis (``--checks all``) against the live gateway as the demo police agency.

Every check counts, stateful links included, except the refusals listed in ``REFUSALS`` (see
``schemathesis_tuning.py``). The gateway wants a bearer token and the X-Road-style headers, and
refuses a reused ``X-MaYeuCau``: a schemathesis hook (``before_call``) gives every exchange
header a case sends a valid value and a fresh request id, and leaves a header a case leaves out
missing (the missing-header check needs the 400).
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from sim06.services.bench import start_uvicorn
from tests.services.schemathesis_tuning import config

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
    """Valid values for the exchange headers the case sends, a fresh X-MaYeuCau (a reused
    one is a 409); a header the case leaves out stays out."""
    headers = dict(case.headers or {{}})
    sent = {{name.lower(): name for name in headers}}
    for name, value in EXCHANGE.items():
        if name.lower() in sent:
            headers[sent[name.lower()]] = value
    if "x-mayeucau" in sent:
        headers[sent["x-mayeucau"]] = "st-" + uuid.uuid4().hex
    case.headers = headers
'''
# Schema-valid requests refused by design: an envelope the schema calls a string but that is
# no SOAP 1.1 request is a 400 Fault; a tree size past the latest signed head has no proof.
REFUSALS = {
    "POST /soap/dancu": [400], "POST /lgsp/dancu": [400], "GET /v1/audit/consistency": [400],
}  # fmt: skip


def test_gateway_conforms_to_its_contract(seeded_db: Path, tmp_path: Path) -> None:
    env = {
        "SIM06_DB_PATH": str(seeded_db), "SIM06_DATA_DIR": str(tmp_path),
        "SIM06_GATEWAY_TOKEN_TTL": "3600",
    }  # fmt: skip
    exchange = {k: v for k, v in POLICE.items() if k.startswith("X-")}
    (tmp_path / "gateway_hooks.py").write_text(HOOKS.format(exchange=exchange))
    (tmp_path / "schemathesis.toml").write_text(config(REFUSALS))
    with start_uvicorn(
        "sim06.services.asgi:gateway", factory=True, env=env, health_path="/healthz"
    ) as server:
        base = f"http://127.0.0.1:{server.port}"
        r = httpx.post(
            base + "/oauth/token", data={"grant_type": "client_credentials"},
            auth=(POLICE["client_id"], POLICE["secret"]),
        )  # fmt: skip
        assert r.status_code == 200, r.text
        token = r.json()["access_token"]
        run = subprocess.run(
            [
                str(Path(sys.executable).parent / "schemathesis"),
                "--config-file", str(tmp_path / "schemathesis.toml"),
                "run", f"{base}/openapi.json", "--checks", "all",
                "--header", f"Authorization: Bearer {token}",
                "--max-examples", "30", "--seed", "6", "--no-color",
                "--exclude-path-regex", "^/admin/",  # needs the admin token, not the agency's
            ],
            capture_output=True, text=True, timeout=300, check=False,
            env={**os.environ, "SCHEMATHESIS_HOOKS": "gateway_hooks",
                 "PYTHONPATH": str(tmp_path)},
        )  # fmt: skip
    assert run.returncode == 0, run.stdout[-6000:]

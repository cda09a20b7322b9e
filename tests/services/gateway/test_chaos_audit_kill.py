"""Chaos: ``kill -9`` of a live gateway under load loses no audit record of an answered exchange.

Lookups stream on many connections; once some hundreds are answered the gateway is killed with
SIGKILL (no shutdown, no last tree head). Every exchange answered 200 must have its audit record
(the gateway answers only once the record is committed), the log must hold nothing twice, and
``sim06 audit verify`` must find it intact against the signed tree heads written before the kill.
A restarted gateway continues the same chain.
"""

from __future__ import annotations

import asyncio
import os
import secrets
import signal
import sqlite3
import subprocess
import sys
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml

from sim06.services.bench import ServerProcess, start_uvicorn
from tests.services.gateway.helpers import ADULT, get_token

pytestmark = [pytest.mark.e2e, pytest.mark.chaos]

SIM06 = str(Path(sys.executable).parent / "sim06")
STREAMS = 16
KILL_AFTER = 400
CODE, CLIENT_ID = "000.00.89.H89", "audit-kill"
AGENCY: dict[str, Any] = {
    "code": CODE, "name": "Audit kill test", "client_id": CLIENT_ID,
    "quota_per_minute": 1_000_000,
    "procedures": [{"code": "KILL.1", "purposes": {"residence": {"grants": {"lookup": "*"}}}}],
    "officers": [{"code": "CB.KILL", "permissions": ["KILL.1"]}],
}  # fmt: skip


async def _stream_then_kill(server: ServerProcess, secret: str) -> set[str]:
    """Request ids answered 200 before the SIGKILL (and any answered while it landed)."""
    answered: set[str] = set()
    killed = asyncio.Event()
    limits = httpx.Limits(max_connections=STREAMS)
    async with httpx.AsyncClient(base_url=server.url, limits=limits, timeout=10) as client:
        token = await get_token(client, {"client_id": CLIENT_ID, "secret": secret})

        async def stream(n: int) -> None:
            i = 0
            while not killed.is_set():
                request_id = f"kill-{n}-{i}"
                i += 1
                headers = {
                    "Authorization": f"Bearer {token}", "X-Road-Client": CODE,
                    "X-MaYeuCau": request_id, "X-MaDVC": "KILL.1", "X-MaCanBo": "CB.KILL",
                    "X-Purpose": "residence", "X-Legal-Basis": "Luat Cu tru 2020",
                }  # fmt: skip
                try:
                    r = await client.get(f"/v1/registry/citizens/{ADULT}", headers=headers)
                except httpx.TransportError:
                    return  # the server is gone
                if r.status_code == 200:
                    answered.add(request_id)
                    if len(answered) == KILL_AFTER and not killed.is_set():
                        os.kill(server.pid, signal.SIGKILL)
                        killed.set()

        await asyncio.gather(*(stream(n) for n in range(STREAMS)))
    return answered


def _request_ids(log: Path) -> list[str]:
    with sqlite3.connect(log) as conn:
        ids = [row[0] for row in conn.execute("SELECT request_id FROM audit ORDER BY seq")]
    conn.close()
    return ids


def _verify(log: Path, data_dir: Path) -> subprocess.CompletedProcess[str]:
    heads = data_dir / "audit-checkpoints" / "audit.jsonl"
    return subprocess.run(
        [SIM06, "audit", "verify", "--file", str(log), "--data-dir", str(data_dir),
         "--checkpoints", str(heads)],
        capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip


def test_kill_9_under_load_loses_no_audit_record_of_an_answered_exchange(
    seeded_db: Path, tmp_path: Path
) -> None:
    secret = secrets.token_urlsafe(24)
    agencies = tmp_path / "agencies.yaml"
    agencies.write_text(yaml.safe_dump({"agencies": [{**AGENCY, "client_secret": secret}]}))
    data = tmp_path / "gateway"
    env = {
        "SIM06_DB_PATH": str(seeded_db), "SIM06_DATA_DIR": str(data),
        "SIM06_GATEWAY_AGENCIES_FILE": str(agencies),
        "SIM06_AUDIT_CHECKPOINT_EVERY": "100",  # heads written before the kill
    }  # fmt: skip
    server = start_uvicorn(
        "sim06.services.asgi:gateway", factory=True, env=env, health_path="/healthz"
    )
    try:
        answered = asyncio.run(_stream_then_kill(server, secret))
        assert server.process.wait(timeout=10) == -signal.SIGKILL
    finally:
        server.stop()

    log = data / "audit.db"
    ids = _request_ids(log)
    assert len(ids) == len(set(ids))  # nothing twice
    assert answered <= set(ids), sorted(answered - set(ids))[:10]  # nothing answered is lost
    verdict = _verify(log, data)
    assert verdict.returncode == 0, verdict.stdout + verdict.stderr
    assert f"{len(ids)} records" in verdict.stdout

    # A restarted gateway continues the chain after the records the kill left.
    with start_uvicorn(
        "sim06.services.asgi:gateway", factory=True, env=env, health_path="/healthz"
    ) as again:
        token = httpx.post(
            f"{again.url}/oauth/token", data={"grant_type": "client_credentials"},
            auth=(CLIENT_ID, secret),
        ).json()["access_token"]  # fmt: skip
        r = httpx.get(
            f"{again.url}/v1/registry/citizens/{ADULT}",
            headers={
                "Authorization": f"Bearer {token}", "X-Road-Client": CODE,
                "X-MaYeuCau": "after-restart", "X-MaDVC": "KILL.1", "X-MaCanBo": "CB.KILL",
                "X-Purpose": "residence", "X-Legal-Basis": "Luat Cu tru 2020",
            },
        )  # fmt: skip
        assert r.status_code == 200, r.text
    assert _request_ids(log)[-1] == "after-restart"
    verdict = _verify(log, data)
    assert verdict.returncode == 0, verdict.stdout + verdict.stderr

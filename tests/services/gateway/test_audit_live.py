"""End to end: 10,000 concurrent exchanges through a live gateway, then ``sim06 audit verify``.

One record per request (allowed or refused), an intact chain, and a verdict that names the
record when one is edited, deleted or swapped with another.
"""

from __future__ import annotations

import asyncio
import secrets
import sqlite3
import subprocess
import sys
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml

from sim06.services.bench import start_uvicorn
from tests.services.gateway.helpers import ADULT, get_token

pytestmark = pytest.mark.e2e

SIM06 = str(Path(sys.executable).parent / "sim06")
REQUESTS = 10_000
CONCURRENCY = 64
CODE, CLIENT_ID = "000.00.88.H88", "audit-load"
AGENCY: dict[str, Any] = {  # a throwaway agency with a quota the run cannot exhaust
    "code": CODE, "name": "Audit load test", "client_id": CLIENT_ID,
    "quota_per_minute": 1_000_000,
    "procedures": [{"code": "LOAD.1", "purposes": {"residence": {"grants": {"lookup": "*"}}}}],
    "officers": [{"code": "CB.LOAD", "permissions": ["LOAD.1"]}],
}  # fmt: skip


async def _exchange_all(base: str, secret: str) -> list[httpx.Response]:
    limits = httpx.Limits(max_connections=CONCURRENCY)
    async with httpx.AsyncClient(base_url=base, limits=limits, timeout=60) as client:
        token = await get_token(client, {"client_id": CLIENT_ID, "secret": secret})
        gate = asyncio.Semaphore(CONCURRENCY)

        async def one(i: int) -> httpx.Response:
            headers = {
                "Authorization": f"Bearer {token}", "X-Road-Client": CODE,
                "X-MaYeuCau": f"load-{i}", "X-MaDVC": "LOAD.1",
                # every tenth by an officer the agency does not have: refused (005), audited too
                "X-MaCanBo": "CB.NOBODY" if i % 10 == 0 else "CB.LOAD",
                "X-Purpose": "residence", "X-Legal-Basis": "Luat Cu tru 2020",
            }  # fmt: skip
            async with gate:
                return await client.get(f"/v1/registry/citizens/{ADULT}", headers=headers)

        return await asyncio.gather(*(one(i) for i in range(REQUESTS)))


def _verify(path: Path, data_dir: Path) -> subprocess.CompletedProcess[str]:
    heads = data_dir / "audit-checkpoints" / "audit.jsonl"  # the gateway's signed tree heads
    return subprocess.run(
        [SIM06, "audit", "verify", "--file", str(path), "--data-dir", str(data_dir),
         "--checkpoints", str(heads)],
        capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip


def _tampered(source: Path, target: Path, *statements: str) -> Path:
    with sqlite3.connect(source) as src, sqlite3.connect(target) as dst:
        src.backup(dst)  # the WAL's records included
        for statement in statements:
            dst.execute(statement)
    src.close()
    dst.close()
    return target


def test_ten_thousand_concurrent_exchanges_verify_and_tampering_is_found(
    seeded_db: Path, tmp_path: Path
) -> None:
    secret = secrets.token_urlsafe(24)
    agencies = tmp_path / "agencies.yaml"
    agencies.write_text(yaml.safe_dump({"agencies": [{**AGENCY, "client_secret": secret}]}))
    env = {
        "SIM06_DB_PATH": str(seeded_db), "SIM06_DATA_DIR": str(tmp_path / "gateway"),
        "SIM06_GATEWAY_AGENCIES_FILE": str(agencies),
    }  # fmt: skip
    with start_uvicorn(
        "sim06.services.asgi:gateway", factory=True, env=env, health_path="/healthz"
    ) as server:
        responses = asyncio.run(_exchange_all(f"http://127.0.0.1:{server.port}", secret))
    statuses = [r.status_code for r in responses]
    assert sorted(set(statuses)) == [200, 403], {s: statuses.count(s) for s in set(statuses)}
    assert statuses.count(200) == REQUESTS - REQUESTS // 10
    assert statuses.count(403) == REQUESTS // 10

    log = tmp_path / "gateway" / "audit.db"
    verdict = _verify(log, tmp_path / "gateway")
    assert verdict.returncode == 0, verdict.stdout
    assert f"audit log intact: {REQUESTS} records" in verdict.stdout
    with sqlite3.connect(log) as conn:
        counts = "SELECT count(DISTINCT request_id), count(*) FROM audit"
        ids, rows = conn.execute(counts).fetchone()
        refused = conn.execute("SELECT count(*) FROM audit WHERE outcome = '005'").fetchone()[0]
    conn.close()
    assert ids == rows == REQUESTS and refused == REQUESTS // 10  # exactly one per request

    edit = "UPDATE audit SET agency = 'X' WHERE seq = 4321"
    edited = _tampered(log, tmp_path / "edited.db", edit)
    verdict = _verify(edited, tmp_path / "gateway")
    assert verdict.returncode == 1 and "record 4321 was altered" in verdict.stdout

    deleted = _tampered(log, tmp_path / "deleted.db", "DELETE FROM audit WHERE seq = 777")
    verdict = _verify(deleted, tmp_path / "gateway")
    assert verdict.returncode == 1 and "record 777 is missing (deleted)" in verdict.stdout

    columns = "ts, agency, officer, procedure, purpose, legal_basis, request_id, operation, pins, "
    columns += "fields, status, outcome, latency_ms, request_hash, response_hash, hidden_until, "
    columns += "prev_hash, hash"
    swapped = _tampered(
        log, tmp_path / "swapped.db",
        "CREATE TEMP TABLE a AS SELECT * FROM audit WHERE seq IN (100, 200)",
        f"UPDATE audit SET ({columns}) = (SELECT {columns} FROM a WHERE a.seq = 300 - audit.seq)"
        " WHERE seq IN (100, 200)",
    )  # fmt: skip
    verdict = _verify(swapped, tmp_path / "gateway")
    assert verdict.returncode == 1 and "BROKEN at record 100" in verdict.stdout

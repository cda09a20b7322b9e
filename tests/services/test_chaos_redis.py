"""Chaos: the Redis that gateway replicas share goes away under a live gateway, and comes back.

With ``SIM06_REDIS_URL`` the quota counters and the replay caches of request ids and client
assertions live in Redis, so that replicas enforce one quota and refuse a replay anywhere.
Without Redis a replica cannot do either; the documented behaviour is to fail closed: 503
``SHARED_STATE_UNAVAILABLE`` with Retry-After, at once, never an unchecked answer and never a
500, while ``/healthz`` keeps answering. When Redis is back, so is service, without a restart.

The Redis server is the test's own (``redis-server`` on a free port, no persistence), so
stopping it touches no other test.
"""

from __future__ import annotations

import secrets
import shutil
import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml

from sim06.services.bench import ServerProcess, free_port, start_uvicorn

pytestmark = [pytest.mark.e2e, pytest.mark.chaos]

REDIS = shutil.which("redis-server")
PIN = "001090104217"
CODE, CLIENT_ID, PROCEDURE, OFFICER = "000.21.79.H26", "chaos-redis", "CHAOS.TC.2", "CB.CHAOS2"
AGENCY: dict[str, Any] = {
    "code": CODE, "name": "Chaos Redis test office", "client_id": CLIENT_ID,
    "quota_per_minute": 1_000_000,
    "procedures": [{"code": PROCEDURE, "purposes": {"identity-check": {
        "grants": {"lookup": "*"}}}}],
    "officers": [{"code": OFFICER, "permissions": [PROCEDURE]}],
}  # fmt: skip


class Redis:
    """A private ``redis-server`` that can be stopped and started again on its port."""

    def __init__(self, directory: Path) -> None:
        self.port = free_port()
        self.directory = directory
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        assert REDIS is not None
        self.process = subprocess.Popen(
            [REDIS, "--port", str(self.port), "--bind", "127.0.0.1", "--save", "",
             "--appendonly", "no", "--dir", str(self.directory)],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )  # fmt: skip
        deadline = time.monotonic() + 10
        while True:
            try:
                with socket.create_connection(("127.0.0.1", self.port), 0.2):
                    return
            except OSError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.05)

    def kill(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait(timeout=10)


@pytest.fixture
def redis_server(tmp_path: Path) -> Iterator[Redis]:
    if REDIS is None:
        pytest.skip("redis-server is not installed (scripts/start-backends.sh installs it)")
    server = Redis(tmp_path)
    server.start()
    try:
        yield server
    finally:
        server.kill()


@pytest.fixture
def gateway(seeded_db: Path, tmp_path: Path, redis_server: Redis) -> Iterator[tuple[Any, str]]:
    secret = secrets.token_urlsafe(24)
    agencies = tmp_path / "agencies.yaml"
    agencies.write_text(
        yaml.safe_dump({"agencies": [{**AGENCY, "client_secret": secret}]}), encoding="utf-8"
    )
    server: ServerProcess = start_uvicorn(
        "sim06.services.asgi:gateway",
        factory=True,
        health_path="/healthz",
        env={
            "SIM06_DB_PATH": str(seeded_db),
            "SIM06_DATA_DIR": str(tmp_path / "data"),
            "SIM06_REDIS_URL": redis_server.url,
            "SIM06_GATEWAY_AGENCIES_FILE": str(agencies),
            "SIM06_GATEWAY_ADMIN_TOKEN": secrets.token_urlsafe(24),
        },
    )
    try:
        yield server, secret
    finally:
        server.stop()


def _lookup(base: str, token: str, request_id: str) -> tuple[httpx.Response, float]:
    headers = {
        "Authorization": f"Bearer {token}", "X-Road-Client": CODE, "X-MaYeuCau": request_id,
        "X-MaDVC": PROCEDURE, "X-MaCanBo": OFFICER, "X-Purpose": "identity-check",
        "X-Legal-Basis": "Luat Can cuoc 2023",
    }  # fmt: skip
    started = time.perf_counter()
    r = httpx.get(f"{base}/v1/registry/citizens/{PIN}", headers=headers, timeout=10)
    return r, time.perf_counter() - started


def test_redis_gone_fails_closed_with_503_and_service_returns_with_it(
    gateway: tuple[ServerProcess, str], redis_server: Redis
) -> None:
    server, secret = gateway
    r = httpx.post(
        f"{server.url}/oauth/token",
        data={"grant_type": "client_credentials"},
        auth=(CLIENT_ID, secret),
    )
    assert r.status_code == 200, r.text
    token = r.json()["access_token"]
    answered, _ = _lookup(server.url, token, "chaos-redis-1")
    assert answered.status_code == 200, answered.text

    redis_server.kill()
    for i in range(5):
        r, took = _lookup(server.url, token, f"chaos-redis-gone-{i}")
        assert r.status_code == 503, r.text
        assert r.headers["content-type"].startswith("application/problem+json")
        assert r.json()["code"] == "SHARED_STATE_UNAVAILABLE"
        assert r.headers["retry-after"] == "1"
        assert took < 1.0
    assert httpx.get(f"{server.url}/healthz", timeout=2).status_code == 200
    # The token endpoint checks client assertions' jti in Redis too: no token without it.
    r = httpx.post(
        f"{server.url}/oauth/token",
        data={"grant_type": "client_credentials"},
        auth=(CLIENT_ID, secret),
    )
    assert r.status_code in (200, 503), r.text

    redis_server.start()  # an empty Redis: state is gone, service is back
    deadline = time.monotonic() + 10
    while True:
        r, _ = _lookup(server.url, token, f"chaos-redis-back-{time.monotonic_ns()}")
        if r.status_code == 200 or time.monotonic() > deadline:
            break
        time.sleep(0.2)
    assert r.status_code == 200, r.text
    # Replays are refused again once Redis is back.
    first, _ = _lookup(server.url, token, "chaos-redis-again")
    replay, _ = _lookup(server.url, token, "chaos-redis-again")
    assert first.status_code == 200 and replay.status_code != 200

"""Chaos: the registry behind a live gateway dies, hangs, and comes back.

The gateway and the registry run as two uvicorn processes on 127.0.0.1, the gateway calling the
registry over HTTP with a 1 s timeout. ``kill -9`` of the registry makes every lookup a 502
``GATEWAY_UPSTREAM_UNAVAILABLE`` at once; a registry stopped with SIGSTOP (the kernel still
accepts the connection, nothing answers) makes it a 504 ``GATEWAY_UPSTREAM_TIMEOUT`` within the
timeout; after SIGCONT the same lookup succeeds again. The gateway's own health never depends
on the registry.
"""

from __future__ import annotations

import os
import secrets
import signal
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml

from sim06.services.bench import ServerProcess, start_uvicorn

pytestmark = [pytest.mark.e2e, pytest.mark.chaos]

PIN = "001090104217"  # persona: alive, Hà Nội
TIMEOUT = 1.0
CODE, CLIENT_ID, PROCEDURE, OFFICER = "000.21.78.H26", "chaos-lookup", "CHAOS.TC.1", "CB.CHAOS"
AGENCY: dict[str, Any] = {
    "code": CODE, "name": "Chaos test office", "client_id": CLIENT_ID,
    "quota_per_minute": 1_000_000,
    "procedures": [{"code": PROCEDURE, "purposes": {"identity-check": {
        "grants": {"lookup": "*"}}}}],
    "officers": [{"code": OFFICER, "permissions": [PROCEDURE]}],
}  # fmt: skip


class Pair:
    """A registry and a gateway that calls it over HTTP."""

    def __init__(self, registry: ServerProcess, gateway: ServerProcess, secret: str) -> None:
        self.registry, self.gateway, self.secret = registry, gateway, secret
        self.token = ""

    def authenticate(self) -> None:
        r = httpx.post(
            f"{self.gateway.url}/oauth/token",
            data={"grant_type": "client_credentials"},
            auth=(CLIENT_ID, self.secret),
        )
        assert r.status_code == 200, r.text
        self.token = r.json()["access_token"]

    def lookup(self) -> tuple[httpx.Response, float]:
        headers = {
            "Authorization": f"Bearer {self.token}",
            "X-Road-Client": CODE,
            "X-MaYeuCau": f"chaos-{secrets.token_hex(8)}",
            "X-MaDVC": PROCEDURE,
            "X-MaCanBo": OFFICER,
            "X-Purpose": "identity-check",
            "X-Legal-Basis": "Luat Can cuoc 2023",
        }
        started = time.perf_counter()
        r = httpx.get(f"{self.gateway.url}/v1/registry/citizens/{PIN}", headers=headers, timeout=10)
        return r, time.perf_counter() - started


@pytest.fixture
def pair(seeded_db: Path, tmp_path: Path) -> Iterator[Pair]:
    secret = secrets.token_urlsafe(24)
    agencies = tmp_path / "agencies.yaml"
    agencies.write_text(
        yaml.safe_dump({"agencies": [{**AGENCY, "client_secret": secret}]}), encoding="utf-8"
    )
    common = {"SIM06_DB_PATH": str(seeded_db), "SIM06_DATA_DIR": str(tmp_path / "data")}
    registry = start_uvicorn(
        "sim06.services.asgi:registry", factory=True, env=common, health_path="/healthz"
    )
    try:
        gateway = start_uvicorn(
            "sim06.services.asgi:gateway",
            factory=True,
            health_path="/healthz",
            env={
                **common,
                "SIM06_GATEWAY_REGISTRY_URL": registry.url,
                "SIM06_GATEWAY_REGISTRY_TIMEOUT": str(TIMEOUT),
                "SIM06_GATEWAY_AGENCIES_FILE": str(agencies),
                "SIM06_GATEWAY_ADMIN_TOKEN": secrets.token_urlsafe(24),
            },
        )
    except BaseException:
        registry.stop()
        raise
    try:
        yield Pair(registry, gateway, secret)
    finally:
        gateway.stop()
        if registry.process.poll() is None:
            os.kill(registry.pid, signal.SIGCONT)
        registry.stop()


def _problem(r: httpx.Response) -> dict[str, Any]:
    assert r.headers["content-type"].startswith("application/problem+json"), r.text
    body: dict[str, Any] = r.json()
    return body


def test_a_hung_then_dead_registry_is_a_504_then_a_502_and_recovery_is_immediate(
    pair: Pair,
) -> None:
    pair.authenticate()
    r, _ = pair.lookup()
    assert r.status_code == 200, r.text

    os.kill(pair.registry.pid, signal.SIGSTOP)  # hung: the socket accepts, nothing answers
    try:
        for _ in range(3):
            r, took = pair.lookup()
            assert r.status_code == 504, r.text
            assert _problem(r)["code"] == "GATEWAY_UPSTREAM_TIMEOUT"
            assert TIMEOUT * 0.9 <= took < TIMEOUT + 1.5
        health = httpx.get(f"{pair.gateway.url}/healthz", timeout=1)
        assert health.status_code == 200
    finally:
        os.kill(pair.registry.pid, signal.SIGCONT)

    r, _ = pair.lookup()
    assert r.status_code == 200, r.text

    pair.registry.process.kill()  # gone: connection refused
    pair.registry.process.wait(timeout=10)
    for _ in range(3):
        r, took = pair.lookup()
        assert r.status_code == 502, r.text
        assert _problem(r)["code"] == "GATEWAY_UPSTREAM_UNAVAILABLE"
        assert took < TIMEOUT
    assert httpx.get(f"{pair.gateway.url}/healthz", timeout=1).status_code == 200

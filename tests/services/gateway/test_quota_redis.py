"""Quotas shared through Redis: two trackers, then two gateway apps, admit exactly N together.

Needs ``SIM06_TEST_REDIS_URL``; each test uses its own key prefix. The processes-level proof is
test_replicas_redis.py; here both "replicas" are apps in this process with separate state.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
from cryptography.hazmat.primitives.asymmetric import ec
from fastapi import FastAPI

from sim06.services.common.redis_state import RedisRateLimiter
from sim06.services.common.settings import Settings
from sim06.services.gateway.quota import QuotaTracker
from sim06.services.gateway.state import gateway_state
from tests.backends import REDIS_URL, needs_redis
from tests.services.gateway.replica_agencies import (
    QUOTA,
    QUOTA_PER_MINUTE,
    clear_redis,
    lookup_headers,
    redis_prefix,
    two_gateways,
)

pytestmark = needs_redis
ADULT = "001090104217"


def test_two_trackers_on_one_redis_admit_exactly_n() -> None:
    assert REDIS_URL is not None
    prefix = redis_prefix()
    a = QuotaTracker(shared=RedisRateLimiter(REDIS_URL, prefix=prefix))
    b = QuotaTracker(shared=RedisRateLimiter(REDIS_URL, prefix=prefix))
    try:
        waits = [(a if i % 2 else b).take("agency-x", 7) for i in range(20)]
        other = a.take("agency-y", 7)
    finally:
        clear_redis(REDIS_URL, prefix)
    assert waits.count(None) == 7
    refused = [w for w in waits if w is not None]
    assert len(refused) == 13 and all(1 <= w <= 61 for w in refused)  # 61: see test_quota.py
    # Another agency has its own window; the in-process default still counts alone.
    assert other is None
    alone = QuotaTracker()
    assert [alone.take("agency-x", 2) for _ in range(3)][-1] is not None


def test_settings_choose_redis_or_in_process() -> None:
    embedded = gateway_state(Settings())
    assert not embedded.shared and embedded.quota.shared is None
    shared = gateway_state(Settings(redis_url=REDIS_URL, redis_prefix=redis_prefix()))
    assert shared.shared and shared.quota.shared is not None
    assert shared.request_ids.shared is not None and shared.assertions.shared is not None


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture
async def pair(tmp_path: Path, seeded_db: Path) -> AsyncIterator[tuple[FastAPI, FastAPI]]:
    assert REDIS_URL is not None
    key = ec.generate_private_key(ec.SECP256R1())
    async with two_gateways(tmp_path, seeded_db, REDIS_URL, key) as apps:
        yield apps


@pytest.mark.anyio
async def test_two_gateway_apps_share_one_quota(pair: tuple[FastAPI, FastAPI]) -> None:
    assert REDIS_URL is not None
    clients = [
        httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://gateway")
        for app in pair
    ]
    try:
        r = await clients[0].post(
            "/oauth/token",
            data={"grant_type": "client_credentials"},
            auth=(QUOTA["client_id"], QUOTA["secret"]),
        )
        token = r.json()["access_token"]  # issued by A, honoured by B (one signing key)
        statuses, retry = [], []
        for i in range(QUOTA_PER_MINUTE + 10):
            r = await clients[i % 2].get(
                f"/v1/registry/citizens/{ADULT}", headers=lookup_headers(token)
            )
            statuses.append(r.status_code)
            if r.status_code == 429:
                assert r.json()["code"] == "GATEWAY_QUOTA_EXCEEDED"
                retry.append(int(r.headers["retry-after"]))
        assert statuses.count(200) == QUOTA_PER_MINUTE, statuses
        assert statuses.count(429) == 10 and all(1 <= s <= 61 for s in retry), statuses
    finally:
        for c in clients:
            await c.aclose()

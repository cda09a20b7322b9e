"""The fault state shared by replicas through Redis (issue 8): one change, every replica.

Two apps in one test process, each with its own controller (as two uvicorn replicas would
have), on one real Redis (``SIM06_TEST_REDIS_URL``) under a private key prefix.
"""

from __future__ import annotations

import asyncio
import random
import secrets
import time
from collections.abc import AsyncIterator, Iterator

import httpx
import pytest
from fastapi import FastAPI

from sim06.services.common.fault_middleware import install_faults
from sim06.services.common.faults import FaultController, FaultUpdate
from sim06.services.common.redis_state import RedisFaultState
from sim06.services.common.settings import Settings
from sim06.services.registry.app import create_app
from tests.backends import REDIS_URL, needs_redis

pytestmark = pytest.mark.anyio
ADULT = "/v1/citizens/001090104217"
FAULTS = "/__sim06/faults"


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture
def shared_settings(settings: Settings) -> Iterator[Settings]:
    assert REDIS_URL is not None
    prefix = f"sim06-test-{secrets.token_hex(4)}:"
    yield settings.model_copy(update={"redis_url": REDIS_URL, "redis_prefix": prefix})
    RedisFaultState(REDIS_URL, prefix=prefix).clear()


def _client(settings: Settings, name: str) -> httpx.AsyncClient:
    app: FastAPI = create_app(settings)
    install_faults(app, settings, "registry")
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url=f"http://{name}")


@pytest.fixture
async def pair(shared_settings: Settings) -> AsyncIterator[tuple[httpx.AsyncClient, ...]]:
    async with _client(shared_settings, "a") as a, _client(shared_settings, "b") as b:
        yield a, b


async def _until(client: httpx.AsyncClient, status: int, limit: float = 1.5) -> float:
    """Seconds until ``client`` answers ``status`` (fails after ``limit``)."""
    started = time.monotonic()
    while True:
        r = await client.get(ADULT)
        if r.status_code == status:
            return time.monotonic() - started
        assert time.monotonic() - started < limit, f"still {r.status_code}, wanted {status}"
        await asyncio.sleep(0.05)


@needs_redis
async def test_put_on_one_replica_reaches_the_other(pair: tuple[httpx.AsyncClient, ...]) -> None:
    a, b = pair
    assert (await a.get(ADULT)).status_code == 200
    assert (await b.get(ADULT)).status_code == 200  # B has checked the version: nothing yet

    r = await a.put(FAULTS, json={"fault": "http_503", "rate": 1.0, "retry_after": 7})
    assert r.status_code == 200
    assert (await a.get(ADULT)).status_code == 503
    # The refresh interval is 0.5 s; allow scheduling noise on a shared machine.
    assert await _until(b, 503) < 1.0
    r = await b.get(ADULT)
    assert r.headers["retry-after"] == "7"
    assert r.json()["code"] == "SIM_FAULT_UNAVAILABLE"

    r = await a.put(FAULTS, json={"fault": None})
    assert r.status_code == 200
    assert (await a.get(ADULT)).status_code == 200
    assert await _until(b, 200) < 1.0


@needs_redis
async def test_admin_get_shows_the_shared_state_at_once(
    pair: tuple[httpx.AsyncClient, ...],
) -> None:
    a, b = pair
    await b.get(FAULTS)
    r = await a.put(FAULTS, json={"profile": "typical", "services": ["registry"], "seed": 9})
    assert r.status_code == 200
    shown = (await b.get(FAULTS)).json()  # no waiting: the admin view reads Redis
    assert (shown["profile"], shown["services"], shown["seed"]) == ("typical", ["registry"], 9)


@needs_redis
def test_concurrent_changes_are_merged_not_lost(shared_settings: Settings) -> None:
    assert REDIS_URL is not None
    shared = RedisFaultState(REDIS_URL, prefix=shared_settings.redis_prefix)
    a = FaultController.from_settings(shared_settings, shared)
    b = FaultController.from_settings(shared_settings, shared)
    b.sync(force=True)
    a.update(FaultUpdate(fault="http_503"))
    # B has not refreshed yet (its copy is stale): its change is made on the latest state.
    b.update(FaultUpdate(rate=0.25))
    a.sync(force=True)
    for controller in (a, b):
        assert (controller.state.fault, controller.state.rate) == ("http_503", 0.25)
    version, document = shared.load()
    assert version == 2 and document is not None and document["fault"] == "http_503"


@needs_redis
def test_a_published_seed_restarts_every_replicas_draws(shared_settings: Settings) -> None:
    assert REDIS_URL is not None
    shared = RedisFaultState(REDIS_URL, prefix=shared_settings.redis_prefix)
    a = FaultController.from_settings(shared_settings, shared)
    b = FaultController.from_settings(shared_settings, shared)
    for _ in range(3):
        b.decide("registry", None, None)
    a.update(FaultUpdate(seed=a.state.seed))  # the same seed: replay from the start
    b.sync(force=True)
    fresh = random.Random(f"{a.state.seed}:registry")
    assert b._draws("registry") == (fresh.random(), fresh.random())


@needs_redis
def test_unusable_document_is_ignored(shared_settings: Settings) -> None:
    assert REDIS_URL is not None
    shared = RedisFaultState(REDIS_URL, prefix=shared_settings.redis_prefix)
    a = FaultController.from_settings(shared_settings, shared)
    doc = {**a.snapshot(), "profile": "no-such-profile", "reseeds": 0}
    assert shared.save(doc, 0) == 1
    a.sync(force=True)
    assert a.state.profile == "ideal"  # kept its own state
    assert a.decide("registry", None, None).fault is None


async def test_unreachable_redis_keeps_serving_and_refuses_changes(settings: Settings) -> None:
    # Port 1 on loopback: connection refused at once, the short timeout is never reached.
    down = settings.model_copy(update={"redis_url": "redis://127.0.0.1:1/0"})
    async with _client(down, "a") as a:
        assert (await a.get(ADULT)).status_code == 200
        r = await a.put(FAULTS, json={"fault": "http_503"})
        assert r.status_code == 503
        assert r.json()["code"] == "NOT_READY"
        assert r.headers["retry-after"] == "1"
        assert (await a.get(ADULT)).status_code == 200
        assert (await a.get(FAULTS)).json()["fault"] is None

"""Replay caches shared through Redis: a ``MaYeuCau`` or a client-assertion ``jti`` used at one
gateway is refused at the other. Needs ``SIM06_TEST_REDIS_URL`` (own key prefix per test)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
from cryptography.hazmat.primitives.asymmetric import ec

from sim06.services.common.redis_state import RedisReplayCache
from sim06.services.gateway.replay import ReplayCache
from tests.backends import REDIS_URL, needs_redis
from tests.services.gateway.replica_agencies import (
    QUOTA,
    assertion,
    assertion_form,
    clear_redis,
    lookup_headers,
    redis_prefix,
    two_gateways,
)

pytestmark = needs_redis
ADULT = "001090104217"


def test_two_caches_on_one_redis_refuse_each_others_identifiers() -> None:
    assert REDIS_URL is not None
    prefix = redis_prefix()
    a = ReplayCache(shared=RedisReplayCache(REDIS_URL, prefix=prefix))
    b = ReplayCache(shared=RedisReplayCache(REDIS_URL, prefix=prefix))
    try:
        assert a.first_use("id-1", 30)
        assert not b.first_use("id-1", 30) and not a.first_use("id-1", 30)
        assert b.first_use("id-2", 30)
        assert len(a) == 0  # nothing kept in process: the state is in Redis
    finally:
        clear_redis(REDIS_URL, prefix)


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture
def key() -> ec.EllipticCurvePrivateKey:
    return ec.generate_private_key(ec.SECP256R1())


@pytest.fixture
async def clients(
    tmp_path: Path, seeded_db: Path, key: ec.EllipticCurvePrivateKey
) -> AsyncIterator[tuple[httpx.AsyncClient, httpx.AsyncClient]]:
    assert REDIS_URL is not None
    async with two_gateways(tmp_path, seeded_db, REDIS_URL, key) as apps:
        pair: list[httpx.AsyncClient] = []
        for app in apps:
            pair.append(
                httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://gateway")
            )
        try:
            yield pair[0], pair[1]
        finally:
            for c in pair:
                await c.aclose()


@pytest.mark.anyio
async def test_request_id_used_at_one_gateway_is_refused_at_the_other(
    clients: tuple[httpx.AsyncClient, httpx.AsyncClient],
) -> None:
    a, b = clients
    r = await a.post(
        "/oauth/token",
        data={"grant_type": "client_credentials"},
        auth=(QUOTA["client_id"], QUOTA["secret"]),
    )
    token = r.json()["access_token"]
    headers = lookup_headers(token, request_id="replica-replay-0001")
    first = await a.get(f"/v1/registry/citizens/{ADULT}", headers=headers)
    assert first.status_code == 200, first.text
    again = await b.get(f"/v1/registry/citizens/{ADULT}", headers=headers)
    assert again.status_code == 409
    assert again.json()["code"] == "GATEWAY_REQUEST_REPLAYED", again.text


@pytest.mark.anyio
async def test_client_assertion_jti_used_at_one_gateway_is_refused_at_the_other(
    clients: tuple[httpx.AsyncClient, httpx.AsyncClient], key: ec.EllipticCurvePrivateKey
) -> None:
    a, b = clients
    signed = assertion(key, "http://gateway/oauth/token")
    first = await a.post("/oauth/token", data=assertion_form(signed))
    assert first.status_code == 200, first.text
    replay = await b.post("/oauth/token", data=assertion_form(signed))
    assert replay.status_code == 401 and replay.json()["error"] == "invalid_client", replay.text
    assert "already used" in replay.json()["error_description"]

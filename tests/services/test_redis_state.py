"""Shared state in Redis: the identity StateStore contract (run on both implementations), the
fixed-window rate limiter and the replay cache, with several clients standing for replicas.

Needs ``SIM06_TEST_REDIS_URL`` (``eval "$(bash scripts/start-backends.sh)"``); every test works
under its own key prefix and removes its keys.
"""

from __future__ import annotations

import secrets
import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest

from sim06.services.identity.state import MemoryStateStore, StateStore
from tests.backends import REDIS_URL, needs_redis

# Read at import: the autouse clean_environ fixture removes SIM06_* variables from each test.


def _redis_state() -> Any:
    return pytest.importorskip("sim06.services.common.redis_state", reason="redis is not installed")


@pytest.fixture
def prefix() -> Iterator[str]:
    """A key prefix of this test alone; its keys are removed afterwards."""
    prefix = f"sim06-test-{secrets.token_hex(6)}:"
    yield prefix
    if REDIS_URL is not None:
        _redis_state().RedisStateStore(REDIS_URL, prefix=prefix).clear()


@pytest.fixture(params=["memory", pytest.param("redis", marks=needs_redis)])
def state(request: pytest.FixtureRequest, prefix: str) -> Iterator[StateStore]:
    if request.param == "memory":
        yield MemoryStateStore()
        return
    store = _redis_state().RedisStateStore(REDIS_URL, prefix=prefix)
    yield store
    store.close()


def test_put_get_overwrite_and_delete(state: StateStore) -> None:
    state.put("session:s1", {"pin": "001090104217", "level": 2}, 60)
    assert state.get("session:s1") == {"pin": "001090104217", "level": 2}
    state.put("session:s1", {"pin": "001090104217", "level": 1}, 60)
    assert state.get("session:s1") == {"pin": "001090104217", "level": 1}
    assert state.delete("session:s1") is True
    assert state.delete("session:s1") is False
    assert state.get("session:s1") is None


def test_take_is_single_use(state: StateStore) -> None:
    state.put("code:abc", {"client_id": "portal", "scopes": ["openid"]}, 60)
    assert state.take("code:abc") == {"client_id": "portal", "scopes": ["openid"]}
    assert state.take("code:abc") is None
    assert state.get("code:abc") is None


def test_add_only_if_absent(state: StateStore) -> None:
    assert state.add("jti:x", {}, 60) is True
    assert state.add("jti:x", {"again": True}, 60) is False  # a replay
    assert state.get("jti:x") == {}


def test_values_expire_and_none_never_does(state: StateStore) -> None:
    state.put("short", {"v": 1}, 0.15)
    assert state.add("jti:short", {}, 0.15) is True
    state.put("forever", {"v": 2}, None)
    time.sleep(0.3)
    assert state.get("short") is None and state.take("short") is None
    assert state.add("jti:short", {}, 0.15) is True  # expired: usable again
    assert state.get("forever") == {"v": 2}


def test_unicode_values_round_trip(state: StateStore) -> None:
    value = {"name": "Tôn Nữ Thị Minh Hương", "n": [1, 2.5, None, True]}
    state.put("consent:x", value, 60)
    assert state.get("consent:x") == value


@needs_redis
def test_two_clients_share_one_state(prefix: str) -> None:
    mod = _redis_state()
    a = mod.RedisStateStore(REDIS_URL, prefix=prefix)
    b = mod.RedisStateStore(REDIS_URL, prefix=prefix)
    a.put("code:c", {"v": 1}, 60)
    assert b.take("code:c") == {"v": 1}
    assert a.take("code:c") is None
    assert len(a) == 0
    # Another prefix is another namespace.
    other = mod.RedisStateStore(REDIS_URL, prefix=prefix + "other:")
    a.put("k", {"v": 1}, 60)
    assert other.get("k") is None and len(a) == 1


@needs_redis
def test_concurrent_takes_give_the_code_to_exactly_one(prefix: str) -> None:
    mod = _redis_state()
    stores = [mod.RedisStateStore(REDIS_URL, prefix=prefix) for _ in range(8)]
    stores[0].put("code:race", {"v": 1}, 60)
    won: list[object] = []
    barrier = threading.Barrier(len(stores))

    def redeem(store: Any) -> None:
        barrier.wait()
        won.append(store.take("code:race"))

    threads = [threading.Thread(target=redeem, args=(s,)) for s in stores]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(won, key=str) == [None] * 7 + [{"v": 1}]


@needs_redis
def test_rate_limit_admits_exactly_the_limit_across_clients(prefix: str) -> None:
    mod = _redis_state()
    limiters = [mod.RedisRateLimiter(REDIS_URL, prefix=prefix) for _ in range(4)]
    admitted: list[bool] = []
    lock = threading.Lock()
    barrier = threading.Barrier(len(limiters))
    window = 5.0  # the 240 hits fall in one window: exactly 100 are admitted

    def hammer(limiter: Any) -> None:
        barrier.wait()
        for _ in range(60):
            ok, _left = limiter.hit("agency-a", 100, window)
            with lock:
                admitted.append(ok)

    threads = [threading.Thread(target=hammer, args=(lim,)) for lim in limiters]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert admitted.count(True) == 100 and len(admitted) == 240
    ok, left = limiters[0].hit("agency-b", 100, 60)
    assert ok and left == 0  # another key has its own log


@needs_redis
def test_rate_limit_window_slides_and_refused_hits_do_not_count(prefix: str) -> None:
    limiter = _redis_state().RedisRateLimiter(REDIS_URL, prefix=prefix)
    window = 0.4
    results = [limiter.hit("k", 2, window) for _ in range(5)]
    assert [ok for ok, _ in results] == [True, True, False, False, False]
    refused_left = results[-1][1]
    assert 0 < refused_left <= window + 0.001  # held one millisecond past the window
    time.sleep(refused_left + 0.02)
    assert limiter.hit("k", 2, window)[0] is True
    assert limiter.hit("k", 0, window) == (False, window)


@needs_redis
def test_quota_take_matches_the_gateway_interface(prefix: str) -> None:
    limiter = _redis_state().RedisRateLimiter(REDIS_URL, prefix=prefix)
    assert [limiter.take("bank", 2) for _ in range(2)] == [None, None]
    retry_after = limiter.take("bank", 2)
    # Whole seconds, rounded up: 61 when refused in the very millisecond of the first admission
    # (held 60.001 s, services.gateway.quota).
    assert isinstance(retry_after, int) and 1 <= retry_after <= 61


@needs_redis
def test_replay_cache_first_use_across_clients(prefix: str) -> None:
    mod = _redis_state()
    a = mod.RedisReplayCache(REDIS_URL, prefix=prefix)
    b = mod.RedisReplayCache(REDIS_URL, prefix=prefix)
    assert a.first_use("jti:1", 0.2) is True
    assert b.first_use("jti:1", 0.2) is False
    assert a.first_use("jti:2", 0.2) is True
    time.sleep(0.3)
    assert b.first_use("jti:1", 0.2) is True  # remembered only for its time to live


@needs_redis
def test_ping_and_unreachable_server() -> None:
    mod = _redis_state()
    store = mod.RedisStateStore(REDIS_URL)
    assert store.ping() is True
    store.close()
    gone = mod.RedisStateStore("redis://127.0.0.1:1/0")
    assert gone.ping() is False

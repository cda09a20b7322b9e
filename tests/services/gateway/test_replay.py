"""The in-memory replay cache: refuses replays within the TTL, forgets after, never overflows."""

from __future__ import annotations

from sim06.services.gateway.replay import ReplayCache


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_a_replay_within_the_ttl_is_refused_and_allowed_after() -> None:
    clock = Clock()
    cache = ReplayCache(clock=clock)
    assert cache.first_use("a", 10)
    assert not cache.first_use("a", 10)
    clock.now += 9.9
    assert not cache.first_use("a", 10)
    clock.now += 0.2
    assert cache.first_use("a", 10)  # re-armed for another 10 s
    clock.now += 5
    assert not cache.first_use("a", 10)


def test_expired_identifiers_are_forgotten_in_expiry_order() -> None:
    clock = Clock()
    cache = ReplayCache(clock=clock)
    for i in range(100):
        assert cache.first_use(f"k{i}", 60 if i % 2 else 5)
    clock.now += 6
    assert cache.first_use("new", 60)
    assert len(cache) == 51  # the 50 short-lived ones are gone, the long ones stay
    assert not cache.first_use("k1", 60) and cache.first_use("k0", 60)


def test_a_full_cache_refuses_instead_of_forgetting() -> None:
    clock = Clock()
    cache = ReplayCache(max_entries=3, clock=clock)
    assert all(cache.first_use(k, 10) for k in "abc")
    assert not cache.first_use("d", 10)  # full: refused, not let through
    clock.now += 11
    assert cache.first_use("d", 10) and len(cache) == 1

"""Quotas over a sliding window: no 60-second span, wherever it starts, admits more than N.

Both backends run the same scenarios on an injected clock: the in-process tracker, and the
Redis log (``SIM06_TEST_REDIS_URL``) with the clock passed to its script instead of Redis's.
Every admitted request opens a span ``[t, t + 60)``; each one is counted. An oracle also
checks the other side: a request is refused only if N requests were admitted in the 60 s
before it (the tracker is not merely refusing everything).
"""

from __future__ import annotations

import math
import random
from collections.abc import Callable, Iterator

import pytest

from sim06.services.common.redis_state import RedisRateLimiter
from sim06.services.gateway.quota import HOLD_MS, QuotaTracker
from tests.backends import REDIS_URL, needs_redis
from tests.services.gateway.replica_agencies import clear_redis, redis_prefix

MINUTE = 60.0
BOUNDARY = 28_000_000 * MINUTE  # a whole minute of the epoch (2023-03-28 10:40 UTC)


class Clock:
    """A clock the test moves."""

    def __init__(self, now: float) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


Make = Callable[[Clock], QuotaTracker]


@pytest.fixture(params=["memory", pytest.param("redis", marks=needs_redis)])
def make(request: pytest.FixtureRequest) -> Iterator[Make]:
    if request.param == "memory":
        yield lambda clock: QuotaTracker(clock)
        return
    assert REDIS_URL is not None
    prefix = redis_prefix()
    limiters: list[RedisRateLimiter] = []

    def redis_tracker(clock: Clock) -> QuotaTracker:
        limiters.append(RedisRateLimiter(REDIS_URL, prefix=prefix, clock=clock))
        return QuotaTracker(shared=limiters[-1])

    yield redis_tracker
    clear_redis(REDIS_URL, prefix)


def run(tracker: QuotaTracker, clock: Clock, times: list[float], quota: int) -> list[float]:
    """Send one request at each time; the times admitted (refusals carry a Retry-After)."""
    admitted = []
    for t in times:
        clock.now = t
        wait = tracker.take("agency", quota)
        if wait is None:
            admitted.append(t)
        else:
            assert 1 <= wait <= 61
    return admitted


def busiest_span(admitted: list[float]) -> int:
    """The most admissions in any half-open 60 s span (the busiest starts at an admission)."""
    return max((sum(1 for u in admitted if t <= u < t + MINUTE) for t in admitted), default=0)


def assert_refused_only_when_full(times: list[float], admitted: list[float], quota: int) -> None:
    # The oracle of the tracker's rule: a request at ms m is refused iff `quota` admissions
    # fall at ms a with m - a < HOLD_MS.
    done = set(admitted)
    ms = [math.floor(t * 1000) for t in admitted]
    for t in times:
        if t in done:
            continue
        m = math.floor(t * 1000)
        recent = sum(1 for a in ms if a <= m and m - a < HOLD_MS)
        assert recent >= quota, f"refused at {t - BOUNDARY:+.3f} s with {recent} < {quota}"


def test_a_burst_across_the_minute_boundary_is_not_admitted_twice(make: Make) -> None:
    quota = 10
    clock = Clock(BOUNDARY - 0.5)
    tracker = make(clock)
    # Ten in the last half second of a minute, ten in the first half second of the next: the
    # fixed window admitted all twenty within one second.
    burst = [BOUNDARY - 0.5 + i * 0.05 for i in range(20)]
    admitted = run(tracker, clock, burst, quota)
    assert admitted == burst[:10]
    # Still refused almost a minute later, with the wait that ends the first admission's hold.
    clock.now = BOUNDARY + 59.4
    assert tracker.take("agency", quota) == 1
    # Admitted again once the first admission is more than 60 s old, one for each that left.
    late = [BOUNDARY - 0.5 + MINUTE + 0.002, BOUNDARY - 0.5 + MINUTE + 0.003]
    assert run(tracker, clock, late, quota) == late[:1]
    assert busiest_span(admitted + late[:1]) == quota


def test_every_60_second_span_holds_at_most_the_quota(make: Make) -> None:
    quota = 25
    rng = random.Random(17)
    times: list[float] = []
    # Bursts around four minute boundaries and a steady trickle between them (3½ minutes).
    for k in range(4):
        edge = BOUNDARY + k * MINUTE
        times += [edge + rng.uniform(-1.5, 1.5) for _ in range(40)]
    times += [BOUNDARY - 30 + i * 0.7 for i in range(300)]
    times.sort()
    clock = Clock(times[0])
    admitted = run(make(clock), clock, times, quota)
    assert busiest_span(admitted) <= quota
    assert_refused_only_when_full(times, admitted, quota)
    assert len(admitted) >= 4 * quota  # four minutes' worth were admitted, not fewer


def test_replicas_share_one_log(make: Make) -> None:
    clock = Clock(BOUNDARY - 0.2)
    a, b = make(clock), make(clock)
    times = [BOUNDARY - 0.2 + i * 0.01 for i in range(40)]
    admitted = []
    for i, t in enumerate(times):
        clock.now = t
        if (a if i % 2 else b).take("agency", 7) is None:
            admitted.append(t)
        if i == 0:
            assert a.take("other-agency", 7) is None  # counted on its own
    if a.shared is None:  # in process, each tracker counts alone
        assert len(admitted) == 14
    else:
        assert admitted == times[:7]


def test_snapshot_restore_is_a_copy() -> None:
    clock = Clock(BOUNDARY)
    tracker = QuotaTracker(clock)
    assert tracker.take("agency", 2) is None
    saved = tracker.snapshot()
    assert tracker.take("agency", 2) is None
    assert tracker.take("agency", 2) is not None
    tracker.restore(saved)
    assert tracker.take("agency", 2) is None  # the snapshot did not see the later take
    assert tracker.take("agency", 2) is not None
    tracker.restore(saved)
    assert tracker.take("agency", 2) is None  # restorable twice

"""The adaptive limit (Gradient2 over time per cost unit, plus the event-loop delay target)."""

from __future__ import annotations

import pytest

from sim06.services.common.admission_limit import GradientLimit


def limit(**kwargs: float) -> GradientLimit:
    values: dict[str, float] = {"limit": 100, "minimum": 10, "maximum": 1000} | kwargs
    return GradientLimit(
        limit=values["limit"],
        minimum=int(values["minimum"]),
        maximum=int(values["maximum"]),
        target_ms=values.get("target_ms", 10.0),
    )


def test_grows_while_latency_stays_low_and_the_load_uses_it() -> None:
    g = limit()
    seen = [g.update(0.1, lag_ms=1.0, peak=int(g.limit)) for _ in range(50)]
    assert seen == sorted(seen) and seen[-1] > 130
    assert g.long_rtt == pytest.approx(0.1)


def test_does_not_grow_when_the_load_never_came_near_it() -> None:
    g = limit()
    for _ in range(50):
        assert g.update(0.1, lag_ms=1.0, peak=10) == 100


def test_shrinks_when_time_per_unit_rises_past_the_tolerance() -> None:
    g = limit()
    for _ in range(20):
        g.update(0.1, lag_ms=1.0, peak=100)
    grown = g.limit
    for _ in range(20):
        g.update(1.0, lag_ms=1.0, peak=100)  # 10x slower per unit: gradient 0.5
    assert g.limit < grown / 2


def test_tolerates_slower_windows_within_the_tolerance() -> None:
    g = limit()
    g.update(0.1, lag_ms=0.0, peak=100)
    before = g.limit
    g.update(0.19, lag_ms=0.0, peak=100)  # under 2x the long average
    assert g.limit > before


def test_shrinks_when_the_event_loop_delay_exceeds_the_target() -> None:
    g = limit(target_ms=10)
    for _ in range(20):
        g.update(None, lag_ms=40.0, peak=0)  # no request finished: the loop delay alone
    assert g.limit < 40


def test_stays_within_its_bounds() -> None:
    g = limit(limit=50, minimum=20, maximum=60)
    for _ in range(200):
        g.update(0.1, lag_ms=0.0, peak=1000)
    assert g.limit == 60
    for _ in range(200):
        g.update(5.0, lag_ms=500.0, peak=1000)
    assert g.limit == 20
    assert limit(limit=5000).limit == 1000  # the start is clamped too


def test_refuses_inconsistent_bounds() -> None:
    with pytest.raises(ValueError, match="minimum"):
        GradientLimit(limit=10, minimum=20, maximum=10)

"""Helpers shared by the load generator and the flow runner: latency summary, event loop."""

from __future__ import annotations

import asyncio
from array import array
from collections.abc import Callable, Coroutine
from typing import Any, TypeVar

__all__ = ["LatencyRecorder", "latency_summary", "run_sync"]

T = TypeVar("T")

_NS_PER_MS = 1_000_000.0


class LatencyRecorder:
    """Latencies in nanoseconds in a preallocated ``array('q')`` that doubles when full."""

    __slots__ = ("count", "values")

    def __init__(self, capacity: int = 1 << 16) -> None:
        self.values = array("q", bytes(8 * max(capacity, 16)))
        self.count = 0

    def add(self, latency_ns: int) -> None:
        """Record one latency."""
        count = self.count
        values = self.values
        if count == len(values):
            values.frombytes(bytes(8 * count))
        values[count] = latency_ns
        self.count = count + 1

    def recorded(self) -> list[int]:
        """The recorded latencies, sorted."""
        return sorted(self.values[: self.count])


def _rank(ordered: list[int], fraction: float) -> float:
    # Nearest-rank percentile: the smallest value with at least `fraction` of samples <= it.
    # Integer arithmetic in permille avoids float ceil errors (0.9 * 10 -> 9.000000000000002).
    permille = round(fraction * 1000)
    index = max(0, (permille * len(ordered) + 999) // 1000 - 1)
    return ordered[index] / _NS_PER_MS


def latency_summary(recorder: LatencyRecorder) -> dict[str, float]:
    """Percentiles, max and mean in milliseconds (zeros when nothing was recorded)."""
    ordered = recorder.recorded()
    if not ordered:
        return dict.fromkeys(("p50_ms", "p90_ms", "p99_ms", "p999_ms", "max_ms", "mean_ms"), 0.0)
    return {
        "p50_ms": _rank(ordered, 0.50),
        "p90_ms": _rank(ordered, 0.90),
        "p99_ms": _rank(ordered, 0.99),
        "p999_ms": _rank(ordered, 0.999),
        "max_ms": ordered[-1] / _NS_PER_MS,
        "mean_ms": sum(ordered) / len(ordered) / _NS_PER_MS,
    }


def _loop_factory() -> Callable[[], asyncio.AbstractEventLoop] | None:
    try:
        import uvloop
    except ImportError:  # pragma: no cover - uvloop is a dependency via uvicorn[standard]
        return None
    return uvloop.new_event_loop


def run_sync(coro: Coroutine[Any, Any, T]) -> T:
    """Run ``coro`` to completion on a fresh event loop, uvloop when installed."""
    with asyncio.Runner(loop_factory=_loop_factory()) as runner:
        return runner.run(coro)

"""Replay protection: remember one-time identifiers (``jti`` of client assertions, ``MaYeuCau``
of exchanges) for as long as they could be replayed.

In memory for the embedded single-process gateway; with a shared cache (``RedisReplayCache``:
``SET NX PX``, chosen by :mod:`services.gateway.state` when ``SIM06_REDIS_URL`` is set) an
identifier used at one replica is refused at every other.
"""

from __future__ import annotations

import heapq
import time
from collections.abc import Callable
from typing import Protocol


class SharedReplay(Protocol):
    """A replay cache shared by replicas: ``first_use`` as :meth:`ReplayCache.first_use`."""

    def first_use(self, key: str, ttl: float) -> bool: ...


class ReplayCache:
    """Identifiers seen within their time-to-live.

    Expired identifiers leave in expiry order (a heap beside the dict), so each call does
    amortised O(log n) work; no periodic sweep over the whole cache stalls the event loop.
    """

    def __init__(
        self,
        *,
        max_entries: int = 2_000_000,
        clock: Callable[[], float] = time.monotonic,
        shared: SharedReplay | None = None,
    ) -> None:
        self._expiry: dict[str, float] = {}
        self._deadlines: list[tuple[float, str]] = []
        self._max = max_entries
        self._clock = clock
        self.shared = shared

    def first_use(self, key: str, ttl: float) -> bool:
        """True the first time ``key`` is seen within ``ttl`` seconds; False on a replay."""
        if self.shared is not None:
            return self.shared.first_use(key, ttl)
        now = self._clock()
        expiry = self._expiry.get(key)
        if expiry is not None and expiry > now:
            return False
        self._purge(now)
        if len(self._expiry) >= self._max:
            # Refusing is safer than forgetting: a full cache must not let a replay through.
            return False
        until = now + ttl
        self._expiry[key] = until
        heapq.heappush(self._deadlines, (until, key))
        return True

    def _purge(self, now: float) -> None:
        deadlines, expiry = self._deadlines, self._expiry
        while deadlines and deadlines[0][0] <= now:
            until, key = heapq.heappop(deadlines)
            if expiry.get(key) == until:  # not re-armed since
                del expiry[key]

    def __len__(self) -> int:
        return len(self._expiry)

"""Per-agency request quotas in fixed one-minute windows (answered with 429 + Retry-After).

In process by default (the embedded gateway); with a shared counter (``RedisRateLimiter`` of
:mod:`services.common.redis_state`, chosen by :mod:`services.gateway.state` when
``SIM06_REDIS_URL`` is set) every replica counts in the same window, so a quota of N per minute
admits N across all of them.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from typing import Protocol


class SharedQuota(Protocol):
    """A counter shared by replicas: ``take`` as :meth:`QuotaTracker.take`."""

    def take(self, agency: str, per_minute: int) -> int | None: ...


class QuotaTracker:
    """Counts each agency's requests in the current minute (in process, or ``shared``)."""

    def __init__(
        self, clock: Callable[[], float] = time.time, *, shared: SharedQuota | None = None
    ) -> None:
        self._clock = clock
        self._window: dict[str, tuple[int, int]] = {}
        self.shared = shared

    def take(self, agency: str, per_minute: int) -> int | None:
        """Count one request; None if within quota, else the seconds until the next window."""
        if self.shared is not None:
            return self.shared.take(agency, per_minute)
        now = self._clock()
        window = int(now // 60)
        current, used = self._window.get(agency, (window, 0))
        if current != window:
            current, used = window, 0
        if used >= per_minute:
            return max(1, math.ceil((window + 1) * 60 - now))
        self._window[agency] = (current, used + 1)
        return None

"""Per-agency request quotas in fixed one-minute windows (answered with 429 + Retry-After)."""

from __future__ import annotations

import math
import time
from collections.abc import Callable


class QuotaTracker:
    """Counts each agency's requests in the current minute."""

    def __init__(self, clock: Callable[[], float] = time.time) -> None:
        self._clock = clock
        self._window: dict[str, tuple[int, int]] = {}

    def take(self, agency: str, per_minute: int) -> int | None:
        """Count one request; None if within quota, else the seconds until the next window."""
        now = self._clock()
        window = int(now // 60)
        current, used = self._window.get(agency, (window, 0))
        if current != window:
            current, used = window, 0
        if used >= per_minute:
            return max(1, math.ceil((window + 1) * 60 - now))
        self._window[agency] = (current, used + 1)
        return None

"""Per-agency request quotas over a sliding 60-second window (answered with 429 + Retry-After).

A request is admitted only if fewer than ``per_minute`` requests were admitted in the 60
seconds before it, so no 60-second span, wherever it starts, holds more than the quota. (A
fixed window aligned on the minute let an agency send twice its quota across the boundary:
N at 12:00:59 and N more at 12:01:00.)

The log is a sliding log of one-millisecond slots ``[ms, admitted]`` with a running total:
memory is bounded by min(quota, 60 000) slots per agency and a request costs O(1) amortised
(expired slots leave from the front). An admission stays counted for 60 001 ms, one more than
the window, because two instants less than 60 s apart can fall on whole milliseconds 60 000
apart.

In process by default (the embedded gateway); with a shared log (``RedisRateLimiter`` of
:mod:`services.common.redis_state`, chosen by :mod:`services.gateway.state` when
``SIM06_REDIS_URL`` is set) every replica counts in the same log, on Redis's clock, so a quota
of N per minute admits N across all of them.

Why not the ``limits`` library's moving window: its in-memory log inserts every hit at the
front of a Python list (O(quota) per request) under a lock with a background expiry timer, its
clock is ``time.time()`` (no injectable clock for the boundary tests), and its Redis script is
given the calling replica's clock, so replicas with skewed clocks would each see another
window; the fixed-window script it replaces already used Redis's own clock.
"""

from __future__ import annotations

import copy
import math
import threading
import time
from collections import deque
from collections.abc import Callable
from typing import Protocol

WINDOW_MS = 60_000
# An admission at slot ms counts while now - ms < HOLD_MS (see the module docstring).
HOLD_MS = WINDOW_MS + 1


class SharedQuota(Protocol):
    """A log shared by replicas: ``take`` as :meth:`QuotaTracker.take`."""

    def take(self, agency: str, per_minute: int) -> int | None: ...


class _Log:
    """One agency's admissions: slots ``[ms, count]``, oldest first, and their total."""

    __slots__ = ("slots", "used")

    def __init__(self) -> None:
        self.slots: deque[list[int]] = deque()
        self.used = 0

    def expire(self, now_ms: int) -> None:
        slots = self.slots
        while slots and now_ms - slots[0][0] >= HOLD_MS:
            self.used -= slots.popleft()[1]

    def wait_ms(self, now_ms: int, limit: int) -> int:
        """Milliseconds until enough slots leave for one more admission under ``limit``."""
        leave = self.used - limit + 1  # admissions that must expire first
        for ms, count in self.slots:
            leave -= count
            if leave <= 0:
                return ms + HOLD_MS - now_ms
        return 0


class QuotaTracker:
    """Counts each agency's requests in the last 60 seconds (in process, or ``shared``)."""

    def __init__(
        self, clock: Callable[[], float] = time.time, *, shared: SharedQuota | None = None
    ) -> None:
        self._clock = clock
        self._logs: dict[str, _Log] = {}
        self._lock = threading.Lock()
        self.shared = shared

    def take(self, agency: str, per_minute: int) -> int | None:
        """Count one request; None if within quota, else the seconds until one is admitted."""
        if self.shared is not None:
            return self.shared.take(agency, per_minute)
        now_ms = math.floor(self._clock() * 1000)
        with self._lock:
            log = self._logs.get(agency)
            if log is None:
                log = self._logs[agency] = _Log()
            log.expire(now_ms)
            if log.used >= per_minute:
                return max(1, math.ceil(log.wait_ms(now_ms, per_minute) / 1000))
            slots = log.slots
            if slots and slots[-1][0] >= now_ms:  # same millisecond (or the clock stepped back)
                slots[-1][1] += 1
            else:
                slots.append([now_ms, 1])
            log.used += 1
        return None

    def snapshot(self) -> dict[str, _Log]:
        """A deep copy of the logs (the test harness's state snapshots)."""
        with self._lock:
            return copy.deepcopy(self._logs)

    def restore(self, logs: dict[str, _Log]) -> None:
        """Put back a :meth:`snapshot` (copied again: a snapshot may be restored twice)."""
        with self._lock:
            self._logs = copy.deepcopy(logs)

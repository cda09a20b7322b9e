"""The adaptive admission limit: a gradient over latency (Netflix concurrency-limits' Gradient2).

The limit is a number of cost units a service may have in flight. Once per window (about every
100 ms, off the request path) the controller hands :meth:`GradientLimit.update` what the window
saw:

- ``short_rtt``: the mean time per cost unit of the requests that finished in the window;
- ``lag_ms``: the longest event-loop delay measured in the window (the time a request that
  arrived then waited before any Python code of the service ran: the queue in front of the
  middleware, which no in-process timer of a request sees);
- ``peak``: the most cost units that were in flight at once.

Gradient2: ``gradient = clamp(tolerance * long_rtt / short_rtt, 0.5, 1)``, where ``long_rtt`` is
a slow moving average of ``short_rtt`` (the latency the service has when it is not queueing).
The event-loop delay adds a second gradient, ``target_ms / lag_ms``, when it exceeds the
target: CoDel's idea of a target queueing delay. The new limit is ``limit * gradient +
sqrt(limit)`` (the square root lets it probe upwards), smoothed, and held between the bounds.
A limit that the load never came near (peak under half of it) does not grow: a quiet service
must not end up with an unbounded limit that the next burst would then take in whole.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

__all__ = ["GradientLimit"]

# Gradient2's defaults: the long average spans about 600 windows; a long average that has
# drifted above twice the short one (after a slow period) decays back towards it.
LONG_WINDOWS = 600
DRIFT_DECAY = 0.95
MIN_GRADIENT = 0.5


@dataclass(slots=True)
class GradientLimit:
    """An adaptive limit in cost units, between ``minimum`` and ``maximum``."""

    limit: float
    minimum: int
    maximum: int
    target_ms: float = 10.0  # event-loop delay above which the limit shrinks
    tolerance: float = 2.0  # how much slower than the long average a window may be
    smoothing: float = 0.2
    long_rtt: float = 0.0  # ms per cost unit; 0: no sample yet

    def __post_init__(self) -> None:
        if not 1 <= self.minimum <= self.maximum:
            raise ValueError("need 1 <= minimum <= maximum")
        self.limit = min(max(float(self.limit), self.minimum), self.maximum)

    def update(self, short_rtt: float | None, lag_ms: float, peak: int) -> float:
        """Fold one window's measurements into the limit; returns the new limit.

        ``short_rtt`` is None when no request finished in the window.
        """
        gradient = 1.0
        if short_rtt is not None and short_rtt > 0:
            long_rtt = self.long_rtt or short_rtt
            long_rtt += (short_rtt - long_rtt) / LONG_WINDOWS
            if long_rtt > 2 * short_rtt:
                long_rtt *= DRIFT_DECAY
            self.long_rtt = long_rtt
            gradient = max(MIN_GRADIENT, min(1.0, self.tolerance * long_rtt / short_rtt))
        if lag_ms > self.target_ms:
            gradient = min(gradient, max(MIN_GRADIENT, self.target_ms / lag_ms))
        limit = self.limit
        if gradient >= 1.0 and peak < limit / 2:
            return limit  # the load never tested this limit: nothing learnt
        proposed = limit * gradient + math.sqrt(limit)
        limit = limit * (1 - self.smoothing) + proposed * self.smoothing
        self.limit = min(max(limit, self.minimum), self.maximum)
        return self.limit

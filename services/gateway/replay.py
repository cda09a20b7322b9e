"""Replay protection: remember one-time identifiers (``jti`` of client assertions, ``MaYeuCau``
of exchanges) for as long as they could be replayed.

In-memory, for the embedded single-process gateway; several replicas would share a Redis
``SET NX EX`` behind the same two methods.
"""

from __future__ import annotations

import time


class ReplayCache:
    """Identifiers seen within their time-to-live."""

    def __init__(self, *, max_entries: int = 2_000_000) -> None:
        self._expiry: dict[str, float] = {}
        self._max = max_entries
        self._next_purge = 0.0

    def first_use(self, key: str, ttl: float) -> bool:
        """True the first time ``key`` is seen within ``ttl`` seconds; False on a replay."""
        now = time.monotonic()
        expiry = self._expiry.get(key)
        if expiry is not None and expiry > now:
            return False
        if now >= self._next_purge or len(self._expiry) >= self._max:
            self._purge(now)
        if len(self._expiry) >= self._max:
            # Refusing is safer than forgetting: a full cache must not let a replay through.
            return False
        self._expiry[key] = now + ttl
        return True

    def _purge(self, now: float) -> None:
        self._expiry = {k: t for k, t in self._expiry.items() if t > now}
        self._next_purge = now + 10.0

    def __len__(self) -> int:
        return len(self._expiry)

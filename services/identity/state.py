"""Transient state of the provider: codes, sessions, replay cache, refresh tokens, grants.

Everything that must be shared between replicas goes through :class:`StateStore`, a small
key-value interface with per-key expiry whose operations map one-to-one onto Redis
(``SET PX``, ``SET NX PX``, ``GETDEL``, ``DEL``), so a Redis implementation can replace
:class:`MemoryStateStore` (the embedded default) without touching the provider.

Keys are namespaced strings (``code:…``, ``jti:…``); values are JSON-serialisable dicts.
"""

from __future__ import annotations

import heapq
import time
from collections.abc import Callable
from typing import Any, Protocol

__all__ = ["MemoryStateStore", "StateStore"]


class StateStore(Protocol):
    """Key-value store with expiry; every operation is atomic."""

    def put(self, key: str, value: dict[str, Any], ttl: float | None) -> None:
        """Set ``key`` (overwrite), expiring after ``ttl`` seconds (None: never)."""

    def add(self, key: str, value: dict[str, Any], ttl: float | None) -> bool:
        """Set ``key`` only if absent; False if it already exists (replay caches)."""

    def get(self, key: str) -> dict[str, Any] | None:
        """The live value of ``key``, or None."""

    def take(self, key: str) -> dict[str, Any] | None:
        """Get and delete in one step: single-use values (authorization codes)."""

    def delete(self, key: str) -> bool:
        """Remove ``key``; True if it was there."""


class MemoryStateStore:
    """In-process :class:`StateStore`: a dict plus an expiry heap, swept lazily.

    One event loop and no awaits inside the operations make each of them atomic.
    """

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._data: dict[str, tuple[float | None, dict[str, Any]]] = {}
        self._expiry: list[tuple[float, str]] = []

    def _sweep(self, now: float) -> None:
        # Bounded memory: expired entries go as soon as any operation passes their deadline.
        heap = self._expiry
        while heap and heap[0][0] <= now:
            deadline, key = heapq.heappop(heap)
            entry = self._data.get(key)
            if entry is not None and entry[0] is not None and entry[0] <= now:
                del self._data[key]

    def _live(self, key: str, now: float) -> dict[str, Any] | None:
        entry = self._data.get(key)
        if entry is None:
            return None
        if entry[0] is not None and entry[0] <= now:
            del self._data[key]
            return None
        return entry[1]

    def put(self, key: str, value: dict[str, Any], ttl: float | None) -> None:
        now = self._clock()
        self._sweep(now)
        deadline = None if ttl is None else now + ttl
        self._data[key] = (deadline, value)
        if deadline is not None:
            heapq.heappush(self._expiry, (deadline, key))

    def add(self, key: str, value: dict[str, Any], ttl: float | None) -> bool:
        now = self._clock()
        if self._live(key, now) is not None:
            return False
        self.put(key, value, ttl)
        return True

    def get(self, key: str) -> dict[str, Any] | None:
        return self._live(key, self._clock())

    def take(self, key: str) -> dict[str, Any] | None:
        value = self._live(key, self._clock())
        if value is not None:
            del self._data[key]
        return value

    def delete(self, key: str) -> bool:
        return self._data.pop(key, None) is not None

    def __len__(self) -> int:
        self._sweep(self._clock())
        return len(self._data)

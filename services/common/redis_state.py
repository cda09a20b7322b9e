"""State shared by replicas, in Redis: key-value with expiry, rate limits, replay caches.

- :class:`RedisStateStore` is the identity provider's ``StateStore`` (authorization codes,
  sessions, refresh tokens, client-assertion ``jti``): each operation is one Redis command
  (``SET PX``, ``SET NX PX``, ``GET``, ``GETDEL``, ``DEL``), hence atomic across replicas.
- :class:`RedisRateLimiter` counts hits in fixed windows aligned on Redis's own clock (one Lua
  script: replicas with skewed clocks still share one window), and admits exactly ``limit``.
- :class:`RedisReplayCache` remembers one-time identifiers with ``SET NX PX``.

Every key is prefixed (default ``sim06:``) so several environments or test runs can share one
Redis. The client is synchronous, like the embedded stores it replaces: a loopback round trip
is about 0.1 ms, short enough to make from the event loop.
"""

from __future__ import annotations

import math
from typing import Any

import orjson
import redis

__all__ = ["RedisRateLimiter", "RedisReplayCache", "RedisStateStore", "connect"]

DEFAULT_PREFIX = "sim06:"

# KEYS[1]: counter base key; ARGV[1]: limit; ARGV[2]: window in ms.
# Returns {admitted (1/0), ms until the window ends}. Refused hits are not counted, so a client
# retrying in a loop cannot push the window's count past the limit.
_FIXED_WINDOW = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local window = tonumber(ARGV[2])
local start = now - (now % window)
local key = KEYS[1] .. ':' .. start
local used = tonumber(redis.call('GET', key) or '0')
local left = start + window - now
if used >= tonumber(ARGV[1]) then
  return {0, left}
end
redis.call('INCR', key)
if used == 0 then
  redis.call('PEXPIRE', key, left + 1000)
end
return {1, left}
"""


def connect(url: str) -> redis.Redis:
    """A Redis client (with its own connection pool) for ``redis://host:port/db``."""
    return redis.Redis.from_url(url, socket_timeout=5.0, socket_connect_timeout=5.0)


def _ms(ttl: float) -> int:
    # Redis rejects PX 0; a positive TTL below a millisecond still means "expire soon".
    return max(1, math.ceil(ttl * 1000))


class RedisStateStore:
    """``StateStore`` (services.identity.state) in Redis; values are JSON objects."""

    def __init__(
        self, url: str | redis.Redis, *, prefix: str = DEFAULT_PREFIX + "identity:"
    ) -> None:
        self._r = connect(url) if isinstance(url, str) else url
        self.prefix = prefix

    def _k(self, key: str) -> str:
        return self.prefix + key

    def put(self, key: str, value: dict[str, Any], ttl: float | None) -> None:
        """Set ``key`` (overwrite), expiring after ``ttl`` seconds (None: never)."""
        self._r.set(self._k(key), orjson.dumps(value), px=None if ttl is None else _ms(ttl))

    def add(self, key: str, value: dict[str, Any], ttl: float | None) -> bool:
        """Set ``key`` only if absent; False if it already exists (replay caches)."""
        done = self._r.set(
            self._k(key), orjson.dumps(value), px=None if ttl is None else _ms(ttl), nx=True
        )
        return bool(done)

    def get(self, key: str) -> dict[str, Any] | None:
        """The live value of ``key``, or None."""
        raw = self._r.get(self._k(key))
        return None if raw is None else _loads(raw)

    def take(self, key: str) -> dict[str, Any] | None:
        """Get and delete in one step (``GETDEL``): single use even across replicas."""
        raw = self._r.getdel(self._k(key))
        return None if raw is None else _loads(raw)

    def delete(self, key: str) -> bool:
        """Remove ``key``; True if it was there."""
        return int(self._r.delete(self._k(key))) > 0

    def __len__(self) -> int:
        # Diagnostics and tests only: SCAN walks the whole keyspace.
        return sum(1 for _ in self._r.scan_iter(match=_glob(self.prefix) + "*", count=1000))

    def clear(self) -> int:
        """Delete every key under the prefix (tests, resetting an environment)."""
        keys = list(self._r.scan_iter(match=_glob(self.prefix) + "*", count=1000))
        return int(self._r.delete(*keys)) if keys else 0

    def ping(self) -> bool:
        """True when Redis answers."""
        try:
            return bool(self._r.ping())
        except redis.RedisError:
            return False

    def close(self) -> None:
        """Release the connections."""
        self._r.close()


class RedisRateLimiter:
    """Fixed-window request counters shared by every replica (gateway quotas)."""

    def __init__(self, url: str | redis.Redis, *, prefix: str = DEFAULT_PREFIX + "rate:") -> None:
        self._r = connect(url) if isinstance(url, str) else url
        self.prefix = prefix
        self._script = self._r.register_script(_FIXED_WINDOW)

    def hit(self, key: str, limit: int, window_s: float) -> tuple[bool, float]:
        """Count one hit of ``key``: ``(allowed, seconds until the window ends)``.

        At most ``limit`` hits are allowed per window, whichever replica counts them.
        """
        if limit <= 0:
            return False, window_s
        admitted, left_ms = self._script(keys=[self.prefix + key], args=[limit, _ms(window_s)])
        return bool(admitted), int(left_ms) / 1000

    def take(self, agency: str, per_minute: int) -> int | None:
        """``QuotaTracker.take`` of the gateway: None if within quota, else Retry-After (s)."""
        allowed, left = self.hit(agency, per_minute, 60)
        return None if allowed else max(1, math.ceil(left))


class RedisReplayCache:
    """One-time identifiers (``jti``, ``MaYeuCau``) remembered for their time to live."""

    def __init__(self, url: str | redis.Redis, *, prefix: str = DEFAULT_PREFIX + "replay:") -> None:
        self._r = connect(url) if isinstance(url, str) else url
        self.prefix = prefix

    def first_use(self, key: str, ttl: float) -> bool:
        """True the first time ``key`` is seen within ``ttl`` seconds; False on a replay."""
        return bool(self._r.set(self.prefix + key, b"1", px=_ms(ttl), nx=True))


def _loads(raw: Any) -> dict[str, Any]:
    value = orjson.loads(raw)
    if not isinstance(value, dict):
        raise TypeError(f"state value is not a JSON object: {value!r}")
    return value


def _glob(text: str) -> str:
    # A prefix is matched literally, not as a pattern.
    return "".join("\\" + c if c in "*?[]\\" else c for c in text)

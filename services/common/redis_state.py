"""State shared by replicas, in Redis: key-value with expiry, rate limits, replay caches.

- :class:`RedisStateStore` is the identity provider's ``StateStore`` (authorization codes,
  sessions, refresh tokens, client-assertion ``jti``): each operation is one Redis command
  (``SET PX``, ``SET NX PX``, ``GET``, ``GETDEL``, ``DEL``), hence atomic across replicas.
- :class:`RedisRateLimiter` keeps a sliding log of hits on Redis's own clock (one Lua script:
  replicas with skewed clocks still share one log), and admits at most ``limit`` in any window.
- :class:`RedisReplayCache` remembers one-time identifiers with ``SET NX PX``.
- :class:`RedisFaultState` holds the fault-injection state (``<prefix>faults:state``, a JSON
  document, and ``<prefix>faults:version``), which ``FaultController`` polls and publishes.

Every key is prefixed (default ``sim06:``) so several environments or test runs can share one
Redis. The client is synchronous, like the embedded stores it replaces: a loopback round trip
is about 0.1 ms, short enough to make from the event loop.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import orjson
import redis

from sim06.services.common.faults import SharedStateUnavailable

__all__ = [
    "RedisFaultState",
    "RedisRateLimiter",
    "RedisReplayCache",
    "RedisStateStore",
    "connect",
]

DEFAULT_PREFIX = "sim06:"

# A sliding log (services.gateway.quota): KEYS[1] a list of "ms:count" slots, oldest first,
# KEYS[2] their total. ARGV[1]: limit; ARGV[2]: hold in ms (an admission counts while
# now - ms < hold); ARGV[3]: now in ms, or '' for Redis's own clock (replicas with skewed
# clocks still share one log). Returns {admitted (1/0), ms until one more would be admitted}.
# Refused hits are not counted, so a client retrying in a loop cannot keep itself out.
_SLIDING_LOG = """
local now
if ARGV[3] ~= '' then
  now = tonumber(ARGV[3])
else
  local t = redis.call('TIME')
  now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
end
local limit = tonumber(ARGV[1])
local hold = tonumber(ARGV[2])
local function slot(raw)
  local sep = string.find(raw, ':', 1, true)
  return tonumber(string.sub(raw, 1, sep - 1)), tonumber(string.sub(raw, sep + 1))
end
local used = tonumber(redis.call('GET', KEYS[2]) or '0')
while true do
  local head = redis.call('LINDEX', KEYS[1], 0)
  if not head then
    used = 0
    break
  end
  local ms, count = slot(head)
  if now - ms < hold then
    break
  end
  used = used - count
  redis.call('LPOP', KEYS[1])
end
if used >= limit then
  redis.call('SET', KEYS[2], used, 'KEEPTTL')
  local leave = used - limit + 1
  local i = 0
  while true do
    local raw = redis.call('LINDEX', KEYS[1], i)
    if not raw then
      return {0, 0}
    end
    local ms, count = slot(raw)
    leave = leave - count
    if leave <= 0 then
      return {0, ms + hold - now}
    end
    i = i + 1
  end
end
local tail = redis.call('LINDEX', KEYS[1], -1)
local last, count = 0, 0
if tail then
  last, count = slot(tail)
end
if tail and last >= now then
  redis.call('LSET', KEYS[1], -1, last .. ':' .. (count + 1))
else
  redis.call('RPUSH', KEYS[1], now .. ':1')
end
redis.call('SET', KEYS[2], used + 1, 'PX', hold + 1000)
redis.call('PEXPIRE', KEYS[1], hold + 1000)
return {1, 0}
"""


# KEYS[1]: state, KEYS[2]: version; ARGV[1]: JSON document, ARGV[2]: the version it was based on.
# Returns the new version, or -1 if someone published in between (compare-and-set).
_PUBLISH_IF_VERSION = """
local v = tonumber(redis.call('GET', KEYS[2]) or '0')
if v ~= tonumber(ARGV[2]) then
  return -1
end
redis.call('SET', KEYS[1], ARGV[1])
return redis.call('INCR', KEYS[2])
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
    """Sliding-log request counters shared by every replica (gateway quotas).

    ``clock`` (seconds) replaces Redis's clock: tests that cross a minute boundary on purpose.
    """

    def __init__(
        self,
        url: str | redis.Redis,
        *,
        prefix: str = DEFAULT_PREFIX + "rate:",
        clock: Callable[[], float] | None = None,
    ) -> None:
        self._r = connect(url) if isinstance(url, str) else url
        self.prefix = prefix
        self._clock = clock
        self._script = self._r.register_script(_SLIDING_LOG)

    def hit(self, key: str, limit: int, window_s: float) -> tuple[bool, float]:
        """Count one hit of ``key``: ``(allowed, seconds until one more would be allowed)``.

        At most ``limit`` hits are allowed in any ``window_s`` span, whichever replica counts
        them (an admission counts for the window plus one millisecond; see
        :mod:`services.gateway.quota`).
        """
        if limit <= 0:
            return False, window_s
        now = "" if self._clock is None else str(math.floor(self._clock() * 1000))
        base = self.prefix + key
        admitted, wait_ms = self._script(
            keys=[base + ":log", base + ":n"], args=[limit, _ms(window_s) + 1, now]
        )
        return bool(admitted), int(wait_ms) / 1000

    def take(self, agency: str, per_minute: int) -> int | None:
        """``QuotaTracker.take`` of the gateway: None if within quota, else Retry-After (s)."""
        allowed, wait = self.hit(agency, per_minute, 60)
        return None if allowed else max(1, math.ceil(wait))


class RedisReplayCache:
    """One-time identifiers (``jti``, ``MaYeuCau``) remembered for their time to live."""

    def __init__(self, url: str | redis.Redis, *, prefix: str = DEFAULT_PREFIX + "replay:") -> None:
        self._r = connect(url) if isinstance(url, str) else url
        self.prefix = prefix

    def first_use(self, key: str, ttl: float) -> bool:
        """True the first time ``key`` is seen within ``ttl`` seconds; False on a replay."""
        return bool(self._r.set(self.prefix + key, b"1", px=_ms(ttl), nx=True))


class RedisFaultState:
    """The fault state shared by replicas (``services.common.faults.SharedFaultState``).

    The client has a short socket timeout (``timeout``, default 0.25 s): controllers poll the
    version from the event loop, at most every half second, and must not stall it when Redis
    is away; failures surface as ``SharedStateUnavailable``.
    """

    def __init__(
        self, url: str | redis.Redis, *, prefix: str = DEFAULT_PREFIX, timeout: float = 0.25
    ) -> None:
        if isinstance(url, str):
            url = redis.Redis.from_url(url, socket_timeout=timeout, socket_connect_timeout=timeout)
        self._r = url
        self.key = prefix + "faults:state"
        self.version_key = prefix + "faults:version"
        self._publish = self._r.register_script(_PUBLISH_IF_VERSION)

    def version(self) -> int:
        """The version counter (0: nothing published yet)."""
        try:
            raw = self._r.get(self.version_key)
        except redis.RedisError as exc:
            raise _unavailable(exc) from exc
        return int(raw or 0)

    def load(self) -> tuple[int, dict[str, Any] | None]:
        """The version and the document, read in one transaction (MULTI/EXEC)."""
        try:
            pipe = self._r.pipeline(transaction=True)
            pipe.get(self.version_key)
            pipe.get(self.key)
            raw_version, raw = pipe.execute()
        except redis.RedisError as exc:
            raise _unavailable(exc) from exc
        return int(raw_version or 0), None if raw is None else _loads(raw)

    def save(self, document: dict[str, Any], expected: int) -> int | None:
        """Publish ``document`` if the version is still ``expected``: the new version, or None."""
        try:
            version = int(self._publish(keys=[self.key, self.version_key],
                                        args=[orjson.dumps(document), expected]))  # fmt: skip
        except redis.RedisError as exc:
            raise _unavailable(exc) from exc
        return None if version < 0 else version

    def clear(self) -> None:
        """Forget the shared state (tests; a fresh environment): replicas keep their own."""
        self._r.delete(self.key, self.version_key)

    def close(self) -> None:
        """Release the connections."""
        self._r.close()


def _unavailable(exc: Exception) -> SharedStateUnavailable:
    return SharedStateUnavailable(f"redis: {exc}")


def _loads(raw: Any) -> dict[str, Any]:
    value = orjson.loads(raw)
    if not isinstance(value, dict):
        raise TypeError(f"state value is not a JSON object: {value!r}")
    return value


def _glob(text: str) -> str:
    # A prefix is matched literally, not as a pattern.
    return "".join("\\" + c if c in "*?[]\\" else c for c in text)

"""Where the gateway keeps its state: in process (embedded) or shared by replicas.

=====================  ==========================  ==========================================
state                  embedded (default)          shared (several gateway processes)
=====================  ==========================  ==========================================
quota counters         :class:`QuotaTracker`       Redis, ``SIM06_REDIS_URL`` (one window)
``MaYeuCau``, ``jti``  :class:`ReplayCache`        Redis ``SET NX PX`` (``SIM06_REDIS_URL``)
=====================  ==========================  ==========================================

The audit log's backends are in :mod:`services.audit.backends`.
"""

from __future__ import annotations

from dataclasses import dataclass

from sim06.services.common.settings import Settings
from sim06.services.gateway.quota import QuotaTracker
from sim06.services.gateway.replay import ReplayCache


@dataclass(frozen=True, slots=True)
class GatewayState:
    """Quotas, the request-id cache and the client-assertion ``jti`` cache."""

    quota: QuotaTracker
    request_ids: ReplayCache
    assertions: ReplayCache
    shared: bool


def gateway_state(settings: Settings) -> GatewayState:
    """Redis-backed when ``settings.redis_url`` is set, in process otherwise."""
    if not settings.redis_url:
        return GatewayState(QuotaTracker(), ReplayCache(), ReplayCache(), shared=False)
    from sim06.services.common.redis_state import RedisRateLimiter, RedisReplayCache, connect

    client = connect(settings.redis_url)  # one pool for the three
    prefix = settings.redis_prefix + "gateway:"
    return GatewayState(
        quota=QuotaTracker(shared=RedisRateLimiter(client, prefix=prefix + "quota:")),
        request_ids=ReplayCache(shared=RedisReplayCache(client, prefix=prefix + "request-id:")),
        assertions=ReplayCache(shared=RedisReplayCache(client, prefix=prefix + "jti:")),
        shared=True,
    )

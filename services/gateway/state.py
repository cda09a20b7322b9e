"""Where the gateway keeps its state: in process (embedded) or shared by replicas.

=====================  ==========================  ==========================================
state                  embedded (default)          shared (several gateway processes)
=====================  ==========================  ==========================================
quota counters         :class:`QuotaTracker`       Redis, ``SIM06_REDIS_URL`` (one window)
``MaYeuCau``, ``jti``  :class:`ReplayCache`        Redis ``SET NX PX`` (``SIM06_REDIS_URL``)
audit log              SQLite file                 PostgreSQL, ``SIM06_DATABASE_URL``
=====================  ==========================  ==========================================

An explicit ``SIM06_GATEWAY_AUDIT_PATH`` keeps the audit log in that SQLite file even with a
database URL (one process, or a file per environment).
"""

from __future__ import annotations

from dataclasses import dataclass

from services.common.settings import Settings
from services.gateway.audit import AuditLog
from services.gateway.quota import QuotaTracker
from services.gateway.replay import ReplayCache


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
    from services.common.redis_state import RedisRateLimiter, RedisReplayCache, connect

    client = connect(settings.redis_url)  # one pool for the three
    prefix = settings.redis_prefix + "gateway:"
    return GatewayState(
        quota=QuotaTracker(shared=RedisRateLimiter(client, prefix=prefix + "quota:")),
        request_ids=ReplayCache(shared=RedisReplayCache(client, prefix=prefix + "request-id:")),
        assertions=ReplayCache(shared=RedisReplayCache(client, prefix=prefix + "jti:")),
        shared=True,
    )


def audit_uses_postgres(settings: Settings) -> bool:
    """True when the audit log is the shared PostgreSQL chain."""
    return bool(settings.database_url) and settings.gateway_audit_path is None


def open_audit_log(settings: Settings) -> AuditLog:
    """The audit log of ``settings``: PostgreSQL when a database URL is set, else SQLite."""
    if audit_uses_postgres(settings):
        from services.gateway.audit_postgres import PostgresAuditLog

        assert settings.database_url is not None
        return PostgresAuditLog(settings.database_url, durable=settings.gateway_audit_durable)
    return AuditLog(
        settings.gateway_audit_path or settings.data_dir / "audit.db",
        durable=settings.gateway_audit_durable,
    )

"""Which audit log the settings name, where its signed tree heads go, and opening both.

=====================  ==========================  ==========================================
                       embedded (default)          shared (several gateway processes)
=====================  ==========================  ==========================================
records                SQLite file                 PostgreSQL, ``SIM06_DATABASE_URL``
signed tree heads      ``DATA_DIR/audit-checkpoints/<log>.jsonl`` (never in the log database)
audit key              ``DATA_DIR/keys/audit`` (ES256; not the response-signing key)
=====================  ==========================  ==========================================

An explicit ``SIM06_GATEWAY_AUDIT_PATH`` keeps the audit log in that SQLite file even with a
database URL (one process, or a file per environment).
"""

from __future__ import annotations

from pathlib import Path

from sim06.services.audit.checkpoints import Checkpoints, Stamper
from sim06.services.audit.sqlite import AuditLog
from sim06.services.common.keys import KeyStore
from sim06.services.common.settings import Settings

POSTGRES_LOG = "postgres"  # the log name of the shared PostgreSQL log


def audit_uses_postgres(settings: Settings) -> bool:
    """True when the audit log is the shared PostgreSQL chain."""
    return bool(settings.database_url) and settings.gateway_audit_path is None


def audit_path(settings: Settings) -> Path:
    """The audit log file the gateway writes with ``settings``."""
    return settings.gateway_audit_path or settings.data_dir / "audit.db"


def log_name(settings: Settings, path: Path | None = None) -> str:
    """The name of the log in its tree heads and checkpoint file: ``postgres`` or the SQLite
    file's stem (``audit`` for ``DATA_DIR/audit.db``)."""
    if path is None and audit_uses_postgres(settings):
        return POSTGRES_LOG
    return (path or audit_path(settings)).stem


def checkpoint_path(settings: Settings, name: str) -> Path:
    """The checkpoint file of the log ``name``."""
    directory = settings.audit_checkpoint_dir or settings.data_dir / "audit-checkpoints"
    return directory / f"{name}.jsonl"


def audit_keys(settings: Settings) -> KeyStore:
    """The audit key set (generated on first use): signs tree heads and nothing else."""
    return KeyStore(settings.keys_dir / "audit", alg="ES256")


def open_checkpoints(settings: Settings, name: str, stamp: Stamper | None = None) -> Checkpoints:
    """The signed tree heads of the log ``name`` (with the TSA of ``settings`` when asked)."""
    if stamp is None and settings.audit_timestamp:
        from sim06.services.audit.tsa import TimeStampAuthority

        stamp = TimeStampAuthority.of(settings).stamp
    return Checkpoints(
        checkpoint_path(settings, name),
        audit_keys(settings),
        name,
        every=settings.audit_checkpoint_every,
        interval=settings.audit_checkpoint_seconds,
        stamp=stamp,
    )


def open_audit_log(settings: Settings) -> AuditLog:
    """The audit log of ``settings`` with its checkpoints: PostgreSQL when a database URL is
    set, else SQLite."""
    checkpoints = open_checkpoints(settings, log_name(settings))
    if audit_uses_postgres(settings):
        from sim06.services.audit.postgres import PostgresAuditLog

        assert settings.database_url is not None
        return PostgresAuditLog(
            settings.database_url, durable=settings.gateway_audit_durable, checkpoints=checkpoints
        )
    return AuditLog(
        audit_path(settings), durable=settings.gateway_audit_durable, checkpoints=checkpoints
    )

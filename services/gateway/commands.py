"""Command-line actions of the gateway, for ``services/cli.py`` to expose.

sim06 audit verify [--file PATH]   → :func:`audit_verify`
"""

from __future__ import annotations

import sys
from pathlib import Path

from services.common.settings import Settings
from services.gateway.audit import ChainReport, verify_chain
from services.gateway.state import audit_uses_postgres


def audit_path(settings: Settings) -> Path:
    """The audit log file the gateway writes with ``settings``."""
    return settings.gateway_audit_path or settings.data_dir / "audit.db"


def audit_verify(settings: Settings, path: Path | None = None) -> int:
    """Check the audit chain; print the verdict; exit status 0 if intact, 1 otherwise.

    The chain is the file ``path`` if given, else the one the gateway writes with ``settings``:
    the PostgreSQL database of ``SIM06_DATABASE_URL`` (replicas) or the SQLite file.
    """
    report: ChainReport
    if path is None and audit_uses_postgres(settings):
        from services.gateway.audit_postgres import PostgresAuditLog, verify_postgres

        assert settings.database_url is not None
        report = verify_postgres(settings.database_url)
        target = PostgresAuditLog.where(settings.database_url)
    else:
        target = str(path or audit_path(settings))
        report = verify_chain(Path(target))
    if report.ok:
        sys.stdout.write(f"audit log intact: {report.records} records ({target})\n")
        return 0
    sys.stdout.write(
        f"audit log BROKEN at record {report.index}: {report.problem} "
        f"({report.records} records verified before it; {target})\n"
    )
    return 1

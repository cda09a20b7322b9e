"""Command-line actions of the gateway, for ``services/cli.py`` to expose.

sim06 audit verify [--file PATH]   → :func:`audit_verify`
"""

from __future__ import annotations

import sys
from pathlib import Path

from services.common.settings import Settings
from services.gateway.audit import verify_chain


def audit_path(settings: Settings) -> Path:
    """The audit log file the gateway writes with ``settings``."""
    return settings.gateway_audit_path or settings.data_dir / "audit.db"


def audit_verify(settings: Settings, path: Path | None = None) -> int:
    """Check the audit chain; print the verdict; exit status 0 if intact, 1 otherwise."""
    target = path or audit_path(settings)
    report = verify_chain(target)
    if report.ok:
        sys.stdout.write(f"audit log intact: {report.records} records ({target})\n")
        return 0
    sys.stdout.write(
        f"audit log BROKEN at record {report.index}: {report.problem} "
        f"({report.records} records verified before it; {target})\n"
    )
    return 1

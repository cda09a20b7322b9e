"""Command-line actions of the audit log, for ``services/cli.py`` to expose.

sim06 audit verify [--file PATH] [--checkpoints FILE]   → :func:`audit_verify`
"""

from __future__ import annotations

import sys
from pathlib import Path

from sim06.services.audit.backends import (
    audit_keys,
    audit_path,
    audit_uses_postgres,
    checkpoint_path,
    log_name,
)
from sim06.services.audit.checkpoints import CheckpointError
from sim06.services.audit.sqlite import verify_chain
from sim06.services.audit.verify import Anchor, ChainReport, load_anchor
from sim06.services.common.settings import Settings

__all__ = ["audit_path", "audit_verify", "verify_log"]


def verify_log(
    settings: Settings, path: Path | None = None, checkpoints: Path | None = None
) -> tuple[ChainReport, str]:
    """Check the audit log against its signed tree heads; the report and what was checked.

    The log is the file ``path`` if given, else the one the gateway writes with ``settings``
    (the PostgreSQL database of ``SIM06_DATABASE_URL``, or the SQLite file); its tree heads are
    ``checkpoints`` if given, else its file under ``DATA_DIR/audit-checkpoints``. A log that
    holds records but has no signed tree head at all fails: deleting the heads is tampering too.
    """
    name = log_name(settings, path)
    heads = checkpoints or checkpoint_path(settings, name)
    anchor: Anchor | None = None
    stamped = None
    if (settings.keys_dir / "tsa" / "tsa.pem").exists():  # heads may carry its time-stamps
        from sim06.services.audit.tsa import TimeStampAuthority

        stamped = TimeStampAuthority.of(settings).verify
    try:
        anchor = load_anchor(heads, audit_keys(settings), stamped)
    except CheckpointError as exc:
        return ChainReport(False, 0, None, f"the signed tree heads are not valid: {exc}"), str(
            heads
        )
    if checkpoints is None and anchor.heads and anchor.heads[-1].log != name:
        problem = f"the tree heads in {heads} are those of the log {anchor.heads[-1].log!r}"
        return ChainReport(False, 0, None, problem), str(heads)
    if path is None and audit_uses_postgres(settings):
        from sim06.services.audit.postgres import PostgresAuditLog, verify_postgres

        assert settings.database_url is not None
        report = verify_postgres(settings.database_url, anchor)
        target = PostgresAuditLog.where(settings.database_url)
    else:
        target = str(path or audit_path(settings))
        report = verify_chain(Path(target), anchor)
    if report.ok and report.records and not anchor.heads:
        report = ChainReport(
            False, report.records, None,
            f"no signed tree head covers the log ({heads} is missing or empty): the heads were "
            "deleted, or the log was written without them",
        )  # fmt: skip
    return report, f"{target}; tree heads {heads}"


def audit_verify(
    settings: Settings, path: Path | None = None, checkpoints: Path | None = None
) -> int:
    """``sim06 audit verify``: print the verdict; exit status 0 if intact, 1 otherwise."""
    report, target = verify_log(settings, path, checkpoints)
    if report.ok:
        unanchored = report.records - report.anchored
        tail = f", {unanchored} after the last head (chain only)" if unanchored else ""
        sys.stdout.write(
            f"audit log intact: {report.records} records, {report.heads} signed tree heads, "
            f"{report.anchored} records under the last one{tail} ({target})\n"
        )
        return 0
    where = f"at record {report.index}" if report.index is not None else "(no record named)"
    sys.stdout.write(
        f"audit log BROKEN {where}: {report.problem} "
        f"({report.records} records verified before it; {target})\n"
    )
    return 1

"""The same cover-ups on the PostgreSQL log (one chain for every replica): each fails
``sim06 audit verify`` at the first bad record. Needs ``SIM06_TEST_POSTGRES_URL``."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest
from psycopg.rows import dict_row

from sim06.services.audit import GENESIS
from sim06.services.audit.backends import open_audit_log
from sim06.services.audit.commands import audit_verify, verify_log
from sim06.services.audit.postgres import PostgresAuditLog
from sim06.services.common.settings import Settings
from tests.backends import POSTGRES_URL, needs_postgres
from tests.mock_registry.store.conftest import throwaway_database
from tests.services.audit.test_verify import FORGERIES, RECORDS, fill

pytestmark = needs_postgres


@pytest.fixture(scope="module")
def pg_db() -> Iterator[str]:
    assert POSTGRES_URL is not None
    with throwaway_database(POSTGRES_URL) as url:
        yield url


@pytest.fixture
def written(pg_db: str, tmp_path: Path) -> Settings:
    """An empty table, then 50 records with heads at 0, 10, ..., 50 (closed)."""
    PostgresAuditLog(pg_db).close()  # the schema
    with psycopg.connect(pg_db, autocommit=True) as conn:
        conn.execute("TRUNCATE audit, audit_subject")
        conn.execute("UPDATE audit_head SET seq = 0, hash = %s", (GENESIS,))
    settings = Settings(
        database_url=pg_db, data_dir=tmp_path, audit_checkpoint_every=10**9,
        audit_checkpoint_seconds=3600,
    )  # fmt: skip
    log = open_audit_log(settings)
    assert isinstance(log, PostgresAuditLog)
    fill(log, 1, RECORDS)
    log.close()
    return settings


def pg_backend(url: str) -> tuple[Callable[..., Any], Callable[[], Any]]:
    def run(sql: str, *args: Any) -> None:
        with psycopg.connect(url, autocommit=True) as conn:
            conn.execute(sql.replace("?", "%s").encode(), args)

    def rows() -> list[dict[str, Any]]:
        with psycopg.connect(url, row_factory=dict_row) as conn:
            return list(conn.execute(b"SELECT * FROM audit ORDER BY seq").fetchall())

    return run, rows


def test_an_untouched_shared_log_verifies(written: Settings) -> None:
    report, target = verify_log(written)
    assert report.ok and report.records == report.anchored == RECORDS, report
    assert "postgres.jsonl" in target and "sim06:sim06@" not in target


@pytest.mark.parametrize("forgery", list(FORGERIES))
def test_each_forgery_fails_and_names_the_first_bad_record(
    written: Settings, forgery: str, capsys: pytest.CaptureFixture[str]
) -> None:
    tamper, first_bad, problem = FORGERIES[forgery]
    assert written.database_url is not None
    tamper(*pg_backend(written.database_url))
    report, _ = verify_log(written)
    assert not report.ok and report.index == first_bad and problem in str(report.problem), report
    assert audit_verify(written) == 1
    assert f"audit log BROKEN at record {first_bad}: " in capsys.readouterr().out

"""The hash-chained audit log: one record per exchange under concurrency; tampering found."""

from __future__ import annotations

import asyncio
import sqlite3
import threading
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from sim06.services.audit import AuditEntry, AuditLog, verify_chain
from sim06.services.common.problems import ProblemError
from tests.services.gateway.helpers import (
    ADULT,
    agency_document,
    exchange_headers,
    get_token,
    register,
)


def _entry(i: int) -> AuditEntry:
    return AuditEntry(
        ts=f"2026-07-01T00:00:{i % 60:02d}.000000+00:00", agency="000.21.01.H26",
        officer="CB.H26.0001", procedure="P", purpose="residence", legal_basis="law",
        request_id=f"r{i}", operation="lookup", status=200, outcome="ok", latency_ms=1.25,
        request_hash="a" * 64, response_hash="b" * 64, pins=[ADULT], fields=["pin"],
    )  # fmt: skip


@pytest.fixture
def log_file(tmp_path: Path) -> Path:
    path = tmp_path / "audit.db"
    log = AuditLog(path, durable=False)
    for i in range(1, 21):
        log.append_nowait(_entry(i))
    log.close()
    assert verify_chain(path).ok
    return path


def _sql(path: Path, statement: str, *args: Any) -> None:
    conn = sqlite3.connect(path)
    with conn:
        conn.execute(statement, args)
    conn.close()


def test_intact_log_verifies(log_file: Path) -> None:
    report = verify_chain(log_file)
    assert report.ok and report.records == 20 and report.index is None


def test_reopened_log_continues_the_chain(log_file: Path) -> None:
    log = AuditLog(log_file)
    log.append_nowait(_entry(99))
    log.close()
    report = verify_chain(log_file)
    assert report.ok and report.records == 21


def test_edited_record_is_found(log_file: Path) -> None:
    _sql(log_file, "UPDATE audit SET purpose = 'marketing' WHERE seq = 7")
    report = verify_chain(log_file)
    assert not report.ok and report.index == 7 and "altered" in (report.problem or "")


def test_deleted_record_is_found(log_file: Path) -> None:
    _sql(log_file, "DELETE FROM audit WHERE seq = 12")
    report = verify_chain(log_file)
    assert not report.ok and report.index == 12 and "missing" in (report.problem or "")


def test_deleted_tail_is_found(log_file: Path) -> None:
    _sql(log_file, "DELETE FROM audit WHERE seq = 20")
    report = verify_chain(log_file)
    assert not report.ok and report.index == 20


def test_swapped_records_are_found(log_file: Path) -> None:
    conn = sqlite3.connect(log_file)
    columns = [r[1] for r in conn.execute("PRAGMA table_info(audit)") if r[1] != "seq"]
    five = conn.execute(f"SELECT {', '.join(columns)} FROM audit WHERE seq = 5").fetchone()
    six = conn.execute(f"SELECT {', '.join(columns)} FROM audit WHERE seq = 6").fetchone()
    assignments = ", ".join(f"{c} = ?" for c in columns)
    with conn:
        conn.execute(f"UPDATE audit SET {assignments} WHERE seq = 5", six)
        conn.execute(f"UPDATE audit SET {assignments} WHERE seq = 6", five)
    conn.close()
    report = verify_chain(log_file)
    assert not report.ok and report.index == 5


def test_rehashed_edit_still_breaks_the_next_link(log_file: Path) -> None:
    # An editor who recomputes the edited record's own hash breaks the following link.
    from sim06.services.audit import record_hash

    conn = sqlite3.connect(log_file)
    conn.row_factory = sqlite3.Row
    row = dict(conn.execute("SELECT * FROM audit WHERE seq = 3").fetchone())
    row["agency"] = "000.00.00.X00"
    with conn:
        conn.execute(
            "UPDATE audit SET agency = ?, hash = ? WHERE seq = 3", (row["agency"], record_hash(row))
        )
    conn.close()
    report = verify_chain(log_file)
    assert not report.ok and report.index == 4


@pytest.mark.anyio
async def test_concurrent_exchanges_one_record_each_and_a_valid_chain(
    app: FastAPI, client: httpx.AsyncClient
) -> None:
    n = 2000
    # 2,000 lookups at once overload the gateway: admission control would refuse some (503),
    # and this test is about the chain, not about overload.
    app.state.admission.enabled = False
    who = await register(client, agency_document("000.00.77.H77", "load-test", 1_000_000))
    token = await get_token(client, who)

    async def one(i: int) -> httpx.Response:
        headers = exchange_headers(
            token, who, **({"X-MaCanBo": "CB.NOBODY"} if i % 10 == 0 else {})
        )
        return await client.get(f"/v1/registry/citizens/{ADULT}", headers=headers)

    responses = await asyncio.gather(*(one(i) for i in range(n)))
    statuses = sorted({r.status_code for r in responses})
    assert statuses == [200, 403]
    audit: AuditLog = app.state.audit
    audit.flush()
    assert audit.count() == n
    conn = sqlite3.connect(audit.path)
    ids = conn.execute("SELECT count(DISTINCT request_id), count(*) FROM audit").fetchone()
    refused = conn.execute("SELECT count(*) FROM audit WHERE outcome = '005'").fetchone()[0]
    conn.close()
    sent = {r.headers["x-mayeucau"] for r in responses}
    assert ids == (n, n) and len(sent) == n and refused == n // 10
    report = verify_chain(audit.path)
    assert report.ok and report.records == n


def test_audit_verify_command(log_file: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from sim06.services.audit.commands import audit_verify
    from sim06.services.common.settings import Settings

    settings = Settings(data_dir=log_file.parent, gateway_audit_path=log_file)
    assert audit_verify(settings) == 1  # written without signed tree heads
    assert "no signed tree head covers the log" in capsys.readouterr().out
    from sim06.services.audit.backends import open_audit_log

    open_audit_log(settings).close()  # the gateway's log: its first head covers the 20
    assert audit_verify(settings) == 0
    assert "intact: 20 records" in capsys.readouterr().out
    _sql(log_file, "UPDATE audit SET pins = '[]' WHERE seq = 9")
    assert audit_verify(settings) == 1
    assert "BROKEN at record 9" in capsys.readouterr().out


class _SlowCommit:
    """A connection whose COMMIT waits for ``release`` (or fails), to hold a commit in flight."""

    def __init__(self, conn: sqlite3.Connection, *, fail: bool = False) -> None:
        self.conn = conn
        self.fail = fail
        self.commits = 0
        self.started = threading.Event()
        self.release = threading.Event()

    def execute(self, sql: str, *args: Any) -> Any:
        if sql == "COMMIT":
            self.commits += 1
            self.started.set()
            assert self.release.wait(10)
            if self.fail:
                raise sqlite3.OperationalError("disk I/O error")
        return self.conn.execute(sql, *args)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.conn, name)


def _committed_ids(path: Path) -> set[str]:
    conn = sqlite3.connect(path)
    ids = {r[0] for r in conn.execute("SELECT request_id FROM audit")}
    conn.close()
    return ids


@pytest.mark.anyio
async def test_durable_append_returns_once_its_record_is_committed(tmp_path: Path) -> None:
    log = AuditLog(tmp_path / "audit.db", durable=True)
    seen: list[bool] = []

    async def one(i: int) -> None:
        await log.append(_entry(i))
        seen.append(f"r{i}" in _committed_ids(log.path))  # another connection sees it

    await asyncio.gather(*(one(i) for i in range(1, 201)))
    log.close()
    assert seen == [True] * 200
    assert verify_chain(log.path).records == 200


@pytest.mark.anyio
async def test_records_queued_during_a_commit_share_the_next_one(tmp_path: Path) -> None:
    log = AuditLog(tmp_path / "audit.db", durable=True)
    slow = _SlowCommit(log._conn)
    log._conn = slow  # type: ignore[assignment]
    first = asyncio.ensure_future(log.append(_entry(1)))
    while not slow.started.is_set():  # the first commit is now in flight
        await asyncio.sleep(0.001)
    later = [asyncio.ensure_future(log.append(_entry(i))) for i in range(2, 102)]
    await asyncio.sleep(0.01)
    assert not first.done() and not any(t.done() for t in later)  # nothing answers early
    assert _committed_ids(log.path) == set()
    slow.release.set()
    await asyncio.gather(first, *later)
    assert slow.commits == 2  # 1 record, then the 100 that queued behind it
    log._conn = slow.conn
    log.close()
    report = verify_chain(log.path)
    assert report.ok and report.records == 101


@pytest.mark.anyio
async def test_a_failed_commit_fails_its_requests_and_keeps_the_chain(tmp_path: Path) -> None:
    log = AuditLog(tmp_path / "audit.db", durable=True)
    slow = _SlowCommit(log._conn, fail=True)
    slow.release.set()
    log._conn = slow  # type: ignore[assignment]
    with pytest.raises(ProblemError, match="GATEWAY_AUDIT_UNAVAILABLE"):
        await log.append(_entry(1))
    log._conn = slow.conn
    await log.append(_entry(2))
    log.close()
    report = verify_chain(log.path)
    assert report.ok and report.records == 1
    assert _committed_ids(log.path) == {"r2"}


@pytest.mark.anyio
async def test_flush_waits_for_the_commit_in_flight(tmp_path: Path) -> None:
    log = AuditLog(tmp_path / "audit.db", durable=True)
    slow = _SlowCommit(log._conn)
    log._conn = slow  # type: ignore[assignment]
    first = asyncio.ensure_future(log.append(_entry(1)))
    while not slow.started.is_set():
        await asyncio.sleep(0.001)
    second = asyncio.ensure_future(log.append(_entry(2)))
    await asyncio.sleep(0)
    threading.Timer(0.05, slow.release.set).start()
    log.flush()  # on the loop's thread, as the admin endpoint does: no deadlock
    assert _committed_ids(log.path) == {"r1", "r2"}
    await asyncio.gather(first, second)
    log._conn = slow.conn
    log.close()
    assert verify_chain(log.path).records == 2

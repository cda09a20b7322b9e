"""The audit log in PostgreSQL: one hash chain for several writers, group commit, same verify.

Needs ``SIM06_TEST_POSTGRES_URL``; works in a throwaway database dropped at the end.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest

from sim06.services.audit import GENESIS, AuditEntry, AuditLog
from sim06.services.audit.backends import open_audit_log
from sim06.services.audit.commands import audit_verify
from sim06.services.audit.postgres import PostgresAuditLog, verify_postgres
from sim06.services.common.settings import Settings
from tests.backends import POSTGRES_URL, needs_postgres
from tests.mock_registry.store.conftest import throwaway_database

pytestmark = needs_postgres


@pytest.fixture(scope="module")
def pg_audit_db() -> Iterator[str]:
    assert POSTGRES_URL is not None
    with throwaway_database(POSTGRES_URL) as url:
        yield url


@pytest.fixture
def url(pg_audit_db: str) -> str:
    """The module's database with an empty audit log."""
    PostgresAuditLog(pg_audit_db).close()  # creates the schema
    with psycopg.connect(pg_audit_db, autocommit=True) as conn:
        conn.execute("TRUNCATE audit, audit_subject")
        conn.execute("UPDATE audit_head SET seq = 0, hash = %s", (GENESIS,))
    return pg_audit_db


def entry(n: int, *, writer: str = "a", pin: str = "001090104217", status: int = 200) -> AuditEntry:
    return AuditEntry(
        ts=f"2026-07-01T10:{n // 60 % 60:02d}:{n % 60:02d}+07:00",
        agency=f"000.21.01.H26-{writer}",
        officer="CB.H26.0001",
        procedure="1.004222.000.00.00.H26",
        purpose="residence",
        legal_basis="Luật Cư trú 2020",
        request_id=f"{writer}-{n}",
        operation="lookup",
        status=status,
        outcome="ok" if status < 400 else "refused",
        latency_ms=1.25 + n / 1000,
        request_hash="ab" * 32,
        response_hash="cd" * 32,
        pins=[pin],
        fields=["pin", "full_name"],
    )


def sql(url: str, query: str) -> None:
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(query.encode())


@pytest.mark.anyio
async def test_concurrent_appends_are_group_committed_into_one_chain(url: str) -> None:
    log = PostgresAuditLog(url)
    commits: list[int] = []
    inner = log._commit

    def counting(batch: list[AuditEntry]) -> tuple[int, str]:
        commits.append(len(batch))
        return inner(batch)

    log._commit = counting  # type: ignore[method-assign]
    try:
        await asyncio.gather(*(log.append(entry(i)) for i in range(200)))
        assert log.count() == 200  # durable: every append returned after its commit
    finally:
        log.close()
    assert sum(commits) == 200
    assert len(commits) < 20, commits  # one transaction per loop turn, not per record
    report = verify_postgres(url)
    assert report.ok and report.records == 200, report


def test_two_writers_append_to_one_chain(url: str) -> None:
    """Two logs on separate connections (two replicas) appending at once: one linear chain."""

    def replica(name: str) -> None:
        async def run() -> None:
            log = PostgresAuditLog(url)
            try:
                for burst in range(10):
                    await asyncio.gather(
                        *(log.append(entry(burst * 30 + i, writer=name)) for i in range(30))
                    )
            finally:
                log.close()

        asyncio.run(run())

    threads = [threading.Thread(target=replica, args=(n,)) for n in ("a", "b")]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    report = verify_postgres(url)
    assert report.ok and report.records == 600, report
    with psycopg.connect(url) as conn:
        per_writer: dict[str, int] = dict(
            conn.execute("SELECT right(agency, 1), count(*) FROM audit GROUP BY 1").fetchall()
        )
        seqs = [r[0] for r in conn.execute("SELECT seq FROM audit ORDER BY seq")]
    assert per_writer == {"a": 300, "b": 300}
    assert seqs == list(range(1, 601))


def test_the_same_records_hash_alike_in_sqlite_and_postgres(url: str, tmp_path: Path) -> None:
    sqlite_log = AuditLog(tmp_path / "audit.db")
    pg_log = PostgresAuditLog(url)
    try:
        for i in range(5):
            sqlite_log.append_nowait(entry(i))
            pg_log.append_nowait(entry(i))
    finally:
        sqlite_log.close()
        pg_log.close()
    import sqlite3

    with sqlite3.connect(tmp_path / "audit.db") as lite:
        lite_hashes = [r[0] for r in lite.execute("SELECT hash FROM audit ORDER BY seq")]
    with psycopg.connect(url) as conn:
        pg_hashes = [r[0] for r in conn.execute("SELECT hash FROM audit ORDER BY seq")]
    assert pg_hashes == lite_hashes and len(pg_hashes) == 5


@pytest.mark.parametrize(
    ("tamper", "index", "words"),
    [
        ("UPDATE audit SET officer = 'CB.FORGED' WHERE seq = 3", 3, "altered"),
        ("DELETE FROM audit WHERE seq = 2", 2, "missing"),
        ("DELETE FROM audit WHERE seq = 5", 5, "head"),
        ("UPDATE audit_head SET hash = repeat('f', 64)", 5, "head"),
    ],
)
def test_tampering_is_found_where_it_happened(
    url: str,
    tamper: str,
    index: int,
    words: str,
    capsys: pytest.CaptureFixture[str],
    tmp_path: Path,
) -> None:
    settings = Settings(database_url=url, data_dir=tmp_path)
    log = open_audit_log(settings)  # with its signed tree heads
    for i in range(5):
        log.append_nowait(entry(i))
    assert log.verify().ok
    log.close()
    assert audit_verify(settings) == 0
    assert "intact: 5 records" in capsys.readouterr().out
    sql(url, tamper)
    report = verify_postgres(url)
    assert not report.ok and report.index == index and words in (report.problem or ""), report
    assert audit_verify(settings) == 1
    out = capsys.readouterr().out
    assert f"BROKEN at record {index}" in out and "sim06:sim06@" not in out  # no password


def test_access_log_reads_the_shared_chain(url: str) -> None:
    log = PostgresAuditLog(url)
    try:
        log.append_nowait(entry(1, pin="001090104217"))
        log.append_nowait(entry(2, pin="001090104217", status=403))  # refused: not an access
        log.append_nowait(entry(3, pin="079190000001"))
        hidden = entry(4, pin="001090104217")
        hidden.hidden_until = "2027-01-01T00:00:00+07:00"  # an investigation, hidden for now
        log.append_nowait(hidden)
        rows = log.accesses("001090104217", now="2026-08-01T00:00:00+07:00")
        assert [r["request_id"] for r in rows] == ["a-1"]
        assert rows[0]["fields"] == ["pin", "full_name"]
        later = log.accesses("001090104217", now="2027-02-01T00:00:00+07:00")
        assert [r["request_id"] for r in later] == ["a-1", "a-4"]
        assert log.accesses("001090104217", now="2027-02-01", agency="nobody") == []
    finally:
        log.close()


def test_settings_choose_the_backend(url: str, tmp_path: Path) -> None:
    pg = open_audit_log(Settings(database_url=url, data_dir=tmp_path))
    lite = open_audit_log(
        Settings(database_url=url, data_dir=tmp_path, gateway_audit_path=tmp_path / "a.db")
    )
    embedded = open_audit_log(Settings(data_dir=tmp_path))
    try:
        assert isinstance(pg, PostgresAuditLog) and "sim06:sim06@" not in pg.describe()
        assert type(lite) is AuditLog and lite.path == tmp_path / "a.db"
        assert type(embedded) is AuditLog and embedded.path == tmp_path / "audit.db"
    finally:
        for log in (pg, lite, embedded):
            log.close()


def write_entry(n: int) -> AuditEntry:
    """A civil-status write: the digests of the records it changed."""
    record = entry(n)
    record.operation, record.status, record.purpose = "register-birth", 201, "birth-registration"
    record.pins = ["001226000001", "001195208733"]
    record.digests = [
        {"pin": "001226000001", "before": None, "after": "c" * 64},
        {"pin": "001195208733", "before": "d" * 64, "after": "e" * 64},
    ]
    return record


def test_digests_hash_alike_in_sqlite_and_postgres(url: str, tmp_path: Path) -> None:
    import sqlite3

    sqlite_log = AuditLog(tmp_path / "audit.db")
    pg_log = PostgresAuditLog(url)
    try:
        for i in range(6):
            sqlite_log.append_nowait(write_entry(i) if i % 2 else entry(i))
            pg_log.append_nowait(write_entry(i) if i % 2 else entry(i))
    finally:
        sqlite_log.close()
        pg_log.close()
    query = "SELECT hash, digests FROM audit ORDER BY seq"
    with sqlite3.connect(tmp_path / "audit.db") as lite:
        lite_rows = [tuple(r) for r in lite.execute(query)]
    with psycopg.connect(url) as conn:
        pg_rows = [tuple(r) for r in conn.execute(query)]
    assert pg_rows == lite_rows and len(pg_rows) == 6
    assert [d is None for _, d in pg_rows] == [True, False] * 3
    assert verify_postgres(url).ok
    log = PostgresAuditLog(url)  # the access log reads a write like any exchange
    try:
        rows = log.accesses("001195208733", now="2027-01-01T00:00:00+00:00")
    finally:
        log.close()
    assert [r["operation"] for r in rows] == ["register-birth"] * 3 and "digests" not in rows[0]


def test_an_edited_digest_is_found(
    url: str, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    settings = Settings(database_url=url, data_dir=tmp_path)
    log = open_audit_log(settings)
    for i in range(1, 5):
        log.append_nowait(write_entry(i) if i == 3 else entry(i))
    log.close()
    assert audit_verify(settings) == 0
    sql(url, "UPDATE audit SET digests = replace(digests, 'eeee', 'eeef') WHERE seq = 3")
    report = verify_postgres(url)
    assert not report.ok and report.index == 3 and report.problem == "record 3 was altered"
    assert audit_verify(settings) == 1
    assert "BROKEN at record 3" in capsys.readouterr().out


def test_an_old_table_verifies_migrates_and_continues(url: str) -> None:
    """A table written before the digests column: intact as it is, and after the migration."""
    from sim06.services.audit import chain

    sql(url, "ALTER TABLE audit DROP COLUMN digests")
    rows, subjects, seq, head = chain([entry(i) for i in range(1, 4)], 0, GENESIS)
    with psycopg.connect(url, autocommit=True) as conn:
        with conn.cursor() as cur:
            cur.executemany(
                f"INSERT INTO audit VALUES ({', '.join(['%s'] * 19)})".encode(),
                [row[:-1] for row in rows],
            )
            cur.executemany(b"INSERT INTO audit_subject (pin, seq) VALUES (%s, %s)", subjects)
        conn.execute(b"UPDATE audit_head SET seq = %s, hash = %s", (seq, head))
    report = verify_postgres(url)
    assert report.ok and report.records == 3
    log = PostgresAuditLog(url)  # migrates on open
    log.append_nowait(write_entry(4))
    log.close()
    PostgresAuditLog(url).close()  # nothing left to migrate
    report = verify_postgres(url)
    assert report.ok and report.records == 4
    with psycopg.connect(url) as conn:
        digests = [r[0] for r in conn.execute(b"SELECT digests FROM audit ORDER BY seq")]
    assert [d is None for d in digests] == [True, True, True, False]

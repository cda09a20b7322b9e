"""Digests of civil-status writes in the SQLite audit chain: hashed when present, old records
(and old files, without the column) hashing and verifying exactly as before."""

from __future__ import annotations

import dataclasses
import sqlite3
from pathlib import Path
from typing import Any

import orjson
import pytest

from sim06.services.audit import (
    GENESIS,
    ROW_COLUMNS,
    AuditEntry,
    AuditLog,
    chain,
    record_hash,
    verify_chain,
)

MOTHER, FATHER, CHILD = "001195208733", "001090104217", "001226000001"


def read(i: int = 1) -> AuditEntry:
    return AuditEntry(
        ts=f"2026-07-01T00:00:{i % 60:02d}.000000+00:00", agency="000.21.01.H26",
        officer="CB.H26.0001", procedure="P", purpose="residence", legal_basis="Nghị định 104",
        request_id=f"r{i}", operation="lookup", status=200, outcome="ok", latency_ms=1.25,
        request_hash="a" * 64, response_hash="b" * 64, pins=[FATHER], fields=["pin"],
    )  # fmt: skip


def write(i: int = 1) -> AuditEntry:
    """A birth: the child's new record, the mother's and father's changed ones."""
    digests: list[dict[str, str | None]] = [
        {"pin": CHILD, "before": None, "after": "c" * 64},
        {"pin": MOTHER, "before": "d" * 64, "after": "e" * 64},
        {"pin": FATHER, "before": "f" * 64, "after": "0" * 64},
    ]
    return dataclasses.replace(
        read(i), operation="register-birth", purpose="birth-registration", status=201,
        pins=[CHILD, MOTHER, FATHER], fields=["event_id", "pin", "records"], digests=digests,
    )  # fmt: skip


def rows_of(path: Path) -> list[dict[str, Any]]:
    conn = sqlite3.connect(path)
    conn.row_factory = sqlite3.Row
    rows = [dict(r) for r in conn.execute("SELECT * FROM audit ORDER BY seq")]
    conn.close()
    return rows


def execute(path: Path, statement: str, *args: Any) -> None:
    conn = sqlite3.connect(path)
    with conn:
        conn.execute(statement, args)
    conn.close()


def test_a_record_without_digests_hashes_as_before() -> None:
    # Computed before the digests column existed: the chain of every audit file written so far.
    rows, _, _, head = chain([read(), read()], 0, GENESIS)
    assert rows[0][ROW_COLUMNS.index("hash")] == (
        "953c65dc540226cd3cd9bec08305dc27225909829cc4ed4a38c2ffa2f41cee4d"
    )
    assert head == "a0a9fe69d0c4ebd51b83fd0a7572fe6e2c379b9a53028bde4e80857031d97a32"
    assert rows[0][-1] is None  # no digests stored


def test_chain_and_record_hash_agree_with_and_without_digests() -> None:
    batch = [read(1), write(2), read(3), write(4)]
    rows, subjects, seq, head = chain(batch, 0, GENESIS)
    assert seq == 4 and head == rows[-1][ROW_COLUMNS.index("hash")]
    for row in rows:
        stored = dict(zip(ROW_COLUMNS, row, strict=True))
        assert record_hash(stored) == stored["hash"]
    digests = dict(zip(ROW_COLUMNS, rows[1], strict=True))["digests"]
    assert digests == orjson.dumps(write().digests).decode()  # compact JSON text
    assert " " not in digests and orjson.loads(digests)[0] == {
        "pin": CHILD, "before": None, "after": "c" * 64
    }  # fmt: skip
    # The digests are part of the hash: the same record without them hashes differently.
    bare = dataclasses.replace(write(2), digests=None)
    assert chain([read(1), bare], 0, GENESIS)[0][1][-2] != rows[1][-2]
    assert (CHILD, 2) in subjects and (MOTHER, 2) in subjects


def test_writes_are_stored_and_verified(tmp_path: Path) -> None:
    log = AuditLog(tmp_path / "audit.db", durable=False)
    for i in range(1, 7):
        log.append_nowait(write(i) if i % 2 == 0 else read(i))
    assert log.verify().ok
    log.close()
    rows = rows_of(log.path)
    assert [r["digests"] is None for r in rows] == [True, False] * 3
    assert orjson.loads(rows[1]["digests"]) == write().digests
    report = verify_chain(log.path)
    assert report.ok and report.records == 6


@pytest.mark.parametrize(
    ("statement", "seq"),
    [
        # One character of one digest.
        ("UPDATE audit SET digests = replace(digests, 'eeee', 'eeef') WHERE seq = 4", 4),
        ("UPDATE audit SET digests = NULL WHERE seq = 2", 2),  # the digests removed
        ("UPDATE audit SET digests = '[]' WHERE seq = 3", 3),  # digests added to a read
    ],
)
def test_an_edited_digest_is_found(tmp_path: Path, statement: str, seq: int) -> None:
    log = AuditLog(tmp_path / "audit.db", durable=False)
    for i in range(1, 7):
        log.append_nowait(write(i) if i % 2 == 0 else read(i))
    log.close()
    execute(log.path, statement)
    report = verify_chain(log.path)
    assert not report.ok and report.index == seq
    assert report.problem == f"record {seq} was altered"


# The audit table as it was before civil-status writes (no digests column).
_OLD_SCHEMA = """
CREATE TABLE audit (
    seq INTEGER PRIMARY KEY, ts TEXT NOT NULL, agency TEXT NOT NULL, officer TEXT NOT NULL,
    procedure TEXT NOT NULL, purpose TEXT NOT NULL, legal_basis TEXT NOT NULL,
    request_id TEXT NOT NULL, operation TEXT NOT NULL, pins TEXT NOT NULL, fields TEXT NOT NULL,
    status INTEGER NOT NULL, outcome TEXT NOT NULL, latency_ms REAL NOT NULL,
    request_hash TEXT NOT NULL, response_hash TEXT NOT NULL, hidden_until TEXT,
    prev_hash TEXT NOT NULL, hash TEXT NOT NULL
);
CREATE TABLE audit_subject (
    pin TEXT NOT NULL, seq INTEGER NOT NULL, PRIMARY KEY (pin, seq)
) WITHOUT ROWID;
CREATE TABLE audit_head (
    id INTEGER PRIMARY KEY CHECK (id = 1), seq INTEGER NOT NULL, hash TEXT NOT NULL
);
"""


def old_file(path: Path, records: int) -> None:
    """An audit file written before the digests column: its rows, subjects and head."""
    rows, subjects, seq, head = chain([read(i) for i in range(1, records + 1)], 0, GENESIS)
    conn = sqlite3.connect(path)
    with conn:
        conn.executescript(_OLD_SCHEMA)
        conn.executemany(f"INSERT INTO audit VALUES ({', '.join('?' * 19)})",
                         [row[:-1] for row in rows])  # fmt: skip
        conn.executemany("INSERT INTO audit_subject VALUES (?, ?)", subjects)
        conn.execute("INSERT INTO audit_head VALUES (1, ?, ?)", (seq, head))
    conn.close()


def columns(path: Path) -> list[str]:
    conn = sqlite3.connect(path)
    names = [row[1] for row in conn.execute("PRAGMA table_info(audit)")]
    conn.close()
    return names


def test_an_old_file_verifies_migrates_and_continues(tmp_path: Path) -> None:
    path = tmp_path / "audit.db"
    old_file(path, 5)
    assert "digests" not in columns(path)
    report = verify_chain(path)  # read as it is: no column, no digests
    assert report.ok and report.records == 5
    log = AuditLog(path)  # the migration on open
    assert columns(path)[-1] == "digests"
    log.append_nowait(write(6))
    log.close()
    AuditLog(path).close()  # a second open: nothing to migrate
    report = verify_chain(path)
    assert report.ok and report.records == 6
    rows = rows_of(path)
    assert [r["digests"] is None for r in rows] == [True] * 5 + [False]
    execute(path, "UPDATE audit SET officer = 'CB.FORGED' WHERE seq = 2")  # still guarded
    assert verify_chain(path).index == 2

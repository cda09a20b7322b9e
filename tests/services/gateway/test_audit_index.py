"""The per-citizen index behind the SQLite audit chain: exact reads at any lag, catch-up."""

from __future__ import annotations

import asyncio
import sqlite3
from pathlib import Path

import pytest

from sim06.services.audit import (
    AuditEntry,
    AuditLog,
    index as audit_index,
    sqlite as audit,
    verify_chain,
)

NOW = "2030-01-01T00:00:00.000000+00:00"
PINS = ["001090104217", "079185003456", "048200001234"]


def _entry(i: int, pins: list[str] | None = None) -> AuditEntry:
    return AuditEntry(
        ts=f"2026-07-01T00:00:{i % 60:02d}.000000+00:00", agency="000.21.01.H26",
        officer="CB.H26.0001", procedure="P", purpose="residence", legal_basis="law",
        request_id=f"r{i}", operation="lookup", status=200, outcome="ok", latency_ms=1.0,
        request_hash="a" * 64, response_hash="b" * 64,
        pins=[PINS[i % 3]] if pins is None else pins, fields=["pin"],
    )  # fmt: skip


def _index(path: Path) -> tuple[int, set[tuple[str, int]]]:
    conn = sqlite3.connect(path)
    try:
        mark = conn.execute("SELECT seq FROM audit_subject_mark").fetchone()[0]
        return int(mark), set(conn.execute("SELECT pin, seq FROM audit_subject"))
    finally:
        conn.close()


def _seqs(log: AuditLog, pin: str) -> list[int]:
    return [row["seq"] for row in log.accesses(pin, now=NOW)]


async def _until_indexed(log: AuditLog, head: int) -> None:
    for _ in range(500):
        if _index(log.path)[0] == head:
            return
        await asyncio.sleep(0.01)
    raise AssertionError(f"the index never reached record {head}")


@pytest.mark.anyio
async def test_reads_are_exact_before_and_after_the_index_catches_up(tmp_path: Path) -> None:
    log = AuditLog(tmp_path / "audit.db", durable=True)
    await asyncio.gather(*(log.append(_entry(i)) for i in range(1, 61)))
    assert _index(log.path) == (0, set())  # nothing indexed on the write path
    expected = {pin: [s for s in range(1, 61) if PINS[s % 3] == pin] for pin in PINS}
    assert {pin: _seqs(log, pin) for pin in PINS} == expected  # all from the unindexed tail
    await _until_indexed(log, 60)  # appends paused: the index follows
    mark, subjects = _index(log.path)
    assert subjects == {(PINS[s % 3], s) for s in range(1, 61)}
    assert {pin: _seqs(log, pin) for pin in PINS} == expected  # now all from the index
    await log.append(_entry(61))
    assert _seqs(log, PINS[61 % 3])[-1] == 61  # half indexed, half tail: still each once
    log.close()
    assert verify_chain(log.path).ok


@pytest.mark.anyio
async def test_appends_keep_priority_over_the_index(tmp_path: Path) -> None:
    log = AuditLog(tmp_path / "audit.db", durable=True)
    for round_ in range(5):  # steady appends, closer together than the idle delay
        await asyncio.gather(*(log.append(_entry(round_ * 10 + i)) for i in range(1, 11)))
        assert _index(log.path)[0] == 0
        await asyncio.sleep(audit._IDLE_S / 5)
    log.close()


@pytest.mark.anyio
async def test_a_lagging_index_is_stepped_before_the_next_batch(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(audit, "_FORCE_LAG", 20)
    monkeypatch.setattr(audit, "_INDEX_CHUNK", 8)
    log = AuditLog(tmp_path / "audit.db", durable=True)
    for i in range(1, 101):  # one at a time: never idle for long, but the lag is bounded
        await log.append(_entry(i))
        assert i - _index(log.path)[0] <= 20
    log.close()


def test_synchronous_appends_index_once_the_lag_is_reached(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(audit, "_FORCE_LAG", 10)
    log = AuditLog(tmp_path / "audit.db", durable=False)
    for i in range(1, 10):
        log.append_nowait(_entry(i))
    assert _index(log.path)[0] == 0
    log.append_nowait(_entry(10))
    assert _index(log.path)[0] == 10
    assert _seqs(log, PINS[1]) == [1, 4, 7, 10]
    log.close()


def test_a_pin_named_twice_in_one_record_is_one_access(tmp_path: Path) -> None:
    log = AuditLog(tmp_path / "audit.db", durable=False)
    log.append_nowait(_entry(1, pins=[PINS[0], PINS[0], PINS[1]]))
    assert _seqs(log, PINS[0]) == [1]  # from the tail
    with sqlite3.connect(log.path) as conn:
        audit_index.index_step(conn, None)
    assert _index(log.path) == (1, {(PINS[0], 1), (PINS[1], 1)})
    assert _seqs(log, PINS[0]) == [1]  # from the index
    log.close()


def test_a_file_indexed_on_append_starts_its_mark_at_its_last_record(tmp_path: Path) -> None:
    path = tmp_path / "audit.db"
    log = AuditLog(path, durable=False)
    for i in range(1, 6):
        log.append_nowait(_entry(i))
    log.close()
    with sqlite3.connect(path) as conn:  # as the previous format left it: every record indexed
        conn.execute("DROP TABLE audit_subject_mark")
        conn.executemany(
            "INSERT INTO audit_subject (pin, seq) VALUES (?, ?)",
            [(PINS[i % 3], i) for i in range(1, 6)],
        )
    conn.close()
    log = AuditLog(path, durable=False)
    assert _index(path)[0] == 5
    assert _seqs(log, PINS[2]) == [2, 5]  # each once: the mark is not 0
    log.close()


@pytest.mark.anyio
async def test_a_failing_index_step_never_holds_up_the_records(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken(*_: object) -> int:
        raise sqlite3.OperationalError("disk I/O error")

    monkeypatch.setattr(audit, "index_step", broken)
    monkeypatch.setattr(audit, "_FORCE_LAG", 5)
    log = AuditLog(tmp_path / "audit.db", durable=True)
    for i in range(1, 31):  # past the forced step, which fails once and is not retried
        await asyncio.wait_for(log.append(_entry(i)), timeout=5)
    assert not log._indexing
    assert _seqs(log, PINS[0]) == list(range(3, 31, 3))  # exact, from the tail
    log.close()
    assert verify_chain(log.path).records == 30

"""``sim06 audit verify`` against signed tree heads: every cover-up a database writer can do
(truncate and fix the head row, rewrite the first records, edit and re-hash, swap and re-hash)
fails and names the first bad record; the heads themselves cannot be edited or dropped."""

from __future__ import annotations

import base64
import shutil
import sqlite3
from collections.abc import Callable
from pathlib import Path
from typing import Any

import orjson
import pytest

from sim06.services.audit import AuditEntry, AuditLog
from sim06.services.audit.backends import checkpoint_path, open_audit_log
from sim06.services.audit.commands import audit_verify, verify_log
from sim06.services.audit.merkle import verify_consistency
from sim06.services.common.settings import Settings
from tests.services.audit import tampering

RECORDS = 50


def entry(i: int) -> AuditEntry:
    return AuditEntry(
        ts=f"2026-07-01T00:{i // 60:02d}:{i % 60:02d}.000000+00:00", agency="000.21.01.H26",
        officer="CB.H26.0001", procedure="P", purpose="residence", legal_basis="Luật Cư trú",
        request_id=f"r{i}", operation="lookup", status=200, outcome="ok", latency_ms=1.25,
        request_hash=f"{i:064x}", response_hash="b" * 64, pins=["001090104217"],
        fields=["pin", "full_name"],
    )  # fmt: skip


def fill(log: AuditLog, start: int, count: int, *, every: int = 10) -> None:
    """Append ``count`` records, signing a head every ``every`` of them."""
    assert log.checkpoints is not None
    for i in range(start, start + count):
        log.append_nowait(entry(i))
        if i % every == 0:
            log.checkpoints.checkpoint()


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    # Heads only when the test signs them (no background turn in between).
    return Settings(data_dir=tmp_path, audit_checkpoint_every=10**9, audit_checkpoint_seconds=3600)


@pytest.fixture
def written(settings: Settings) -> Settings:
    """A closed log of 50 records with heads at 0, 10, ..., 50."""
    log = open_audit_log(settings)
    fill(log, 1, RECORDS)
    log.close()
    return settings


def sqlite_backend(settings: Settings) -> tuple[Callable[..., Any], Callable[[], Any]]:
    path = settings.data_dir / "audit.db"

    def run(sql: str, *args: Any) -> None:
        with sqlite3.connect(path) as conn:
            conn.execute(sql, args)
        conn.close()

    def rows() -> list[dict[str, Any]]:
        conn = sqlite3.connect(path)
        conn.row_factory = sqlite3.Row
        found = [dict(r) for r in conn.execute("SELECT * FROM audit ORDER BY seq")]
        conn.close()
        return found

    return run, rows


def test_an_untouched_log_verifies(written: Settings, capsys: pytest.CaptureFixture[str]) -> None:
    assert audit_verify(written) == 0
    out = capsys.readouterr().out
    assert f"audit log intact: {RECORDS} records, 6 signed tree heads, {RECORDS} records" in out


def test_the_chain_alone_is_fooled_by_each_forgery(written: Settings) -> None:
    """What the issue reports: without the heads, every cover-up below verifies."""
    from sim06.services.audit import verify_chain

    run, rows = sqlite_backend(written)
    tampering.truncate_tail(run, rows, 45)
    tampering.edit_and_rehash(run, rows, 23)
    assert verify_chain(written.data_dir / "audit.db").ok


FORGERIES: dict[str, tuple[Callable[..., None], int, str]] = {
    "truncated tail, head row rewritten": (
        lambda run, rows: tampering.truncate_tail(run, rows, 45), 46,
        "record 46 is missing: the signed tree head covers 50 records",
    ),
    "first record rewritten, chain re-hashed": (
        tampering.rewrite_first, 1, "record 1 is not the record the signed tree head",
    ),
    "one record edited, chain re-hashed": (
        lambda run, rows: tampering.edit_and_rehash(run, rows, 23), 23,
        "record 23 is not the record the signed tree head",
    ),
    "two records swapped, chain re-hashed": (
        lambda run, rows: tampering.swap_and_rehash(run, rows, 30, 31), 30,
        "record 30 is not the record the signed tree head",
    ),
}  # fmt: skip


@pytest.mark.parametrize("forgery", list(FORGERIES))
def test_each_forgery_fails_and_names_the_first_bad_record(
    written: Settings, forgery: str, capsys: pytest.CaptureFixture[str]
) -> None:
    tamper, first_bad, problem = FORGERIES[forgery]
    tamper(*sqlite_backend(written))
    report, _ = verify_log(written)
    assert not report.ok and report.index == first_bad, report
    assert problem in (report.problem or "")
    assert audit_verify(written) == 1
    assert f"audit log BROKEN at record {first_bad}: " in capsys.readouterr().out


def test_a_rewrite_after_the_last_head_is_found_by_the_chain_only_until_it_is_signed(
    settings: Settings,
) -> None:
    log = open_audit_log(settings)
    fill(log, 1, 20)  # heads at 0, 10 and 20
    log.append_nowait(entry(21))  # after the last head
    run, rows = sqlite_backend(settings)
    run("UPDATE audit SET agency = 'X' WHERE seq = 21")  # not re-hashed: the chain tells
    report, _ = verify_log(settings)
    assert not report.ok and report.index == 21 and report.anchored == 20
    log.close()


def test_heads_deleted_edited_or_signed_by_another_key_fail(
    written: Settings, capsys: pytest.CaptureFixture[str]
) -> None:
    heads = checkpoint_path(written, "audit")
    original = heads.read_bytes()

    heads.unlink()
    assert audit_verify(written) == 1
    assert "no signed tree head covers the log" in capsys.readouterr().out

    lines = [orjson.loads(line) for line in original.splitlines()]
    lines[3]["leaves"] = lines[2]["leaves"]  # other leaves under a signed root
    heads.write_bytes(b"".join(orjson.dumps(line) + b"\n" for line in lines))
    report, _ = verify_log(written)
    assert not report.ok and "checkpoint 4: its leaves do not give the signed root" in str(
        report.problem
    )

    lines = [orjson.loads(line) for line in original.splitlines()]
    header, payload, signature = lines[2]["sth"].split(".")
    forged = orjson.loads(base64.urlsafe_b64decode(payload + "=="))
    forged["tree_size"] = 19
    body = base64.urlsafe_b64encode(orjson.dumps(forged)).rstrip(b"=").decode()
    lines[2]["sth"] = f"{header}.{body}.{signature}"
    heads.write_bytes(b"".join(orjson.dumps(line) + b"\n" for line in lines))
    report, _ = verify_log(written)
    assert not report.ok and "checkpoint 3: the signature does not verify" in str(report.problem)

    kept = original.splitlines(keepends=True)
    heads.write_bytes(b"".join(kept[:2] + kept[3:]))  # a head removed from the middle
    report, _ = verify_log(written)
    assert not report.ok and "checkpoint 3 starts at record 21" in str(report.problem)

    heads.write_bytes(original)
    shutil.rmtree(written.keys_dir / "audit")  # a new audit key: the heads are not its
    report, _ = verify_log(written)
    assert not report.ok and "signed by an unknown key" in str(report.problem)


def test_successive_heads_are_consistent_and_a_reopened_log_extends_the_tree(
    written: Settings,
) -> None:
    log = open_audit_log(written)
    fill(log, RECORDS + 1, 5)
    checkpoints = log.checkpoints
    assert checkpoints is not None
    log.close()
    heads = checkpoints.heads
    assert [h.tree_size for h in heads] == [0, 10, 20, 30, 40, 50, 55]
    for old, new in zip(heads, heads[1:], strict=False):
        proof = checkpoints.consistency(old.tree_size, new.tree_size)
        assert verify_consistency(old.tree_size, new.tree_size, old.root_hash, new.root_hash, proof)
    assert verify_log(written)[0].ok


def test_a_log_with_a_forged_checkpoint_file_still_opens_and_says_so(written: Settings) -> None:
    heads = checkpoint_path(written, "audit")
    heads.write_bytes(heads.read_bytes().replace(b'"from":10', b'"from":11'))
    log = open_audit_log(written)  # the gateway starts; its heads stop
    try:
        assert log.checkpoints is not None and log.checkpoints.failed
        log.append_nowait(entry(RECORDS + 1))
        report = log.verify()
        assert not report.ok and "the signed tree heads are not valid" in str(report.problem)
    finally:
        log.close()

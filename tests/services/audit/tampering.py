"""What an operator with write access to the log database can do to cover their tracks.

Each function takes ``run(sql, args)`` and ``rows()`` (every stored row in seq order) of one
backend, so the same forgeries hit the SQLite file and the PostgreSQL table; placeholders are
written ``?`` and turned into ``%s`` by the PostgreSQL runner.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from sim06.services.audit import GENESIS, record_hash
from sim06.services.audit.records import ROW_COLUMNS

Run = Callable[..., Any]
Rows = Callable[[], list[dict[str, Any]]]
# Every stored column but seq and the chain's own two.
CONTENT = [c for c in ROW_COLUMNS if c not in ("seq", "prev_hash", "hash")]


def rehash(run: Run, rows: Rows) -> None:
    """Recompute every record's ``prev_hash`` and ``hash`` and move ``audit_head``: the chain
    verifies again, whatever was changed before."""
    prev, seq = GENESIS, 0
    for row in rows():
        row["prev_hash"] = prev
        digest = record_hash(row)
        run("UPDATE audit SET prev_hash = ?, hash = ? WHERE seq = ?", prev, digest, row["seq"])
        prev, seq = digest, row["seq"]
    run("UPDATE audit_head SET seq = ?, hash = ? WHERE id = 1", seq, prev)


def truncate_tail(run: Run, rows: Rows, keep: int) -> None:
    """Delete every record after ``keep`` and rewrite ``audit_head`` to match."""
    run("DELETE FROM audit WHERE seq > ?", keep)
    last = rows()[-1]
    run("UPDATE audit_head SET seq = ?, hash = ? WHERE id = 1", last["seq"], last["hash"])


def rewrite_first(run: Run, rows: Rows) -> None:
    """Replace the first record by another exchange and re-hash the whole chain."""
    run("UPDATE audit SET agency = ?, officer = ?, purpose = ? WHERE seq = 1",
        "000.00.00.X00", "CB.X", "nothing to see")  # fmt: skip
    rehash(run, rows)


def edit_and_rehash(run: Run, rows: Rows, seq: int) -> None:
    """Change one record's agency and re-hash every record after it."""
    run("UPDATE audit SET agency = ? WHERE seq = ?", "000.00.00.X00", seq)
    rehash(run, rows)


def swap_and_rehash(run: Run, rows: Rows, first: int, second: int) -> None:
    """Exchange the contents of two records (their seqs stay) and re-hash the chain."""
    by_seq = {row["seq"]: row for row in rows()}
    assignments = ", ".join(f"{column} = ?" for column in CONTENT)
    for target, source in ((first, second), (second, first)):
        values = [by_seq[source][column] for column in CONTENT]
        run(f"UPDATE audit SET {assignments} WHERE seq = ?", *values, target)
    rehash(run, rows)

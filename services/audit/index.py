"""The per-citizen index of the SQLite audit log, maintained behind the chain.

The citizen access log asks "which records read this PIN?"; ``audit_subject`` answers it as a
``(pin, seq)`` B-tree. Maintaining it inside every group commit costs about as much as the
record itself: each record's PIN lands on a random leaf page, and every such page is one more
WAL frame to write and fsync. So the SQLite log appends the chain only, and the index follows
in bulk (PostgreSQL's GIN indexes do the same with their pending list):

- ``audit_subject_mark`` holds the last seq the index covers;
- :func:`index_step` indexes the next records after the mark, in one transaction, sorted by
  PIN (neighbouring keys share pages), and moves the mark with them;
- reads stay exact at any lag: :func:`subject_seqs` takes the indexed seqs from the index and
  scans the unindexed tail (``seq > mark``) for the rest.

The index and its mark are derived data, outside the hash chain, as ``audit_subject`` always was:
``sim06 audit verify`` checks the chain alone.
"""

from __future__ import annotations

import sqlite3

import orjson

MARK_SCHEMA = """
CREATE TABLE IF NOT EXISTS audit_subject_mark (
    id INTEGER PRIMARY KEY CHECK (id = 1), seq INTEGER NOT NULL
);
"""

# The seqs of the records naming the PIN (the first ``?``; the second is the same PIN):
# indexed ones from audit_subject, the unindexed tail by scanning its PIN lists. Both halves
# read the mark in the same snapshot, so a record is found exactly once whatever the lag.
SUBJECT_SEQS = (
    "SELECT seq FROM audit_subject WHERE pin = ?"
    " UNION ALL"
    " SELECT t.seq FROM audit t, json_each(t.pins) j"
    " WHERE t.seq > (SELECT seq FROM audit_subject_mark WHERE id = 1) AND j.value = ?"
)


def ensure_mark(conn: sqlite3.Connection) -> int:
    """Create the mark if missing; the seq it names.

    A file without a mark was written when every record was indexed as it was appended, so the
    mark starts at its last record (0 for a new file).
    """
    conn.executescript(MARK_SCHEMA)
    row = conn.execute("SELECT seq FROM audit_subject_mark WHERE id = 1").fetchone()
    if row is not None:
        return int(row[0])
    conn.execute(
        "INSERT OR IGNORE INTO audit_subject_mark (id, seq) "
        "SELECT 1, coalesce(max(seq), 0) FROM audit"
    )
    return int(conn.execute("SELECT seq FROM audit_subject_mark WHERE id = 1").fetchone()[0])


def index_step(conn: sqlite3.Connection, limit: int | None) -> int:
    """In the caller's write transaction, index up to ``limit`` records (all if None) after
    the mark and move it; the new mark."""
    mark = int(conn.execute("SELECT seq FROM audit_subject_mark WHERE id = 1").fetchone()[0])
    rows = conn.execute(
        "SELECT seq, pins FROM audit WHERE seq > ? ORDER BY seq LIMIT ?",
        (mark, -1 if limit is None else limit),
    ).fetchall()
    if not rows:
        return mark
    # A record naming one PIN twice (a batch verification) is one access: one key.
    subjects = sorted({(pin, seq) for seq, pins in rows for pin in orjson.loads(pins)})
    conn.executemany("INSERT OR IGNORE INTO audit_subject (pin, seq) VALUES (?, ?)", subjects)
    last = int(rows[-1][0])
    conn.execute("UPDATE audit_subject_mark SET seq = ? WHERE id = 1", (last,))
    return last

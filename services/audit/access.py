"""The citizen access-log query over the audit chain, shared by its SQLite and PostgreSQL forms."""

from __future__ import annotations

from typing import Any

import orjson

# The record's public part (records.PUBLIC_COLUMNS), then its chain hash: what a citizen needs
# to rebuild the record's Merkle leaf (services/audit/proofs.py).
ACCESS_COLUMNS = ("seq", "ts", "agency", "officer", "procedure", "purpose", "legal_basis",
                  "operation", "fields", "request_id", "record_hash")  # fmt: skip


def accesses_query(
    mark: str,
    pin: str,
    now: str,
    since: str | None,
    until: str | None,
    agency: str | None,
    purpose: str | None,
    limit: int,
    *,
    subject_seqs: str | None = None,
) -> tuple[str, list[Any]]:
    """The access-log query of both audit backends; ``mark`` is the driver's placeholder.

    ``subject_seqs``, if given, selects the seqs of the records naming the PIN (bound twice)
    instead of a join with ``audit_subject`` (the SQLite log's index trails its chain).
    """
    columns = (
        "SELECT a.seq, a.ts, a.agency, a.officer, a.procedure, a.purpose, a.legal_basis,"
        " a.operation, a.fields, a.request_id, a.hash"
    )
    visible = f" AND a.status < 400 AND (a.hidden_until IS NULL OR a.hidden_until <= {mark})"
    args: list[Any]
    if subject_seqs is None:
        sql = [columns, " FROM audit_subject s JOIN audit a ON a.seq = s.seq",
               f" WHERE s.pin = {mark}", visible]  # fmt: skip
        args = [pin, now]
    else:
        sql = [columns, f" FROM audit a WHERE a.seq IN ({subject_seqs})", visible]
        args = [pin, pin, now]
    for column, op, value in (
        ("ts", ">=", since),
        ("ts", "<", until),
        ("agency", "=", agency),
        ("purpose", "=", purpose),
    ):
        if value is not None:
            sql.append(f" AND a.{column} {op} {mark}")
            args.append(value)
    sql.append(f" ORDER BY a.seq LIMIT {mark}")
    args.append(limit)
    return "".join(sql), args


def access_row(row: Any) -> dict[str, Any]:
    """One access-log row as a dict, its field list decoded."""
    item = dict(zip(ACCESS_COLUMNS, row, strict=True))
    item["fields"] = orjson.loads(item["fields"])
    return item

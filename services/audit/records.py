"""Audit records: what the gateway keeps of each exchange, and the hash chain over them.

Each record carries ``prev_hash`` (the previous record's ``hash``; 64 zeros for the first) and
``hash`` = SHA-256 over ``prev_hash`` and the canonical JSON of the record with its sequence
number, so editing, deleting, reordering or inserting a record breaks the chain at that index.
A civil-status write also carries ``digests`` (SHA-256 of each record it changed, before and
after), hashed with the record when present: the column was added later (a migration on open),
and a record without digests hashes exactly as records always did.

The chain alone can be re-hashed by whoever can write the database; the Merkle leaves of
:func:`leaf_hash` and the signed tree heads of :mod:`services.audit.checkpoints` (kept outside
it) are what make such a rewrite visible.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from typing import Any

import orjson

from sim06.services.common.problems import ProblemError

GENESIS = "0" * 64

_COLUMNS = (
    "seq", "ts", "agency", "officer", "procedure", "purpose", "legal_basis", "request_id",
    "operation", "pins", "fields", "status", "outcome", "latency_ms", "request_hash",
    "response_hash", "hidden_until", "prev_hash",
)  # fmt: skip
# Hashed only when not null (records written before the column existed have none): a JSON text
# list of {"pin", "before", "after"}, SHA-256 hex of each record the write changed (before is
# null for a new PIN).
DIGESTS = "digests"
# The stored columns in the order of a :func:`chain` row.
ROW_COLUMNS = (*_COLUMNS, "hash", DIGESTS)


@dataclass(slots=True)
class AuditEntry:
    """One exchange as the gateway saw it (no personal data except the PINs looked up)."""

    ts: str
    agency: str
    officer: str
    procedure: str
    purpose: str
    legal_basis: str
    request_id: str
    operation: str
    status: int
    outcome: str
    latency_ms: float
    request_hash: str
    response_hash: str
    pins: list[str] = field(default_factory=list)
    fields: list[str] = field(default_factory=list)
    hidden_until: str | None = None
    # Civil-status writes: SHA-256 of each record before and after ({pin, before, after}).
    digests: list[dict[str, str | None]] | None = None


def record_hash(row: dict[str, Any]) -> str:
    """The chain hash of a stored row (every column but ``hash``; ``digests`` only if not null,
    so a row read from a file or table without that column hashes as before)."""
    record = {k: row[k] for k in _COLUMNS}
    digests = row.get(DIGESTS)
    if digests is not None:
        record[DIGESTS] = digests
    canonical = orjson.dumps(record, option=orjson.OPT_SORT_KEYS)
    return hashlib.sha256(row["prev_hash"].encode("ascii") + b"\n" + canonical).hexdigest()


_SORTED = tuple(sorted(_COLUMNS))  # the canonical key order of record_hash (OPT_SORT_KEYS)


def chain(
    batch: list[AuditEntry],
    seq: int,
    prev: str,
    *,
    with_subjects: bool = True,
    leaves: bytearray | None = None,
) -> tuple[list[tuple[Any, ...]], list[tuple[str, int]], int, str]:
    """The rows (``ROW_COLUMNS``) and ``(pin, seq)`` subjects of ``batch`` appended after
    record ``seq`` whose hash is ``prev``, and the new head ``(seq, hash)``. No subjects unless
    ``with_subjects`` (the SQLite log indexes them later: :mod:`.index`). With ``leaves``,
    each record's Merkle leaf hash (:func:`stored_leaf`) is appended to it, so the checkpoints
    need not read the records back.

    Each hash is :func:`record_hash` of the row; the canonical JSON is built with its keys
    already in sorted order (what ``OPT_SORT_KEYS`` yields, byte for byte) since this runs once
    per exchange on the event loop. A record with digests (a civil-status write, rare) is
    sorted by orjson instead, its ``digests`` key added.
    """
    rows: list[tuple[Any, ...]] = []
    subjects: list[tuple[str, int]] = []
    dumps, sha256 = orjson.dumps, hashlib.sha256
    for entry in batch:
        seq += 1
        pins = dumps(entry.pins).decode()
        fields = dumps(entry.fields).decode()
        record = {
            "agency": entry.agency,
            "fields": fields,
            "hidden_until": entry.hidden_until,
            "latency_ms": entry.latency_ms,
            "legal_basis": entry.legal_basis,
            "officer": entry.officer,
            "operation": entry.operation,
            "outcome": entry.outcome,
            "pins": pins,
            "prev_hash": prev,
            "procedure": entry.procedure,
            "purpose": entry.purpose,
            "request_hash": entry.request_hash,
            "request_id": entry.request_id,
            "response_hash": entry.response_hash,
            "seq": seq,
            "status": entry.status,
            "ts": entry.ts,
        }
        if entry.digests is None:
            digests = None
            canonical = dumps(record)
        else:
            digests = dumps(entry.digests).decode()
            record[DIGESTS] = digests
            canonical = dumps(record, option=orjson.OPT_SORT_KEYS)
        digest = sha256(prev.encode("ascii") + b"\n" + canonical).hexdigest()
        if leaves is not None:
            # public_json's bytes: these keys are in sorted order already.
            public = dumps(
                {
                    "agency": entry.agency,
                    "fields": orjson.Fragment(fields),
                    "legal_basis": entry.legal_basis,
                    "officer": entry.officer,
                    "operation": entry.operation,
                    "procedure": entry.procedure,
                    "purpose": entry.purpose,
                    "request_id": entry.request_id,
                    "seq": seq,
                    "ts": entry.ts,
                }
            )
            leaves += sha256(b"\x00" + public + b"\n" + digest.encode("ascii")).digest()
        rows.append(
            (
                seq, entry.ts, entry.agency, entry.officer, entry.procedure, entry.purpose,
                entry.legal_basis, entry.request_id, entry.operation, pins, fields, entry.status,
                entry.outcome, entry.latency_ms, entry.request_hash, entry.response_hash,
                entry.hidden_until, prev, digest, digests,
            )
        )  # fmt: skip
        prev = digest
        pin_list = entry.pins
        if not with_subjects:
            continue
        if len(pin_list) == 1:
            subjects.append((pin_list[0], seq))
        else:
            subjects.extend((pin, seq) for pin in dict.fromkeys(pin_list))
    return rows, subjects, seq, prev


# --- Merkle leaves ------------------------------------------------------------------------

# What a citizen's access-log entry shows of a record (the same columns, the same names): the
# part of a leaf they can check byte for byte. The rest of the record (the PINs of everyone a
# batch named, request and response hashes, digests) enters the leaf only through its chain
# hash, so an inclusion proof discloses nothing of other citizens.
PUBLIC_COLUMNS = ("seq", "ts", "agency", "officer", "procedure", "purpose", "legal_basis",
                  "operation", "fields", "request_id")  # fmt: skip


def public_json(row: dict[str, Any]) -> bytes:
    """The canonical JSON of a record's public part: keys sorted, no spaces, UTF-8, ``fields``
    as a list (what ``json.dumps(..., sort_keys=True, separators=(",", ":"),
    ensure_ascii=False)`` gives for the access-log entry)."""
    fields = row["fields"]
    part = {k: row[k] for k in PUBLIC_COLUMNS}
    # Stored as compact JSON text already (orjson): embedded as is rather than decoded.
    part["fields"] = orjson.Fragment(fields) if isinstance(fields, str) else fields
    return orjson.dumps(part, option=orjson.OPT_SORT_KEYS)


def leaf_data(row: dict[str, Any], chain_hash: str) -> bytes:
    """The Merkle leaf of a record: its public JSON, a newline, its chain hash (hex)."""
    return public_json(row) + b"\n" + chain_hash.encode("ascii")


def record_leaf(row: dict[str, Any]) -> bytes:
    """The leaf hash (RFC 9162 ``SHA-256(0x00 || leaf)``) of a stored row, with its chain hash
    recomputed from its columns."""
    return hashlib.sha256(b"\x00" + leaf_data(row, record_hash(row))).digest()


# What a leaf needs of a stored row when its chain hash is taken as stored (the checkpoints,
# right after the commit: verification recomputes the hash and compares).
LEAF_COLUMNS = (*PUBLIC_COLUMNS, "hash")


def stored_leaf(row: dict[str, Any]) -> bytes:
    """The leaf hash of a row of ``LEAF_COLUMNS``, its chain hash as stored."""
    return hashlib.sha256(b"\x00" + leaf_data(row, row["hash"])).digest()


def write_failed(error: BaseException) -> ProblemError:
    """What a request whose audit record could not be written gets: the gateway fails closed.

    The exchange is not answered unaudited (a full or read-only disk, a lost database): 503
    ``GATEWAY_AUDIT_UNAVAILABLE`` with Retry-After. The transaction was rolled back, so the
    chain stays intact and the next commit continues it.
    """
    return ProblemError(
        "GATEWAY_AUDIT_UNAVAILABLE",
        f"The audit log could not record this exchange ({type(error).__name__}); "
        "nothing was answered. Retry shortly.",
        headers={"Retry-After": "1"},
    )

"""The verdict on an audit log: its hash chain, then the signed tree heads that anchor it.

The chain alone catches an edit, a deletion or a swap that was not covered up; whoever can write
the database can also re-hash every record after an edit and move ``audit_head``, and then only
something outside the database tells. That is the checkpoint file (:mod:`.checkpoints`): its
heads are signed with the audit key, and the leaves they cover are compared one by one with the
leaves recomputed from the log, so the first record that is not what was signed is named:

- truncation: the log ends before the last signed tree size → the first missing record;
- an edit re-hashed, records swapped or the head of the log rewritten → the first record whose
  leaf differs from the signed one.

Records after the last head are checked by the chain alone (at most ``every`` records or
``interval`` seconds of them; none after a clean shutdown).
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import jwt
import orjson

from sim06.services.audit.checkpoints import (
    STH_TYPE,
    CheckpointError,
    CheckpointFile,
    TreeHead,
    load_tree,
)
from sim06.services.audit.merkle import HASH_SIZE, MerkleTree
from sim06.services.audit.records import GENESIS, public_json, record_hash
from sim06.services.common.keys import KeyStore


@dataclass(frozen=True, slots=True)
class ChainReport:
    """The outcome of a verification: ``index`` is the first bad record's seq.

    ``anchored`` is the size of the last signed tree head checked (0 if none were), ``heads``
    how many heads the checkpoint file holds.
    """

    ok: bool
    records: int
    index: int | None = None
    problem: str | None = None
    anchored: int = 0
    heads: int = 0


@dataclass(frozen=True, slots=True)
class Anchor:
    """What the signed tree heads say the log holds: the leaves of its first ``size`` records."""

    leaves: bytes
    heads: list[TreeHead]

    @property
    def size(self) -> int:
        return len(self.leaves) // HASH_SIZE


def load_anchor(
    path: Path, keys: KeyStore, stamped: Callable[[bytes, bytes], bool] | None = None
) -> Anchor:
    """Read the checkpoint file at ``path``, checking every head's signature with ``keys``
    (the audit key set), that the leaves give each signed root and, with ``stamped(tst,
    data)``, each time-stamp token; :class:`CheckpointError` says which head is wrong."""
    lines, _ = CheckpointFile(path).read()
    tree, heads = MerkleTree(), list[TreeHead]()

    def verified(sth: str) -> dict[str, Any]:
        try:
            header = jwt.get_unverified_header(sth)
            key = keys.get(str(header.get("kid")))
            if key is None or header.get("typ") != STH_TYPE:
                raise CheckpointError(f"checkpoint {len(heads) + 1} is signed by an unknown key")
            decoded = jwt.api_jws.decode_complete(
                sth, key.private_key.public_key(), algorithms=[key.alg]
            )
        except jwt.PyJWTError:
            raise CheckpointError(
                f"checkpoint {len(heads) + 1}: the signature does not verify (forged or edited)"
            ) from None
        payload: dict[str, Any] = orjson.loads(decoded["payload"])
        return payload

    load_tree(lines, tree, heads, verify=verified, stamped=stamped)
    return Anchor(tree.leaves(), heads)


def verify_rows(
    rows: Iterable[dict[str, Any]], head: Callable[[], Any], anchor: Anchor | None = None
) -> ChainReport:
    """Walk ``rows`` (every stored column, in seq order), compare each with the signed leaves
    of ``anchor`` if given, then check the log's end against the signed tree size and the
    chain's end against ``head()`` (the ``(seq, hash)`` of the head row, or None)."""
    prev, expected, count = GENESIS, 1, 0
    leaves = anchor.leaves if anchor is not None else b""
    signed = len(leaves) // HASH_SIZE
    sha256 = hashlib.sha256
    heads = len(anchor.heads) if anchor is not None else 0

    def bad(count: int, index: int, problem: str) -> ChainReport:
        return ChainReport(False, count, index, problem, signed, heads)

    for row in rows:
        seq = row["seq"]
        if seq != expected:
            return bad(
                count, expected,
                f"record {expected} is missing (deleted); the next one is {seq}",
            )  # fmt: skip
        if row["prev_hash"] != prev:
            return bad(
                count, seq,
                f"record {seq} does not follow record {seq - 1} (reordered, inserted or "
                "the previous record was replaced)",
            )  # fmt: skip
        digest = record_hash(row)
        if digest != row["hash"]:
            return bad(count, seq, f"record {seq} was altered")
        if seq <= signed:  # the chain holds: is it the chain that was signed?
            leaf = sha256(b"\x00" + public_json(row) + b"\n" + digest.encode("ascii")).digest()
            start = (seq - 1) * HASH_SIZE
            if leaf != leaves[start : start + HASH_SIZE]:
                return bad(
                    count, seq,
                    f"record {seq} is not the record the signed tree head of size {signed} "
                    "covers (edited and the chain re-hashed, swapped, or replaced)",
                )  # fmt: skip
        prev, expected, count = row["hash"], expected + 1, count + 1
    if count < signed:
        return bad(
            count, count + 1,
            f"record {count + 1} is missing: the signed tree head covers {signed} records "
            f"but the log ends at {count} (records deleted from the end)",
        )  # fmt: skip
    found = head()
    head_seq, head_hash = (int(found[0]), str(found[1])) if found else (0, GENESIS)
    if head_seq != count or head_hash != prev:
        return bad(
            count, count + 1 if head_seq > count else head_seq,
            f"the head names record {head_seq} but the chain ends at {count} "
            "(records deleted from the end, or the head was altered)",
        )  # fmt: skip
    return ChainReport(True, count, None, None, signed, heads)

"""Inclusion proofs of a citizen's access-log entries against a signed tree head.

Each entry of ``GET /v1/citizens/{pin}/access-log`` carries ``proof``::

    {"leaf_index": seq - 1, "tree_size": n, "record_hash": "<the record's chain hash, hex>",
     "audit_path": ["<base64>", ...]}

and the body carries the signed ``tree_head`` of size ``n`` they were proved against. Anyone can
then check an entry offline (``scripts/verify_access_proof.py``, which needs only
``cryptography``): the head's signature with the audit JWKS; the leaf
``SHA-256(0x00 || canonical JSON of the entry's recorded fields || "\\n" || record_hash)``; and
the audit path from that leaf to the signed root (RFC 9162 §2.1.3.2). Changing any byte of
those fields, of the hash or of the path makes it fail. The agency names and the action labels
are derived when the log is read (the agency directory may change) and are not covered.

Records newer than the last head are anchored first (a head signed on demand), so every entry
has its proof; ``proof`` is null only if no head can be signed (the log stopped extending its
signed tree: ``sim06 audit verify`` says why).
"""

from __future__ import annotations

from typing import Any

from sim06.services.audit.checkpoints import CheckpointError, Checkpoints, TreeHead, b64


def head_for(checkpoints: Checkpoints, newest: int) -> TreeHead | None:
    """The latest signed tree head, signed anew first if it does not cover record ``newest``
    (blocking: run it off the event loop)."""
    try:
        head = checkpoints.latest()
        if head is None or head.tree_size < newest:
            checkpoints.checkpoint()
            head = checkpoints.latest()
    except CheckpointError:  # a tampered checkpoint file: no proofs (`sim06 audit verify`)
        return None
    return head


def attach_proofs(
    rows: list[dict[str, Any]], checkpoints: Checkpoints, head: TreeHead | None
) -> None:
    """Replace each row's ``record_hash`` by its ``proof`` against ``head``."""
    for row in rows:
        record_hash = row.pop("record_hash")
        seq = int(row["seq"])
        if head is None or seq > head.tree_size:
            row["proof"] = None
            continue
        path = checkpoints.inclusion(seq, head)
        row["proof"] = {
            "leaf_index": seq - 1,
            "tree_size": head.tree_size,
            "record_hash": record_hash,
            "audit_path": [b64(node) for node in path],
        }

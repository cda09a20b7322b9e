"""The audit trail the gateway and the write path share (issue #17).

records.py     what is kept of an exchange, the hash chain, the Merkle leaf of a record
sqlite.py      the log in one SQLite file (group commit)
postgres.py    the log in PostgreSQL, one chain for every gateway replica
access.py      the citizen access-log query; index.py the per-citizen index behind the chain
merkle.py      RFC 9162 Merkle tree: roots, inclusion and consistency proofs
checkpoints.py signed tree heads, outside the log database
proofs.py      inclusion proofs of citizen access-log entries
tsa.py         the mock RFC 3161 time-stamping authority
verify.py      the verdict: chain, then signed heads (first bad record)
backends.py    which log the settings name; commands.py ``sim06 audit verify``
"""

from sim06.services.audit.records import (
    DIGESTS,
    GENESIS,
    ROW_COLUMNS,
    AuditEntry,
    chain,
    record_hash,
    record_leaf,
)
from sim06.services.audit.sqlite import AuditLog, verify_chain
from sim06.services.audit.verify import ChainReport, verify_rows

__all__ = [
    "DIGESTS",
    "GENESIS",
    "ROW_COLUMNS",
    "AuditEntry",
    "AuditLog",
    "ChainReport",
    "chain",
    "record_hash",
    "record_leaf",
    "verify_chain",
    "verify_rows",
]

"""Signed tree heads of the audit log, kept outside the log database (RFC 9162 §4.10).

Every ``every`` records, every ``interval`` seconds when records came meanwhile, and once more
on a clean shutdown, :class:`Checkpoints` reads the records appended since the last head from
the log, adds their Merkle leaves (:func:`services.audit.records.record_leaf`) to the tree, and
appends one line to an append-only JSON Lines file (``DATA_DIR/audit-checkpoints/<log>.jsonl``)::

    {"from": 2000, "leaves": "<base64 of the 32-byte leaf hashes 2000..2999>",
     "sth": "<compact JWS (ES256, the audit key) of the signed tree head>",
     "tst": "<base64 RFC 3161 TimeStampResp over the sth's ASCII>"}   # only with a TSA

The signed tree head (the JWS payload) is ``{"log", "tree_size", "root_hash" (base64),
"timestamp"}``. The leaves let ``sim06 audit verify`` name the first record that differs from
what was signed (not just "somewhere before record 3000"), and they are bound by the signature:
their tree's root must be the signed root. Whoever rewrites the database cannot rewrite this
file without the audit key, which signs nothing else (not the response-signing key).

Several gateway processes writing one PostgreSQL log share the file: a head is made under an
exclusive ``flock``, after reading the lines the other processes appended, so the heads form one
sequence whatever process wrote them.
"""

from __future__ import annotations

import base64
import fcntl
import logging
import os
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import jwt
import orjson

from sim06.services.audit.merkle import HASH_SIZE, MerkleTree
from sim06.services.audit.records import stored_leaf
from sim06.services.common.keys import KeyStore

log = logging.getLogger("sim06.audit.checkpoints")

STH_TYPE = "sim06-sth+jwt"  # the JWS ``typ`` of a signed tree head
# Rows read from the log per query when catching up.
_CHUNK = 5000

# ``rows_after(seq, limit)``: the stored rows after ``seq`` in seq order (``LEAF_COLUMNS``).
RowSource = Callable[[int, int], list[dict[str, Any]]]
# ``stamp(data)``: an RFC 3161 TimeStampResp (DER) over ``data`` (its SHA-256).
Stamper = Callable[[bytes], bytes]


def b64(data: bytes) -> str:
    """Standard base64 (RFC 4648 §4), as the tree heads carry hashes."""
    return base64.b64encode(data).decode("ascii")


@dataclass(frozen=True, slots=True)
class TreeHead:
    """One signed tree head, as read from the checkpoint file."""

    log: str
    tree_size: int
    root_hash: bytes
    timestamp: str
    sth: str  # the compact JWS
    tst: bytes | None = None

    def as_json(self) -> dict[str, Any]:
        """The head as published (``GET /v1/audit/tree-heads/latest``)."""
        body: dict[str, Any] = {
            "log": self.log,
            "tree_size": self.tree_size,
            "root_hash": b64(self.root_hash),
            "timestamp": self.timestamp,
            "signature": self.sth,
        }
        if self.tst is not None:
            body["timestamp_token"] = b64(self.tst)
        return body


class CheckpointError(ValueError):
    """The checkpoint file is not what the audit key signed (``str(exc)`` says where)."""


def _payload(sth: str) -> dict[str, Any]:
    """The JWS payload, unverified (the file's own writer reading it back)."""
    body = sth.split(".")
    if len(body) != 3:
        raise CheckpointError("a signed tree head is not a compact JWS")
    raw = base64.urlsafe_b64decode(body[1] + "=" * (-len(body[1]) % 4))
    payload: dict[str, Any] = orjson.loads(raw)
    return payload


def _head(line: dict[str, Any], payload: dict[str, Any]) -> TreeHead:
    tst = line.get("tst")
    return TreeHead(
        log=str(payload["log"]),
        tree_size=int(payload["tree_size"]),
        root_hash=base64.b64decode(payload["root_hash"]),
        timestamp=str(payload["timestamp"]),
        sth=str(line["sth"]),
        tst=base64.b64decode(tst) if tst else None,
    )


class CheckpointFile:
    """The append-only JSON Lines file of one log's signed tree heads."""

    def __init__(self, path: Path) -> None:
        self.path = path

    @contextmanager
    def locked(self) -> Iterator[None]:
        """Hold the exclusive lock of the file (between processes and threads alike)."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with open(self.path.with_suffix(".lock"), "a+b") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(lock, fcntl.LOCK_UN)

    def read(self, offset: int = 0) -> tuple[list[dict[str, Any]], int]:
        """The complete lines after byte ``offset``, parsed, and the offset after them."""
        try:
            with open(self.path, "rb") as file:
                file.seek(offset)
                data = file.read()
        except FileNotFoundError:
            return [], offset
        end = data.rfind(b"\n") + 1  # a line still being written is read next time
        lines = []
        for number, raw in enumerate(data[:end].splitlines()):
            try:
                lines.append(orjson.loads(raw))
            except orjson.JSONDecodeError:
                raise CheckpointError(f"checkpoint line {number + 1} is not JSON") from None
        return lines, offset + end

    def append(self, line: dict[str, Any]) -> None:
        """Append one line and fsync it (a head is evidence: it must survive a crash)."""
        with open(self.path, "ab") as file:
            file.write(orjson.dumps(line) + b"\n")
            file.flush()
            os.fsync(file.fileno())


def load_tree(
    lines: list[dict[str, Any]],
    tree: MerkleTree,
    heads: list[TreeHead],
    *,
    verify: Callable[[str], dict[str, Any]] | None = None,
    stamped: Callable[[bytes, bytes], bool] | None = None,
) -> None:
    """Add ``lines`` to ``tree`` and ``heads``, checking that each line continues the tree and
    that its leaves give its signed root; ``verify(sth) -> payload`` checks the signature and
    ``stamped(tst, sth)`` a time-stamp token, when given."""
    for line in lines:
        number = len(heads) + 1
        payload = verify(line["sth"]) if verify is not None else _payload(line["sth"])
        head = _head(line, payload)
        leaves = base64.b64decode(line.get("leaves", ""))
        if int(line.get("from", -1)) != tree.size:
            raise CheckpointError(
                f"checkpoint {number} starts at record {int(line.get('from', -1)) + 1}, "
                f"not after the {tree.size} records of the previous head (a head removed?)"
            )
        if tree.size + len(leaves) // HASH_SIZE != head.tree_size or len(leaves) % HASH_SIZE:
            raise CheckpointError(f"checkpoint {number} holds the wrong number of leaves")
        tree.extend(leaves)
        if tree.root() != head.root_hash:
            raise CheckpointError(
                f"checkpoint {number}: its leaves do not give the signed root of size "
                f"{head.tree_size} (the file was edited)"
            )
        if stamped is not None and head.tst is not None:
            if not stamped(head.tst, head.sth.encode("ascii")):
                raise CheckpointError(f"checkpoint {number}: its RFC 3161 time-stamp is not valid")
        heads.append(head)


class Checkpoints:
    """Writes and serves the signed tree heads of one audit log."""

    def __init__(
        self,
        path: Path,
        keys: KeyStore,
        log_name: str,
        *,
        every: int = 1000,
        interval: float = 5.0,
        stamp: Stamper | None = None,
    ) -> None:
        self.file = CheckpointFile(path)
        self.keys = keys
        self.log_name = log_name
        self.every = every
        self.interval = interval
        self.stamp = stamp
        self.tree = MerkleTree()
        self.heads: list[TreeHead] = []
        self._offset = 0
        self._lock = threading.Lock()  # tree and heads, in this process
        self._source: RowSource | None = None
        self._appended = 0  # the last seq the log reported committed
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.failed = False  # the source's log no longer extends the signed tree
        # Leaves the writer computed as it chained its records: (seq of the first, hashes).
        self._pushed_start = 0
        self._pushed = bytearray()
        self._push_lock = threading.Lock()

    # --- the writer side ------------------------------------------------------------------

    def attach(self, source: RowSource, committed: int) -> None:
        """Follow the log read by ``source`` whose last committed record is ``committed``;
        heads are made on a background thread from now on."""
        self._source = source
        self._appended = committed
        try:
            latest = self.latest()
            if latest is None:
                # A first head at once (over the records already there, or none): from now on
                # a log without a checkpoint file is one whose heads were deleted.
                self.checkpoint(force=True)
            elif latest.tree_size > committed:
                self._diverged(
                    f"the log holds {committed} records, its signed tree heads {latest.tree_size}"
                    " (truncated or replaced)"
                )
        except CheckpointError as exc:  # the gateway serves on; `sim06 audit verify` says why
            self._diverged(f"the checkpoint file is not valid: {exc}")
            return
        if self._thread is None:
            self._thread = threading.Thread(
                target=self._run, name="sim06-audit-checkpoints", daemon=True
            )
            self._thread.start()

    def push(self, first: int, leaves: bytes) -> None:
        """The leaf hashes of records ``first``... just committed by this process's writer
        (kept until signed; a gap, another replica's records, makes the next head read the
        records from the log instead)."""
        with self._push_lock:
            if self._pushed and first == self._pushed_start + len(self._pushed) // HASH_SIZE:
                self._pushed += leaves
            else:
                self._pushed_start, self._pushed = first, bytearray(leaves)

    def _take_pushed(self, start: int) -> bytes:
        """The pushed leaves of records ``start + 1``... (empty if they do not start there)."""
        with self._push_lock:
            offset = (start + 1 - self._pushed_start) * HASH_SIZE
            taken = b""
            if self._pushed and 0 <= offset < len(self._pushed):
                taken = bytes(self._pushed[offset:])
            self._pushed_start, self._pushed = 0, bytearray()
            return taken

    def note(self, seq: int) -> None:
        """The log committed up to record ``seq`` (cheap: called after every commit)."""
        self._appended = max(self._appended, seq)
        if seq - self.tree.size >= self.every:
            self._wake.set()

    def close(self) -> None:
        """Stop the thread and sign a last head over every committed record."""
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join()
            self._thread = None
        if self._source is not None:
            try:
                self.checkpoint()
            except CheckpointError as exc:  # the file was tampered with: say so, stop anyway
                log.error("no last audit tree head: %s (run `sim06 audit verify`)", exc)

    def _run(self) -> None:
        while not self._stop.is_set():
            self._wake.wait(self.interval)
            self._wake.clear()
            if self._stop.is_set():
                return
            if self._appended > self.tree.size:
                try:
                    self.checkpoint()
                except Exception:  # logged, retried on the next turn: never kills the thread
                    log.exception("audit checkpoint failed")

    def checkpoint(self, *, force: bool = False) -> TreeHead | None:
        """Sign a head over the records committed since the last one (any process's); None
        if there were none (with ``force`` and no head yet: a first head, even over none)."""
        source = self._source
        if source is None:
            raise RuntimeError("no audit log attached")
        with self._lock, self.file.locked():
            self._refresh()
            start = self.tree.size
            leaves = bytearray(self._take_pushed(start))
            after = start + len(leaves) // HASH_SIZE
            while after < self._appended or not leaves:  # the rest from the log itself
                rows = source(after, _CHUNK)
                for row in rows:
                    if int(row["seq"]) != after + 1:
                        self._diverged(f"record {after + 1} is missing from the log")
                        return None
                    leaves += stored_leaf(row)
                    after += 1
                if len(rows) < _CHUNK:
                    break
            if not leaves and not (force and not self.heads):
                if start < self._appended and not self.failed:
                    self._diverged(f"the log has fewer records than the {start} signed")
                return None
            self.tree.extend(bytes(leaves))
            head = self._sign(self.tree.size, self.tree.root())
            line: dict[str, Any] = {"from": start, "leaves": b64(bytes(leaves)), "sth": head.sth}
            if head.tst is not None:
                line["tst"] = b64(head.tst)
            self.file.append(line)
            self._offset = self.file.path.stat().st_size
            self.heads.append(head)
            return head

    def _diverged(self, why: str) -> None:
        """Say once (an error in the log) that the log no longer extends its signed tree."""
        if not self.failed:
            log.error("audit checkpoints: %s; run `sim06 audit verify`", why)
        self.failed = True

    def _sign(self, size: int, root: bytes) -> TreeHead:
        key = self.keys.current
        timestamp = datetime.now(UTC).isoformat(timespec="microseconds").replace("+00:00", "Z")
        payload = {
            "log": self.log_name,
            "root_hash": b64(root),
            "timestamp": timestamp,
            "tree_size": size,
        }
        sth = jwt.api_jws.encode(
            orjson.dumps(payload, option=orjson.OPT_SORT_KEYS),
            key.private_key,
            algorithm=key.alg,
            headers={"kid": key.kid, "typ": STH_TYPE},
        )
        tst = None
        if self.stamp is not None:
            try:
                tst = self.stamp(sth.encode("ascii"))
            except Exception:  # the head stands without its counter-signature
                log.exception("time-stamping the audit tree head failed")
        return TreeHead(self.log_name, size, root, timestamp, sth, tst)

    # --- the reader side ------------------------------------------------------------------

    def _refresh(self) -> None:
        """Read the heads other processes appended (``_lock`` held)."""
        lines, self._offset = self.file.read(self._offset)
        if lines:
            load_tree(lines, self.tree, self.heads)

    def latest(self) -> TreeHead | None:
        """The newest signed tree head (whichever process wrote it)."""
        with self._lock:
            self._refresh()
            return self.heads[-1] if self.heads else None

    def inclusion(self, seq: int, head: TreeHead) -> list[bytes]:
        """The audit path of record ``seq`` in the tree of ``head``."""
        with self._lock:
            return self.tree.inclusion_proof(seq - 1, head.tree_size)

    def consistency(self, first: int, second: int) -> list[bytes]:
        """The consistency proof between the heads of sizes ``first`` and ``second``."""
        with self._lock:
            self._refresh()
            return self.tree.consistency_proof(first, second)

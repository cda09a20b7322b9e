"""RFC 9162 §2.1 Merkle trees: tree hashes, inclusion and consistency proofs, their checks.

Leaves are hashed ``SHA-256(0x00 || data)`` and interior nodes ``SHA-256(0x01 || left ||
right)``, with the tree split at the largest power of two below its size (the Certificate
Transparency tree, so any RFC 6962/9162 verifier checks sim06's proofs).

Written here rather than taken from pymerkle: pymerkle's proofs are its own objects (not the
bare RFC 9162 audit paths a citizen's script or another verifier reads), and the audit log needs
an append-only tree that answers roots and proofs for any past size at O(log n) cost. The
algorithms are small and tested against the CT reference vectors
(``tests/services/audit/test_merkle.py``).

:class:`MerkleTree` keeps the root of every complete (power-of-two, aligned) subtree: 2n hashes
of 32 bytes in a few ``bytearray``, filled as leaves are appended (one node hash per append on
average), so appending is cheap on the audit writer's path and no root is ever recomputed from
the leaves.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence

__all__ = [
    "EMPTY_ROOT",
    "HASH_SIZE",
    "MerkleTree",
    "leaf_hash",
    "node_hash",
    "verify_consistency",
    "verify_inclusion",
]

HASH_SIZE = 32
EMPTY_ROOT = hashlib.sha256(b"").digest()  # MTH({}) (RFC 9162 §2.1.1)


def leaf_hash(data: bytes) -> bytes:
    """``MTH({d}) = SHA-256(0x00 || d)``."""
    return hashlib.sha256(b"\x00" + data).digest()


def node_hash(left: bytes, right: bytes) -> bytes:
    """``SHA-256(0x01 || left || right)``."""
    return hashlib.sha256(b"\x01" + left + right).digest()


def _split(n: int) -> int:
    """The largest power of two smaller than ``n`` (``n > 1``)."""
    return 1 << ((n - 1).bit_length() - 1)


class MerkleTree:
    """An append-only tree over leaf hashes, answering for every size it has had."""

    def __init__(self, leaves: bytes = b"") -> None:
        # _levels[k] holds the roots of the complete subtrees of 2**k leaves, left to right.
        self._levels: list[bytearray] = [bytearray()]
        self.extend(leaves)

    @property
    def size(self) -> int:
        """The number of leaves."""
        return len(self._levels[0]) // HASH_SIZE

    def append(self, leaf: bytes) -> None:
        """Add one leaf hash (32 bytes) and complete the subtrees it closes."""
        if len(leaf) != HASH_SIZE:
            raise ValueError("a leaf hash is 32 bytes")
        levels = self._levels
        levels[0] += leaf
        index, level = self.size - 1, 0
        while index & 1:  # a right child: its parent is complete now
            row = levels[level]
            start = (index - 1) * HASH_SIZE
            parent = node_hash(
                bytes(row[start : start + HASH_SIZE]), bytes(row[start + HASH_SIZE :])
            )
            if len(levels) == level + 1:
                levels.append(bytearray())
            levels[level + 1] += parent
            index, level = index >> 1, level + 1

    def extend(self, leaves: bytes) -> None:
        """Append concatenated 32-byte leaf hashes."""
        if len(leaves) % HASH_SIZE:
            raise ValueError("leaf hashes are 32 bytes each")
        for start in range(0, len(leaves), HASH_SIZE):
            self.append(leaves[start : start + HASH_SIZE])

    def leaf(self, index: int) -> bytes:
        """The leaf hash at ``index`` (0-based)."""
        return self._node(0, index)

    def leaves(self, start: int = 0, end: int | None = None) -> bytes:
        """The concatenated leaf hashes ``[start, end)``."""
        stop = self.size if end is None else end
        return bytes(self._levels[0][start * HASH_SIZE : stop * HASH_SIZE])

    def root(self, size: int | None = None) -> bytes:
        """``MTH(D[0:size])`` (the current root if ``size`` is None)."""
        n = self.size if size is None else size
        self._check(n)
        return self._mth(0, n)

    def inclusion_proof(self, index: int, size: int | None = None) -> list[bytes]:
        """``PATH(index, D[0:size])`` (RFC 9162 §2.1.3.1)."""
        n = self.size if size is None else size
        self._check(n)
        if not 0 <= index < n:
            raise ValueError(f"leaf {index} is not in a tree of {n}")
        return self._path(index, 0, n)

    def consistency_proof(self, first: int, second: int | None = None) -> list[bytes]:
        """``PROOF(first, D[0:second])`` (RFC 9162 §2.1.4.1); empty if ``first`` is 0 or equal."""
        n = self.size if second is None else second
        self._check(n)
        if not 0 <= first <= n:
            raise ValueError(f"a tree of {first} is not a prefix of a tree of {n}")
        if first in (0, n):
            return []
        return self._subproof(first, 0, n, True)

    # --- internals --------------------------------------------------------------------------

    def _check(self, n: int) -> None:
        if not 0 <= n <= self.size:
            raise ValueError(f"the tree has {self.size} leaves, not {n}")

    def _node(self, level: int, index: int) -> bytes:
        start = index * HASH_SIZE
        return bytes(self._levels[level][start : start + HASH_SIZE])

    def _mth(self, start: int, n: int) -> bytes:
        """The hash of ``D[start:start+n]``; every left subtree of the RFC split is aligned, so
        a power-of-two range is a stored node."""
        if n == 0:
            return EMPTY_ROOT
        if n & (n - 1) == 0:
            return self._node(n.bit_length() - 1, start // n)
        k = _split(n)
        return node_hash(self._mth(start, k), self._mth(start + k, n - k))

    def _path(self, m: int, start: int, n: int) -> list[bytes]:
        if n == 1:
            return []
        k = _split(n)
        if m < k:
            return [*self._path(m, start, k), self._mth(start + k, n - k)]
        return [*self._path(m - k, start + k, n - k), self._mth(start, k)]

    def _subproof(self, m: int, start: int, n: int, whole: bool) -> list[bytes]:
        if m == n:
            return [] if whole else [self._mth(start, m)]
        k = _split(n)
        if m <= k:
            return [*self._subproof(m, start, k, whole), self._mth(start + k, n - k)]
        return [*self._subproof(m - k, start + k, n - k, False), self._mth(start, k)]


def verify_inclusion(
    index: int, size: int, leaf: bytes, path: Sequence[bytes], root: bytes
) -> bool:
    """RFC 9162 §2.1.3.2: whether ``leaf`` is leaf ``index`` of the tree ``(size, root)``."""
    if not 0 <= index < size or len(leaf) != HASH_SIZE:
        return False
    fn, sn, r = index, size - 1, leaf
    for p in path:
        if sn == 0 or len(p) != HASH_SIZE:
            return False
        if fn & 1 or fn == sn:
            r = node_hash(p, r)
            while not fn & 1 and fn != 0:
                fn, sn = fn >> 1, sn >> 1
        else:
            r = node_hash(r, p)
        fn, sn = fn >> 1, sn >> 1
    return sn == 0 and r == root


def verify_consistency(
    first: int, second: int, first_root: bytes, second_root: bytes, path: Sequence[bytes]
) -> bool:
    """RFC 9162 §2.1.4.2: whether the tree ``(second, second_root)`` extends
    ``(first, first_root)``. Equal sizes need an empty proof and equal roots; from the empty
    tree, an empty proof."""
    if not 0 <= first <= second or any(len(p) != HASH_SIZE for p in path):
        return False
    if first == second:
        return not path and first_root == second_root
    if first == 0:
        return not path and first_root == EMPTY_ROOT
    if not path:
        return False
    nodes = list(path)
    if first & (first - 1) == 0:
        nodes.insert(0, first_root)
    fn, sn = first - 1, second - 1
    while fn & 1:
        fn, sn = fn >> 1, sn >> 1
    fr = sr = nodes[0]
    for c in nodes[1:]:
        if sn == 0:
            return False
        if fn & 1 or fn == sn:
            fr, sr = node_hash(c, fr), node_hash(c, sr)
            while not fn & 1 and fn != 0:
                fn, sn = fn >> 1, sn >> 1
        else:
            sr = node_hash(sr, c)
        fn, sn = fn >> 1, sn >> 1
    return fr == first_root and sr == second_root and sn == 0

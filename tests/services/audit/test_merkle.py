"""RFC 9162 Merkle tree: the Certificate Transparency reference vectors, then every proof of
every tree up to 40 leaves, and mangled proofs refused."""

from __future__ import annotations

import hashlib

import pytest

from sim06.services.audit.merkle import (
    EMPTY_ROOT,
    MerkleTree,
    leaf_hash,
    node_hash,
    verify_consistency,
    verify_inclusion,
)

# The CT reference leaves and the root of each prefix (RFC 6962 test data).
CT_LEAVES = [bytes.fromhex(h) for h in (
    "", "00", "10", "2021", "3031", "40414243", "5051525354555657",
    "606162636465666768696a6b6c6d6e6f",
)]  # fmt: skip
CT_ROOTS = [bytes.fromhex(h) for h in (
    "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
    "fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125",
    "aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77",
    "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
    "4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4",
    "76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef",
    "ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c",
    "5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328",
)]  # fmt: skip
CT_INCLUSION = {
    (0, 8): ["96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7",
             "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
             "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4"],
    (5, 8): ["bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
             "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0",
             "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7"],
}  # fmt: skip
CT_CONSISTENCY = {
    (2, 8): ["5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
             "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4"],
    (6, 8): ["0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a",
             "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0",
             "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7"],
    (2, 5): ["5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
             "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b"],
}  # fmt: skip


def _ct_tree() -> MerkleTree:
    return MerkleTree(b"".join(leaf_hash(d) for d in CT_LEAVES))


def test_hashes_use_the_rfc_prefixes() -> None:
    assert EMPTY_ROOT.hex() == "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
    assert leaf_hash(b"") == hashlib.sha256(b"\x00").digest() == CT_ROOTS[0]
    a, b = leaf_hash(b"a"), leaf_hash(b"b")
    assert node_hash(a, b) == hashlib.sha256(b"\x01" + a + b).digest() != node_hash(b, a)


def test_roots_match_the_reference_for_every_size() -> None:
    tree = _ct_tree()
    assert tree.root(0) == EMPTY_ROOT
    for n in range(1, 9):
        assert tree.root(n) == CT_ROOTS[n - 1], n
    grown = MerkleTree()
    for n, data in enumerate(CT_LEAVES, start=1):
        grown.append(leaf_hash(data))
        assert grown.root() == CT_ROOTS[n - 1]  # incrementally, the same heads


@pytest.mark.parametrize(("index", "size"), list(CT_INCLUSION))
def test_inclusion_proofs_match_the_reference(index: int, size: int) -> None:
    tree = _ct_tree()
    proof = tree.inclusion_proof(index, size)
    assert [p.hex() for p in proof] == CT_INCLUSION[index, size]
    assert verify_inclusion(index, size, tree.leaf(index), proof, CT_ROOTS[size - 1])


@pytest.mark.parametrize(("first", "second"), list(CT_CONSISTENCY))
def test_consistency_proofs_match_the_reference(first: int, second: int) -> None:
    tree = _ct_tree()
    proof = tree.consistency_proof(first, second)
    assert [p.hex() for p in proof] == CT_CONSISTENCY[first, second]
    assert verify_consistency(first, second, CT_ROOTS[first - 1], CT_ROOTS[second - 1], proof)


N = 40
BIG = MerkleTree(b"".join(leaf_hash(i.to_bytes(2, "big")) for i in range(N)))


def _flip(proof: list[bytes], at: int) -> list[bytes]:
    changed = list(proof)
    changed[at] = bytes([changed[at][0] ^ 1]) + changed[at][1:]
    return changed


def test_every_inclusion_proof_verifies_and_no_mangled_one_does() -> None:
    for n in range(1, N + 1):
        root = BIG.root(n)
        for i in range(n):
            proof = BIG.inclusion_proof(i, n)
            leaf = BIG.leaf(i)
            assert verify_inclusion(i, n, leaf, proof, root), (i, n)
            assert not verify_inclusion(i, n, leaf_hash(b"other"), proof, root)
            if n > 1:
                assert not verify_inclusion((i + 1) % n, n, leaf, proof, root)
                assert not verify_inclusion(i, n, leaf, _flip(proof, 0), root)
                assert not verify_inclusion(i, n, leaf, proof[:-1], root)
                assert not verify_inclusion(i, n, leaf, [*proof, root], root)
            assert not verify_inclusion(n, n, leaf, proof, root)


def test_every_consistency_proof_verifies_and_no_mangled_one_does() -> None:
    for second in range(0, N + 1):
        for first in range(0, second + 1):
            proof = BIG.consistency_proof(first, second)
            r1, r2 = BIG.root(first), BIG.root(second)
            assert verify_consistency(first, second, r1, r2, proof), (first, second)
            if 0 < first < second:
                assert proof
                assert not verify_consistency(first, second, r1, r2, _flip(proof, 0))
                assert not verify_consistency(first, second, r1, r2, proof[:-1])
                assert not verify_consistency(first, second, r1, r2, [*proof, r1])
                assert not verify_consistency(first, second, BIG.root(first - 1), r2, proof)
                assert not verify_consistency(first, second, r1, BIG.root(second - 1), proof)
    assert not verify_consistency(4, 4, BIG.root(4), BIG.root(5), [])
    assert not verify_consistency(5, 4, BIG.root(5), BIG.root(4), [])


def test_sizes_and_leaves_out_of_range_are_refused() -> None:
    tree = _ct_tree()
    with pytest.raises(ValueError):
        tree.root(9)
    with pytest.raises(ValueError):
        tree.inclusion_proof(8, 8)
    with pytest.raises(ValueError):
        tree.consistency_proof(5, 3)
    with pytest.raises(ValueError):
        tree.append(b"short")

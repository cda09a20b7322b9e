#!/usr/bin/env python3
"""Verify, offline, that entries of a citizen's access log are in sim06's signed audit log.

Needs Python 3.9+ and ``cryptography`` only (no sim06). Inputs are two files a citizen saves:

- the access log as the gateway returned it (``GET /v1/citizens/{pin}/access-log``, or the
  "evidence" download of the account page): its entries with their ``proof`` and the signed
  ``tree_head``;
- the audit key set (``GET /.well-known/audit-jwks.json`` on the gateway).

For each entry it checks, and says which check failed:

1. the tree head's signature: a compact JWS, ES256, ``typ`` ``sim06-sth+jwt``, by a key of the
   JWKS; its payload names the tree size and the root hash;
2. the entry's leaf: ``SHA-256(0x00 || canonical JSON of the recorded fields || "\\n" ||
   record_hash)``, the recorded fields being seq, ts, agency, officer, procedure, purpose,
   legal_basis, operation, fields, request_id (keys sorted, no spaces, UTF-8);
3. the audit path from that leaf to the signed root (RFC 9162 §2.1.3.2).

Usage::

    python scripts/verify_access_proof.py access-log.json audit-jwks.json [--entry SEQ]

Exit status 0 if every checked entry verifies, 1 otherwise.
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import json
import sys
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature

RECORDED = ("seq", "ts", "agency", "officer", "procedure", "purpose", "legal_basis",
            "operation", "fields", "request_id")  # fmt: skip
STH_TYPE = "sim06-sth+jwt"


class Invalid(Exception):
    """A check failed; the message says which."""


def _b64url(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def verify_tree_head(signature: str, jwks: dict[str, Any]) -> dict[str, Any]:
    """The payload of the signed tree head, once its ES256 signature verifies."""
    try:
        protected, payload, sig = signature.split(".")
        header = json.loads(_b64url(protected))
        raw_sig = _b64url(sig)
    except ValueError:
        raise Invalid("the tree head is not a compact JWS") from None
    if header.get("alg") != "ES256" or header.get("typ") != STH_TYPE:
        raise Invalid(f"the tree head is not an ES256 {STH_TYPE}")
    jwk = next((k for k in jwks.get("keys", []) if k.get("kid") == header.get("kid")), None)
    if jwk is None or jwk.get("kty") != "EC" or jwk.get("crv") != "P-256":
        raise Invalid(f"no P-256 key {header.get('kid')!r} in the audit JWKS")
    numbers = ec.EllipticCurvePublicNumbers(
        int.from_bytes(_b64url(jwk["x"]), "big"), int.from_bytes(_b64url(jwk["y"]), "big"),
        ec.SECP256R1(),
    )  # fmt: skip
    if len(raw_sig) != 64:
        raise Invalid("the tree head's signature is not 64 bytes")
    der = encode_dss_signature(
        int.from_bytes(raw_sig[:32], "big"), int.from_bytes(raw_sig[32:], "big")
    )
    try:
        numbers.public_key().verify(
            der, f"{protected}.{payload}".encode("ascii"), ec.ECDSA(hashes.SHA256())
        )
    except InvalidSignature:
        raise Invalid("the tree head's signature does not verify") from None
    head: dict[str, Any] = json.loads(_b64url(payload))
    return head


def leaf_hash(entry: dict[str, Any], record_hash: str) -> bytes:
    """The entry's Merkle leaf hash (RFC 9162: SHA-256 over 0x00 and the leaf)."""
    recorded = {key: entry[key] for key in RECORDED}
    canonical = json.dumps(recorded, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    data = canonical.encode("utf-8") + b"\n" + record_hash.encode("ascii")
    return hashlib.sha256(b"\x00" + data).digest()


def _node(left: bytes, right: bytes) -> bytes:
    return hashlib.sha256(b"\x01" + left + right).digest()


def root_from_path(index: int, size: int, leaf: bytes, path: list[bytes]) -> bytes:
    """RFC 9162 §2.1.3.2: the root the audit path leads to (Invalid if it cannot)."""
    if not 0 <= index < size:
        raise Invalid(f"leaf {index} is not in a tree of {size}")
    fn, sn, r = index, size - 1, leaf
    for p in path:
        if sn == 0 or len(p) != 32:
            raise Invalid("the audit path is too long or malformed")
        if fn & 1 or fn == sn:
            r = _node(p, r)
            while not fn & 1 and fn != 0:
                fn, sn = fn >> 1, sn >> 1
        else:
            r = _node(r, p)
        fn, sn = fn >> 1, sn >> 1
    if sn != 0:
        raise Invalid("the audit path is too short")
    return r


def verify_entry(entry: dict[str, Any], tree_head: dict[str, Any], jwks: dict[str, Any]) -> None:
    """Check one access-log entry's inclusion in the signed tree head (Invalid says why)."""
    head = verify_tree_head(tree_head["signature"], jwks)
    proof = entry.get("proof")
    if not proof:
        raise Invalid("the entry carries no proof")
    if proof["tree_size"] != head["tree_size"]:
        raise Invalid("the proof is for another tree size than the signed head")
    if proof["leaf_index"] != entry["seq"] - 1:
        raise Invalid("the proof is for another record")
    try:
        path = [base64.b64decode(node, validate=True) for node in proof["audit_path"]]
    except ValueError:
        raise Invalid("the audit path is not base64") from None
    if [base64.b64encode(node).decode("ascii") for node in path] != proof["audit_path"]:
        raise Invalid("the audit path is not in canonical base64")  # no second spelling
    leaf = leaf_hash(entry, str(proof["record_hash"]))
    root = root_from_path(proof["leaf_index"], head["tree_size"], leaf, path)
    if root != base64.b64decode(head["root_hash"]):
        raise Invalid("the entry does not lead to the signed root (the entry or proof changed)")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("access_log", help="the access-log JSON (entries, proofs, tree_head)")
    parser.add_argument("jwks", help="the audit JWKS (/.well-known/audit-jwks.json)")
    parser.add_argument("--entry", type=int, help="only the entry with this seq")
    args = parser.parse_args(argv)
    with open(args.access_log, encoding="utf-8") as file:
        body = json.load(file)
    with open(args.jwks, encoding="utf-8") as file:
        jwks = json.load(file)
    entries = [e for e in body.get("accesses", []) if args.entry in (None, e.get("seq"))]
    if not entries:
        print("no entry to verify")
        return 1
    failures = 0
    for entry in entries:
        try:
            if not body.get("tree_head"):
                raise Invalid("the access log carries no signed tree head")
            verify_entry(entry, body["tree_head"], jwks)
            print(
                f"entry {entry['seq']}: OK (in the signed tree of {body['tree_head']['tree_size']})"
            )
        except (Invalid, KeyError, TypeError) as exc:
            failures += 1
            reason = str(exc) if isinstance(exc, Invalid) else f"malformed input ({exc!r})"
            print(f"entry {entry.get('seq')}: FAILED: {reason}")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())

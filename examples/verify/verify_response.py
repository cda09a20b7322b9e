#!/usr/bin/env python3
"""Verify a sim06 gateway response: its detached JWS (RFC 7797) and its request binding.

Needs only ``cryptography``. Usage (exit 0 = valid, 1 = invalid)::

    python verify_response.py --jwks jwks.json --body body.bin --signature "$SIG" \
        [--request-hash "$RQH" --method GET --path '/v1/registry/citizens/001090104217' \
         --request-id "$MAYEUCAU" --request-body req.bin]

``--jwks``: the gateway's ``/.well-known/jwks.json``. ``--body``: the response body bytes exactly
as received. ``--signature``: the ``X-JWS-Signature`` header. With ``--request-hash`` (the
``X-Request-Hash`` header) the script also checks that the signature covers it and, given the
request's method, path (with query), ``X-MaYeuCau`` and body, that it is that request's hash.
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import json
import sys
from pathlib import Path
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature


def b64url_decode(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def public_key(jwks: dict[str, Any], kid: str) -> ec.EllipticCurvePublicKey:
    for jwk in jwks["keys"]:
        if jwk.get("kid") == kid and jwk.get("kty") == "EC" and jwk.get("crv") == "P-256":
            x = int.from_bytes(b64url_decode(jwk["x"]), "big")
            y = int.from_bytes(b64url_decode(jwk["y"]), "big")
            return ec.EllipticCurvePublicNumbers(x, y, ec.SECP256R1()).public_key()
    raise ValueError(f"no P-256 key with kid {kid!r} in the JWKS")


def verify(jwks: dict[str, Any], signature: str, body: bytes) -> dict[str, Any]:
    """The protected header if ``signature`` signs ``body``; raises otherwise."""
    protected, payload, sig = signature.split(".")
    if payload:
        raise ValueError("expected a detached payload (protected..signature)")
    header: dict[str, Any] = json.loads(b64url_decode(protected))
    # RFC 7797: b64=false must be understood (crit), and the signing input is the raw body.
    if (
        header.get("alg") != "ES256"
        or header.get("b64") is not False
        or "b64" not in header.get("crit", [])
    ):
        raise ValueError(f"unexpected protected header {header}")
    raw = b64url_decode(sig)
    if len(raw) != 64:
        raise ValueError("an ES256 signature is 64 bytes (r || s)")
    der = encode_dss_signature(int.from_bytes(raw[:32], "big"), int.from_bytes(raw[32:], "big"))
    key = public_key(jwks, header["kid"])
    key.verify(der, protected.encode("ascii") + b"." + body, ec.ECDSA(hashes.SHA256()))
    return header


def request_hash(method: str, path: str, request_id: str, body: bytes) -> str:
    """Hex SHA-256 of ``METHOD\\nPATH?QUERY\\nX-MaYeuCau\\nhex(SHA-256(request body))``."""
    text = f"{method.upper()}\n{path}\n{request_id}\n{hashlib.sha256(body).hexdigest()}"
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--jwks", type=Path, required=True)
    parser.add_argument("--body", type=Path, required=True)
    parser.add_argument("--signature", required=True)
    parser.add_argument("--request-hash")
    parser.add_argument("--method")
    parser.add_argument("--path")
    parser.add_argument("--request-id")
    parser.add_argument("--request-body", type=Path)
    args = parser.parse_args()
    try:
        header = verify(json.loads(args.jwks.read_text()), args.signature, args.body.read_bytes())
        if args.request_hash is not None:
            if header.get("sim06_rqh") != args.request_hash:
                raise ValueError("the signature does not cover this X-Request-Hash")
            if args.method and args.path and args.request_id is not None:
                body = args.request_body.read_bytes() if args.request_body else b""
                if request_hash(args.method, args.path, args.request_id, body) != args.request_hash:
                    raise ValueError("X-Request-Hash is not the hash of this request")
    except (ValueError, KeyError, InvalidSignature) as exc:
        print(f"invalid: {exc or 'bad signature'}")
        return 1
    print(f"valid: signed by {header['kid']}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

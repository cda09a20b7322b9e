"""Proof Key for Code Exchange (RFC 7636), S256 only: ``plain`` is refused (RFC 9700 §2.1.1)."""

from __future__ import annotations

import base64
import hashlib
import hmac
import re

__all__ = ["CHALLENGE", "VERIFIER", "s256", "verify"]

# RFC 7636 §4.1: 43-128 unreserved characters; §4.2: S256 challenge = 43 base64url chars.
VERIFIER = re.compile(r"[A-Za-z0-9\-._~]{43,128}")
CHALLENGE = re.compile(r"[A-Za-z0-9\-_]{43}")


def s256(verifier: str) -> str:
    """``BASE64URL(SHA256(ASCII(code_verifier)))`` without padding (RFC 7636 §4.2)."""
    digest = hashlib.sha256(verifier.encode("ascii")).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")


def verify(verifier: str, challenge: str) -> bool:
    """True if ``verifier`` is well formed and hashes to ``challenge`` (RFC 7636 §4.6)."""
    if VERIFIER.fullmatch(verifier) is None:
        return False
    return hmac.compare_digest(s256(verifier), challenge)

"""Subject identifiers (OIDC Core §8): stable per citizen, public or pairwise per client.

``sub`` is a keyed hash (HMAC-SHA-256) of the PIN with a secret generated on first run into
``DATA_DIR/keys/identity/subject.secret``: stable across restarts, never revealing the PIN, and
unlinkable between clients when pairwise (OIDC Core §8.1: the sector is the redirect URI host).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
import secrets
from pathlib import Path

__all__ = ["SubjectMaker"]


def _load_secret(path: Path) -> bytes:
    if path.exists():
        return path.read_bytes()
    path.parent.mkdir(parents=True, exist_ok=True)
    secret = secrets.token_bytes(32)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:  # another process won the race: use its secret
        return path.read_bytes()
    with os.fdopen(fd, "wb") as fh:
        fh.write(secret)
    return secret


class SubjectMaker:
    """Computes ``sub`` values; the secret lives in ``directory``."""

    def __init__(self, directory: Path) -> None:
        self._secret = _load_secret(directory / "subject.secret")

    def subject(self, pin: str, sector: str | None = None) -> str:
        """Public ``sub`` of ``pin`` or, with ``sector``, its pairwise value for that sector."""
        message = pin if sector is None else f"{sector}|{pin}"
        digest = hmac.new(self._secret, message.encode(), hashlib.sha256).digest()
        return base64.urlsafe_b64encode(digest[:18]).decode("ascii")

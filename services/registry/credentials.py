"""The credential of civil-status writes on the registry's own port.

Agencies write through the gateway, which checks their write purpose; the registry accepts a
write only with ``Authorization: Bearer <token>``, the token the gateway holds. Unless
``SIM06_REGISTRY_WRITE_TOKEN`` sets it, it is generated on first run into
``DATA_DIR/keys/registry-write.token`` (mode 0600), never committed, never logged.
"""

from __future__ import annotations

import hmac
import os
import secrets
from pathlib import Path

from sim06.services.common.settings import Settings

TOKEN_FILE = "registry-write.token"


def token_path(settings: Settings) -> Path:
    """Where the generated token is kept."""
    return settings.keys_dir / TOKEN_FILE


def write_token(settings: Settings) -> str:
    """The write credential: the setting, else the file (created on first use)."""
    if settings.registry_write_token:
        return settings.registry_write_token
    path = token_path(settings)
    if path.exists():
        return path.read_text("ascii").strip()
    path.parent.mkdir(parents=True, exist_ok=True)
    token = secrets.token_urlsafe(32)
    # O_EXCL: two processes starting together keep the first token written.
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return path.read_text("ascii").strip()
    with os.fdopen(fd, "w", encoding="ascii") as out:
        out.write(token + "\n")
    return token


def authorized(header: str | None, token: str) -> bool:
    """True when ``header`` is ``Bearer <token>`` (constant-time comparison)."""
    if not header or header[:7].lower() != "bearer ":
        return False
    return hmac.compare_digest(header[7:].strip().encode(), token.encode())

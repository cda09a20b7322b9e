"""Key pair of the demo relying party that authenticates with ``private_key_jwt`` (RFC 7523).

``examples/identity-clients.yaml`` names ``{data_dir}/demo-rp/jwks.json`` (the data directory,
``SIM06_DATA_DIR``); this writes the public JWKS there and the private key beside it (mode
0600). ``sim06 up`` does so on first run; private keys are generated locally and never
committed. By hand: ``python -m services.identity.demo_rp [DIRECTORY]``.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from sim06.services.common.keys import public_jwk

__all__ = ["make_demo_rp_key"]


def make_demo_rp_key(directory: Path, kid: str = "demo-rp-1") -> Path:
    """Write ``private.pem`` and ``jwks.json`` (ES256) into ``directory``; the PEM's path."""
    directory.mkdir(parents=True, exist_ok=True)
    key = ec.generate_private_key(ec.SECP256R1())
    pem = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    private_path = directory / "private.pem"
    fd = os.open(private_path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as fh:
        fh.write(pem)
    jwks = {"keys": [public_jwk(key, kid, "ES256")]}
    (directory / "jwks.json").write_text(json.dumps(jwks, indent=2), "utf-8")
    return private_path


if __name__ == "__main__":  # pragma: no cover - a demo helper
    from sim06.services.common.settings import Settings

    target = Path(sys.argv[1]) if len(sys.argv) > 1 else Settings().data_dir / "demo-rp"
    sys.stdout.write(f"wrote {make_demo_rp_key(target)} and {target / 'jwks.json'}\n")

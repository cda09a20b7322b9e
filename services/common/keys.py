"""Signing keys generated on first run into the data directory, with rotation and JWKS.

Each purpose ("identity" for ID/access tokens, "gateway" for response signatures) has its own
key set in ``DATA_DIR/keys/<purpose>/``: one PEM file per key plus ``keys.json`` listing kid,
algorithm, creation and retirement times. Private keys never leave that directory and are never
committed or logged. After ``rotate()`` the new key signs and the old one stays in the JWKS until
``retire_after`` has passed, so tokens signed before the rotation still verify.
"""

from __future__ import annotations

import json
import os
import secrets
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from jwt.algorithms import ECAlgorithm, RSAAlgorithm

ALGORITHMS = ("RS256", "ES256")
PrivateKey = rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey


@dataclass(frozen=True)
class SigningKey:
    """One key: its id, algorithm, private key and public JWK."""

    kid: str
    alg: str
    private_key: PrivateKey
    public_jwk: dict[str, Any]
    created: float
    retire_at: float | None = None


def _generate(alg: str) -> PrivateKey:
    if alg == "RS256":
        return rsa.generate_private_key(public_exponent=65537, key_size=2048)
    if alg == "ES256":
        return ec.generate_private_key(ec.SECP256R1())
    raise ValueError(f"unsupported algorithm {alg!r}; use one of {ALGORITHMS}")


def public_jwk(key: PrivateKey, kid: str, alg: str) -> dict[str, Any]:
    """The public half of ``key`` as a JWK with ``kid``, ``alg`` and ``use``."""
    if isinstance(key, rsa.RSAPrivateKey):
        jwk = json.loads(RSAAlgorithm.to_jwk(key.public_key()))
    else:
        jwk = json.loads(ECAlgorithm.to_jwk(key.public_key()))
    jwk.update({"kid": kid, "alg": alg, "use": "sig"})
    return dict(jwk)


class KeyStore:
    """The key set of one purpose, persisted under ``directory``."""

    def __init__(
        self, directory: Path, *, alg: str = "RS256", retire_after: float = 86_400.0
    ) -> None:
        if alg not in ALGORITHMS:
            raise ValueError(f"unsupported algorithm {alg!r}; use one of {ALGORITHMS}")
        self.directory = directory
        self.alg = alg
        self.retire_after = retire_after
        self._keys: list[SigningKey] = []
        self._load()
        if not any(k.alg == alg for k in self._active()):
            self.rotate()

    @property
    def current(self) -> SigningKey:
        """The newest key of the configured algorithm: the one that signs."""
        now = time.time()
        for key in reversed(self._keys):  # newest last: usually the first one looked at
            if key.alg == self.alg and (key.retire_at is None or key.retire_at > now):
                return key
        raise LookupError(f"no active {self.alg} key")

    def get(self, kid: str) -> SigningKey | None:
        """A key still in the JWKS by its id."""
        return next((k for k in self._active() if k.kid == kid), None)

    def jwks(self) -> dict[str, Any]:
        """``{"keys": [...]}``: every key not yet retired (old and new after a rotation)."""
        return {"keys": [k.public_jwk for k in self._active()]}

    def rotate(self, alg: str | None = None) -> SigningKey:
        """Add a new signing key; keys before it retire after ``retire_after`` seconds."""
        alg = alg or self.alg
        now = time.time()
        private = _generate(alg)
        kid = f"{time.strftime('%Y%m%d', time.gmtime(now))}-{secrets.token_hex(4)}"
        key = SigningKey(kid, alg, private, public_jwk(private, kid, alg), now)
        self._keys = [
            k
            if k.retire_at is not None
            else SigningKey(
                k.kid, k.alg, k.private_key, k.public_jwk, k.created, now + self.retire_after
            )
            for k in self._keys
        ]
        self._keys.append(key)
        self.alg = alg
        self._save(key)
        return key

    def _active(self) -> list[SigningKey]:
        now = time.time()
        return [k for k in self._keys if k.retire_at is None or k.retire_at > now]

    def _load(self) -> None:
        index = self.directory / "keys.json"
        if not index.exists():
            return
        for entry in json.loads(index.read_text("utf-8"))["keys"]:
            pem = (self.directory / f"{entry['kid']}.pem").read_bytes()
            private = serialization.load_pem_private_key(pem, password=None)
            assert isinstance(private, rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey)
            self._keys.append(
                SigningKey(
                    entry["kid"],
                    entry["alg"],
                    private,
                    public_jwk(private, entry["kid"], entry["alg"]),
                    entry["created"],
                    entry.get("retire_at"),
                )
            )

    def _save(self, new: SigningKey) -> None:
        self.directory.mkdir(parents=True, exist_ok=True)
        os.chmod(self.directory, 0o700)
        pem = new.private_key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
        path = self.directory / f"{new.kid}.pem"
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "wb") as fh:
            fh.write(pem)
        index = {
            "keys": [
                {"kid": k.kid, "alg": k.alg, "created": k.created, "retire_at": k.retire_at}
                for k in self._keys
            ]
        }
        (self.directory / "keys.json").write_text(json.dumps(index, indent=2), "utf-8")

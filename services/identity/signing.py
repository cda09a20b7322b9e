"""Signing keys of the provider and JWT helpers: ID tokens, access tokens, ``at_hash``.

Keys come from :class:`services.common.keys.KeyStore` in ``DATA_DIR/keys/identity``.
``rotate_identity_key`` is what ``sim06 keys rotate`` calls; a running provider notices the new
key within a second (it watches ``keys.json``) and its JWKS then serves old and new keys until
the old one retires.
"""

from __future__ import annotations

import base64
import hashlib
import time
from pathlib import Path
from typing import Any

import jwt
import orjson
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature

from sim06.services.common.keys import KeyStore, SigningKey
from sim06.services.common.settings import Settings

__all__ = ["IdentityKeys", "at_hash", "identity_keys_dir", "rotate_identity_key"]

_HASHES = {"RS256": hashlib.sha256, "ES256": hashlib.sha256}


def identity_keys_dir(settings: Settings) -> Path:
    """Directory of the provider's key set."""
    return settings.keys_dir / "identity"


def rotate_identity_key(settings: Settings, alg: str | None = None) -> SigningKey:
    """Add a new signing key (``sim06 keys rotate``); the old one stays in the JWKS until it
    retires after ``identity_key_retire_after`` seconds."""
    store = KeyStore(
        identity_keys_dir(settings),
        alg=settings.identity_alg,
        retire_after=settings.identity_key_retire_after,
    )
    return store.rotate(alg)


def _b64(data: bytes) -> bytes:
    return base64.urlsafe_b64encode(data).rstrip(b"=")


def _signature(key: SigningKey, message: bytes) -> bytes:
    # RFC 7518 §3.3 (RSASSA-PKCS1-v1_5 SHA-256) and §3.4 (ECDSA P-256: r || s, 32 bytes each).
    private = key.private_key
    if isinstance(private, rsa.RSAPrivateKey):
        return private.sign(message, padding.PKCS1v15(), hashes.SHA256())
    r, s = decode_dss_signature(private.sign(message, ec.ECDSA(hashes.SHA256())))
    return r.to_bytes(32, "big") + s.to_bytes(32, "big")


def at_hash(token: str, alg: str) -> str:
    """OIDC Core §3.1.3.6: left half of the hash of the access token, base64url."""
    digest = _HASHES[alg](token.encode("ascii")).digest()
    return base64.urlsafe_b64encode(digest[: len(digest) // 2]).rstrip(b"=").decode("ascii")


class IdentityKeys:
    """The key set, reloaded when another process (the CLI) rotates it."""

    def __init__(
        self, settings: Settings, directory: Path | None = None, *, lazy: bool = False
    ) -> None:
        """``directory``: another system's key set (the portal SSO's), default the provider's;
        ``lazy``: open (and on first run generate) the keys at first use, not now."""
        self._settings = settings
        self._dir = directory if directory is not None else identity_keys_dir(settings)
        self._index = self._dir / "keys.json"
        self._store: KeyStore | None = None if lazy else self._open()
        self._checked = time.monotonic()
        self._mtime = self._stat()
        self._headers: dict[tuple[str, str], bytes] = {}

    def _open(self) -> KeyStore:
        return KeyStore(
            self._dir,
            alg=self._settings.identity_alg,
            retire_after=self._settings.identity_key_retire_after,
        )

    def _stat(self) -> float:
        try:
            return self._index.stat().st_mtime
        except FileNotFoundError:
            return 0.0

    def _fresh(self) -> KeyStore:
        if self._store is None:
            self._store = self._open()
            self._mtime = self._stat()
            return self._store
        now = time.monotonic()
        if now - self._checked >= 1.0:  # one stat a second at most, off the hot path otherwise
            self._checked = now
            mtime = self._stat()
            if mtime != self._mtime:
                self._mtime = mtime
                self._store = self._open()
        return self._store

    @property
    def alg(self) -> str:
        """Algorithm of the current signing key."""
        return self._fresh().current.alg

    def jwks(self) -> dict[str, Any]:
        """Public keys, old and new."""
        return self._fresh().jwks()

    def public_der(self) -> bytes:
        """The current signing key's public key, DER SubjectPublicKeyInfo (Keycloak's realm
        document publishes it base64-encoded)."""
        return (
            self._fresh()
            .current.private_key.public_key()
            .public_bytes(
                serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
            )
        )

    def sign(self, claims: dict[str, Any], typ: str = "JWT") -> str:
        """A compact JWS of ``claims`` with the current key, ``kid`` and ``typ`` in the header."""
        return self.sign_kid(claims, typ)[0]

    def sign_kid(self, claims: dict[str, Any], typ: str = "JWT") -> tuple[str, str]:
        """``(compact JWS, kid of the key that signed it)``."""
        key = self._fresh().current
        # Encoded here rather than by jwt.encode: the header segment is reused per key and
        # type, and orjson is faster; what comes out is the same compact JWS (RFC 7515 §7.1).
        header = self._headers.get((key.kid, typ))
        if header is None:
            header = _b64(orjson.dumps({"alg": key.alg, "kid": key.kid, "typ": typ}))
            self._headers[(key.kid, typ)] = header
        signing_input = header + b"." + _b64(orjson.dumps(claims))
        token = signing_input + b"." + _b64(_signature(key, signing_input))
        return token.decode("ascii"), key.kid

    def live(self, kid: str) -> bool:
        """True while the key ``kid`` is in the JWKS (tokens it signed still verify)."""
        return self._fresh().get(kid) is not None

    def verify(
        self,
        token: str,
        *,
        audience: str | None,
        issuer: str,
        typ: str | None = None,
        verify_exp: bool = True,
    ) -> dict[str, Any]:
        """Claims of a token this provider signed; raises ``jwt.InvalidTokenError`` otherwise.

        The algorithm is the one of the key named by ``kid``, never the token's own choice,
        so ``alg: none`` and HS256-with-the-public-key forgeries fail.
        """
        header = jwt.get_unverified_header(token)
        kid = header.get("kid")
        key = self._fresh().get(kid) if isinstance(kid, str) else None
        if key is None:
            raise jwt.InvalidTokenError("unknown key id")
        if header.get("alg") != key.alg:
            raise jwt.InvalidAlgorithmError("algorithm does not match the key")
        if typ is not None and header.get("typ") != typ:
            raise jwt.InvalidTokenError("wrong token type")
        claims: dict[str, Any] = jwt.decode(
            token,
            key.private_key.public_key(),
            algorithms=[key.alg],
            audience=audience,
            issuer=issuer,
            options={
                "verify_aud": audience is not None,
                "verify_exp": verify_exp,
                "require": ["exp", "iat", "iss"],
            },
        )
        return claims

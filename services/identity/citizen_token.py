"""Citizen access tokens for the gateway's access log ("who looked at my data").

The provider's ``sub`` is a keyed hash of the PIN (``subject.py``), which the gateway cannot
invert. So an access token granted the scope :data:`ACCESS_LOG_SCOPE` also names its citizen:
``SoDinhDanh`` (the PIN, under the claim name the real VNeID profile uses, domain §5.6; the
real access tokens carry the PIN as ``preferred_username`` too) and adds the gateway's access
log to its audience (RFC 9068 §3, RFC 8707 resource indicator). The gateway verifies such a
token offline with the provider's public keys (:func:`verify_citizen_token`): signature with
the key named by ``kid``, ``typ: at+jwt``, issuer, audience, expiry, scope.

Trade-off: verified offline, a token revoked at the provider stays usable at the gateway until
it expires (access tokens live ``SIM06_IDENTITY_ACCESS_TOKEN_TTL`` seconds; the account page
mints its own for :data:`PAGE_TOKEN_TTL` seconds).
"""

from __future__ import annotations

import secrets
import time
from typing import Any

import jwt

from sim06.services.identity.signing import IdentityKeys

__all__ = [
    "ACCESS_LOG_AUDIENCE",
    "ACCESS_LOG_SCOPE",
    "ACCOUNT_CLIENT_ID",
    "PIN_CLAIM",
    "CitizenTokenError",
    "is_identity_token",
    "mint_page_token",
    "verify_citizen_token",
]

ACCESS_LOG_SCOPE = "access_log"
ACCESS_LOG_AUDIENCE = "urn:sim06:gateway:access-log"
PIN_CLAIM = "SoDinhDanh"
ACCOUNT_CLIENT_ID = "vneid-account"  # the provider's own account pages, as a client
PAGE_TOKEN_TTL = 60
AT_TYPE = "at+jwt"


class CitizenTokenError(Exception):
    """The token is no valid access-log token; ``str(exc)`` says why (safe to show)."""


def mint_page_token(keys: IdentityKeys, issuer: str, pin: str, sub: str, level: int) -> str:
    """A short-lived access token the account page uses to read the citizen's access log."""
    now = int(time.time())
    claims: dict[str, Any] = {
        "iss": issuer,
        "sub": sub,
        "aud": [ACCESS_LOG_AUDIENCE],
        "client_id": ACCOUNT_CLIENT_ID,
        "scope": ACCESS_LOG_SCOPE,
        "exp": now + PAGE_TOKEN_TTL,
        "iat": now,
        "jti": secrets.token_urlsafe(16),
        "acr": str(level),
        PIN_CLAIM: pin,
    }
    return keys.sign(claims, typ=AT_TYPE)


def verify_citizen_token(keys: IdentityKeys, issuer: str, token: str) -> str:
    """The PIN an access-log token was issued for, or :class:`CitizenTokenError`."""
    try:
        claims = keys.verify(token, audience=ACCESS_LOG_AUDIENCE, issuer=issuer, typ=AT_TYPE)
    except jwt.ExpiredSignatureError:
        raise CitizenTokenError("the citizen access token has expired") from None
    except jwt.PyJWTError:
        raise CitizenTokenError("the citizen access token is invalid") from None
    if ACCESS_LOG_SCOPE not in str(claims.get("scope", "")).split():
        raise CitizenTokenError(f"the citizen access token lacks the scope {ACCESS_LOG_SCOPE}")
    pin = claims.get(PIN_CLAIM)
    if not isinstance(pin, str):
        raise CitizenTokenError(f"the citizen access token has no {PIN_CLAIM} claim")
    return pin


def is_identity_token(token: str, issuer: str) -> bool:
    """True if the (unverified) token says the provider issued it: route it here."""
    try:
        claims = jwt.decode(token, options={"verify_signature": False})
    except jwt.PyJWTError:
        return False
    return claims.get("iss") == issuer

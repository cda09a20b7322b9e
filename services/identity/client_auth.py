"""Client authentication at the token, introspection, revocation and PAR endpoints.

- ``client_secret_basic`` / ``client_secret_post``: RFC 6749 §2.3.1 (Basic credentials are
  form-urlencoded before base64, so they are decoded the same way).
- ``private_key_jwt``: RFC 7523 §2.2 and §3, OIDC Core §9. The assertion is verified with the
  client's registered public JWK; ``iss`` = ``sub`` = client_id; ``aud`` must name the token
  endpoint, the issuer or the endpoint called; ``exp`` and ``jti`` are required, the lifetime is
  capped, and a ``jti`` seen before is refused (replay cache with the assertion's lifetime).
- ``none``: public clients (PKCE still required).

A client registered for one method cannot use another (OIDC Registration §2).
"""

from __future__ import annotations

import base64
import binascii
import hmac
import time
from functools import lru_cache
from typing import Any
from urllib.parse import unquote_plus

import jwt
import orjson

from sim06.services.identity.clients import ASSERTION_ALGS, Client, ClientRegistry
from sim06.services.identity.errors import OAuthError, invalid_client
from sim06.services.identity.state import StateStore

__all__ = ["ASSERTION_TYPE", "authenticate_client"]

ASSERTION_TYPE = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
MAX_ASSERTION_LIFETIME = 3600  # seconds (authlib and others default to 1 h); longer is refused
LEEWAY = 30


def _basic(header: str) -> tuple[str, str] | None:
    scheme, _, value = header.partition(" ")
    if scheme.lower() != "basic":
        return None
    try:
        decoded = base64.b64decode(value.strip(), validate=True).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError):
        raise invalid_client("malformed Basic credentials", basic=True) from None
    client_id, sep, secret = decoded.partition(":")
    if not sep:
        raise invalid_client("malformed Basic credentials", basic=True)
    return unquote_plus(client_id), unquote_plus(secret)


def _check_secret(client: Client | None, secret: str, *, basic: bool) -> Client:
    expected = client.client_secret if client is not None else None
    if client is None or expected is None:
        raise invalid_client("unknown client or wrong authentication method", basic=basic)
    if not hmac.compare_digest(expected.encode(), secret.encode()):
        raise invalid_client("client authentication failed", basic=basic)
    return client


@lru_cache(maxsize=512)
def _parsed_jwk(jwk_json: bytes) -> jwt.PyJWK:
    # Registered keys never change, so each is parsed once, not on every token request.
    return jwt.PyJWK(orjson.loads(jwk_json))


def _jwk_for(client: Client, kid: str | None) -> jwt.PyJWK:
    keys = (client.jwks or {}).get("keys", [])
    candidates = [k for k in keys if kid is None or k.get("kid") == kid]
    if len(candidates) != 1:
        raise invalid_client("no single registered key matches the assertion's kid")
    try:
        return _parsed_jwk(orjson.dumps(candidates[0], option=orjson.OPT_SORT_KEYS))
    except (jwt.PyJWTError, TypeError, orjson.JSONEncodeError):
        raise invalid_client("the registered client key is unusable") from None


def _segment(segment: str) -> dict[str, Any]:
    value = orjson.loads(base64.urlsafe_b64decode(segment + "=" * (-len(segment) % 4)))
    if not isinstance(value, dict):
        raise ValueError("not a JSON object")
    return value


def _unverified(assertion: str) -> tuple[dict[str, Any], dict[str, Any]]:
    """Header and claims, unverified: only to find the client and its key. The signature
    and every claim are then checked by ``jwt.decode``, which parses the token again."""
    parts = assertion.split(".")
    if len(parts) != 3:
        raise invalid_client("client_assertion is not a JWT")
    try:
        return _segment(parts[0]), _segment(parts[1])
    except (ValueError, binascii.Error, UnicodeEncodeError):  # JSONDecodeError is a ValueError
        raise invalid_client("client_assertion is not a JWT") from None


def _assertion(
    assertion: str,
    client_id: str | None,
    registry: ClientRegistry,
    state: StateStore,
    audiences: list[str],
) -> Client:
    header, unverified = _unverified(assertion)
    issuer = unverified.get("iss")
    if not isinstance(issuer, str) or (client_id is not None and client_id != issuer):
        raise invalid_client("client_assertion iss must be the client_id")
    client = registry.get(issuer)
    if client is None or client.token_endpoint_auth_method != "private_key_jwt":
        raise invalid_client("unknown client or wrong authentication method")
    alg = header.get("alg")
    if alg not in ASSERTION_ALGS:  # no "none", no HMAC: only the registered key's kind
        raise invalid_client(f"client_assertion alg must be one of {', '.join(ASSERTION_ALGS)}")
    key = _jwk_for(client, header.get("kid"))
    try:
        claims: dict[str, Any] = jwt.decode(
            assertion,
            key,
            algorithms=[alg],
            audience=audiences,
            issuer=client.client_id,
            leeway=LEEWAY,
            options={"require": ["exp", "sub", "aud", "jti", "iss"]},
        )
    except jwt.ExpiredSignatureError:
        raise invalid_client("client_assertion has expired") from None
    except jwt.InvalidAudienceError:
        raise invalid_client("client_assertion aud must be the token endpoint or issuer") from None
    except jwt.PyJWTError as exc:
        raise invalid_client(f"client_assertion rejected: {type(exc).__name__}") from None
    if claims["sub"] != client.client_id:
        raise invalid_client("client_assertion sub must be the client_id")
    now = time.time()
    exp = float(claims["exp"])
    issued = float(claims.get("iat", now))
    if exp - min(issued, now) > MAX_ASSERTION_LIFETIME + LEEWAY:
        raise invalid_client(f"client_assertion lives longer than {MAX_ASSERTION_LIFETIME} s")
    ttl = max(exp - now + LEEWAY, 1.0)
    if not state.add(f"jti:{client.client_id}:{claims['jti']}", {}, ttl):
        raise invalid_client("client_assertion jti was already used (replay)")
    return client


def authenticate_client(
    form: dict[str, str],
    authorization: str | None,
    registry: ClientRegistry,
    state: StateStore,
    audiences: list[str],
) -> Client:
    """The authenticated client of a request, or OAuthError ``invalid_client`` (401)."""
    assertion_type = form.get("client_assertion_type")
    basic = _basic(authorization) if authorization else None
    methods = sum((basic is not None, "client_secret" in form, assertion_type is not None))
    if methods > 1:  # RFC 6749 §2.3: exactly one authentication method per request
        raise OAuthError("invalid_request", "use exactly one client authentication method")
    if basic is not None:
        client_id, secret = basic
        client = registry.get(client_id)
        if client is not None and client.token_endpoint_auth_method != "client_secret_basic":
            raise invalid_client(
                "this client is not registered for client_secret_basic", basic=True
            )
        return _check_secret(client, secret, basic=True)
    if "client_secret" in form:
        client = registry.get(form.get("client_id", ""))
        if client is not None and client.token_endpoint_auth_method != "client_secret_post":
            raise invalid_client("this client is not registered for client_secret_post")
        return _check_secret(client, form["client_secret"], basic=False)
    if assertion_type is not None:
        if assertion_type != ASSERTION_TYPE or "client_assertion" not in form:
            raise invalid_client(f"client_assertion_type must be {ASSERTION_TYPE}")
        return _assertion(
            form["client_assertion"], form.get("client_id"), registry, state, audiences
        )
    client = registry.get(form.get("client_id", ""))
    if client is None or client.token_endpoint_auth_method != "none":
        raise invalid_client("client authentication is required")
    return client

"""The authorization request (RFC 6749 §4.1.1, OIDC Core §3.1.2.1, RFC 7636, RFC 9126).

Validation order matters (RFC 6749 §4.1.2.1): until the client and its exact ``redirect_uri``
are known good, errors are shown to the user (:class:`UntrustedRedirect`) and never sent to
the redirect URI; after that, errors go back to the client with ``state``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode, urlsplit

import orjson

from sim06.services.identity import pkce
from sim06.services.identity.accounts import parse_acr_values
from sim06.services.identity.clients import Client, ClientRegistry
from sim06.services.identity.errors import OAuthError

__all__ = ["MAX_AGE", "PROMPT", "AuthRequest", "UntrustedRedirect", "parse_request", "redirect_url"]

PROMPTS = {"none", "login", "consent", "select_account"}
# The same rules as patterns, published in the contract (oauth_schemas.py): none alone (it may
# repeat), else any of the others; max_age a count of seconds.
PROMPT = re.compile(
    r"^\s*(?:none(?:\s+none)*|(?:login|consent|select_account)(?:\s+(?:login|consent|select_account))*)?\s*$"
)
MAX_AGE = r"^[0-9]{1,9}$"
_MAX_AGE = re.compile(MAX_AGE)


class UntrustedRedirect(OAuthError):
    """An error found before the redirect URI could be trusted: shown, never redirected."""


@dataclass(frozen=True)
class AuthRequest:
    """A validated authorization request."""

    client: Client
    redirect_uri: str
    scopes: tuple[str, ...]
    state: str | None
    nonce: str | None
    code_challenge: str | None  # None: a client with require_pkce false sent none
    prompt: frozenset[str] = frozenset()
    max_age: int | None = None
    login_hint: str | None = None
    required_level: int = 1
    loa_style: bool = False
    claims: dict[str, Any] | None = None
    ui_locales: str | None = None
    raw: dict[str, str] = field(default_factory=dict)

    def to_state(self) -> dict[str, Any]:
        """Serialisable form (for the login transaction and PAR)."""
        return {"params": self.raw}


def redirect_url(redirect_uri: str, params: dict[str, str | None], issuer: str) -> str:
    """``redirect_uri`` with the response parameters and ``iss`` (RFC 9207) in the query."""
    query = urlencode({k: v for k, v in {**params, "iss": issuer}.items() if v is not None})
    joiner = "&" if urlsplit(redirect_uri).query else "?"
    return f"{redirect_uri}{joiner}{query}"


def _client_and_redirect(params: dict[str, str], registry: ClientRegistry) -> tuple[Client, str]:
    client_id = params.get("client_id")
    if not client_id:
        raise UntrustedRedirect("invalid_request", "client_id is missing")
    client = registry.get(client_id)
    if client is None:
        raise UntrustedRedirect("invalid_client", "unknown client_id")
    redirect_uri = params.get("redirect_uri")
    if not redirect_uri:  # OIDC Core §3.1.2.1: REQUIRED
        raise UntrustedRedirect("invalid_request", "redirect_uri is missing")
    if redirect_uri not in client.redirect_uris:  # exact string match, RFC 9700 §4.1.3
        raise UntrustedRedirect("invalid_request", "redirect_uri is not registered for this client")
    return client, redirect_uri


def parse_request(
    params: dict[str, str], registry: ClientRegistry, *, pushed: bool = False
) -> AuthRequest:
    """Validate the parameters of an authorization request.

    Raises :class:`UntrustedRedirect` for client/redirect problems, else ``OAuthError`` whose
    code goes to the redirect URI. ``pushed``: the request came through PAR (RFC 9126 §2.1,
    so ``request_uri`` inside it is an error).
    """
    client, redirect_uri = _client_and_redirect(params, registry)
    if "request" in params:
        raise OAuthError("request_not_supported", "request objects are not supported")
    if pushed and "request_uri" in params:
        raise OAuthError("invalid_request", "request_uri cannot be pushed")
    if params.get("response_type") != "code":
        raise OAuthError("unsupported_response_type", "only response_type=code is supported")
    if params.get("response_mode", "query") != "query":
        raise OAuthError("invalid_request", "only response_mode=query is supported")
    if "authorization_code" not in client.grant_types:
        raise OAuthError("unauthorized_client", "the client may not use the code flow")
    scopes = tuple(dict.fromkeys(params.get("scope", "").split()))
    if "openid" not in scopes:
        raise OAuthError("invalid_scope", "scope must include openid")
    challenge = params.get("code_challenge") or None
    if challenge is None:
        if client.require_pkce:
            raise OAuthError("invalid_request", "PKCE is required: send code_challenge (S256)")
    elif params.get("code_challenge_method") != "S256":
        raise OAuthError("invalid_request", "code_challenge_method must be S256")
    elif pkce.CHALLENGE.fullmatch(challenge) is None:
        raise OAuthError("invalid_request", "code_challenge is not a base64url SHA-256 value")
    prompt = frozenset(params.get("prompt", "").split())
    if not prompt <= PROMPTS or ("none" in prompt and len(prompt) > 1):
        raise OAuthError("invalid_request", "invalid prompt value")
    max_age: int | None = None
    if "max_age" in params:
        if _MAX_AGE.fullmatch(params["max_age"]) is None:  # int() takes "+5", " 5", "5_0"
            raise OAuthError("invalid_request", "max_age must be a number of seconds")
        max_age = int(params["max_age"])
    claims: dict[str, Any] | None = None
    if "claims" in params:
        try:
            claims = orjson.loads(params["claims"])
        except orjson.JSONDecodeError:
            raise OAuthError("invalid_request", "claims is not valid JSON") from None
        if not isinstance(claims, dict):
            raise OAuthError("invalid_request", "claims must be a JSON object")
    level, loa_style = parse_acr_values(params.get("acr_values"))
    essential = _essential_acr(claims)
    if essential is not None:
        level, loa_style = essential
    return AuthRequest(
        client=client,
        redirect_uri=redirect_uri,
        scopes=scopes,
        state=params.get("state"),
        nonce=params.get("nonce"),
        code_challenge=challenge,
        prompt=prompt,
        max_age=max_age,
        login_hint=params.get("login_hint"),
        required_level=level or 1,
        loa_style=loa_style,
        claims=claims,
        ui_locales=params.get("ui_locales"),
        raw=params,
    )


def _essential_acr(claims: dict[str, Any] | None) -> tuple[int, bool] | None:
    # OIDC Core §5.5.1.1: {"id_token": {"acr": {"essential": true, "values": [...]}}}
    spec = ((claims or {}).get("id_token") or {}).get("acr")
    if not isinstance(spec, dict) or not spec.get("essential"):
        return None
    values = spec.get("values") or ([spec["value"]] if "value" in spec else [])
    level, loa_style = parse_acr_values(" ".join(str(v) for v in values))
    return None if level is None else (level, loa_style)

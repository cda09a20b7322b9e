"""Request shapes of the OAuth/OIDC endpoints (forms, query, registration), for the contract.

The endpoints parse their own requests (``forms.py``); these JSON Schemas only describe what
they read (the responses are in ``oauth_models.py``). They hold the rules the endpoints
enforce (PKCE challenge, ``response_type``, ``prompt``, ``max_age``...), so a form the contract
calls valid is one the endpoint parses; what depends on registered state (the client, its
redirect URIs, an issued code) is checked at run time.
"""

from __future__ import annotations

from typing import Any

from sim06.services.identity import pkce
from sim06.services.identity.authorize import MAX_AGE, PROMPT
from sim06.services.identity.claims import SUPPORTED_SCOPES
from sim06.services.identity.client_auth import ASSERTION_TYPE
from sim06.services.identity.clients import AUTH_METHODS, GRANT_TYPES, TLS_URI_PATTERN, URI_PATTERN

__all__ = [
    "AUTHORIZATION_FIELDS",
    "AUTHORIZE_FORM",
    "CLIENT_AUTH_FIELDS",
    "CLIENT_METADATA",
    "INTROSPECT_FORM",
    "LOGOUT_FIELDS",
    "PAR_FORM",
    "REQUEST_URI",
    "REVOKE_FORM",
    "TOKEN_FORM",
    "blank_allowed",
    "form_schema",
]


def _text(description: str, **rules: Any) -> dict[str, Any]:
    return {"type": "string", "description": description, **rules}


CLIENT_AUTH_FIELDS: dict[str, dict[str, Any]] = {
    "client_id": _text(
        "The client: required for client_secret_post and public clients (method none), "
        "optional with HTTP Basic or an assertion (whose iss it must equal)."
    ),
    "client_secret": _text("client_secret_post (RFC 6749 §2.3.1)."),
    "client_assertion_type": {
        "type": "string",
        "enum": [ASSERTION_TYPE],
        "description": "private_key_jwt (RFC 7523 §2.2).",
    },
    "client_assertion": _text(
        "A JWT signed with the client's registered key: iss = sub = client_id, aud = the "
        "token endpoint or the issuer, exp and jti required (a jti is accepted once).",
        pattern=r"^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*$",
    ),
}

_SCOPE = r"^(?:[\s\S]*\s)?openid(?:\s[\s\S]*)?$"
AUTHORIZATION_FIELDS: dict[str, dict[str, Any]] = {
    "response_type": {"type": "string", "enum": ["code"]},
    "client_id": _text("The registered client.", minLength=1),
    "redirect_uri": _text("Exactly one of the client's registered redirect URIs.", minLength=1),
    "scope": _text(
        "Space-separated; must include openid. Supported: " + ", ".join(SUPPORTED_SCOPES) + ".",
        pattern=_SCOPE,
    ),
    "state": _text("Returned unchanged with the code or the error."),
    "nonce": _text("Copied into the ID token."),
    "code_challenge": _text(
        "PKCE (RFC 7636): BASE64URL(SHA256(code_verifier)), required.",
        pattern=f"^{pkce.CHALLENGE.pattern}$",
    ),
    "code_challenge_method": {"type": "string", "enum": ["S256"]},
    "prompt": _text(
        "none alone, or any of login, consent, select_account.", pattern=PROMPT.pattern
    ),
    "max_age": _text("Seconds since the last login after which it is redone.", pattern=MAX_AGE),
    "login_hint": _text("A PIN or a persona key (the page preselects it; auto-login uses it)."),
    "acr_values": _text("1, 2, LoA1 or LoA2 (space-separated; the lowest known one counts)."),
    "claims": _text(
        "OIDC Core §5.5 claims request, a JSON object (e.g. "
        '{"id_token": {"acr": {"essential": true, "values": ["LoA2"]}}}).',
        contentMediaType="application/json",
    ),
    "ui_locales": _text("vi or en."),
    "response_mode": {"type": "string", "enum": ["query"]},
}
_AUTHORIZATION_REQUIRED = [
    "response_type", "client_id", "redirect_uri", "scope", "code_challenge",
    "code_challenge_method",
]  # fmt: skip
REQUEST_URI = _text(
    "A request_uri from /par (RFC 9126 §4): then only client_id goes with it.",
    pattern=r"^urn:ietf:params:oauth:request_uri:",
)
LOGOUT_FIELDS: dict[str, dict[str, Any]] = {
    "id_token_hint": _text("An ID token this provider issued (expired ones are fine)."),
    "client_id": _text("The client (must be the ID token's audience when both are sent)."),
    "post_logout_redirect_uri": _text(
        "One of the client's registered post_logout_redirect_uris; else a page is shown."
    ),
    "state": _text("Returned with the redirect."),
}


def blank_allowed(schema: dict[str, Any]) -> dict[str, Any]:
    """``schema`` of an optional parameter, also taking the empty string: a parameter sent
    without a value counts as omitted (RFC 6749 §3.1, §3.2)."""
    out = {k: v for k, v in schema.items() if k != "minLength"}
    if "pattern" in out:
        out["pattern"] = "^$|" + out["pattern"]
    if "enum" in out:
        out["enum"] = [*out["enum"], ""]
    return out


def form_schema(
    fields: dict[str, dict[str, Any]],
    required: list[str],
    description: str,
    *,
    client_auth: bool = False,
) -> dict[str, Any]:
    """An ``application/x-www-form-urlencoded`` body: string fields, each sent at most once
    (RFC 6749 §3.2), an empty one counting as omitted (:func:`blank_allowed`). ``client_auth``:
    with the client authentication fields, one method at a time (RFC 6749 §2.3)."""
    properties = {**fields, **(CLIENT_AUTH_FIELDS if client_auth else {})}
    schema: dict[str, Any] = {
        "type": "object",
        "description": description,
        "properties": {
            name: field if name in required else blank_allowed(field)
            for name, field in properties.items()
        },
        "required": required,
        "additionalProperties": {"type": "string"},
    }
    if client_auth:
        schema["not"] = {"required": ["client_secret", "client_assertion_type"]}
    return schema


AUTHORIZE_FORM = form_schema(
    {**AUTHORIZATION_FIELDS, "request_uri": REQUEST_URI},
    ["client_id"],
    "The authorization request as a form (OIDC Core §3.1.2.1): response_type, redirect_uri, "
    "scope, code_challenge and code_challenge_method are required unless request_uri is sent.",
)
PAR_FORM = form_schema(
    AUTHORIZATION_FIELDS,
    _AUTHORIZATION_REQUIRED[:1] + _AUTHORIZATION_REQUIRED[2:],
    "The authorization request and the client's authentication (RFC 9126 §2.1); request and "
    "request_uri are refused.",
    client_auth=True,
)
_GRANT = {
    "grant_type": {"type": "string", "enum": ["authorization_code", "refresh_token"]},
    "code": _text("authorization_code: the code from the redirect (single use).", minLength=1),
    "redirect_uri": _text("authorization_code: the redirect_uri of the authorization request."),
    "code_verifier": _text(
        "authorization_code: the PKCE verifier.", pattern=f"^{pkce.VERIFIER.pattern}$"
    ),
    "refresh_token": _text("refresh_token: the refresh token (rotated on use).", minLength=1),
    "scope": _text("refresh_token: a narrower scope than the original grant."),
}
TOKEN_FORM: dict[str, Any] = {
    **form_schema(
        _GRANT,
        ["grant_type"],
        "RFC 6749 §4.1.3 (code + PKCE) or §6 (refresh), with the client's authentication.",
        client_auth=True,
    ),
    "oneOf": [
        {
            "title": "authorization_code grant",
            "properties": {"grant_type": {"const": "authorization_code"}},
            "required": ["code", "redirect_uri", "code_verifier"],
        },
        {
            "title": "refresh_token grant",
            "properties": {"grant_type": {"const": "refresh_token"}},
            "required": ["refresh_token"],
        },
    ],
}
_TOKEN_FIELD = {
    "token": _text("The access or refresh token.", minLength=1),
    "token_type_hint": _text("access_token or refresh_token (a hint; both are looked up)."),
}
INTROSPECT_FORM = form_schema(
    _TOKEN_FIELD,
    ["token"],
    "RFC 7662 §2.1; a client sees only its own tokens, and public clients cannot introspect.",
    client_auth=True,
)
REVOKE_FORM = form_schema(
    _TOKEN_FIELD,
    ["token"],
    "RFC 7009 §2.1; a refresh token revokes its whole grant.",
    client_auth=True,
)

_URI = {"type": "string", "pattern": URI_PATTERN}
_PUBLIC_JWK = {"type": "object", "not": {"required": ["d"]}, "description": "A public JWK."}
CLIENT_METADATA: dict[str, Any] = {
    "type": "object",
    "description": (
        "RFC 7591 §2 client metadata; unknown metadata is ignored, client_id and "
        "client_secret are assigned. jwks_uri is not supported: send jwks by value."
    ),
    "properties": {
        "redirect_uris": {
            "type": "array",
            "minItems": 1,
            "items": _URI,
            "description": "Absolute http(s) URIs without fragment (exact match later). A "
            "confidential client's (auth method other than none) must be https; plain http only "
            "on localhost or 127.0.0.1 (RFC 8252 §7.3).",
        },
        "token_endpoint_auth_method": {"type": "string", "enum": list(AUTH_METHODS)},
        "grant_types": {"type": "array", "items": {"type": "string", "enum": list(GRANT_TYPES)}},
        "response_types": {
            "type": "array",
            "items": {"const": "code"},
            "minItems": 1,
            "maxItems": 1,
        },  # fmt: skip
        "client_name": {"type": "string"},
        "subject_type": {"enum": ["public", "pairwise", None]},
        "post_logout_redirect_uris": {"type": "array", "items": _URI},
        "scope": {"type": "string"},
        "jwks": {
            "type": "object",
            "required": ["keys"],
            "properties": {"keys": {"type": "array", "minItems": 1, "items": _PUBLIC_JWK}},
            "description": "Public keys (required for private_key_jwt).",
        },
    },
    "required": ["redirect_uris"],
    "if": {
        "properties": {"token_endpoint_auth_method": {"const": "private_key_jwt"}},
        "required": ["token_endpoint_auth_method"],
    },
    "then": {"required": ["jwks"], "not": {"required": ["jwks_uri"]}},
    # A confidential client (any auth method but none, the default included): https redirect
    # URIs, plain http only on the loopback (clients.py).
    "allOf": [
        {
            "if": {
                "properties": {"token_endpoint_auth_method": {"const": "none"}},
                "required": ["token_endpoint_auth_method"],
            },
            "else": {
                "properties": {
                    "redirect_uris": {"items": {"type": "string", "pattern": TLS_URI_PATTERN}}
                }
            },
        }
    ],
}

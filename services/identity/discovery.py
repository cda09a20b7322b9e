"""Provider metadata: OpenID Connect Discovery 1.0 §3 and RFC 8414 §2."""

from __future__ import annotations

from typing import Any

from services.identity.accounts import ACR_VALUES
from services.identity.claims import SUPPORTED_CLAIMS, SUPPORTED_SCOPES
from services.identity.clients import ASSERTION_ALGS, AUTH_METHODS

__all__ = ["PATHS", "metadata"]

PATHS = {
    "authorization_endpoint": "/authorize",
    "token_endpoint": "/token",
    "userinfo_endpoint": "/userinfo",
    "jwks_uri": "/.well-known/jwks.json",
    "registration_endpoint": "/register",
    "introspection_endpoint": "/introspect",
    "revocation_endpoint": "/revoke",
    "end_session_endpoint": "/logout",
    "pushed_authorization_request_endpoint": "/par",
}


def metadata(issuer: str, alg: str, *, registration_open: bool) -> dict[str, Any]:
    """The discovery document of the provider at ``issuer``."""
    endpoints = {
        name: issuer + path
        for name, path in PATHS.items()
        if registration_open or name != "registration_endpoint"
    }
    return {
        "issuer": issuer,
        **endpoints,
        "scopes_supported": list(SUPPORTED_SCOPES),
        "response_types_supported": ["code"],
        "response_modes_supported": ["query"],
        "grant_types_supported": ["authorization_code", "refresh_token"],
        "acr_values_supported": list(ACR_VALUES),
        "subject_types_supported": ["public", "pairwise"],
        "id_token_signing_alg_values_supported": [alg],
        "userinfo_signing_alg_values_supported": [],
        "token_endpoint_auth_methods_supported": list(AUTH_METHODS),
        "token_endpoint_auth_signing_alg_values_supported": list(ASSERTION_ALGS),
        "introspection_endpoint_auth_methods_supported": list(AUTH_METHODS[:3]),
        "revocation_endpoint_auth_methods_supported": list(AUTH_METHODS),
        "claims_supported": list(SUPPORTED_CLAIMS),
        "claims_parameter_supported": True,
        "request_parameter_supported": False,
        "request_uri_parameter_supported": False,
        "code_challenge_methods_supported": ["S256"],
        "prompt_values_supported": ["none", "login", "consent", "select_account"],
        "authorization_response_iss_parameter_supported": True,
        "require_pushed_authorization_requests": False,
        "ui_locales_supported": ["vi", "en"],
        "claim_types_supported": ["normal"],
    }

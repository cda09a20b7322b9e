"""Provider metadata: OpenID Connect Discovery 1.0 §3 and RFC 8414 §2."""

from __future__ import annotations

from typing import Any

from sim06.services.identity.accounts import ACR_VALUES
from sim06.services.identity.claims import SUPPORTED_CLAIMS, SUPPORTED_SCOPES
from sim06.services.identity.clients import ASSERTION_ALGS, AUTH_METHODS

__all__ = ["PATHS", "PORTAL_PATHS", "REALM_ISSUER_PATH", "REALM_PATHS", "metadata"]

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


# The Keycloak-style VNeID realm (realm.py), relative to its issuer {root}/auth/realms/citizen.
REALM_ISSUER_PATH = "/auth/realms/citizen"
_KC = "/protocol/openid-connect"
REALM_PATHS = {
    "authorization_endpoint": _KC + "/auth",
    "token_endpoint": _KC + "/token",
    "userinfo_endpoint": _KC + "/userinfo",
    "jwks_uri": _KC + "/certs",
    "introspection_endpoint": _KC + "/token/introspect",
    "revocation_endpoint": _KC + "/revoke",
    "end_session_endpoint": _KC + "/logout",
}
# The portal SSO (portal/), relative to the root; its issuer is {root}/oauth2/token (WSO2).
PORTAL_PATHS = {
    "authorization_endpoint": "/oauth2/authorize",
    "token_endpoint": "/oauth2/token",
    "userinfo_endpoint": "/oauth2/userinfo",
    "jwks_uri": "/oauth2/jwks",
    "introspection_endpoint": "/oauth2/introspect",
    "revocation_endpoint": "/oauth2/revoke",
    "end_session_endpoint": "/oidc/logout",
}


def metadata(
    issuer: str,
    alg: str,
    *,
    registration_open: bool,
    paths: dict[str, str] | None = None,
    base: str | None = None,
) -> dict[str, Any]:
    """The discovery document of the provider at ``issuer``; ``paths`` (default
    :data:`PATHS`) are appended to ``base`` (default: the issuer)."""
    endpoints = {
        name: (base or issuer) + path
        for name, path in (PATHS if paths is None else paths).items()
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

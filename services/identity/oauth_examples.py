"""Inline examples of the OAuth/OIDC endpoints' contract (``oauth_contract.py``).

Built from the real code where that is cheap and deterministic (pages, discovery, the
persona's claims, the errors' text); tokens are real-shaped but shortened, with a fake
signature. The clients are the demo relying parties of ``examples/identity-clients.yaml``.
"""

from __future__ import annotations

import base64
from functools import cache
from typing import Any

import orjson

from sim06.mock_registry import personas
from sim06.mock_registry.citizen import record_of
from sim06.services.common.settings import DEFAULT_AS_OF
from sim06.services.identity.authorize import redirect_url
from sim06.services.identity.claims import release, requested
from sim06.services.identity.discovery import PORTAL_PATHS, REALM_ISSUER_PATH, REALM_PATHS, metadata
from sim06.services.identity.errors import OAuthError, invalid_client
from sim06.services.identity.pages import error_page, message_page

ISSUER = "http://127.0.0.1:8002"  # the issuer of the published contract (services/contracts.py)
PORTAL = "http://127.0.0.1:9000/callback"  # demo-portal (client_secret_basic)
SPA = "http://127.0.0.1:9003/callback"  # demo-spa (public, PKCE only)
# RFC 7636 Appendix B.
VERIFIER = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk"
CHALLENGE = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"
CODE = "Qm9VbXnG8d1r3yJcT0wK5aZpLh2sEe7uIvFoRtYq6Nk"
SUB = "nJ3pX0q8Vt7cS2mYfA5wKd9B"  # a keyed hash of the PIN (subject.py)
REQUEST_URI = "urn:ietf:params:oauth:request_uri:6esc_11ACC5bwc014ltc14eY22c"
ADULT = personas.BY_KEY["adult-level2"]


def _b64(data: dict[str, Any]) -> str:
    return base64.urlsafe_b64encode(orjson.dumps(data)).rstrip(b"=").decode("ascii")


def jwt_like(header: dict[str, Any], claims: dict[str, Any]) -> str:
    """A compact JWS with these segments and a placeholder signature (examples only)."""
    return f"{_b64(header)}.{_b64(claims)}.c2ltMDYtZXhhbXBsZS1zaWduYXR1cmU"


def _error(exc: OAuthError) -> dict[str, str]:
    return exc.body()


ACCESS_TOKEN = jwt_like(
    {"alg": "RS256", "kid": "20260701-3f9a2c1e", "typ": "at+jwt"},
    {"iss": ISSUER, "sub": SUB, "aud": ISSUER, "client_id": "demo-spa",
     "scope": "openid profile vneid_profile", "exp": 1782868200, "iat": 1782867600,
     "jti": "b2Z0ZW4tcmFuZG9t", "acr": "LoA2"},
)  # fmt: skip
ID_TOKEN = jwt_like(
    {"alg": "RS256", "kid": "20260701-3f9a2c1e", "typ": "JWT"},
    {"iss": ISSUER, "sub": SUB, "aud": "demo-spa", "exp": 1782868200, "iat": 1782867600,
     "acr": "LoA2", "amr": ["pwd", "face"], "nonce": "n-0S6_WzA2Mj"},
)  # fmt: skip
REFRESH_TOKEN = "tGzv3JOkF0XG5Qx2TlKWIA-x7Yv1qQ9dN3mC8rS0uE4"

QUERY: dict[str, str] = {
    "response_type": "code",
    "client_id": "demo-spa",
    "redirect_uri": SPA,
    "scope": "openid profile vneid_profile",
    "state": "af0ifjsldkj",
    "nonce": "n-0S6_WzA2Mj",
    "code_challenge": CHALLENGE,
    "code_challenge_method": "S256",
    "login_hint": "adult-level2",
    "acr_values": "LoA2",
    "ui_locales": "vi",
    "max_age": "3600",
    "prompt": "login",
    "response_mode": "query",
    "claims": '{"id_token": {"acr": {"essential": true, "values": ["LoA2"]}}}',
    "request_uri": REQUEST_URI,
    "id_token_hint": ID_TOKEN,
    "post_logout_redirect_uri": "http://127.0.0.1:9000/",
}
_AUTH_KEYS = ("response_type", "client_id", "redirect_uri", "scope", "state", "nonce",
              "code_challenge", "code_challenge_method", "login_hint", "acr_values")  # fmt: skip
AUTHORIZE_FORM = {k: QUERY[k] for k in _AUTH_KEYS}
PAR_FORM = {**AUTHORIZE_FORM, "client_id": "demo-portal", "redirect_uri": PORTAL}
PUSHED = {"request_uri": REQUEST_URI, "expires_in": 60}
LOGOUT_FORM = {k: QUERY[k] for k in ("id_token_hint", "post_logout_redirect_uri", "state")}
LOGOUT_REDIRECT = "http://127.0.0.1:9000/?state=af0ifjsldkj"
CODE_REDIRECT = redirect_url(SPA, {"code": CODE, "state": QUERY["state"]}, ISSUER)

LOGIN_PAGE = (
    '<!doctype html><html lang="vi"><head><meta charset="utf-8"><title>Đăng nhập VNeID / '
    "Log in with VNeID</title></head><body><main><h1>Đăng nhập / Log in</h1>"
    '<form method="post" action="login">…</form></main></body></html>'
)
ERROR_PAGE = error_page("invalid_request", "redirect_uri is not registered for this client").body
UNTRUSTED_REDIRECT = _error(
    OAuthError("invalid_request", "redirect_uri is not registered for this client")
)
LOGGED_OUT_PAGE = message_page("Đã đăng xuất", "You are logged out").body
LOGOUT_ERROR_PAGE = error_page("invalid_request", "post_logout_redirect_uri is not registered").body

TOKEN_FORM = {
    "grant_type": "authorization_code",
    "code": CODE,
    "redirect_uri": SPA,
    "code_verifier": VERIFIER,
    "client_id": "demo-spa",
}
REFRESH_FORM = {"grant_type": "refresh_token", "refresh_token": REFRESH_TOKEN,
                "client_id": "demo-spa"}  # fmt: skip
TOKENS = {
    "access_token": ACCESS_TOKEN,
    "token_type": "Bearer",
    "expires_in": 600,
    "scope": "openid profile vneid_profile",
    "id_token": ID_TOKEN,
    "refresh_token": REFRESH_TOKEN,
}
REFRESHED = {**TOKENS, "refresh_token": "Yq1m8Xc0vB7nK2sT5dW9eR3uA6hJ4pL1oZ8iG0fN2xC"}
TOKEN_ERRORS = {
    "code_used": _error(
        OAuthError("invalid_grant", "the code is invalid, expired or already used")
    ),
    "pkce": _error(OAuthError("invalid_grant", "code_verifier does not match the code_challenge")),
    "missing_verifier": _error(OAuthError("invalid_request", "code_verifier is missing (PKCE)")),
    "grant_type": _error(
        OAuthError("unsupported_grant_type", "use authorization_code or refresh_token")
    ),
}
INVALID_CLIENT = {
    "wrong_secret": _error(invalid_client("client authentication failed", basic=True)),
}
TOKEN_ONLY = {"token": ACCESS_TOKEN, "token_type_hint": "access_token"}
TOKEN_MISSING = {"no_token": _error(OAuthError("invalid_request", "token is missing"))}
INTROSPECTION = {
    "active": True,
    "token_type": "access_token",
    "iss": ISSUER,
    "sub": SUB,
    "aud": ISSUER,
    "client_id": "demo-portal",
    "scope": "openid profile",
    "exp": 1782868200,
    "iat": 1782867600,
    "jti": "b2Z0ZW4tcmFuZG9t",
    "auth_time": 1782867590,
    "acr": "LoA2",
    "sid": "c2Vzc2lvbi1pZC1leGFtcGxl",
}
PAR_ERRORS = {
    "redirect_uri": UNTRUSTED_REDIRECT,
    "pkce": _error(OAuthError("invalid_request", "PKCE is required: send code_challenge (S256)")),
    "scope": _error(OAuthError("invalid_scope", "scope must include openid")),
}

CLIENT_METADATA = {
    "client_name": "Cổng dịch vụ công tỉnh (thử nghiệm)",
    "redirect_uris": ["http://127.0.0.1:9010/callback"],
    "post_logout_redirect_uris": ["http://127.0.0.1:9010/"],
    "token_endpoint_auth_method": "client_secret_basic",
    "grant_types": ["authorization_code", "refresh_token"],
    "response_types": ["code"],
    "scope": "openid profile vneid_profile",
}
PUBLIC_METADATA = {
    "client_name": "Ứng dụng di động (thử nghiệm)",
    "redirect_uris": ["http://127.0.0.1:9011/callback"],
    "token_endpoint_auth_method": "none",
}
REGISTERED = {
    "client_id": "dyn-Xk2v9QmR4tLp",
    "client_secret": "Zb3nV8qT1xW6yR0cK4mJ7hD2sF9gA5eL3pU8oI1uY6t",
    "client_id_issued_at": 1782867600,
    "client_secret_expires_at": 0,
    "redirect_uris": CLIENT_METADATA["redirect_uris"],
    "token_endpoint_auth_method": "client_secret_basic",
    "grant_types": CLIENT_METADATA["grant_types"],
    "response_types": ["code"],
    "client_name": CLIENT_METADATA["client_name"],
    "post_logout_redirect_uris": CLIENT_METADATA["post_logout_redirect_uris"],
    "scope": CLIENT_METADATA["scope"],
}
REGISTERED_PUBLIC = {
    "client_id": "dyn-7hQw2ZcN0bVe",
    "client_id_issued_at": 1782867600,
    "redirect_uris": PUBLIC_METADATA["redirect_uris"],
    "token_endpoint_auth_method": "none",
    "grant_types": ["authorization_code", "refresh_token"],
    "response_types": ["code"],
    "client_name": PUBLIC_METADATA["client_name"],
    "post_logout_redirect_uris": [],
}
REGISTER_ERRORS = {
    "redirect_uri": _error(
        OAuthError(
            "invalid_redirect_uri",
            "'myapp://callback' is not an absolute http(s) URI without fragment",
        )
    ),
    "plain_http": _error(
        OAuthError(
            "invalid_redirect_uri",
            "'http://rp.example/cb': a confidential client's redirect URI must use https "
            "(plain http only on localhost or 127.0.0.1, RFC 8252 §7.3)",
        )
    ),
    "metadata": _error(
        OAuthError(
            "invalid_client_metadata", "private_key_jwt needs a jwks object with public keys"
        )
    ),
}
REGISTRATION_CLOSED = {
    "error": "access_denied",
    "error_description": "dynamic registration is closed",
}

DISCOVERY = metadata(ISSUER, "RS256", registration_open=True)
REALM_DISCOVERY = metadata(
    ISSUER + REALM_ISSUER_PATH, "RS256", registration_open=False, paths=REALM_PATHS
)
PORTAL_DISCOVERY = metadata(
    ISSUER + PORTAL_PATHS["token_endpoint"], "RS256", registration_open=False,
    paths=PORTAL_PATHS, base=ISSUER,
)  # fmt: skip
JWKS = {
    "keys": [
        {
            "kty": "RSA",
            "kid": "20260701-3f9a2c1e",
            "use": "sig",
            "alg": "RS256",
            "n": (
                "0vx7agoebGcQSuuPiLJXZptN9nndrQmbXEps2aiAFbWhM78LhWx4cbbfAAtVT86zwu1RK7aP"
                "FFxuhDR1L6tSoc_BJECPebWKRXjBZCiFV4n3oknjhMstn64tZ_2W-5JsGY4Hc5n9yBXArwl9"
                "3lqt7_RN5w6Cf0h4QyQ5v-65YGjQR0_FDW2QvzqY368QQMicAtaSqzs8KJZgnYb9c7d0zgdA"
                "ZHzu6qMQvRL5hajrn1n91CbOpbISD08qNLyrdkt-bFTWhAI4vMQFh6WeZu0fM4lFd2NcRwr3"
                "XPksINHaQ-G_xBniIqbw0Ls1jF44-csFCur-kEgU8awapJzKnqDKgw"
            ),
            "e": "AQAB",
        }
    ]
}
INVALID_TOKEN_CHALLENGE = (
    'Bearer realm="sim06", error="invalid_token", error_description="the access token has expired"'
)
SCOPE_CHALLENGE = (
    'Bearer realm="sim06", error="insufficient_scope", '
    'error_description="the token lacks the openid scope"'
)


@cache
def userinfo() -> dict[str, Any]:
    """What /userinfo releases for the adult-level2 persona (scopes openid profile
    vneid_profile), computed by the real claim mapping."""
    person = next(p for p in personas.build(DEFAULT_AS_OF) if p.pin == ADULT.pin)
    record = record_of(person, f"{DEFAULT_AS_OF.isoformat()}T00:00:00+07:00")
    names = requested(["openid", "profile", "vneid_profile"])
    return {"sub": SUB, **release(record, names, sub=SUB, level=2)}

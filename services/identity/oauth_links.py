"""OpenAPI links of the OAuth/OIDC endpoints: where a response feeds another operation.

A stateful tester (Schemathesis) follows them: a registered client pushes an authorization
request and starts a login, a pushed request's URI goes to /authorize, and tokens go to
introspection, revocation, the refresh grant and /userinfo. A link fills parameters or merges
fields into the form body of its target (OpenAPI 3.1 §4.8.20).
"""

from __future__ import annotations

from typing import Any

__all__ = ["LINKS_FROM_PAR", "LINKS_FROM_REGISTER", "LINKS_FROM_TOKEN"]

_ACCESS = "$response.body#/access_token"
_REFRESH = "$response.body#/refresh_token"

LINKS_FROM_TOKEN: dict[str, Any] = {
    "introspect": {
        "operationId": "oidc-introspect",
        "requestBody": {"token": _ACCESS},
        "description": "Introspect the access token just issued (RFC 7662).",
    },
    "revoke": {
        "operationId": "oidc-revoke",
        "requestBody": {"token": _REFRESH},
        "description": "Revoke the refresh token just issued, and its grant (RFC 7009).",
    },
    "refresh": {
        "operationId": "oidc-token",
        "requestBody": {"grant_type": "refresh_token", "refresh_token": _REFRESH},
        "description": "Use the refresh token (rotated: the old one then fails).",
    },
    "userinfo": {
        "operationId": "oidc-userinfo-get",
        "parameters": {"header.Authorization": "Bearer {" + _ACCESS + "}"},
        "description": "Read the citizen's claims with the access token.",
    },
}
LINKS_FROM_PAR: dict[str, Any] = {
    "authorize": {
        "operationId": "oidc-authorize-get",
        "parameters": {
            "query.request_uri": "$response.body#/request_uri",
            "query.client_id": "$request.body#/client_id",
        },
        "description": "Start the login with the pushed request (RFC 9126 §4).",
    },
}
LINKS_FROM_REGISTER: dict[str, Any] = {
    "par": {
        "operationId": "oidc-par",
        "requestBody": {
            "client_id": "$response.body#/client_id",
            "redirect_uri": "$response.body#/redirect_uris/0",
        },
        "description": "Push an authorization request as the new client.",
    },
    "authorize": {
        "operationId": "oidc-authorize-get",
        "parameters": {
            "query.client_id": "$response.body#/client_id",
            "query.redirect_uri": "$response.body#/redirect_uris/0",
        },
        "description": "Start a login for the new client.",
    },
    "logout": {
        "operationId": "oidc-logout-get",
        "parameters": {"query.client_id": "$response.body#/client_id"},
        "description": "End a session on behalf of the new client.",
    },
}

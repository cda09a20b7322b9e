"""The observed VNeID realm: a Keycloak-style surface at ``/auth/realms/citizen`` (domain §5.6).

Real integrators' code shows VNeID's identity provider as a Keycloak-like server: issuer
``…/auth/realms/citizen``, ``azp`` = ``vnconnect``, ``acr`` = ``"1"``, ``preferred_username`` =
the 12-digit PIN, ``realm_access``/``resource_access`` roles, and user-info fields ``SoDinhDanh``,
``HoVaTen``, ``NgayThangNamSinh``, ``LoaiTaiKhoan``, ``TechID`` [P]. An agency configured for those
paths and claims (e.g. with ``python-keycloak``) points at sim06 unchanged:

    {base}/auth/realms/citizen/.well-known/openid-configuration
    {base}/auth/realms/citizen/protocol/openid-connect/auth | token | userinfo | certs | logout
    {base}/auth/realms/citizen/protocol/openid-connect/token/introspect | revoke
    {base}/auth/realms/citizen                      the realm document (public key)

The realm is a second :class:`Provider` over the same core (state, keys, clients, login
sessions, consent, levels): only the issuer, the paths and the shape of tokens differ
(:class:`KeycloakProfile`). Logging in at the realm or at the root is one VNeID session.
"""

from __future__ import annotations

import base64
import functools
from typing import Any

from fastapi import FastAPI
from starlette.requests import Request
from starlette.responses import Response

from sim06.services.identity.client_auth import authenticate_client
from sim06.services.identity.clients import Client
from sim06.services.identity.discovery import REALM_ISSUER_PATH, REALM_PATHS, metadata
from sim06.services.identity.endpoints import OAuthHandlers, json_response
from sim06.services.identity.errors import NO_STORE, OAuthError, json_error
from sim06.services.identity.forms import read_form
from sim06.services.identity.login import install_login_routes
from sim06.services.identity.oauth_contract import add_documented_route
from sim06.services.identity.pages import error_page
from sim06.services.identity.profiles import TokenProfile
from sim06.services.identity.provider import Provider

__all__ = ["OBSERVED_USERINFO", "REALM", "REALM_PATHS", "KeycloakProfile", "install_realm"]

REALM = "citizen"
REALM_PREFIX = REALM_ISSUER_PATH
OIDC = "/protocol/openid-connect"
# User-info fields observed from VNeID ("vnconnect") whatever the scopes (domain §5.6 item 3).
OBSERVED_USERINFO = (
    "preferred_username", "SoDinhDanh", "HoVaTen", "NgayThangNamSinh", "LoaiTaiKhoan", "TechID",
)  # fmt: skip
# Keycloak's default realm roles, and one per assurance level (sim06's naming [I]).
REALM_DOC = {
    "type": "object",
    "required": ["realm", "public_key", "token-service", "account-service", "tokens-not-before"],
    "properties": {
        "realm": {"type": "string"},
        "public_key": {"type": "string", "description": "base64 DER SubjectPublicKeyInfo"},
        "token-service": {"type": "string"},
        "account-service": {"type": "string"},
        "tokens-not-before": {"type": "integer"},
    },
}
REALM_RESPONSES: dict[int | str, dict[str, Any]] = {
    200: {
        "description": "The realm's name, current public key (base64 DER) and service URLs.",
        "content": {"application/json": {"schema": REALM_DOC, "example": {
            "realm": REALM, "public_key": "MIIBIjANBgkqhkiG9w0BAQEFAAOCAQ8AMIIBCgKCAQEA...",
            "token-service": "http://127.0.0.1:8002/auth/realms/citizen/protocol/openid-connect",
            "account-service": "http://127.0.0.1:8002/auth/realms/citizen/account",
            "tokens-not-before": 0,
        }}},
    }
}  # fmt: skip
DEFAULT_ROLES = (f"default-roles-{REALM}", "offline_access", "uma_authorization")
ACCOUNT_ROLES = ("manage-account", "view-profile")


class KeycloakProfile(TokenProfile):
    """Tokens and answers as a Keycloak realm writes them."""

    name = "keycloak"
    default_scopes = ("profile", "email")  # Keycloak's default client scopes
    access_typ = "JWT"  # Keycloak's access tokens say JWT, not at+jwt

    def access_audience(self, issuer: str) -> str | list[str]:
        del issuer
        return "account"  # Keycloak: the account client, whose roles the token carries

    def access_claims(
        self, provider: Provider, claims: dict[str, Any], grant: dict[str, Any], client: Client
    ) -> None:
        del provider
        claims.update(
            typ="Bearer",
            azp=client.client_id,
            preferred_username=grant["pin"],
            session_state=grant["sid"],
            realm_access={"roles": [*DEFAULT_ROLES, f"vneid-level-{grant['level']}"]},
            resource_access={"account": {"roles": list(ACCOUNT_ROLES)}},
        )

    def id_claims(
        self, provider: Provider, claims: dict[str, Any], grant: dict[str, Any], client: Client
    ) -> None:
        del provider, client
        claims.update(typ="ID", preferred_username=grant["pin"], session_state=grant["sid"])

    def token_response(
        self, provider: Provider, body: dict[str, Any], grant: dict[str, Any]
    ) -> None:
        if "refresh_token" in body:
            body["refresh_expires_in"] = provider.settings.identity_refresh_token_ttl
        body["not-before-policy"] = 0
        body["session_state"] = grant["sid"]

    def userinfo_claims(self, names: list[str]) -> list[str]:
        return list(dict.fromkeys((*names, *OBSERVED_USERINFO)))


def install_realm(app: FastAPI, core: Provider) -> Provider:
    """Mount the realm on ``app`` over the pieces of ``core`` (the root provider); the realm's
    provider (issuer ``{core issuer}/auth/realms/citizen``)."""
    issuer = core.issuer + REALM_PREFIX
    realm = Provider(
        core.settings, issuer, core.store, core.state, core.keys, core.subjects, core.registry,
        KeycloakProfile(),
    )  # fmt: skip
    token_url = issuer + REALM_PATHS["token_endpoint"]

    async def authenticated(request: Request, form: dict[str, str], path: str) -> Client:
        return authenticate_client(
            form, request.headers.get("authorization"), realm.registry, realm.state,
            [token_url, issuer, issuer + path],
        )  # fmt: skip

    handlers = OAuthHandlers(realm, authenticated, REALM_PATHS)
    base = REALM_PREFIX + OIDC

    async def discovery() -> Response:
        doc = metadata(issuer, realm.keys.alg, registration_open=False, paths=REALM_PATHS)
        return json_response(doc)

    async def certs() -> Response:
        return json_response(realm.keys.jwks())

    async def realm_document() -> Response:
        # Keycloak's GET /realms/{realm}: what python-keycloak's public_key() reads.
        return json_response({
            "realm": REALM,
            "public_key": base64.b64encode(realm.keys.public_der()).decode("ascii"),
            "token-service": issuer + OIDC,
            "account-service": issuer + "/account",
            "tokens-not-before": 0,
        })  # fmt: skip

    browser_logout = install_login_routes(
        app, realm, prefix=base, authorize_path="/auth", names="realm-", qr=False,
        logout_routes=False,
    )  # fmt: skip

    async def logout(request: Request) -> Response:
        # Keycloak's back-channel logout: POST refresh_token with the client's credentials
        # ends the session and its grant, 204; anything else is the browser's logout.
        if request.method == "POST":
            try:
                form = await read_form(request)
            except OAuthError as exc:  # a browser's form: the page, as the browser logout does
                return error_page(exc.error, exc.description)
            if "refresh_token" in form:
                return await back_channel_logout(request, form)
        return await browser_logout(request)

    async def back_channel_logout(request: Request, form: dict[str, str]) -> Response:
        try:
            client = await handlers.client(request, form, "end_session_endpoint")
            token = form["refresh_token"]
            record = realm.state.get(f"rt:{token}")
            if record is None or record["client_id"] != client.client_id:
                raise OAuthError("invalid_grant", "Invalid refresh token")
            if record.get("iss") != issuer:
                raise OAuthError("invalid_grant", "Invalid refresh token")
        except OAuthError as exc:
            return json_error(exc)
        realm.end_session(record.get("sid"))
        realm.revoke(client, token)
        return Response(status_code=204, headers=NO_STORE)

    route = functools.partial(add_documented_route, app, ("vneid-realm", "Keycloak-style realm"))

    route(REALM_PREFIX + "/.well-known/openid-configuration", discovery, "GET",
          "realm-discovery", "realm-discovery")  # fmt: skip
    route(base + "/certs", certs, "GET", "realm-certs", "jwks")
    app.add_api_route(
        REALM_PREFIX, realm_document, methods=["GET"], tags=["vneid-realm"], name="realm",
        summary="Keycloak-style realm document (public key)", responses=REALM_RESPONSES,
    )  # fmt: skip
    route(base + "/token", handlers.token, "POST", "realm-token", "token")
    for method in ("GET", "POST"):
        low = method.lower()
        route(base + "/userinfo", handlers.userinfo, method, f"realm-userinfo-{low}",
              f"userinfo-{low}")  # fmt: skip
        route(base + "/logout", logout, method, f"realm-logout-{low}", f"logout-{low}")
    route(base + "/token/introspect", handlers.introspect, "POST", "realm-introspect",
          "introspect")  # fmt: skip
    route(base + "/revoke", handlers.revoke, "POST", "realm-revoke", "revoke")
    return realm

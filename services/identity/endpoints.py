"""The token, userinfo, introspection and revocation endpoints of one surface (``profiles.py``).

Each surface (sim06's own OIDC shape, the Keycloak-style realm, the portal SSO) mounts these
handlers at its own paths over its own :class:`Provider`; errors are RFC 6749 §5.2 JSON and
RFC 6750 §3 challenges, the same on every surface.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import orjson
from starlette.requests import Request
from starlette.responses import Response

from sim06.services.identity.clients import Client
from sim06.services.identity.errors import NO_STORE, BearerError, OAuthError, json_error
from sim06.services.identity.forms import read_form
from sim06.services.identity.provider import Provider

__all__ = ["Authenticate", "Handler", "OAuthHandlers", "json_response"]

JSON = "application/json"
# (request, form, endpoint path) → the authenticated client, or OAuthError.
Authenticate = Callable[[Request, dict[str, str], str], Awaitable[Client]]
Handler = Callable[[Request], Awaitable[Response]]


def json_response(data: Any, status: int = 200, *, no_store: bool = False) -> Response:
    """A JSON answer (``no_store``: RFC 6749 §5.1 Cache-Control for tokens)."""
    return Response(
        orjson.dumps(data), status_code=status, media_type=JSON,
        headers=NO_STORE if no_store else None,
    )  # fmt: skip


class OAuthHandlers:
    """The handlers of one surface; ``paths`` maps endpoint names to the paths clients call
    (the ``aud`` a private_key_jwt assertion may name)."""

    def __init__(self, provider: Provider, authenticate: Authenticate, paths: dict[str, str]):
        self.provider = provider
        self.authenticate = authenticate
        self.paths = paths

    async def client(self, request: Request, form: dict[str, str], endpoint: str) -> Client:
        """The authenticated client, refused if it is bound to another surface."""
        client = await self.authenticate(request, form, self.paths[endpoint])
        if not self.provider.profile.accepts(client):
            raise OAuthError("unauthorized_client", "the client is registered for another issuer")
        return client

    async def token(self, request: Request) -> Response:
        """RFC 6749 §3.2: authorization_code and refresh_token grants."""
        provider = self.provider
        try:
            form = await read_form(request)
            client = await self.client(request, form, "token_endpoint")
            grant_type = form.get("grant_type")
            if grant_type == "authorization_code":
                body = provider.exchange_code(client, form)
            elif grant_type == "refresh_token":
                if "refresh_token" not in client.grant_types:
                    raise OAuthError("unauthorized_client", "refresh_token grant not allowed")
                body = provider.refresh(client, form)
            elif grant_type is None:
                raise OAuthError("invalid_request", "grant_type is missing")
            else:
                raise OAuthError(
                    "unsupported_grant_type", "use authorization_code or refresh_token"
                )
        except OAuthError as exc:
            return json_error(exc)
        return json_response(body, no_store=True)

    async def userinfo(self, request: Request) -> Response:
        """OIDC Core §5.3 with a Bearer access token (RFC 6750 §2.1)."""
        header = request.headers.get("authorization", "")
        scheme, _, value = header.partition(" ")
        try:
            if scheme.lower() != "bearer" or not value.strip():
                raise BearerError(None)  # RFC 6750 §3.1: no error code when no token came
            body = self.provider.userinfo(value.strip())
        except BearerError as exc:
            return exc.response()
        return json_response(body, no_store=True)

    async def introspect(self, request: Request) -> Response:
        """RFC 7662 §2; confidential clients only."""
        try:
            form = await read_form(request)
            client = await self.client(request, form, "introspection_endpoint")
            if client.token_endpoint_auth_method == "none":  # RFC 7662 §2.1: authenticated only
                raise OAuthError("invalid_client", "public clients cannot introspect", status=401)
            if not form.get("token"):
                raise OAuthError("invalid_request", "token is missing")
        except OAuthError as exc:
            return json_error(exc)
        return json_response(self.provider.introspect(client, form["token"]), no_store=True)

    async def revoke(self, request: Request) -> Response:
        """RFC 7009 §2: unknown tokens are not an error."""
        try:
            form = await read_form(request)
            client = await self.client(request, form, "revocation_endpoint")
            if not form.get("token"):
                raise OAuthError("invalid_request", "token is missing")
        except OAuthError as exc:
            return json_error(exc)
        self.provider.revoke(client, form["token"])
        return Response(b"", status_code=200, headers=NO_STORE)

"""VNeID electronic identity provider (định danh điện tử): "log in with VNeID" over OIDC.

``create_app(settings, store, state)`` builds the service; nothing here reads the environment.
Endpoints (paths in :data:`services.identity.discovery.PATHS`): discovery, JWKS, authorization
with login/consent pages (``login.py``), token, userinfo, introspection (RFC 7662), revocation
(RFC 7009), pushed authorization requests (RFC 9126), dynamic registration (RFC 7591) and
RP-initiated logout. OAuth endpoints answer errors as RFC 6749 §5.2 requires; health and
unknown paths answer problem+json like the other services. The observed login profiles are
surfaces over the same core: the Keycloak-style VNeID realm (``realm.py``) and the portal SSO
that federates to it (``portal/``).
"""

from __future__ import annotations

import secrets
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import orjson
from fastapi import FastAPI, Request
from starlette.responses import Response

from sim06.mock_registry.store import CitizenStore, SQLiteCitizenStore
from sim06.services.chip import create_router as create_chip_router
from sim06.services.common.admission import install_admission
from sim06.services.common.http import BodyLimitMiddleware, install_problem_handlers, operation_id
from sim06.services.common.observability import FASTAPI_OPTIONS, install_observability
from sim06.services.common.offline_docs import install_offline_docs
from sim06.services.common.openapi_docs import install_openapi_docs
from sim06.services.common.settings import Settings
from sim06.services.common.tracing import client_transport
from sim06.services.contract import install_contract_tools
from sim06.services.identity.access_log_source import AccessLogSource, HttpAccessLogSource
from sim06.services.identity.account import install_account_routes
from sim06.services.identity.authorize import parse_request
from sim06.services.identity.client_auth import authenticate_client
from sim06.services.identity.clients import Client, ClientRegistry
from sim06.services.identity.discovery import PATHS, metadata
from sim06.services.identity.endpoints import OAuthHandlers
from sim06.services.identity.errors import NO_STORE, OAuthError, json_error
from sim06.services.identity.examples import examples
from sim06.services.identity.forms import read_form
from sim06.services.identity.hotpath import HotPaths, hot_endpoints
from sim06.services.identity.login import PAR_PREFIX, install_login_routes
from sim06.services.identity.oauth_contract import declare_oauth_routes
from sim06.services.identity.portal import install_portal
from sim06.services.identity.provider import Provider
from sim06.services.identity.qr import QrLogins
from sim06.services.identity.qr_routes import install_qr_routes
from sim06.services.identity.realm import install_realm
from sim06.services.identity.signing import IdentityKeys, identity_keys_dir
from sim06.services.identity.state import MemoryStateStore, StateStore
from sim06.services.identity.subject import SubjectMaker
from sim06.services.testing import install_testing_tools

__all__ = ["create_app", "gateway_url_of", "issuer_of"]

JSON = "application/json"
PAR_TTL = 60


def issuer_of(settings: Settings) -> str:
    """The issuer URL: the setting, else ``http://HOST:IDENTITY_PORT``."""
    if settings.identity_issuer:
        return settings.identity_issuer.rstrip("/")
    return f"http://{settings.host}:{settings.identity_port}"


def _json(data: Any, status: int = 200, *, no_store: bool = False) -> Response:
    return Response(
        orjson.dumps(data),
        status_code=status,
        media_type=JSON,
        headers=NO_STORE if no_store else None,
    )


def gateway_url_of(settings: Settings) -> str:
    """The gateway the access-log page reads: the setting, else ``http://HOST:GATEWAY_PORT``."""
    if settings.identity_gateway_url:
        return settings.identity_gateway_url.rstrip("/")
    return f"http://{settings.host}:{settings.gateway_port}"


def create_app(
    settings: Settings,
    store: CitizenStore | None = None,
    state: StateStore | None = None,
    access_log: AccessLogSource | None = None,
) -> FastAPI:
    """Build the identity provider over ``store`` (default: the settings' SQLite file).

    ``access_log``: where /account/access-log reads the gateway's log (default: HTTP to
    :func:`gateway_url_of`)."""
    db: CitizenStore = (
        store if store is not None else SQLiteCitizenStore(settings.database, readonly=True)
    )
    shared: StateStore = state if state is not None else MemoryStateStore()
    issuer = issuer_of(settings)
    keys = IdentityKeys(settings)
    registry = ClientRegistry(shared, settings.identity_clients_file, data_dir=settings.data_dir)
    provider = Provider(
        settings, issuer, db, shared, keys, SubjectMaker(identity_keys_dir(settings)), registry
    )
    token_audiences = [issuer + PATHS["token_endpoint"], issuer]

    access_source = access_log or HttpAccessLogSource(
        gateway_url_of(settings),  # with tracing on: a CLIENT span, traceparent to the gateway
        transport=client_transport(settings, "identity", peer="gateway"),
    )

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        yield
        close = getattr(access_source, "aclose", None)  # the HTTP client to the gateway
        if close is not None:
            await close()
        await app.state.portal_upstream.aclose()  # the portal's back channel to the realm

    app = FastAPI(
        **FASTAPI_OPTIONS,
        lifespan=lifespan,
        title="sim06 VNeID identity provider",
        version="1.0.0",
        description=(
            "Simulated VNeID electronic identity (định danh điện tử) OpenID Connect provider, "
            "levels 1 and 2. Synthetic data only."
        ),
        generate_unique_id_function=operation_id,
    )
    install_problem_handlers(app)
    install_offline_docs(app)  # /docs and /redoc without a CDN
    install_login_routes(app, provider)
    # The observed login profiles (domain §5.6): the Keycloak-style VNeID realm and the portal
    # SSO that federates to it, surfaces over the same core (profiles.py).
    app.state.realm = install_realm(app, provider)
    app.state.portal = install_portal(app, provider, app.state.realm)
    qr_logins = QrLogins(provider)
    install_qr_routes(app, provider, qr_logins)
    install_account_routes(app, provider, access_source)

    async def authenticated(request: Request, form: dict[str, str], path: str) -> Client:
        return authenticate_client(
            form,
            request.headers.get("authorization"),
            registry,
            shared,
            [*token_audiences, issuer + path],
        )

    @app.get("/.well-known/openid-configuration", tags=["oidc"], name="discovery")
    async def discovery() -> Response:
        doc = metadata(issuer, keys.alg, registration_open=settings.identity_registration_open)
        return _json(doc)

    @app.get("/.well-known/jwks.json", tags=["oidc"], name="jwks")
    async def jwks() -> Response:
        return _json(keys.jwks())

    handlers = OAuthHandlers(provider, authenticated, PATHS)
    app.add_api_route("/token", handlers.token, methods=["POST"], tags=["oidc"], name="token",
                      summary="Token endpoint (RFC 6749 §3.2)")  # fmt: skip
    for method in ("GET", "POST"):  # one route per method: each needs its own operation id
        app.add_api_route("/userinfo", handlers.userinfo, methods=[method], tags=["oidc"],
                          name=f"userinfo-{method.lower()}",
                          summary="UserInfo endpoint (OIDC Core §5.3)")  # fmt: skip
    app.add_api_route("/introspect", handlers.introspect, methods=["POST"], tags=["oidc"],
                      name="introspect", summary="RFC 7662 introspection")  # fmt: skip
    app.add_api_route("/revoke", handlers.revoke, methods=["POST"], tags=["oidc"],
                      name="revoke", summary="RFC 7009 revocation")  # fmt: skip

    @app.post("/par", tags=["oidc"], name="par", summary="Pushed authorization request (RFC 9126)")
    async def par(request: Request) -> Response:
        try:
            form = await read_form(request)
            client = await authenticated(
                request, form, PATHS["pushed_authorization_request_endpoint"]
            )
            if form.get("client_id", client.client_id) != client.client_id:
                raise OAuthError(
                    "invalid_request", "client_id differs from the authenticated client"
                )
            params = {
                k: v for k, v in form.items() if not k.startswith("client_assertion")
                and k != "client_secret"
            }  # fmt: skip
            params["client_id"] = client.client_id
            parse_request(params, registry, pushed=True)
        except OAuthError as exc:
            return json_error(exc)
        request_uri = PAR_PREFIX + secrets.token_urlsafe(24)
        shared.put(f"par:{request_uri}", {"params": params}, PAR_TTL)
        return _json({"request_uri": request_uri, "expires_in": PAR_TTL}, 201, no_store=True)

    @app.post("/register", tags=["oidc"], name="register", summary="RFC 7591 client registration")
    async def register(request: Request) -> Response:
        if not settings.identity_registration_open:
            return _json({"error": "access_denied",
                          "error_description": "dynamic registration is closed"}, 403)  # fmt: skip
        try:
            metadata_in = orjson.loads(await request.body())
        except orjson.JSONDecodeError:
            return json_error(OAuthError("invalid_client_metadata", "the body is not JSON"))
        if not isinstance(metadata_in, dict):
            return json_error(OAuthError("invalid_client_metadata", "send a JSON object"))
        try:
            body = registry.register(metadata_in)
        except OAuthError as exc:
            return json_error(exc)
        return _json(body, 201, no_store=True)

    @app.get("/healthz", tags=["health"], name="live")
    async def healthz() -> Response:
        return Response(b'{"status":"ok"}', media_type=JSON)

    declare_oauth_routes(app)  # bodies, responses and examples of the routes above
    app.state.store = db
    app.state.provider = provider
    app.state.qr_logins = qr_logins
    # Chip-card reading and C06-style verification live beside the eID (architecture: bank and
    # teller apps call identity /v1/chip/verify).
    app.include_router(create_chip_router(settings, db))
    # Added last, so the body limit wraps the direct dispatch of the login endpoints.
    app.add_middleware(HotPaths, endpoints=hot_endpoints(app.routes))
    app.add_middleware(BodyLimitMiddleware, max_bytes=settings.max_body_bytes)
    install_openapi_docs(app, examples)  # before the contract tools read app.openapi
    install_testing_tools(app, settings)  # snapshot/reset and expectations (before the journal)
    install_contract_tools(app, settings)  # strict mode and journal, when the settings ask
    install_admission(app, settings, "identity")  # outside every layer, the hot paths too
    install_observability(app, settings, service="identity")  # last: wraps every layer
    return app

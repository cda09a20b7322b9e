"""Data-sharing gateway (NDXP/LGSP mock): ``create_app(settings, ...) -> FastAPI``.

POST /oauth/token                          client credentials (RFC 6749 §4.4)
GET  /.well-known/jwks.json                keys of access tokens and response signatures
GET  /v1/registry/citizens/{pin}           lookup            ┐ X-Road-style headers, policy,
POST /v1/registry/citizens/verify          verify            │ field filtering, request hash,
POST /v1/registry/citizens/verify-batch    verify-batch      │ detached JWS, audit record
GET  /v1/registry/citizens/{pin}/household                   │
GET  /v1/registry/citizens/{pin}/residence-confirmation      ┘
POST /soap/dancu                           SOAP 1.1 profile (observed envelopes, domain §6.3)
GET  /v1/citizens/{pin}/access-log         who looked at a citizen's data
GET|POST /admin/agencies                   admin API (Bearer SIM06_GATEWAY_ADMIN_TOKEN)

Plain lookups (``GET /v1/registry/citizens/<12 digits>``) take a pure ASGI fast path in front
of FastAPI (:mod:`services.gateway.fastpath`): the same exchange and reply, less machinery.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any, Literal

import orjson
from fastapi import FastAPI, Request
from pydantic import BaseModel, ConfigDict, Field
from starlette.responses import JSONResponse, Response

from sim06.mock_registry.store import CitizenStore, SQLiteCitizenStore
from sim06.services.audit import routes as audit_routes
from sim06.services.audit.backends import open_audit_log
from sim06.services.chip.schemas import JWKS
from sim06.services.common.admission import BodyCost, install_admission
from sim06.services.common.http import BodyLimitMiddleware, install_problem_handlers, operation_id
from sim06.services.common.keys import KeyStore
from sim06.services.common.observability import FASTAPI_OPTIONS, install_observability
from sim06.services.common.offline_docs import install_offline_docs
from sim06.services.common.openapi_docs import OWN_ERRORS, install_openapi_docs
from sim06.services.common.settings import Settings
from sim06.services.common.tracing import client_transport, configure
from sim06.services.contract import install_contract_tools
from sim06.services.gateway import (
    access_log,
    admin,
    examples,
    profile_json,
    profile_soap,
    webhook_admin,
)
from sim06.services.gateway.agencies import AgencyDirectory, load_agencies
from sim06.services.gateway.exchange import Gateway
from sim06.services.gateway.express import GatewayApp
from sim06.services.gateway.fastpath import LookupFastPath
from sim06.services.gateway.feed_metrics import feed_lag_probe
from sim06.services.gateway.mtls import ClientCertMiddleware
from sim06.services.gateway.oauth import ASSERTION_TYPE, OAuthError, TokenService, parse_form
from sim06.services.gateway.registry_client import (
    HttpRegistryClient,
    InProcessRegistryClient,
    RegistryClient,
)
from sim06.services.gateway.registry_tracing import TracedRegistryClient
from sim06.services.gateway.signing import ResponseSigner
from sim06.services.gateway.state import gateway_state
from sim06.services.registry.app import BATCH_ITEM_BYTES, PROBLEM_RESPONSES
from sim06.services.registry.credentials import write_token
from sim06.services.registry.service import RegistryService
from sim06.services.testing import install_testing_tools

log = logging.getLogger("sim06.gateway")
UNSAFE_ADMIN_TOKENS = frozenset({"changethis", "", "admin", "secret"})


class UnsafeConfiguration(RuntimeError):
    """The gateway refuses to start outside the embedded demo with demo secrets."""


def check_safe(settings: Settings) -> None:
    """Refuse demo defaults outside the embedded demo (the template's "changethis" rule)."""
    token = settings.gateway_admin_token
    unsafe = token in UNSAFE_ADMIN_TOKENS or len(token) < 16
    if settings.gateway_embedded:
        if unsafe:
            log.warning(
                "gateway admin token is the DEMO-ONLY default; set SIM06_GATEWAY_ADMIN_TOKEN"
            )
        return
    if unsafe:
        raise UnsafeConfiguration(
            "SIM06_GATEWAY_ADMIN_TOKEN is a default or shorter than 16 characters; "
            "set a random one (e.g. `python -c 'import secrets; print(secrets.token_urlsafe())'`)."
        )
    if settings.gateway_agencies_file is None:
        raise UnsafeConfiguration(
            "The demo agencies have public secrets; set SIM06_GATEWAY_AGENCIES_FILE."
        )


def _registry(settings: Settings, store: CitizenStore | None) -> RegistryClient:
    if settings.gateway_registry_url:
        return HttpRegistryClient(
            settings.gateway_registry_url,
            timeout=settings.gateway_registry_timeout,
            write_token=write_token(settings),
            # With tracing on: a CLIENT span per call, traceparent to the registry.
            transport=client_transport(settings, "gateway", peer="registry"),
        )
    db: CitizenStore = store if store is not None else SQLiteCitizenStore(settings.database)
    client = InProcessRegistryClient(RegistryService(settings, db))
    # With tracing on, the in-process hop is a span of its own (no HTTP request to trace).
    return TracedRegistryClient(client) if configure(settings) else client


class JwkSetResponse(JSONResponse):
    """A JWK Set (RFC 7517 §8.5): JSON under its own media type."""

    media_type = "application/jwk-set+json"


class OAuthErrorBody(BaseModel):
    """An RFC 6749 §5.2 error response (not problem+json: OAuth clients parse this shape)."""

    error: str
    error_description: str | None = None


class TokenResponse(BaseModel):
    """RFC 6749 §5.1: an access token for the registry operations its scopes allow."""

    model_config = ConfigDict(extra="forbid")

    access_token: str = Field(description="An ES256 JWT (RFC 9068); cnf-bound over mTLS.")
    token_type: Literal["Bearer"]
    expires_in: int = Field(ge=1)
    scope: str = Field(description="The granted scopes, space-separated.")


_OAUTH_SCHEMA = {"schema": {"$ref": "#/components/schemas/OAuthErrorBody"}}
OAUTH_ERRORS: dict[int | str, dict[str, Any]] = {
    400: {
        "model": OAuthErrorBody,
        "description": "RFC 6749 §5.2 error: invalid_request, unsupported_grant_type, "
        "invalid_scope.",
        "content": {"application/json": _OAUTH_SCHEMA},
    },
    401: {
        "model": OAuthErrorBody,
        "description": "invalid_client: unknown client, wrong secret or assertion, "
        "client_secret_post, or no client authentication.",
        "content": {"application/json": _OAUTH_SCHEMA},
        "headers": {
            "WWW-Authenticate": {
                "description": "Sent when the client tried HTTP Basic.",
                "required": False,
                "schema": {"type": "string"},
            }
        },
    },
}
_TEXT: dict[str, Any] = {"type": "string"}
TOKEN_REQUEST: dict[str, Any] = {
    "requestBody": {
        "required": True,
        "content": {
            "application/x-www-form-urlencoded": {
                "schema": {
                    "type": "object",
                    "description": "Each parameter at most once; an empty one counts as omitted "
                    "(RFC 6749 §3.2). The client authenticates with HTTP Basic "
                    "(client_secret_basic), a client assertion (private_key_jwt, RFC 7523) or "
                    "its mTLS certificate and client_id (tls_client_auth, RFC 8705).",
                    "required": ["grant_type"],
                    "properties": {
                        "grant_type": {"type": "string", "enum": ["client_credentials"]},
                        "scope": {
                            **_TEXT,
                            "description": "Space-separated; default: all the agency's scopes.",
                        },  # fmt: skip
                        "client_id": {**_TEXT, "description": "tls_client_auth: the client."},
                        "client_secret": {
                            **_TEXT,
                            "description": "Refused (401): use client_secret_basic.",
                        },
                        "client_assertion_type": {"type": "string", "enum": [ASSERTION_TYPE, ""]},
                        "client_assertion": {
                            **_TEXT,
                            "description": "A JWT signed with a key of the agency's JWKS: iss "
                            "= sub = client_id, aud = the token URL, exp, jti (used once).",
                            "pattern": r"^$|^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*$",
                        },
                    },
                    "additionalProperties": {"type": "string"},
                }
            }
        },
    }
}
_BEARER = "Bearer {$response.body#/access_token}"
TOKEN_LINKS: dict[str, Any] = {
    name: {
        "operationId": f"registry-{name}",
        "parameters": {"header.Authorization": _BEARER},
        "description": f"Call {name} through the gateway with the token just issued.",
    }
    for name in ("lookup", "verify", "household", "residence-confirmation")
}


def create_app(
    settings: Settings,
    store: CitizenStore | None = None,
    *,
    registry: RegistryClient | None = None,
    agencies: AgencyDirectory | None = None,
) -> FastAPI:
    """Build the gateway; the registry is called in process unless a URL or client is given."""
    check_safe(settings)
    directory = agencies or AgencyDirectory(load_agencies(settings.gateway_agencies_file))
    keys = KeyStore(settings.keys_dir / "gateway", alg="ES256")
    # In process, or shared by replicas (Redis, PostgreSQL) as the settings say: state.py.
    state = gateway_state(settings)
    tokens = TokenService(directory, keys, ttl=settings.gateway_token_ttl, replay=state.assertions)
    audit = open_audit_log(settings)
    gateway = Gateway(
        directory,
        tokens,
        audit,
        registry if registry is not None else _registry(settings, store),
        request_id_ttl=settings.gateway_request_id_ttl,
    )
    gateway.quota, gateway.request_ids = state.quota, state.request_ids
    signer = ResponseSigner(keys)

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        yield
        await gateway.registry.aclose()
        audit.close()

    app = GatewayApp(
        **FASTAPI_OPTIONS,
        title="sim06 data-sharing gateway (NDXP/LGSP mock)",
        version="1.0.0",
        description=(
            "Simulated national data-sharing platform: agency authentication, purpose-bound "
            "field policies, signed responses, hash-chained audit log, citizen access log. "
            "Synthetic data; demo credentials are DEMO-ONLY."
        ),
        generate_unique_id_function=operation_id,
        responses=PROBLEM_RESPONSES,
        lifespan=lifespan,
    )
    app.add_middleware(BodyLimitMiddleware, max_bytes=settings.max_body_bytes)
    install_problem_handlers(app)
    install_offline_docs(app)  # /docs and /redoc without a CDN
    app.state.gateway = gateway
    app.state.audit = audit
    app.state.keys = keys
    app.state.settings = settings

    @app.post(
        "/oauth/token",
        tags=["oauth"],
        name="token",
        summary="Client credentials grant",
        responses={
            200: {
                "model": TokenResponse,
                "description": "The access token (no-store).",
                "links": TOKEN_LINKS,
            },
            **OAUTH_ERRORS,
        },
        openapi_extra={**TOKEN_REQUEST, OWN_ERRORS: "RFC 6749 §5.2"},
    )
    async def token(request: Request) -> Response:
        headers = {"Cache-Control": "no-store", "Pragma": "no-cache"}
        try:
            media = request.headers.get("content-type", "").split(";", 1)[0].strip().lower()
            if media != "application/x-www-form-urlencoded":
                raise OAuthError(
                    "invalid_request", "Send the form as application/x-www-form-urlencoded."
                )
            form = parse_form(await request.body())
            token_url = str(request.base_url).rstrip("/") + "/oauth/token"
            body: Any = tokens.token_response(form, request.headers.get("authorization"), token_url)
            status = 200
        except OAuthError as exc:
            body, status = exc.body(), exc.status
            headers.update(exc.headers)
        return Response(
            orjson.dumps(body), status_code=status, media_type="application/json", headers=headers
        )

    @app.get(
        "/.well-known/jwks.json",
        tags=["keys"],
        name="jwks",
        summary="Gateway public keys",
        response_class=JwkSetResponse,
        response_model=JWKS,
        responses={200: {"description": "Keys of access tokens and response signatures."}},
    )
    async def jwks() -> Response:
        return Response(orjson.dumps(keys.jwks()), media_type=JwkSetResponse.media_type)

    @app.get("/healthz", tags=["health"], name="live")
    async def healthz() -> Response:
        return Response(b'{"status":"ok"}', media_type="application/json")

    profile = profile_json.install(app, gateway, signer)
    # Plain lookups skip FastAPI's routing (same exchange, same reply; see fastpath.py).
    app.add_middleware(LookupFastPath, profile=profile)
    # ... and before the whole stack while every layer of it is idle (see express.py).
    app.express_profile = profile
    # Outside the fast path: the client certificate of mTLS connections (RFC 8705, mtls.py).
    app.add_middleware(ClientCertMiddleware, settings=settings)
    profile_soap.install(app, gateway, signer)
    access_log.install(app, gateway, settings)
    audit_routes.install(app, audit, settings)  # audit key, tree heads, proofs, mock TSA
    admin.install(app, gateway, settings)
    deliverer = webhook_admin.install(app, gateway, keys, settings)  # push of the change feed
    install_openapi_docs(app, examples.examples)  # before the contract tools read app.openapi
    install_testing_tools(app, settings)  # snapshot/reset and expectations (before the journal)
    install_contract_tools(app, settings)  # strict mode and journal, when the settings ask
    # Outside every layer (the express lane admits its lookups itself); fair shares are keyed
    # by X-Road-Client, read before any token check (a spoofed one only spends that share).
    batch = BodyCost(BATCH_ITEM_BYTES, settings.batch_limit)
    install_admission(
        app, settings, "gateway", key_header="x-road-client",
        costs={("POST", "/v1/registry/citizens/verify-batch"): batch},
    )  # fmt: skip
    # Last, so it wraps every layer above (the express lane records its lookups itself).
    install_observability(
        app, settings, service="gateway", probes=[feed_lag_probe(deliverer)], agency_aware=True
    )
    return app


__all__ = ["UnsafeConfiguration", "check_safe", "create_app"]

"""Strict mode leaves the OAuth/OIDC endpoints' errors to them (RFC 6749 §5.2, RFC 7591 §3.2.2).

A client library parses ``{"error": ...}`` with status 400 from a token endpoint; a 422
problem+json there would break exactly the integrations strict mode is meant to help test.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from sim06.services.common.openapi_docs import OWN_ERRORS
from sim06.services.common.settings import Settings
from sim06.services.gateway.app import create_app as create_gateway
from sim06.services.identity import create_app as create_identity
from tests.services.gateway.helpers import COMMUNE
from tests.services.identity.conftest import ISSUER, basic, oauth_error

pytestmark = pytest.mark.anyio

# Admission control is off: it is not what these tests are about (with strict mode, its first
# request's contract build made it refuse the next ones as overloaded while this was written).
STRICT = {"strict_contracts": True, "strict_responses": True, "admission": False}


@pytest.fixture
async def idp(idp_settings: Settings) -> AsyncIterator[httpx.AsyncClient]:
    app = create_identity(idp_settings.model_copy(update=STRICT))
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url=ISSUER) as c:
        yield c
    app.state.store.close()


@pytest.fixture
async def gateway(settings: Settings) -> AsyncIterator[httpx.AsyncClient]:
    app: FastAPI = create_gateway(settings.model_copy(update=STRICT))
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://gateway"
    ) as c:
        yield c
    await app.state.gateway.registry.aclose()
    app.state.audit.close()


@pytest.mark.parametrize(
    ("form", "error"),
    [
        ({}, "invalid_request"),  # no grant_type
        ({"grant_type": "password", "username": "u", "password": "p"}, "unsupported_grant_type"),
        ({"grant_type": "authorization_code"}, "invalid_request"),  # no code
    ],
)
async def test_identity_token_endpoint_answers_rfc6749(
    idp: httpx.AsyncClient, form: dict[str, str], error: str
) -> None:
    oauth_error(await idp.post("/token", data=form, headers=basic()), 400, error)


async def test_identity_other_oauth_endpoints_answer_their_own_errors(
    idp: httpx.AsyncClient,
) -> None:
    oauth_error(await idp.post("/introspect", data={}, headers=basic()), 400, "invalid_request")
    r = await idp.post("/register", json={"redirect_uris": "not-a-list"})
    oauth_error(r, 400, "invalid_redirect_uri")
    # A JSON body the contract does not allow on a form endpoint: still an OAuth error.
    r = await idp.post("/token", json={"grant_type": "client_credentials"}, headers=basic())
    oauth_error(r, 400, "invalid_request")


@pytest.mark.parametrize(
    ("form", "error"),
    [
        ({}, "invalid_request"),
        ({"grant_type": "password"}, "unsupported_grant_type"),
    ],
)
async def test_gateway_token_endpoint_answers_rfc6749(
    gateway: httpx.AsyncClient, form: dict[str, str], error: str
) -> None:
    auth = (COMMUNE["client_id"], COMMUNE["secret"])
    oauth_error(await gateway.post("/oauth/token", data=form, auth=auth), 400, error)


async def test_strict_mode_still_checks_the_other_operations(gateway: httpx.AsyncClient) -> None:
    r = await gateway.get("/v1/citizens/123/access-log", headers={"Authorization": "Bearer x"})
    assert r.status_code == 422 and r.json()["code"] == "CONTRACT_VIOLATION"


async def test_the_contract_marks_the_endpoints_that_answer_their_own_errors(
    idp: httpx.AsyncClient, gateway: httpx.AsyncClient
) -> None:
    identity: dict[str, Any] = (await idp.get("/openapi.json")).json()
    marked = {
        f"{method.upper()} {path}"
        for path, ops in identity["paths"].items()
        for method, op in ops.items()
        if isinstance(op, dict) and op.get(OWN_ERRORS)
    }
    assert {"POST /token", "POST /introspect", "POST /revoke", "POST /par", "POST /register",
            "GET /userinfo", "GET /authorize"} <= marked  # fmt: skip
    assert not any(p.startswith(("/v1/", "/healthz")) for p in {m.split()[1] for m in marked})
    gw: dict[str, Any] = (await gateway.get("/openapi.json")).json()
    assert gw["paths"]["/oauth/token"]["post"][OWN_ERRORS].startswith("RFC 6749")

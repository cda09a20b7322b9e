"""The gateway answers what its contract declares (contract_docs.py): granted answers, request
bodies, the signed headers, the routes' methods, the token form."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import httpx
import jsonschema_rs
import pytest
from fastapi import FastAPI

from tests.services.gateway.helpers import ADULT, COMMUNE, POLICE

pytestmark = pytest.mark.anyio
Call = Callable[..., Any]


def _validator(app: FastAPI, schema: dict[str, Any]) -> jsonschema_rs.Validator:
    components = app.openapi()["components"]
    return jsonschema_rs.Draft202012Validator({**schema, "components": components})


def _ok_schema(app: FastAPI, path: str, method: str) -> dict[str, Any]:
    response = app.openapi()["paths"][path][method]["responses"]["200"]
    schema: dict[str, Any] = response["content"]["application/json"]["schema"]
    return schema


async def test_a_cut_record_matches_the_granted_schema(app: FastAPI, call: Call) -> None:
    r = await call(COMMUNE, "GET", f"/v1/registry/citizens/{ADULT}")
    assert r.status_code == 200, r.text
    assert "phone" not in r.json()  # the residence purpose does not grant it
    schema = _ok_schema(app, "/v1/registry/citizens/{pin}", "get")
    assert schema == {"$ref": "#/components/schemas/GrantedCitizenRecord"}
    _validator(app, schema).validate(r.json())
    full = _validator(app, {"$ref": "#/components/schemas/Household"})
    assert not full.is_valid({"head_pin": ADULT})  # the registry's own models require fields
    headers = app.openapi()["paths"]["/v1/registry/citizens/{pin}"]["get"]["responses"]["200"]
    declared = {name.lower() for name in headers["headers"]}
    assert {"x-request-hash", "x-jws-signature"} <= declared <= set(r.headers)


async def test_the_published_request_bodies_are_what_the_registry_takes(
    app: FastAPI, call: Call
) -> None:
    for path in ("/v1/registry/citizens/verify", "/v1/registry/citizens/verify-batch"):
        content = app.openapi()["paths"][path]["post"]["requestBody"]["content"]
        entry = content["application/json"]
        for example in entry["examples"].values():
            _validator(app, entry["schema"]).validate(example["value"])
            r = await call(POLICE, "POST", path, json=example["value"])
            assert r.status_code == 200, r.text
    schema = content["application/json"]["schema"]
    assert not _validator(app, schema).is_valid({"items": [], "extra": 1})


async def test_get_on_verify_is_a_405_not_a_lookup(call: Call) -> None:
    r = await call(POLICE, "GET", "/v1/registry/citizens/verify")
    assert r.status_code == 405 and r.headers["allow"] == "POST"


async def test_empty_token_parameters_count_as_omitted(client: httpx.AsyncClient) -> None:
    # RFC 6749 §3.2: a parameter sent without a value is treated as omitted.
    form = {"grant_type": "client_credentials", "scope": "", "client_assertion": ""}
    r = await client.post("/oauth/token", data=form, auth=(COMMUNE["client_id"], COMMUNE["secret"]))
    assert r.status_code == 200, r.text


async def test_jwks_is_served_as_declared(app: FastAPI, client: httpx.AsyncClient) -> None:
    r = await client.get("/.well-known/jwks.json")
    content = app.openapi()["paths"]["/.well-known/jwks.json"]["get"]["responses"]["200"]
    assert list(content["content"]) == [r.headers["content-type"]] == ["application/jwk-set+json"]

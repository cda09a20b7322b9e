"""Strict mode: requests (and responses) checked against the app's own OpenAPI."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any, cast

import httpx
import pytest
from fastapi import FastAPI
from pydantic import BaseModel
from starlette.responses import Response

from sim06.services.common.http import install_problem_handlers
from sim06.services.common.settings import Settings
from sim06.services.contract import install_contract_tools
from sim06.services.contract.strict import StrictContractMiddleware
from sim06.services.registry.app import create_app

pytestmark = pytest.mark.anyio

ADULT = "001090104217"


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


def registry(settings: Settings, **overrides: Any) -> FastAPI:
    settings = settings.model_copy(update=overrides)
    app = create_app(settings)
    install_contract_tools(app, settings)
    return app


@pytest.fixture
async def client(settings: Settings) -> AsyncIterator[httpx.AsyncClient]:
    app = registry(settings, strict_contracts=True, strict_responses=True)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://registry") as c:
        yield c
    app.state.store.close()


def violation(response: httpx.Response, status: int = 422, code: str = "CONTRACT_VIOLATION") -> Any:
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/problem+json"
    body = response.json()
    assert body["code"] == code
    return body.get("errors", [])


def test_off_installs_nothing(settings: Settings) -> None:
    plain = create_app(settings)
    app = registry(settings)
    assert len(app.user_middleware) == len(plain.user_middleware)
    assert [r.path for r in app.routes] == [r.path for r in plain.routes]  # type: ignore[attr-defined]


def test_installing_twice_stacks_nothing(settings: Settings) -> None:
    app = registry(settings, strict_contracts=True)
    before = len(app.user_middleware)
    install_contract_tools(app, settings.model_copy(update={"strict_contracts": True}))
    assert len(app.user_middleware) == before
    assert [m for m in app.user_middleware if m.cls is cast(Any, StrictContractMiddleware)]


async def test_valid_requests_and_responses_pass(client: httpx.AsyncClient) -> None:
    # strict_responses is on: each answer below was also checked against its response schema.
    for path in ("", "/household", "/residence-confirmation"):
        r = await client.get(f"/v1/citizens/{ADULT}{path}")
        assert r.status_code == 200, r.text
    r = await client.post(
        "/v1/citizens/verify",
        json={"pin": ADULT, "full_name": "NGUYEN VAN AN", "date_of_birth": "1990-05-12"},
    )
    assert r.status_code == 200 and r.json()["matched"] is True
    r = await client.post("/v1/citizens/verify-batch", json={"items": [{"pin": ADULT}, {}]})
    assert r.status_code == 200, r.text
    r = await client.get("/v1/citizens/001099999999")  # a documented 404 problem passes too
    assert r.status_code == 404 and r.json()["code"] == "CITIZEN_NOT_FOUND"


async def test_path_parameter_pattern(client: httpx.AsyncClient) -> None:
    errors = violation(await client.get("/v1/citizens/003090104217"))
    assert errors == [
        {"parameter": "pin", "in": "path", "rule": "pattern", "reason": errors[0]["reason"]}
    ]
    assert "does not match" in errors[0]["reason"]


async def test_body_fields_name_pointer_and_rule(client: httpx.AsyncClient) -> None:
    r = await client.post(
        "/v1/citizens/verify",
        json={"pin": ADULT, "date_of_birth": "1990-13-40", "sex": "x", "nickname": "An"},
    )
    errors = {(e["pointer"], e["rule"]) for e in violation(r)}
    assert errors == {("/date_of_birth", "format"), ("/sex", "enum"), ("", "additionalProperties")}


async def test_nested_pointer_and_type(client: httpx.AsyncClient) -> None:
    r = await client.post("/v1/citizens/verify-batch", json={"items": "all"})
    assert [(e["pointer"], e["rule"]) for e in violation(r)] == [("/items", "type")]
    r = await client.post("/v1/citizens/verify-batch", json={})
    assert [(e["pointer"], e["rule"]) for e in violation(r)] == [("/items", "required")]


async def test_media_type_and_malformed_json(client: httpx.AsyncClient) -> None:
    r = await client.post(
        "/v1/citizens/verify", content=b"pin=1", headers={"content-type": "text/plain"}
    )
    violation(r, 415, "UNSUPPORTED_MEDIA_TYPE")
    r = await client.post(
        "/v1/citizens/verify", content=b"{", headers={"content-type": "application/json"}
    )
    violation(r, 400, "MALFORMED_BODY")
    r = await client.post("/v1/citizens/verify", headers={"content-type": "application/json"})
    assert [(e["pointer"], e["rule"]) for e in violation(r)] == [("", "required")]


async def test_undocumented_paths_and_methods_are_the_apps(client: httpx.AsyncClient) -> None:
    r = await client.get("/v1/citizens/verify")
    assert r.status_code == 405 and r.json()["code"] == "METHOD_NOT_ALLOWED"
    r = await client.get("/nowhere")
    assert r.status_code == 404 and r.json()["code"] == "NOT_FOUND"
    assert (await client.get("/openapi.json")).status_code == 200


async def test_oversized_body_is_left_to_the_body_limit(settings: Settings) -> None:
    app = registry(settings, strict_contracts=True, max_body_bytes=2048)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://r") as c:
        r = await c.post("/v1/citizens/verify-batch", json={"items": [{"pin": ADULT}] * 200})
    assert r.status_code == 413 and r.json()["code"] == "PAYLOAD_TOO_LARGE"


class Thing(BaseModel):
    name: str
    size: int


def buggy_app(settings: Settings) -> FastAPI:
    """An app whose handlers answer outside their documented contract."""
    app = FastAPI()
    install_problem_handlers(app)

    @app.get("/things/{n}", response_model=Thing, operation_id="things-get")
    async def get_thing(n: int) -> Response:
        body = b'{"name": "a", "size": 1}' if n == 1 else b'{"name": "a", "size": "big"}'
        return Response(body, status_code=200 if n < 3 else 418, media_type="application/json")

    @app.get("/page", operation_id="page")
    async def page() -> Response:
        return Response("<h1>hi</h1>", media_type="text/html")

    settings = settings.model_copy(update={"strict_contracts": True, "strict_responses": True})
    install_contract_tools(app, settings)
    return app


async def test_response_violations_become_500(settings: Settings) -> None:
    transport = httpx.ASGITransport(app=buggy_app(settings))
    async with httpx.AsyncClient(transport=transport, base_url="http://t") as c:
        assert (await c.get("/things/1")).json() == {"name": "a", "size": 1}
        r = await c.get("/things/2")
        errors = violation(r, 500, "RESPONSE_CONTRACT_VIOLATION")
        assert [(e["pointer"], e["rule"]) for e in errors] == [("/size", "type")]
        assert "things-get answered 200" in r.json()["detail"]
        errors = violation(await c.get("/things/3"), 500, "RESPONSE_CONTRACT_VIOLATION")
        assert errors[0]["rule"] == "status" and "418" in errors[0]["reason"]
        errors = violation(await c.get("/things/x"))  # n is an integer: the request is refused
        assert errors[0]["parameter"] == "n" and errors[0]["rule"] == "type"
        r = await c.get("/page")  # HTML is outside the JSON contract
        assert r.status_code == 200 and r.text == "<h1>hi</h1>"

"""The OAuth/OIDC endpoints do what their published contract says (oauth_contract.py)."""

from __future__ import annotations

import re
from typing import Any

import httpx
import jsonschema_rs
import pytest

from sim06.services.identity.authorize import PROMPT, PROMPTS
from sim06.services.identity.clients import URI_PATTERN
from tests.services.identity.conftest import (
    AUTO,
    REDIRECT,
    auth_params,
    basic,
    get_code,
    oauth_error,
    pkce_pair,
    redeem,
    redirect_query,
)

pytestmark = pytest.mark.anyio


def _operation(idp: httpx.AsyncClient, path: str, method: str) -> dict[str, Any]:
    op: dict[str, Any] = idp.app.openapi()["paths"][path][method]  # type: ignore[attr-defined]
    return op


async def test_every_oauth_endpoint_declares_its_errors(idp: httpx.AsyncClient) -> None:
    for path in ("/token", "/introspect", "/revoke", "/par"):
        op = _operation(idp, path, "post")
        assert {"400", "401", "413"} <= set(op["responses"]), path
        assert "application/x-www-form-urlencoded" in op["requestBody"]["content"], path
    assert set(_operation(idp, "/userinfo", "get")["responses"]) == {"200", "401", "403"}
    assert "text/html" in _operation(idp, "/logout", "get")["responses"]["200"]["content"]


async def test_token_errors_match_the_declared_schema(idp: httpx.AsyncClient) -> None:
    schema = idp.app.openapi()["components"]["schemas"]["OAuthErrorBody"]  # type: ignore[attr-defined]
    r = await idp.post("/token", data={"grant_type": "authorization_code", "code": "x"},
                       headers=basic())  # fmt: skip
    jsonschema_rs.Draft202012Validator(schema).validate(r.json())
    r = await idp.post("/token", data={"grant_type": "password"}, headers=basic("portal", "no"))
    assert r.status_code == 401 and r.headers["www-authenticate"].startswith("Basic")
    jsonschema_rs.Draft202012Validator(schema).validate(r.json())


async def test_userinfo_errors_are_challenges_without_a_body(idp: httpx.AsyncClient) -> None:
    r = await idp.get("/userinfo")
    assert r.status_code == 401 and r.content == b""
    assert r.headers["www-authenticate"] == 'Bearer realm="sim06"'
    r = await idp.get("/userinfo", headers={"Authorization": "Bearer not-a-token"})
    assert r.status_code == 401 and r.content == b""
    assert 'error="invalid_token"' in r.headers["www-authenticate"]


async def test_public_clients_cannot_introspect(idp: httpx.AsyncClient) -> None:
    public = {"redirect_uris": [REDIRECT], "token_endpoint_auth_method": "none"}
    reg = (await idp.post("/register", json=public)).json()
    r = await idp.post("/introspect", data={"token": "t", "client_id": reg["client_id"]})
    oauth_error(r, 401, "invalid_client")
    r = await idp.post("/revoke", data={"token": "t", "client_id": reg["client_id"]})
    assert r.status_code == 200  # RFC 7009 §2.1 allows public clients


async def test_empty_parameters_count_as_omitted(idp: httpx.AsyncClient) -> None:
    # RFC 6749 §3.1: a parameter sent without a value is treated as omitted.
    verifier, challenge = pkce_pair()
    params = auth_params(challenge, max_age="", prompt="", claims="", response_mode="")
    q = redirect_query(await idp.get("/authorize", params=params, headers=AUTO))
    assert "code" in q, q
    r = await redeem(idp, q["code"], verifier, scope="")
    assert r.status_code == 200, r.text
    r = await idp.post("/token", data={"grant_type": ""}, headers=basic())
    assert oauth_error(r, 400, "invalid_request")["error_description"] == "grant_type is missing"


@pytest.mark.parametrize("max_age", ["+5", " 5", "5_0", "-1", "١٢"])
async def test_max_age_is_a_plain_number_of_seconds(idp: httpx.AsyncClient, max_age: str) -> None:
    _, challenge = pkce_pair()
    params = auth_params(challenge, max_age=max_age)
    q = redirect_query(await idp.get("/authorize", params=params, headers=AUTO))
    assert q["error"] == "invalid_request" and "max_age" in q["error_description"]
    await get_code(idp, max_age="0")


@pytest.mark.parametrize(
    "uri",
    [
        "https://xn--b-6ja.example/cb",
        "http://127.0.0.1:9000/callback?x=1",
        "https://rp.example/a/b;c=d",
    ],
)
async def test_registration_takes_plain_uris(idp: httpx.AsyncClient, uri: str) -> None:
    r = await idp.post("/register", json={"redirect_uris": [uri]})
    assert r.status_code == 201, r.text


@pytest.mark.parametrize(
    ("meta", "error"),
    [
        ({"redirect_uris": ["https://bé.example/cb"]}, "invalid_redirect_uri"),  # an IRI
        ({"redirect_uris": ["https://rp.example/cb\n"]}, "invalid_redirect_uri"),
        ({"redirect_uris": ["https://[::1/cb"]}, "invalid_redirect_uri"),
        ({"redirect_uris": ["https://u@rp.example/cb"]}, "invalid_redirect_uri"),
        ({"redirect_uris": [REDIRECT], "client_name": 5}, "invalid_client_metadata"),
        ({"redirect_uris": [REDIRECT], "scope": None}, "invalid_client_metadata"),
        ({"redirect_uris": [REDIRECT], "grant_types": [["x"]]}, "invalid_client_metadata"),
        ({"redirect_uris": [REDIRECT], "jwks": {"keys": []}}, "invalid_client_metadata"),
    ],
)
async def test_registration_refuses_what_the_contract_refuses(
    idp: httpx.AsyncClient, meta: dict[str, object], error: str
) -> None:
    oauth_error(await idp.post("/register", json=meta), 400, error)
    body = _operation(idp, "/register", "post")["requestBody"]["content"]["application/json"]
    # ECMA-262 regexes, as contract tools read them ("$" is the end of the string).
    assert not jsonschema_rs.Draft202012Validator(body["schema"]).is_valid(meta)


@pytest.mark.parametrize("value", ["", "none", "none none", "login consent", " login\tconsent "])
def test_prompt_pattern_matches_the_rule(value: str) -> None:
    words = frozenset(value.split())
    allowed = words <= PROMPTS and not ("none" in words and len(words) > 1)
    assert bool(PROMPT.fullmatch(value)) == allowed


def test_prompt_pattern_refuses_mixed_none() -> None:
    assert PROMPT.fullmatch("none login") is None
    assert re.fullmatch(URI_PATTERN, "https://rp.example/cb#frag") is None

"""/oauth/token: client_secret_basic, private_key_jwt with jti replay, RFC 6749 §5.2 errors."""

from __future__ import annotations

import time
import uuid
from typing import Any

import httpx
import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import ec
from jwt.algorithms import ECAlgorithm

from tests.services.gateway.helpers import ADMIN, BANK, COMMUNE

pytestmark = pytest.mark.anyio
FORM = {"grant_type": "client_credentials"}


def assert_oauth_error(r: httpx.Response, status: int, error: str) -> None:
    assert r.status_code == status, r.text
    assert r.headers["content-type"] == "application/json"
    assert r.headers["cache-control"] == "no-store"
    body = r.json()
    assert set(body) == {"error", "error_description"} and body["error"] == error


async def test_client_secret_basic_issues_a_short_lived_es256_token(
    client: httpx.AsyncClient,
) -> None:
    r = await client.post("/oauth/token", data=FORM, auth=(COMMUNE["client_id"], COMMUNE["secret"]))
    assert r.status_code == 200 and r.headers["cache-control"] == "no-store"
    body = r.json()
    assert body["token_type"] == "Bearer" and body["expires_in"] == 300
    jwks = (await client.get("/.well-known/jwks.json")).json()
    key = jwt.PyJWK(jwks["keys"][0]).key
    claims = jwt.decode(
        body["access_token"], key, algorithms=["ES256"], audience="urn:sim06:gateway"
    )
    assert claims["agency"] == COMMUNE["code"] and claims["exp"] - claims["iat"] == 300
    assert set(claims["scope"].split()) == set(body["scope"].split())
    assert "registry:lookup" in claims["scope"]


async def test_bank_token_only_carries_verify(client: httpx.AsyncClient) -> None:
    r = await client.post("/oauth/token", data=FORM, auth=(BANK["client_id"], BANK["secret"]))
    assert r.json()["scope"] == "registry:verify"
    r = await client.post(
        "/oauth/token",
        data={**FORM, "scope": "registry:lookup"},
        auth=(BANK["client_id"], BANK["secret"]),
    )
    assert_oauth_error(r, 400, "invalid_scope")


async def test_wrong_secret_is_invalid_client_401_with_basic_challenge(
    client: httpx.AsyncClient,
) -> None:
    r = await client.post("/oauth/token", data=FORM, auth=(COMMUNE["client_id"], "wrong"))
    assert_oauth_error(r, 401, "invalid_client")
    assert r.headers["www-authenticate"].startswith("Basic")
    r = await client.post("/oauth/token", data=FORM, auth=("nobody", "wrong"))
    assert_oauth_error(r, 401, "invalid_client")


async def test_no_client_authentication(client: httpx.AsyncClient) -> None:
    assert_oauth_error(await client.post("/oauth/token", data=FORM), 401, "invalid_client")


async def test_grant_type_errors(client: httpx.AsyncClient) -> None:
    auth = (COMMUNE["client_id"], COMMUNE["secret"])
    r = await client.post("/oauth/token", data={"grant_type": "password"}, auth=auth)
    assert_oauth_error(r, 400, "unsupported_grant_type")
    r = await client.post("/oauth/token", data={"scope": "x"}, auth=auth)
    assert_oauth_error(r, 400, "invalid_request")
    form_type = {"content-type": "application/x-www-form-urlencoded"}
    r = await client.post(
        "/oauth/token", content=b"grant_type=a&grant_type=b", auth=auth, headers=form_type
    )
    assert_oauth_error(r, 400, "invalid_request")
    r = await client.post("/oauth/token", json=FORM, auth=auth)
    assert_oauth_error(r, 400, "invalid_request")


async def _register_jwt_client(client: httpx.AsyncClient) -> ec.EllipticCurvePrivateKey:
    key = ec.generate_private_key(ec.SECP256R1())
    jwk: dict[str, Any] = ECAlgorithm.to_jwk(key.public_key(), as_dict=True)
    jwk.update({"kid": "k1", "alg": "ES256", "use": "sig"})
    document = {
        "code": "000.00.55.H55", "name": "JWT client", "client_id": "jwt-client",
        "jwks": {"keys": [jwk]},
        "procedures": [{"code": "P1", "purposes": {"p": {"grants": {"verify": "*"}}}}],
        "officers": [{"code": "O1", "permissions": ["P1"]}],
    }  # fmt: skip
    r = await client.post(
        "/admin/agencies", json=document, headers={"Authorization": f"Bearer {ADMIN}"}
    )
    assert r.status_code == 201, r.text
    assert r.json()["auth_methods"] == ["private_key_jwt"]
    return key


def _assertion(key: ec.EllipticCurvePrivateKey, jti: str, **claims: Any) -> str:
    now = int(time.time())
    body = {"iss": "jwt-client", "sub": "jwt-client", "aud": "http://gateway/oauth/token",
            "iat": now, "exp": now + 60, "jti": jti, **claims}  # fmt: skip
    return jwt.encode(body, key, algorithm="ES256", headers={"kid": "k1"})


async def test_private_key_jwt_and_jti_replay(client: httpx.AsyncClient) -> None:
    key = await _register_jwt_client(client)
    form = {
        **FORM,
        "client_assertion_type": "urn:ietf:params:oauth:client-assertion-type:jwt-bearer",
    }
    jti = str(uuid.uuid4())
    r = await client.post("/oauth/token", data={**form, "client_assertion": _assertion(key, jti)})
    assert r.status_code == 200, r.text
    assert r.json()["scope"] == "registry:verify"
    replay = await client.post(
        "/oauth/token", data={**form, "client_assertion": _assertion(key, jti)}
    )
    assert_oauth_error(replay, 401, "invalid_client")
    assert "already used" in replay.json()["error_description"]


async def test_private_key_jwt_refusals(client: httpx.AsyncClient) -> None:
    key = await _register_jwt_client(client)
    form = {
        **FORM,
        "client_assertion_type": "urn:ietf:params:oauth:client-assertion-type:jwt-bearer",
    }
    other = ec.generate_private_key(ec.SECP256R1())
    cases = [
        _assertion(other, "a"),  # foreign key
        _assertion(key, "b", aud="http://elsewhere/token"),
        _assertion(key, "c", exp=int(time.time()) - 10),
        _assertion(key, "d", sub="someone-else"),
        "not-a-jwt",
    ]
    for assertion in cases:
        r = await client.post("/oauth/token", data={**form, "client_assertion": assertion})
        assert_oauth_error(r, 401, "invalid_client")

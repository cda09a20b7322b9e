"""Dynamic registration (RFC 7591), clients file, PAR (RFC 9126), key rotation."""

from __future__ import annotations

import shutil
import time
import uuid
from pathlib import Path

import httpx
import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa

from sim06.services.common.keys import public_jwk
from sim06.services.common.settings import Settings
from sim06.services.identity import create_app, rotate_identity_key
from sim06.services.identity.clients import load_clients_file
from sim06.services.identity.demo_rp import make_demo_rp_key
from sim06.services.serve import build_apps, embedded_settings
from tests.services.identity.conftest import (
    AUTO,
    auth_params,
    basic,
    oauth_error,
    pkce_pair,
    redirect_query,
)

pytestmark = pytest.mark.anyio
EXAMPLES = Path(__file__).resolve().parents[3] / "examples" / "identity-clients.yaml"


async def test_dynamic_registration_then_flow(idp: httpx.AsyncClient) -> None:
    r = await idp.post(
        "/register",
        json={
            "redirect_uris": ["https://new.example/cb"],
            "client_name": "Sở Tư pháp",
            "token_endpoint_auth_method": "client_secret_post",
        },
    )
    assert r.status_code == 201, r.text
    reg = r.json()
    assert reg["client_id"].startswith("dyn-") and reg["client_secret"]
    verifier, challenge = pkce_pair()
    params = auth_params(
        challenge, client_id=reg["client_id"], redirect_uri="https://new.example/cb"
    )
    r = await idp.get("/authorize", params=params, headers=AUTO)
    code = dict(httpx.URL(r.headers["location"]).params)["code"]
    r = await idp.post(
        "/token",
        data={
            "grant_type": "authorization_code",
            "code": code,
            "redirect_uri": "https://new.example/cb",
            "code_verifier": verifier,
            "client_id": reg["client_id"],
            "client_secret": reg["client_secret"],
        },
    )
    assert r.status_code == 200, r.text


@pytest.mark.parametrize(
    ("meta", "error"),
    [
        ({}, "invalid_redirect_uri"),
        ({"redirect_uris": ["https://x.example/cb#frag"]}, "invalid_redirect_uri"),
        (
            {"redirect_uris": ["https://x.example/cb"], "token_endpoint_auth_method": "magic"},
            "invalid_client_metadata",
        ),
        (
            {
                "redirect_uris": ["https://x.example/cb"],
                "token_endpoint_auth_method": "private_key_jwt",
            },
            "invalid_client_metadata",
        ),
        (
            {"redirect_uris": ["https://x.example/cb"], "grant_types": ["password"]},
            "invalid_client_metadata",
        ),
    ],
)
async def test_registration_refuses_bad_metadata(
    idp: httpx.AsyncClient, meta: dict[str, object], error: str
) -> None:
    oauth_error(await idp.post("/register", json=meta), 400, error)


@pytest.mark.parametrize("method", ["client_secret_basic", "client_secret_post", "private_key_jwt"])
async def test_a_confidential_client_needs_https_redirects(
    idp: httpx.AsyncClient, method: str, rp_key: rsa.RSAPrivateKey
) -> None:
    meta: dict[str, object] = {"token_endpoint_auth_method": method}
    if method == "private_key_jwt":
        meta["jwks"] = {"keys": [public_jwk(rp_key, "rp-1", "RS256")]}
    for plain in (
        "http://rp.example/cb",
        "http://10.0.0.5:8080/cb",
        "http://localhost.rp.example/cb",
    ):
        body = {**meta, "redirect_uris": ["https://rp.example/cb", plain]}
        refused = oauth_error(await idp.post("/register", json=body), 400, "invalid_redirect_uri")
        assert plain in refused["error_description"]
    # https anywhere, and plain http on the loopback only (RFC 8252 §7.3).
    for ok in ("https://rp.example/cb", "http://localhost:3000/cb", "http://127.0.0.1:9000/cb"):
        r = await idp.post("/register", json={**meta, "redirect_uris": [ok]})
        assert r.status_code == 201, r.text


async def test_a_public_client_may_keep_a_plain_http_redirect(idp: httpx.AsyncClient) -> None:
    body = {"token_endpoint_auth_method": "none", "redirect_uris": ["http://rp.example/cb"]}
    assert (await idp.post("/register", json=body)).status_code == 201


async def test_registration_can_be_closed(idp_settings: Settings) -> None:
    app = create_app(idp_settings.model_copy(update={"identity_registration_open": False}))
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://x") as c:
        r = await c.post("/register", json={"redirect_uris": ["https://x.example/cb"]})
        assert r.status_code == 403 and r.json()["error"] == "access_denied"
        doc = (await c.get("/.well-known/openid-configuration")).json()
        assert "registration_endpoint" not in doc
    app.state.store.close()


async def test_pushed_authorization_request(idp: httpx.AsyncClient) -> None:
    verifier, challenge = pkce_pair()
    params = auth_params(challenge)
    r = await idp.post("/par", data=params, headers=basic())
    assert r.status_code == 201, r.text
    request_uri = r.json()["request_uri"]
    assert request_uri.startswith("urn:ietf:params:oauth:request_uri:")
    q = redirect_query(
        await idp.get(
            "/authorize", params={"client_id": "portal", "request_uri": request_uri}, headers=AUTO
        )
    )
    assert "code" in q and q["state"] == params["state"]
    r = await idp.get(
        "/authorize",
        params={"client_id": "portal", "request_uri": request_uri},
        headers={**AUTO, "Accept": "application/json"},
    )
    oauth_error(r, 400, "invalid_request_uri")  # single use
    oauth_error(await idp.post("/par", data=params), 401, "invalid_client")
    bad = await idp.post(
        "/par", data={**params, "redirect_uri": "https://evil.example/"}, headers=basic()
    )
    oauth_error(bad, 400, "invalid_request")


async def test_key_rotation_serves_old_and_new_keys(
    idp: httpx.AsyncClient, idp_settings: Settings
) -> None:
    before = {k["kid"] for k in (await idp.get("/.well-known/jwks.json")).json()["keys"]}
    new = rotate_identity_key(idp_settings)  # what `sim06 keys rotate` calls
    provider = idp.app.state.provider  # type: ignore[attr-defined]
    provider.keys._checked = 0.0  # skip the one-second watch interval
    after = {k["kid"] for k in (await idp.get("/.well-known/jwks.json")).json()["keys"]}
    assert after == before | {new.kid}
    _, challenge = pkce_pair()
    code = redirect_query(await idp.get("/authorize", params=auth_params(challenge), headers=AUTO))
    assert code["code"]
    token = provider.keys.sign({"x": 1})
    assert jwt.get_unverified_header(token)["kid"] == new.kid


async def test_es256_setting(idp_settings: Settings) -> None:
    app = create_app(idp_settings.model_copy(update={"identity_alg": "ES256"}))
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://x") as c:
        doc = (await c.get("/.well-known/openid-configuration")).json()
        assert doc["id_token_signing_alg_values_supported"] == ["ES256"]
        assert any(k["kty"] == "EC" for k in (await c.get("/.well-known/jwks.json")).json()["keys"])
    app.state.store.close()


def test_examples_file_loads_with_a_generated_demo_key(tmp_path: Path) -> None:
    copy = tmp_path / "examples" / "identity-clients.yaml"
    copy.parent.mkdir()
    shutil.copy(EXAMPLES, copy)
    data_dir = tmp_path / "elsewhere" / "data"  # SIM06_DATA_DIR, not beside the examples
    without_key = load_clients_file(copy, data_dir=data_dir)
    assert {"demo-portal", "demo-bank", "demo-spa"} <= set(without_key)
    assert "demo-rp-jwt" not in without_key  # no key generated yet: skipped, not a crash
    private = make_demo_rp_key(data_dir / "demo-rp")
    assert private.stat().st_mode & 0o777 == 0o600
    clients = load_clients_file(copy, data_dir=data_dir)
    assert clients["demo-rp-jwt"].jwks is not None
    assert "d" not in clients["demo-rp-jwt"].jwks["keys"][0]


async def test_sim06_up_demo_jwt_client_authenticates_with_the_key_in_data_dir(
    settings: Settings,
) -> None:
    """``sim06 up`` with SIM06_DATA_DIR set: the key it generates is the one the client uses."""
    assert settings.data_dir.is_absolute() and not settings.data_dir.exists()
    apps = build_apps(embedded_settings(settings))
    identity = apps["identity"][0]
    pem = (settings.data_dir / "demo-rp" / "private.pem").read_bytes()
    key = serialization.load_pem_private_key(pem, password=None)
    assert isinstance(key, ec.EllipticCurvePrivateKey)
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=identity), base_url="http://127.0.0.1:8002"
    ) as c:
        token_url = (await c.get("/.well-known/openid-configuration")).json()["token_endpoint"]
        now = int(time.time())
        claims = {"iss": "demo-rp-jwt", "sub": "demo-rp-jwt", "aud": token_url,
                  "iat": now, "exp": now + 60, "jti": str(uuid.uuid4())}  # fmt: skip
        form = {
            "grant_type": "authorization_code",
            "code": "no-such-code",
            "redirect_uri": "http://127.0.0.1:9002/callback",
            "client_assertion_type": "urn:ietf:params:oauth:client-assertion-type:jwt-bearer",
            "client_assertion": jwt.encode(
                claims, key, algorithm="ES256", headers={"kid": "demo-rp-1"}
            ),
        }
        # The client authenticated (else invalid_client): only the made-up code is refused.
        oauth_error(await c.post("/token", data=form), 400, "invalid_grant")
    for app, _ in apps.values():
        store = getattr(app.state, "store", None)
        if store is not None:
            store.close()

"""Every refusal with the OAuth error the specifications require."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
from pathlib import Path

import httpx
import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa

from sim06.services.common.settings import Settings
from sim06.services.identity import create_app
from sim06.services.identity.signing import identity_keys_dir
from tests.services.identity.conftest import (
    AUTO,
    ISSUER,
    REDIRECT,
    assertion,
    auth_params,
    basic,
    get_code,
    oauth_error,
    pkce_pair,
    redeem,
    redirect_query,
)

pytestmark = pytest.mark.anyio


async def test_reused_code_is_refused_and_revokes_its_tokens(idp: httpx.AsyncClient) -> None:
    code, verifier, _ = await get_code(idp)
    tokens = (await redeem(idp, code, verifier)).json()
    oauth_error(await redeem(idp, code, verifier), 400, "invalid_grant")
    r = await idp.get("/userinfo", headers={"Authorization": "Bearer " + tokens["access_token"]})
    assert r.status_code == 401 and 'error="invalid_token"' in r.headers["www-authenticate"]
    r = await idp.post(
        "/token",
        data={"grant_type": "refresh_token", "refresh_token": tokens["refresh_token"]},
        headers=basic(),
    )
    oauth_error(r, 400, "invalid_grant")


async def test_wrong_verifier(idp: httpx.AsyncClient) -> None:
    code, _, _ = await get_code(idp)
    other, _ = pkce_pair()
    oauth_error(await redeem(idp, code, other), 400, "invalid_grant")
    oauth_error(await redeem(idp, code, other), 400, "invalid_grant")  # consumed anyway


async def test_missing_verifier_and_wrong_redirect_at_token(idp: httpx.AsyncClient) -> None:
    code, verifier, _ = await get_code(idp)
    r = await idp.post(
        "/token",
        data={
            "grant_type": "authorization_code",
            "code": code,
            "redirect_uri": REDIRECT + "x",
            "code_verifier": verifier,
        },
        headers=basic(),
    )
    oauth_error(r, 400, "invalid_grant")


async def test_pkce_required_and_plain_refused(idp: httpx.AsyncClient) -> None:
    _, challenge = pkce_pair()
    params = auth_params(challenge)
    del params["code_challenge"]
    q = redirect_query(await idp.get("/authorize", params=params, headers=AUTO))
    assert q["error"] == "invalid_request" and q["state"] == params["state"]
    q = redirect_query(
        await idp.get(
            "/authorize", params=auth_params(challenge, code_challenge_method="plain"), headers=AUTO
        )
    )
    assert q["error"] == "invalid_request"


async def test_wrong_redirect_uri_is_never_redirected_to(idp: httpx.AsyncClient) -> None:
    _, challenge = pkce_pair()
    for uri in ("https://evil.example/callback", REDIRECT + "/", REDIRECT + "?a=1"):
        r = await idp.get(
            "/authorize", params=auth_params(challenge, redirect_uri=uri), headers=AUTO
        )
        assert r.status_code == 400 and "location" not in r.headers
        assert "invalid_request" in r.text
    r = await idp.get(
        "/authorize",
        params=auth_params(challenge, redirect_uri="https://e.x/"),
        headers={**AUTO, "Accept": "application/json"},
    )
    oauth_error(r, 400, "invalid_request")


async def test_unknown_client(idp: httpx.AsyncClient) -> None:
    _, challenge = pkce_pair()
    r = await idp.get(
        "/authorize",
        params=auth_params(challenge, client_id="nobody"),
        headers={**AUTO, "Accept": "application/json"},
    )
    oauth_error(r, 400, "invalid_client")
    code, verifier, _ = await get_code(idp)
    r = await idp.post(
        "/token",
        data={
            "grant_type": "authorization_code",
            "code": code,
            "redirect_uri": REDIRECT,
            "code_verifier": verifier,
        },
        headers=basic("nobody", "x"),
    )
    oauth_error(r, 401, "invalid_client")
    assert r.headers["www-authenticate"].startswith("Basic")
    r = await idp.post(
        "/token",
        data={"grant_type": "authorization_code", "code": code},
        headers=basic("portal", "wrong"),
    )
    oauth_error(r, 401, "invalid_client")


async def test_code_bound_to_client(idp: httpx.AsyncClient) -> None:
    code, verifier, _ = await get_code(idp)
    r = await idp.post(
        "/token",
        data={
            "grant_type": "authorization_code",
            "code": code,
            "redirect_uri": REDIRECT,
            "code_verifier": verifier,
            "client_id": "bank",
            "client_secret": "bank-secret",
        },
    )
    oauth_error(r, 400, "invalid_grant")


@pytest.mark.parametrize(
    ("hint", "acr", "error"),
    [
        ("locked-account", None, "access_denied"),
        ("no-eid", None, "access_denied"),
        ("deceased", None, "access_denied"),
        ("missing", None, "access_denied"),
        ("revoked-card", None, "access_denied"),
        ("999999999999", None, "access_denied"),
        ("level1-only", "LoA2", "unmet_authentication_requirements"),
        ("level1-only", "2", "unmet_authentication_requirements"),
    ],
)
async def test_accounts_that_cannot_log_in(
    idp: httpx.AsyncClient, hint: str, acr: str | None, error: str
) -> None:
    _, challenge = pkce_pair()
    extra = {"login_hint": hint, **({"acr_values": acr} if acr else {})}
    params = auth_params(challenge, **extra)
    q = redirect_query(await idp.get("/authorize", params=params, headers=AUTO))
    assert q["error"] == error and q["state"] == params["state"] and "code" not in q


async def test_level1_account_asked_level2_on_the_page(idp: httpx.AsyncClient) -> None:
    from tests.services.identity.test_flow import form_fields

    _, challenge = pkce_pair()
    page = await idp.get("/authorize", params=auth_params(challenge, acr_values="LoA2"))
    fields = form_fields(page.text)
    r = await idp.post(
        "/login",
        data={
            **fields,
            "persona": "001195208733",
            "passcode": "208733",
            "level": "2",
            "face": "match",
        },
    )
    assert redirect_query(r)["error"] == "unmet_authentication_requirements"
    page = await idp.get("/authorize", params=auth_params(challenge))
    r = await idp.post(
        "/login",
        data={
            **form_fields(page.text),
            "persona": "031188420981",
            "passcode": "420981",
            "level": "1",
        },
    )
    assert r.status_code == 400 and "locked" in r.text


async def test_prompt_none_without_session(idp: httpx.AsyncClient) -> None:
    _, challenge = pkce_pair()
    q = redirect_query(await idp.get("/authorize", params=auth_params(challenge, prompt="none")))
    assert q["error"] == "login_required"


async def test_replayed_client_assertion(idp: httpx.AsyncClient, rp_key: rsa.RSAPrivateKey) -> None:
    def form(code: str, verifier: str, client_assertion: str) -> dict[str, str]:
        return {
            "grant_type": "authorization_code",
            "code": code,
            "redirect_uri": REDIRECT,
            "code_verifier": verifier,
            "client_id": "rp-jwt",
            "client_assertion_type": "urn:ietf:params:oauth:client-assertion-type:jwt-bearer",
            "client_assertion": client_assertion,
        }

    signed = assertion(rp_key)
    code, verifier, _ = await get_code(idp, client_id="rp-jwt")
    r = await idp.post("/token", data=form(code, verifier, signed))
    assert r.status_code == 200, r.text
    code, verifier, _ = await get_code(idp, client_id="rp-jwt")
    oauth_error(await idp.post("/token", data=form(code, verifier, signed)), 401, "invalid_client")
    # Wrong audience, expired, missing exp, too long-lived, another key, alg none, HS256.
    now = int(time.time())
    bad = [
        assertion(rp_key, aud="https://other.example/token"),
        assertion(rp_key, exp=now - 120),
        assertion(rp_key, exp=now + 7200),
        assertion(ec.generate_private_key(ec.SECP256R1()), alg="ES256"),
    ]
    no_exp = {"iss": "rp-jwt", "sub": "rp-jwt", "aud": ISSUER + "/token", "jti": "j-noexp"}
    bad.append(jwt.encode(no_exp, rp_key, algorithm="RS256", headers={"kid": "rp-1"}))
    header = base64.urlsafe_b64encode(b'{"alg":"none","kid":"rp-1"}').rstrip(b"=").decode()
    body = base64.urlsafe_b64encode(json.dumps({**no_exp, "exp": now + 60}).encode())
    bad.append(f"{header}.{body.rstrip(b'=').decode()}.")
    for token in bad:
        code, verifier, _ = await get_code(idp, client_id="rp-jwt")
        oauth_error(
            await idp.post("/token", data=form(code, verifier, token)), 401, "invalid_client"
        )


async def test_forged_access_tokens_are_invalid_token(
    idp: httpx.AsyncClient, idp_settings: Settings
) -> None:
    code, verifier, _ = await get_code(idp, scope="openid profile")
    access = (await redeem(idp, code, verifier)).json()["access_token"]
    head, payload, sig = access.split(".")
    claims = jwt.decode(access, options={"verify_signature": False})

    def b64(data: bytes) -> str:
        return base64.urlsafe_b64encode(data).rstrip(b"=").decode()

    tampered = f"{head}.{b64(json.dumps({**claims, 'sub': 'someone-else'}).encode())}.{sig}"
    header = jwt.get_unverified_header(access)
    none_token = f"{b64(json.dumps({**header, 'alg': 'none'}).encode())}.{payload}."
    # HS256 "signed" with the provider's public key (the classic algorithm confusion).
    jwks = (await idp.get("/.well-known/jwks.json")).json()
    pem = jwt.PyJWK(jwks["keys"][0]).key.public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    signing_input = f"{b64(json.dumps({**header, 'alg': 'HS256'}).encode())}.{payload}"
    hs = hmac.new(pem, signing_input.encode(), hashlib.sha256).digest()
    hs_token = f"{signing_input}.{b64(hs)}"
    expired_app = create_app(idp_settings.model_copy(update={"identity_access_token_ttl": 10}))
    for token in (tampered, none_token, hs_token, "not-a-jwt", access[:-4] + "AAAA"):
        r = await idp.get("/userinfo", headers={"Authorization": f"Bearer {token}"})
        assert r.status_code == 401, token
        assert 'error="invalid_token"' in r.headers["www-authenticate"]
    r = await idp.get("/userinfo")
    assert r.status_code == 401 and r.headers["www-authenticate"] == 'Bearer realm="sim06"'
    # Expired: a token signed by the same key whose exp has passed.
    key_dir = identity_keys_dir(idp_settings)
    assert key_dir.exists()
    expired = expired_app.state.provider.keys.sign(
        {**claims, "exp": int(time.time()) - 5, "iat": int(time.time()) - 20}, typ="at+jwt"
    )
    r = await idp.get("/userinfo", headers={"Authorization": f"Bearer {expired}"})
    assert r.status_code == 401 and "expired" in r.headers["www-authenticate"]
    expired_app.state.store.close()


async def test_token_endpoint_input_errors(idp: httpx.AsyncClient) -> None:
    r = await idp.post("/token", json={"grant_type": "authorization_code"}, headers=basic())
    oauth_error(r, 400, "invalid_request")
    r = await idp.post(
        "/token",
        content=b"grant_type=a&grant_type=b",
        headers={**basic(), "Content-Type": "application/x-www-form-urlencoded"},
    )
    oauth_error(r, 400, "invalid_request")
    oauth_error(
        await idp.post("/token", data={"grant_type": "password"}, headers=basic()),
        400,
        "unsupported_grant_type",
    )
    oauth_error(
        await idp.post(
            "/token",
            data={
                "grant_type": "authorization_code",
                "code": "nope",
                "redirect_uri": REDIRECT,
                "code_verifier": "x" * 43,
            },
            headers=basic(),
        ),
        400,
        "invalid_grant",
    )
    oauth_error(
        await idp.post("/token", data={"grant_type": "authorization_code"}), 401, "invalid_client"
    )
    r = await idp.post(
        "/token",
        content=b"\xff\xfe",
        headers={**basic(), "Content-Type": "application/x-www-form-urlencoded"},
    )
    oauth_error(r, 400, "invalid_request")


async def test_a_registered_death_refuses_login_at_once(
    idp_settings: Settings, events_db: Path
) -> None:
    from datetime import UTC, date, datetime

    from sim06.mock_registry.events import Death, EventContext
    from sim06.mock_registry.store import SQLiteCitizenStore

    app = create_app(idp_settings.model_copy(update={"db_path": events_db}))
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://idp") as idp:
        _, challenge = pkce_pair()
        params = auth_params(challenge, login_hint="adult-level2")
        q = redirect_query(await idp.get("/authorize", params=params, headers=AUTO))
        assert "code" in q
        writer = SQLiteCitizenStore(events_db)  # the registry's write path, another connection
        ctx = EventContext(seed=6, now=datetime(2026, 12, 7, tzinfo=UTC), actor="test")
        writer.commit_event("d", "f", Death("001090104217", date(2026, 12, 1), "Hà Nội", "K"), ctx)
        writer.close()
        # Even with the login session of the first authorization (SSO cookie), no new code.
        q = redirect_query(await idp.get("/authorize", params=params, headers=AUTO))
        assert q["error"] == "access_denied" and "deceased" in q["error_description"]

"""Fixtures of the identity provider tests: clients file, app, in-process HTTP client, helpers."""

from __future__ import annotations

import base64
import secrets
import time
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import jwt
import pytest
import yaml
from cryptography.hazmat.primitives.asymmetric import rsa

from sim06.services.common.keys import public_jwk
from sim06.services.common.settings import Settings
from sim06.services.identity import create_app
from sim06.services.identity.pkce import s256

ISSUER = "http://idp.test"
TOKEN_URL = ISSUER + "/token"
ADULT = "001090104217"  # persona adult-level2
LEVEL1 = "001195208733"  # persona level1-only
REDIRECT = "https://rp.example/callback"
SECRET = "portal-secret-for-tests"


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture(scope="session")
def rp_key() -> rsa.RSAPrivateKey:
    """The private key of the private_key_jwt test client (generated, never stored)."""
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


def clients_yaml(path: Path, rp_key: rsa.RSAPrivateKey) -> Path:
    doc = {
        "clients": [
            {
                "client_id": "portal",
                "client_name": "Test portal",
                "client_secret": SECRET,
                "redirect_uris": [REDIRECT],
                "post_logout_redirect_uris": ["https://rp.example/bye"],
            },
            {
                "client_id": "bank",
                "token_endpoint_auth_method": "client_secret_post",
                "client_secret": "bank-secret",
                "redirect_uris": [REDIRECT],
                "subject_type": "pairwise",
            },
            {
                "client_id": "rp-jwt",
                "token_endpoint_auth_method": "private_key_jwt",
                "jwks": {"keys": [public_jwk(rp_key, "rp-1", "RS256")]},
                "redirect_uris": [REDIRECT],
            },
        ]
    }
    path.write_text(yaml.safe_dump(doc), "utf-8")
    return path


@pytest.fixture
def idp_settings(settings: Settings, tmp_path: Path, rp_key: rsa.RSAPrivateKey) -> Settings:
    return settings.model_copy(
        update={
            "identity_issuer": ISSUER,
            "identity_clients_file": clients_yaml(tmp_path / "clients.yaml", rp_key),
        }
    )


@pytest.fixture
async def idp(idp_settings: Settings) -> AsyncIterator[httpx.AsyncClient]:
    app = create_app(idp_settings)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url=ISSUER) as c:
        c.app = app  # type: ignore[attr-defined]
        yield c
    app.state.store.close()


def pkce_pair() -> tuple[str, str]:
    verifier = secrets.token_urlsafe(48)
    return verifier, s256(verifier)


def auth_params(challenge: str, **extra: str) -> dict[str, str]:
    params = {
        "response_type": "code",
        "client_id": "portal",
        "redirect_uri": REDIRECT,
        "scope": "openid profile",
        "state": "st-" + secrets.token_hex(4),
        "nonce": "n-" + secrets.token_hex(4),
        "code_challenge": challenge,
        "code_challenge_method": "S256",
        "login_hint": ADULT,
    }
    params.update(extra)
    return params


def redirect_query(response: httpx.Response) -> dict[str, str]:
    assert response.status_code in (302, 303), response.text
    location = response.headers["location"]
    assert location.startswith(REDIRECT), location
    return {k: v[0] for k, v in parse_qs(urlsplit(location).query).items()}


AUTO = {"X-Sim-Auto-Login": "true"}


async def get_code(c: httpx.AsyncClient, **extra: str) -> tuple[str, str, dict[str, str]]:
    """Auto-login: (code, verifier, params)."""
    verifier, challenge = pkce_pair()
    params = auth_params(challenge, **extra)
    q = redirect_query(await c.get("/authorize", params=params, headers=AUTO))
    assert "code" in q, q
    assert q["state"] == params["state"] and q["iss"] == ISSUER
    return q["code"], verifier, params


def basic(client_id: str = "portal", secret: str = SECRET) -> dict[str, str]:
    token = base64.b64encode(f"{client_id}:{secret}".encode()).decode()
    return {"Authorization": f"Basic {token}"}


async def redeem(c: httpx.AsyncClient, code: str, verifier: str, **extra: str) -> httpx.Response:
    data = {
        "grant_type": "authorization_code",
        "code": code,
        "redirect_uri": REDIRECT,
        "code_verifier": verifier,
        **extra,
    }
    return await c.post("/token", data=data, headers=basic())


def assertion(key: Any, *, kid: str = "rp-1", alg: str = "RS256", **claims: Any) -> str:
    now = int(time.time())
    body = {
        "iss": "rp-jwt",
        "sub": "rp-jwt",
        "aud": TOKEN_URL,
        "exp": now + 60,
        "iat": now,
        "jti": str(uuid.uuid4()),
    }
    body.update(claims)
    return jwt.encode(body, key, algorithm=alg, headers={"kid": kid})


def oauth_error(response: httpx.Response, status: int, error: str) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/json")
    body: dict[str, Any] = response.json()
    assert body["error"] == error, body
    assert "error_description" in body
    return body

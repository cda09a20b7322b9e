"""An independent relying-party library (authlib) runs the whole flow with private_key_jwt.

In process through the ASGI transport, and once end to end against uvicorn on 127.0.0.1.
"""

from __future__ import annotations

import contextlib
import socket
import threading
import time
import warnings
from collections.abc import Iterator
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
import uvicorn
from authlib.deprecate import AuthlibDeprecationWarning  # type: ignore[import-untyped]
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from sim06.services.common.settings import Settings
from sim06.services.identity import create_app
from tests.services.identity.conftest import ADULT, ISSUER, REDIRECT

with warnings.catch_warnings():  # authlib deprecates its httpx and jose modules (not ours)
    warnings.simplefilter("ignore", AuthlibDeprecationWarning)
    from authlib.integrations.httpx_client import AsyncOAuth2Client  # type: ignore[import-untyped]
    from authlib.jose import JsonWebKey, jwt as authlib_jwt  # type: ignore[import-untyped]
    from authlib.oauth2.rfc7523 import PrivateKeyJWT  # type: ignore[import-untyped]
    from authlib.oidc.core import CodeIDToken  # type: ignore[import-untyped]

pytestmark = pytest.mark.anyio


async def relying_party_flow(
    base: str, transport: httpx.AsyncBaseTransport | None, key_pem: bytes
) -> dict[str, Any]:
    """Discovery → authorize (PKCE S256) → token (private_key_jwt) → ID token → userinfo."""
    kwargs: dict[str, Any] = {"transport": transport} if transport else {}
    async with httpx.AsyncClient(base_url=base, **kwargs) as plain:
        meta = (await plain.get("/.well-known/openid-configuration")).json()
        jwks = (await plain.get(meta["jwks_uri"])).json()
        token_endpoint = meta["token_endpoint"]
        async with AsyncOAuth2Client(
            client_id="rp-jwt",
            client_secret=key_pem,
            scope="openid profile vneid_profile",
            redirect_uri=REDIRECT,
            token_endpoint_auth_method="private_key_jwt",
            code_challenge_method="S256",
            **kwargs,
        ) as rp:
            rp.register_client_auth_method(PrivateKeyJWT(token_endpoint))
            verifier = "v" * 20 + "-._~" + "w" * 30
            url, state = rp.create_authorization_url(
                meta["authorization_endpoint"],
                code_verifier=verifier,
                nonce="n-42",
                login_hint=ADULT,
                acr_values="LoA2",
            )
            r = await plain.get(url, headers={"X-Sim-Auto-Login": "true"})
            assert r.status_code == 303, r.text
            callback = r.headers["location"]
            assert callback.startswith(REDIRECT)
            query = parse_qs(urlsplit(callback).query)
            assert query["state"] == [state]
            token = await rp.fetch_token(
                token_endpoint, authorization_response=callback, code_verifier=verifier
            )
            claims = authlib_jwt.decode(
                token["id_token"],
                JsonWebKey.import_key_set(jwks),
                claims_cls=CodeIDToken,
                claims_options={
                    "iss": {"essential": True, "value": meta["issuer"]},
                    "aud": {"essential": True, "value": "rp-jwt"},
                },
                claims_params={"nonce": "n-42", "access_token": token["access_token"]},
            )
            claims.validate()  # exp, iat, aud, iss, nonce, at_hash (authlib's own checks)
            info = (await rp.get(meta["userinfo_endpoint"])).json()
    assert info["sub"] == claims["sub"]
    return {"claims": dict(claims), "userinfo": info}


def pem_of(rp_key: rsa.RSAPrivateKey) -> bytes:
    return rp_key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )


async def test_authlib_completes_the_flow_in_process(
    idp_settings: Settings, rp_key: rsa.RSAPrivateKey
) -> None:
    app = create_app(idp_settings)
    result = await relying_party_flow(ISSUER, httpx.ASGITransport(app=app), pem_of(rp_key))
    assert result["claims"]["acr"] == "LoA2"
    assert result["userinfo"]["SoDinhDanh"] == ADULT
    app.state.store.close()


@contextlib.contextmanager
def live_server(settings: Settings) -> Iterator[str]:
    # IPPROTO_TCP: asyncio sets TCP_NODELAY only then (else ~40 ms Nagle stalls).
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.bind(("127.0.0.1", 0))
    base = f"http://127.0.0.1:{sock.getsockname()[1]}"
    app = create_app(settings.model_copy(update={"identity_issuer": base}))
    config = uvicorn.Config(app, loop="asyncio", lifespan="off", log_level="warning")
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 5
    while not server.started and thread.is_alive() and time.monotonic() < deadline:
        time.sleep(0.01)
    try:
        assert server.started, "uvicorn did not start"
        yield base
    finally:
        server.should_exit = True
        thread.join(5)
        sock.close()
        app.state.store.close()


@pytest.mark.e2e
async def test_authlib_against_live_server(
    idp_settings: Settings, rp_key: rsa.RSAPrivateKey
) -> None:
    with live_server(idp_settings) as base:
        result = await relying_party_flow(base, None, pem_of(rp_key))
    assert result["claims"]["iss"] == base
    assert result["userinfo"]["HoVaTen"] == "Nguyễn Văn An"

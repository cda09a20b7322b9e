"""Token signing and the access-token check by hash: what the fast paths must still refuse."""

from __future__ import annotations

import time
import types
from typing import Any

import httpx
import jwt
import pytest

from sim06.services.common import keys as keys_module
from sim06.services.common.settings import Settings
from sim06.services.identity import create_app, provider as provider_module
from sim06.services.identity.signing import IdentityKeys, rotate_identity_key
from tests.services.identity.conftest import ISSUER, basic, get_code, redeem

pytestmark = pytest.mark.anyio


@pytest.mark.parametrize("alg", ["RS256", "ES256"])
def test_signed_tokens_verify_with_a_standard_library(settings: Settings, alg: str) -> None:
    keys = IdentityKeys(settings.model_copy(update={"identity_alg": alg}))
    claims: dict[str, Any] = {"iss": ISSUER, "sub": "s", "exp": int(time.time()) + 60,
                              "iat": int(time.time()), "name": "Nguyễn Văn An"}  # fmt: skip
    token, kid = keys.sign_kid(claims, typ="at+jwt")
    header = jwt.get_unverified_header(token)
    assert header == {"alg": alg, "kid": kid, "typ": "at+jwt"}
    public = jwt.PyJWKSet.from_dict(keys.jwks())[kid]
    assert jwt.decode(token, public, algorithms=[alg]) == claims
    tampered = token[:-6] + ("AAAAAA" if not token.endswith("AAAAAA") else "BBBBBB")
    with pytest.raises(jwt.InvalidSignatureError):
        jwt.decode(tampered, public, algorithms=[alg])
    assert keys.verify(token, audience=None, issuer=ISSUER, typ="at+jwt") == claims


async def access_token(c: httpx.AsyncClient) -> str:
    code, verifier, _ = await get_code(c)
    token: str = (await redeem(c, code, verifier)).json()["access_token"]
    return token


async def userinfo_error(c: httpx.AsyncClient, token: str) -> str:
    r = await c.get("/userinfo", headers={"Authorization": f"Bearer {token}"})
    assert r.status_code == 401, r.text
    header: str = r.headers["www-authenticate"]
    assert 'error="invalid_token"' in header
    return header


async def test_a_revoked_access_token_is_refused(idp: httpx.AsyncClient) -> None:
    token = await access_token(idp)
    assert (await idp.get("/userinfo", headers={"Authorization": f"Bearer {token}"})).is_success
    assert (await idp.post("/revoke", data={"token": token}, headers=basic())).status_code == 200
    assert "revoked" in await userinfo_error(idp, token)
    r = await idp.post("/introspect", data={"token": token}, headers=basic())
    assert r.json() == {"active": False}


async def test_an_issued_token_past_its_exp_is_refused(
    idp: httpx.AsyncClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    token = await access_token(idp)
    later = time.time() + 3600
    monkeypatch.setattr(provider_module, "time", types.SimpleNamespace(time=lambda: later))
    assert "expired" in await userinfo_error(idp, token)


async def test_tokens_of_a_retired_key_are_refused(
    idp_settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    settings = idp_settings.model_copy(update={"identity_key_retire_after": 30.0})
    app = create_app(settings)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url=ISSUER) as c:
        token = await access_token(c)
        rotate_identity_key(settings)
        app.state.provider.keys._checked = 0.0  # skip the one-second watch interval
        r = await c.get("/userinfo", headers={"Authorization": f"Bearer {token}"})
        assert r.status_code == 200  # the old key is still published
        later = time.time() + 60  # past the old key's retirement, not the token's exp
        monkeypatch.setattr(keys_module, "time", types.SimpleNamespace(time=lambda: later))
        assert "revoked" in await userinfo_error(c, token)
    app.state.store.close()

"""Direct dispatch of /authorize, /token and /userinfo keeps the app's behaviour around them."""

from __future__ import annotations

import httpx
import pytest

from sim06.services.common.settings import Settings
from sim06.services.identity import create_app
from sim06.services.identity.hotpath import HotPaths, hot_endpoints
from sim06.services.identity.provider import Provider
from tests.services.identity.conftest import ISSUER, basic, get_code, oauth_error, redeem

pytestmark = pytest.mark.anyio


async def test_the_login_endpoints_are_dispatched_directly(idp: httpx.AsyncClient) -> None:
    app = idp.app  # type: ignore[attr-defined]
    assert set(hot_endpoints(app.routes)) == {
        ("GET", "/authorize"),
        ("POST", "/authorize"),
        ("POST", "/token"),
        ("GET", "/userinfo"),
        ("POST", "/userinfo"),
    }
    assert any(m.cls is HotPaths for m in app.user_middleware)
    code, verifier, _ = await get_code(idp)
    tokens = (await redeem(idp, code, verifier)).json()
    r = await idp.post("/userinfo", headers={"Authorization": "Bearer " + tokens["access_token"]})
    assert r.status_code == 200 and r.json()["sub"]


def test_missing_hot_route_is_a_startup_error() -> None:
    with pytest.raises(RuntimeError, match="hot routes not registered"):
        hot_endpoints([])


async def test_other_methods_still_get_problem_405(idp: httpx.AsyncClient) -> None:
    for method, path in (("PUT", "/token"), ("GET", "/token"), ("DELETE", "/userinfo")):
        r = await idp.request(method, path)
        assert r.status_code == 405, (method, path)
        assert r.headers["content-type"].startswith("application/problem+json")
        assert "POST" in r.headers["allow"]


async def test_body_limit_still_wraps_the_token_endpoint(idp_settings: Settings) -> None:
    app = create_app(idp_settings.model_copy(update={"max_body_bytes": 2048}))
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url=ISSUER) as c:
        r = await c.post("/token", data={"grant_type": "x" * 4096}, headers=basic())
        assert r.status_code == 413
        assert r.json()["code"] == "PAYLOAD_TOO_LARGE"
    app.state.store.close()


async def test_a_bug_in_a_hot_endpoint_is_a_problem_500(
    idp_settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken(*_: object) -> None:
        raise RuntimeError("secret-ish detail that must not leak")

    monkeypatch.setattr(Provider, "exchange_code", broken)
    app = create_app(idp_settings)
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url=ISSUER) as c:
        code, verifier, _ = await get_code(c)
        r = await redeem(c, code, verifier)
        assert r.status_code == 500
        assert r.json()["code"] == "INTERNAL_ERROR"
        assert "secret-ish" not in r.text
    app.state.store.close()


async def test_oauth_errors_unchanged_on_the_direct_path(idp: httpx.AsyncClient) -> None:
    oauth_error(await idp.post("/token", data={"grant_type": "password"}), 401, "invalid_client")
    r = await idp.get("/userinfo", headers={"Authorization": "Bearer nope"})
    assert r.status_code == 401 and 'error="invalid_token"' in r.headers["www-authenticate"]

"""The authorization-code flow in process: auto-login, pages, tokens, userinfo, refresh."""

from __future__ import annotations

import re
from typing import Any

import httpx
import jwt
import pytest

from sim06.services.identity.signing import at_hash
from tests.services.identity.conftest import (
    ADULT,
    AUTO,
    ISSUER,
    LEVEL1,
    REDIRECT,
    auth_params,
    basic,
    get_code,
    pkce_pair,
    redeem,
    redirect_query,
)

pytestmark = pytest.mark.anyio


async def verify_id_token(c: httpx.AsyncClient, token: str, audience: str = "portal") -> Any:
    jwks = (await c.get("/.well-known/jwks.json")).json()
    key = jwt.PyJWKSet.from_dict(jwks)[jwt.get_unverified_header(token)["kid"]]
    return jwt.decode(token, key, algorithms=["RS256", "ES256"], audience=audience, issuer=ISSUER)


async def test_discovery_names_every_endpoint(idp: httpx.AsyncClient) -> None:
    doc = (await idp.get("/.well-known/openid-configuration")).json()
    assert doc["issuer"] == ISSUER
    for name in (
        "authorization_endpoint",
        "token_endpoint",
        "userinfo_endpoint",
        "jwks_uri",
        "registration_endpoint",
        "introspection_endpoint",
        "revocation_endpoint",
        "end_session_endpoint",
        "pushed_authorization_request_endpoint",
    ):
        assert doc[name].startswith(ISSUER + "/")
    assert doc["code_challenge_methods_supported"] == ["S256"]
    assert {"1", "2", "LoA1", "LoA2"} <= set(doc["acr_values_supported"])
    assert "private_key_jwt" in doc["token_endpoint_auth_methods_supported"]
    assert "SoDinhDanh" in doc["claims_supported"] and "vneid_profile" in doc["scopes_supported"]
    keys = (await idp.get(doc["jwks_uri"].removeprefix(ISSUER))).json()["keys"]
    assert keys and all("kid" in k and "d" not in k for k in keys)


async def test_auto_login_flow_issues_valid_tokens_and_userinfo(idp: httpx.AsyncClient) -> None:
    code, verifier, params = await get_code(
        idp, scope="openid profile vneid_profile phone address", acr_values="LoA2"
    )
    r = await redeem(idp, code, verifier)
    assert r.status_code == 200, r.text
    assert r.headers["cache-control"] == "no-store"
    tokens = r.json()
    assert tokens["token_type"] == "Bearer" and tokens["refresh_token"]
    claims = await verify_id_token(idp, tokens["id_token"])
    assert claims["nonce"] == params["nonce"]
    assert claims["acr"] == "LoA2" and claims["amr"] == ["pwd", "face"]
    assert claims["at_hash"] == at_hash(tokens["access_token"], "RS256")
    assert claims["sid"] and claims["auth_time"] <= claims["iat"] < claims["exp"]
    assert ADULT not in claims["sub"]

    r = await idp.get("/userinfo", headers={"Authorization": f"Bearer {tokens['access_token']}"})
    assert r.status_code == 200, r.text
    info = r.json()
    assert info["sub"] == claims["sub"]
    assert info["name"] == "Nguyễn Văn An" and info["birthdate"] == "1990-05-12"
    assert info["gender"] == "male" and info["phone_number"] == "+84990104217"
    assert info["SoDinhDanh"] == ADULT and info["HoVaTen"] == "Nguyễn Văn An"
    assert info["NgayThangNamSinh"] == "19900512" and info["GioiTinh"] == "Nam"
    assert info["ThuongTru"] == "Thôn 10, Xã Yên Bài, Hà Nội" and info["loAs"] == "LoA2"
    assert info["address"]["region"] == "Hà Nội"
    assert "email" not in info  # scope not asked


async def test_sub_is_stable_and_pairwise_per_option(idp: httpx.AsyncClient) -> None:
    subs = []
    for _ in range(2):
        code, verifier, _ = await get_code(idp)
        subs.append(
            jwt.decode(
                (await redeem(idp, code, verifier)).json()["id_token"],
                options={"verify_signature": False},
            )["sub"]
        )
    assert subs[0] == subs[1]
    verifier, challenge = pkce_pair()
    q = redirect_query(
        await idp.get("/authorize", params=auth_params(challenge, client_id="bank"), headers=AUTO)
    )
    r = await idp.post(
        "/token",
        data={
            "grant_type": "authorization_code",
            "code": q["code"],
            "redirect_uri": REDIRECT,
            "code_verifier": verifier,
            "client_id": "bank",
            "client_secret": "bank-secret",
        },
    )
    assert r.status_code == 200, r.text
    pairwise = jwt.decode(r.json()["id_token"], options={"verify_signature": False})["sub"]
    assert pairwise != subs[0]


async def test_level1_default_and_numeric_acr(idp: httpx.AsyncClient) -> None:
    code, verifier, _ = await get_code(idp, login_hint="level1-only", acr_values="1")
    claims = jwt.decode(
        (await redeem(idp, code, verifier)).json()["id_token"], options={"verify_signature": False}
    )
    assert claims["acr"] == "1" and claims["amr"] == ["pwd"]


async def test_claims_parameter_adds_single_claims(idp: httpx.AsyncClient) -> None:
    claims_req = '{"userinfo": {"SoDinhDanh": null}, "id_token": {"name": {"essential": true}}}'
    code, verifier, _ = await get_code(idp, scope="openid", claims=claims_req)
    tokens = (await redeem(idp, code, verifier)).json()
    id_claims = jwt.decode(tokens["id_token"], options={"verify_signature": False})
    assert id_claims["name"] == "Nguyễn Văn An"
    info = (
        await idp.get("/userinfo", headers={"Authorization": "Bearer " + tokens["access_token"]})
    ).json()
    assert info["SoDinhDanh"] == ADULT and "name" not in info


async def test_refresh_rotation_and_reuse_revokes_family(idp: httpx.AsyncClient) -> None:
    code, verifier, _ = await get_code(idp)
    first = (await redeem(idp, code, verifier)).json()
    r = await idp.post(
        "/token",
        data={"grant_type": "refresh_token", "refresh_token": first["refresh_token"]},
        headers=basic(),
    )
    assert r.status_code == 200, r.text
    second = r.json()
    assert second["refresh_token"] != first["refresh_token"]
    again = await idp.post(
        "/token",
        data={"grant_type": "refresh_token", "refresh_token": first["refresh_token"]},
        headers=basic(),
    )
    assert again.json()["error"] == "invalid_grant"
    # Reuse detection revoked the whole family: the new refresh and access tokens die too.
    r = await idp.post(
        "/token",
        data={"grant_type": "refresh_token", "refresh_token": second["refresh_token"]},
        headers=basic(),
    )
    assert r.json()["error"] == "invalid_grant"
    r = await idp.get("/userinfo", headers={"Authorization": "Bearer " + second["access_token"]})
    assert r.status_code == 401 and 'error="invalid_token"' in r.headers["www-authenticate"]


async def test_introspection_and_revocation(idp: httpx.AsyncClient) -> None:
    code, verifier, _ = await get_code(idp)
    tokens = (await redeem(idp, code, verifier)).json()
    r = await idp.post("/introspect", data={"token": tokens["access_token"]}, headers=basic())
    body = r.json()
    assert body["active"] is True and body["client_id"] == "portal" and "openid" in body["scope"]
    r = await idp.post("/introspect", data={"token": tokens["refresh_token"]}, headers=basic())
    assert r.json()["active"] is True and r.json()["token_type"] == "refresh_token"
    r = await idp.post("/revoke", data={"token": tokens["refresh_token"]}, headers=basic())
    assert r.status_code == 200
    for token in (tokens["access_token"], tokens["refresh_token"]):
        r = await idp.post("/introspect", data={"token": token}, headers=basic())
        assert r.json() == {"active": False}
    r = await idp.post("/revoke", data={"token": "unknown"}, headers=basic())
    assert r.status_code == 200  # RFC 7009 §2.2: unknown tokens are not an error


def form_fields(html: str) -> dict[str, str]:
    return dict(re.findall(r'<input type="hidden" name="(\w+)" value="([^"]*)"', html))


async def test_interactive_pages_level2_with_consent_then_sso(idp: httpx.AsyncClient) -> None:
    verifier, challenge = pkce_pair()
    params = auth_params(challenge, acr_values="2")
    page = await idp.get("/authorize", params=params)
    assert page.status_code == 200 and "text/html" in page.headers["content-type"]
    assert "Đăng nhập" in page.text and "Log in" in page.text and ADULT in page.text
    assert "script" not in page.text.lower()
    assert "frame-ancestors 'none'" in page.headers["content-security-policy"]
    fields = form_fields(page.text)
    # Level 2 without the face check is refused on the page.
    r = await idp.post(
        "/login", data={**fields, "persona": ADULT, "passcode": ADULT[-6:], "level": "2"}
    )
    assert r.status_code == 400 and "face" in r.text
    r = await idp.post(
        "/login",
        data={**fields, "persona": ADULT, "passcode": "000000", "level": "2", "face": "match"},
    )
    assert r.status_code == 400 and "Wrong passcode" in r.text
    r = await idp.post(
        "/login",
        data={**fields, "persona": ADULT, "passcode": ADULT[-6:], "level": "2", "face": "match"},
    )
    assert r.status_code == 200 and "SoDinhDanh" not in r.text and "<code>name</code>" in r.text
    consent = form_fields(r.text)
    r = await idp.post("/consent", data={**consent, "decision": "allow"})
    q = redirect_query(r)
    assert q["state"] == params["state"]
    tokens = (await redeem(idp, q["code"], verifier)).json()
    assert jwt.decode(tokens["id_token"], options={"verify_signature": False})["acr"] == "2"
    # Second authorization: session and remembered consent → straight back with a code.
    verifier2, challenge2 = pkce_pair()
    q2 = redirect_query(await idp.get("/authorize", params=auth_params(challenge2, prompt="none")))
    assert "code" in q2
    # CSRF: a replayed consent form (transaction consumed) is refused.
    r = await idp.post("/consent", data={**consent, "decision": "allow"})
    assert r.status_code == 400 and "invalid_request" in r.text


async def test_persona_search_and_cancel(idp: httpx.AsyncClient) -> None:
    _, challenge = pkce_pair()
    params = auth_params(challenge)
    page = await idp.get("/authorize", params=params)
    fields = form_fields(page.text)
    found = await idp.get("/login", params={"tx": fields["tx"], "q": "Bình"})
    assert LEVEL1 in found.text and ADULT not in found.text.split("<tbody>")[1].split("</tbody>")[0]
    q = redirect_query(await idp.post("/login", data={**fields, "cancel": "1"}))
    assert q["error"] == "access_denied" and q["state"] == params["state"]


async def test_logout_ends_session_and_redirects(idp: httpx.AsyncClient) -> None:
    code, verifier, _ = await get_code(idp)
    id_token = (await redeem(idp, code, verifier)).json()["id_token"]
    r = await idp.get(
        "/logout",
        params={
            "id_token_hint": id_token,
            "state": "x y",
            "post_logout_redirect_uri": "https://rp.example/bye",
        },
    )
    assert r.status_code == 303 and r.headers["location"] == "https://rp.example/bye?state=x+y"
    _, challenge = pkce_pair()
    q = redirect_query(await idp.get("/authorize", params=auth_params(challenge, prompt="none")))
    assert q["error"] == "login_required"
    r = await idp.get(
        "/logout",
        params={"id_token_hint": id_token, "post_logout_redirect_uri": "https://evil.example/"},
    )
    assert r.status_code == 400

"""The portal SSO (/oauth2, WSO2-like) federating to the VNeID realm, driven by pyoidc.

pyoidc (``oic``, an OpenID-certified relying-party library) discovers the portal from its
issuer, sends the authorization request with PKCE and ``acr_values=LoA1``; the headless browser
goes portal login page → "Đăng nhập bằng VNeID" → VNeID realm login and consent → the portal's
broker callback (a real back-channel token exchange with the realm) → the relying party; pyoidc
then redeems the portal's code, verifies its ID token and reads user info. The broker callback's
``Server-Timing`` shows both hops, with the latency profile's delay on the VNeID one.
"""

from __future__ import annotations

import re
import secrets
import warnings
from collections.abc import AsyncIterator
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import httpx
import jwt
import pytest
import yaml
from fastapi import FastAPI

from sim06.services.common.fault_middleware import install_faults
from sim06.services.common.settings import Settings
from sim06.services.identity import create_app
from sim06.services.identity.pkce import s256
from tests.services.identity.conftest import ADULT, LEVEL1
from tests.services.identity.headless import (
    KC_REDIRECT,
    RP_BYE,
    RP_REDIRECT,
    RP_SECRET,
    VNCONNECT_SECRET,
    Browser,
    live_identity,
    login_profile_clients,
)

with warnings.catch_warnings():  # pyoidc's own deprecations, not ours
    warnings.simplefilter("ignore", DeprecationWarning)
    from oic.oic import Client as OidcClient
    from oic.oic.message import (
        AuthorizationResponse,
        RegistrationResponse,
    )
    from oic.utils.authn.client import CLIENT_AUTHN_METHOD

pytestmark = pytest.mark.anyio

ROOT = "http://idp.test"
PORTAL_ISSUER = ROOT + "/oauth2/token"
REALM_ISSUER = ROOT + "/auth/realms/citizen"
AUTO = {"X-Sim-Auto-Login": "true"}
HOP_MS = 25  # fixed delay of the identity hop in the test's latency profile


def server_timing(header: str) -> dict[str, float]:
    return {m[0]: float(m[1]) for m in re.findall(r"(\w+);dur=([0-9.]+)", header)}


@pytest.fixture
def profile_settings(settings: Settings, tmp_path: Path) -> Settings:
    clients = login_profile_clients(tmp_path / "clients.yaml")
    profiles = tmp_path / "latency.yaml"
    profiles.write_text(yaml.safe_dump(
        {"profiles": {"login-test": {"hops": {"identity": {"fixed": HOP_MS}}}}}
    ))  # fmt: skip
    return settings.model_copy(
        update={"identity_clients_file": clients, "identity_issuer": ROOT,
                "latency_profiles_file": profiles}
    )  # fmt: skip


def with_latency(app: FastAPI, settings: Settings) -> None:
    """As ``sim06 up`` does: the fault middleware around the identity service."""
    install_faults(app, settings, "identity")


@pytest.mark.e2e
def test_pyoidc_logs_in_through_the_portal_and_vneid(profile_settings: Settings) -> None:
    with live_identity(profile_settings, with_latency) as (base, _):
        issuer = base + "/oauth2/token"
        rp = OidcClient(client_id="agency-rp", client_authn_method=CLIENT_AUTHN_METHOD)
        rp.provider_config(issuer)  # {issuer}/.well-known/openid-configuration
        assert rp.provider_info["authorization_endpoint"] == base + "/oauth2/authorize"
        rp.store_registration_info(RegistrationResponse(
            client_id="agency-rp", client_secret=RP_SECRET, redirect_uris=[RP_REDIRECT]
        ))  # fmt: skip
        rp.redirect_uris = [RP_REDIRECT]
        state, nonce = secrets.token_urlsafe(12), secrets.token_urlsafe(12)
        pkce, verifier = rp.add_code_challenge()
        request = rp.construct_AuthorizationRequest(request_args={
            "response_type": "code", "scope": ["openid", "profile", "vneid_profile"],
            "state": state, "nonce": nonce, "redirect_uri": RP_REDIRECT,
            "acr_values": "LoA1", **pkce,
        })  # fmt: skip
        url = request.request(rp.authorization_endpoint)
        # Every request of the browser goes through the latency profile (the identity hop).
        with httpx.Client(headers={"X-Sim-Latency-Profile": "login-test"}) as http:
            browser = Browser(http, ADULT)
            callback = browser.login(url, RP_REDIRECT)
        paths = [r.url.path for r in browser.seen]
        assert "/authenticationendpoint/login.do" in paths  # the portal's page was shown
        assert "/auth/realms/citizen/protocol/openid-connect/auth" in paths  # then VNeID's
        timing = server_timing(browser.response_to("/commonauth").headers["server-timing"])
        # token + certs + userinfo on the back channel, each delayed by the profile.
        assert timing["vneid"] >= 3 * HOP_MS, timing
        assert 0 <= timing["portal"] < timing["vneid"], timing

        answer = rp.parse_response(
            AuthorizationResponse, info=urlsplit(callback).query, sformat="urlencoded"
        )
        assert answer["state"] == state
        tokens = rp.do_access_token_request(
            state=state, request_args={"code": answer["code"], "code_verifier": verifier},
            authn_method="client_secret_basic",
        )  # fmt: skip
        id_token = tokens["id_token"]  # pyoidc verified signature (portal JWKS), iss, aud, nonce
        assert id_token["iss"] == issuer and id_token["aud"] == ["agency-rp"]
        assert id_token["acr"] == "LoA1" and id_token["nonce"] == nonce
        info = rp.do_user_info_request(
            method="GET", state=state, behavior="use_authorization_header"
        )  # RFC 6750 §2.1 (the form-body token of §2.2 is not supported)
        assert info["sub"] == id_token["sub"]
        assert info["loginIdp"] == "BCA" and info["SoDinhDanh"] == ADULT
        assert info["HoVaTen"] == "Nguyễn Văn An" and info["GioiTinh"] == "Nam"
        assert info["preferred_username"] == ADULT and "ThuongTru" in info

        # The portal's keys are its own (a separate system), not VNeID's.
        portal_keys = httpx.get(base + "/oauth2/jwks").json()["keys"]
        vneid_keys = httpx.get(base + "/.well-known/jwks.json").json()["keys"]
        assert {k["kid"] for k in portal_keys}.isdisjoint({k["kid"] for k in vneid_keys})


@pytest.fixture
async def idp(profile_settings: Settings) -> AsyncIterator[httpx.AsyncClient]:
    app = create_app(profile_settings)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url=ROOT) as c:
        yield c
    app.state.store.close()


def rp_params(challenge: str, **extra: str) -> dict[str, str]:
    return {
        "response_type": "code", "client_id": "agency-rp", "redirect_uri": RP_REDIRECT,
        "scope": "openid", "state": "rp-state", "nonce": "rp-nonce", "code_challenge": challenge,
        "code_challenge_method": "S256", "acr_values": "LoA1", "login_hint": ADULT, **extra,
    }  # fmt: skip


async def follow(c: httpx.AsyncClient, url: str, headers: dict[str, str]) -> list[httpx.Response]:
    """Redirects until the relying party's callback (auto-login: no pages)."""
    seen = [await c.get(url, headers=headers)]
    while seen[-1].is_redirect:
        location = seen[-1].headers["location"]
        if location.startswith(RP_REDIRECT):
            return seen
        seen.append(await c.get(location, headers=headers))
    raise AssertionError(f"stopped at {seen[-1].url}: {seen[-1].text[:300]}")


def rp_query(seen: list[httpx.Response]) -> dict[str, str]:
    location = seen[-1].headers["location"]
    return {k: v[0] for k, v in parse_qs(urlsplit(location).query).items()}


async def test_auto_login_federates_and_keeps_a_portal_session(idp: httpx.AsyncClient) -> None:
    verifier = secrets.token_urlsafe(48)
    url = "/oauth2/authorize?" + httpx.QueryParams(rp_params(s256(verifier))).__str__()
    seen = await follow(idp, url, AUTO)
    hops = [urlsplit(str(r.url)).path for r in seen]
    assert hops == ["/oauth2/authorize", "/auth/realms/citizen/protocol/openid-connect/auth",
                    "/commonauth"]  # fmt: skip
    q = rp_query(seen)
    assert q["iss"] == PORTAL_ISSUER and q["state"] == "rp-state"
    r = await idp.post("/oauth2/token", auth=("agency-rp", RP_SECRET), data={
        "grant_type": "authorization_code", "code": q["code"], "redirect_uri": RP_REDIRECT,
        "code_verifier": verifier,
    })  # fmt: skip
    assert r.status_code == 200 and "portal;dur=" in r.headers["server-timing"]
    tokens = r.json()
    claims = jwt.decode(tokens["id_token"], options={"verify_signature": False})
    assert claims["iss"] == PORTAL_ISSUER and claims["acr"] == "LoA1"
    info = (await idp.get("/oauth2/userinfo", headers={
        "Authorization": "Bearer " + tokens["access_token"]})).json()  # fmt: skip
    # scope openid only: sub and the identity provider used, no personal data.
    assert set(info) == {"sub", "loginIdp"}
    # Second login: the portal's session answers without a VNeID hop (SSO).
    seen = await follow(idp, url.replace("rp-state", "again"), {})
    assert [urlsplit(str(r.url)).path for r in seen] == ["/oauth2/authorize"]
    assert "code" in rp_query(seen)
    # The portal's tokens mean nothing to VNeID's userinfo (another issuer).
    r = await idp.get(
        "/auth/realms/citizen/protocol/openid-connect/userinfo",
        headers={"Authorization": "Bearer " + tokens["access_token"]},
    )
    assert r.status_code == 401


async def test_vneid_refusals_reach_the_relying_party(idp: httpx.AsyncClient) -> None:
    # LoA2 for a level-1-only account: VNeID refuses, the portal passes the error on.
    url = "/oauth2/authorize?" + str(
        httpx.QueryParams(rp_params(s256("v" * 43), acr_values="LoA2", login_hint=LEVEL1))
    )
    q = rp_query(await follow(idp, url, AUTO))
    assert q["error"] == "unmet_authentication_requirements" and q["state"] == "rp-state"
    assert q["iss"] == PORTAL_ISSUER
    # prompt=none without a portal session: login_required, straight from the portal.
    url = "/oauth2/authorize?" + str(httpx.QueryParams(rp_params(s256("v" * 43), prompt="none")))
    q = rp_query(await follow(idp, url, {}))
    assert q["error"] == "login_required"


async def test_broker_callback_checks_state_and_issuer(idp: httpx.AsyncClient) -> None:
    r = await idp.get("/commonauth", params={"code": "x", "state": "forged", "iss": REALM_ISSUER})
    assert r.status_code == 400 and "invalid_request" in r.text
    # A callback whose iss is not the realm (mix-up, RFC 9207) is refused to the RP.
    url = "/oauth2/authorize?" + str(httpx.QueryParams(rp_params(s256("v" * 43))))
    start = await idp.get(url, headers=AUTO)
    vneid = httpx.URL(start.headers["location"])
    fed_state = vneid.params["state"]
    assert vneid.params["kc_idp_hint"] == "BCA" and vneid.params["acr_values"] == "LoA1"
    r = await idp.get("/commonauth", params={"code": "x", "state": fed_state, "iss": ROOT})
    q = {k: v[0] for k, v in parse_qs(urlsplit(r.headers["location"]).query).items()}
    assert q["error"] == "server_error" and q["state"] == "rp-state"


async def test_portal_pages_and_boundaries(idp: httpx.AsyncClient) -> None:
    url = "/oauth2/authorize?" + str(httpx.QueryParams(rp_params(s256("v" * 43))))
    r = await idp.get(url)
    assert r.status_code == 303
    page = await idp.get(r.headers["location"])
    assert page.status_code == 200 and "Đăng nhập bằng VNeID" in page.text
    assert "Log in with VNeID" in page.text and "script" not in page.text.lower()
    # A client bound to the portal is refused by the realm, and an unknown client is shown
    # an error page, never redirected (RFC 6749 §4.1.2.1).
    r = await idp.get("/auth/realms/citizen/protocol/openid-connect/auth", headers=AUTO,
                      params=rp_params(s256("v" * 43)))  # fmt: skip
    assert "unauthorized_client" in r.headers["location"]
    r = await idp.get("/oauth2/authorize", params=rp_params("x", client_id="nobody"))
    assert r.status_code == 400 and "invalid_client" in r.text
    doc = (await idp.get("/oauth2/oidcdiscovery/.well-known/openid-configuration")).json()
    assert doc == (await idp.get("/oauth2/token/.well-known/openid-configuration")).json()
    assert doc["issuer"] == PORTAL_ISSUER and doc["jwks_uri"] == ROOT + "/oauth2/jwks"
    r = await idp.post("/oauth2/token", data={"grant_type": "authorization_code", "code": "x"},
                       auth=("agency-rp", "wrong"))  # fmt: skip
    assert r.status_code == 401 and r.json()["error"] == "invalid_client"


async def test_portal_logout_ends_its_session(idp: httpx.AsyncClient) -> None:
    verifier = secrets.token_urlsafe(48)
    url = "/oauth2/authorize?" + str(httpx.QueryParams(rp_params(s256(verifier))))
    q = rp_query(await follow(idp, url, AUTO))
    tokens = (await idp.post("/oauth2/token", auth=("agency-rp", RP_SECRET), data={
        "grant_type": "authorization_code", "code": q["code"], "redirect_uri": RP_REDIRECT,
        "code_verifier": verifier,
    })).json()  # fmt: skip
    logout = {"id_token_hint": tokens["id_token"], "post_logout_redirect_uri": RP_BYE,
              "state": "b"}  # fmt: skip
    r = await idp.get("/oidc/logout", params=logout)
    assert r.status_code == 303 and r.headers["location"] == RP_BYE + "?state=b"
    assert 'commonAuthId=""' in r.headers["set-cookie"]
    # The portal session is gone: prompt=none needs a login again.
    url = "/oauth2/authorize?" + str(httpx.QueryParams(rp_params(s256(verifier), prompt="none")))
    assert rp_query(await follow(idp, url, {}))["error"] == "login_required"
    # A VNeID ID token is no hint for the portal's logout (another issuer, another key).
    realm = "/auth/realms/citizen/protocol/openid-connect"
    r = await idp.get(realm + "/auth", headers=AUTO, params={
        "response_type": "code", "client_id": "vnconnect", "redirect_uri": KC_REDIRECT,
        "scope": "openid", "login_hint": ADULT,
    })  # fmt: skip
    code = parse_qs(urlsplit(r.headers["location"]).query)["code"][0]
    vneid = (await idp.post(realm + "/token", data={
        "grant_type": "authorization_code", "code": code, "redirect_uri": KC_REDIRECT,
        "client_id": "vnconnect", "client_secret": VNCONNECT_SECRET,
    })).json()  # fmt: skip
    r = await idp.get("/oidc/logout", params={"id_token_hint": vneid["id_token"]})
    assert r.status_code == 400 and "id_token_hint" in r.text


@pytest.mark.e2e
def test_back_channel_over_http(profile_settings: Settings) -> None:
    """SIM06_IDENTITY_PORTAL_VNEID_URL: the broker calls the realm over a socket."""
    with live_identity(
        profile_settings, update=lambda base: {"identity_portal_vneid_url": base}
    ) as (base, app):
        assert str(app.state.portal_upstream.http.base_url).rstrip("/") == base
        verifier = secrets.token_urlsafe(48)
        params = rp_params(s256(verifier))
        with httpx.Client(base_url=base, headers=AUTO) as http:
            r = http.get("/oauth2/authorize", params=params)
            while not r.headers["location"].startswith(RP_REDIRECT):
                r = http.get(r.headers["location"])
            assert "vneid;dur=" in r.headers["server-timing"]
            code = parse_qs(urlsplit(r.headers["location"]).query)["code"][0]
            token = http.post("/oauth2/token", auth=("agency-rp", RP_SECRET), data={
                "grant_type": "authorization_code", "code": code, "redirect_uri": RP_REDIRECT,
                "code_verifier": verifier,
            })  # fmt: skip
        assert token.status_code == 200 and "id_token" in token.json()

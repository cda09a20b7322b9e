"""The Keycloak-style VNeID realm (domain §5.6): python-keycloak logs a persona in end to end.

``KeycloakOpenID`` (server_url ``…/auth/``, realm ``citizen``, client ``vnconnect``) builds the
authorization URL, the headless browser fills the VNeID pages on a live server, and the library
exchanges the code, verifies the tokens with the realm's certs, reads user info, introspects,
refreshes and logs out. In-process tests cover the surface's boundaries.
"""

from __future__ import annotations

import secrets
from collections.abc import AsyncIterator
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import httpx
import jwt
import pytest
from keycloak import KeycloakOpenID
from keycloak.exceptions import KeycloakPostError

from sim06.services.common.settings import Settings
from sim06.services.identity import create_app
from sim06.services.identity.clients import client_from_metadata
from sim06.services.identity.errors import OAuthError
from sim06.services.identity.pkce import s256
from tests.services.identity.conftest import ADULT, LEVEL1
from tests.services.identity.headless import (
    KC_REDIRECT,
    RP_REDIRECT,
    RP_SECRET,
    VNCONNECT_SECRET,
    Browser,
    hidden_fields,
    live_identity,
    login_profile_clients,
)

ROOT = "http://idp.test"
REALM = ROOT + "/auth/realms/citizen"
OIDC = REALM + "/protocol/openid-connect"
AUTO = {"X-Sim-Auto-Login": "true"}

pytestmark = pytest.mark.anyio


@pytest.fixture
def profile_settings(settings: Settings, tmp_path: Path) -> Settings:
    clients = login_profile_clients(tmp_path / "clients.yaml")
    return settings.model_copy(update={"identity_clients_file": clients, "identity_issuer": ROOT})


@pytest.fixture
async def idp(profile_settings: Settings) -> AsyncIterator[httpx.AsyncClient]:
    app = create_app(profile_settings)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url=ROOT) as c:
        yield c
    app.state.store.close()


def query_of(response: httpx.Response) -> dict[str, str]:
    assert response.status_code in (302, 303), response.text
    return {k: v[0] for k, v in parse_qs(urlsplit(response.headers["location"]).query).items()}


@pytest.mark.e2e
def test_python_keycloak_logs_a_persona_in_through_the_realm(profile_settings: Settings) -> None:
    with live_identity(profile_settings) as (base, _):
        kc = KeycloakOpenID(
            server_url=base + "/auth/", realm_name="citizen", client_id="vnconnect",
            client_secret_key=VNCONNECT_SECRET,
        )  # fmt: skip
        issuer = base + "/auth/realms/citizen"
        assert kc.well_known()["issuer"] == issuer
        state, nonce = secrets.token_urlsafe(8), secrets.token_urlsafe(8)
        # As the observed integrations do: scope openid, no PKCE (vnconnect does not require it).
        url = kc.auth_url(redirect_uri=KC_REDIRECT, scope="openid", state=state, nonce=nonce)
        with httpx.Client() as http:
            callback = Browser(http, ADULT).login(url, KC_REDIRECT)
        query = {k: v[0] for k, v in parse_qs(urlsplit(callback).query).items()}
        assert query["state"] == state and query["iss"] == issuer
        token = kc.token(grant_type="authorization_code", code=query["code"],
                         redirect_uri=KC_REDIRECT)  # fmt: skip
        assert token["token_type"] == "Bearer" and token["not-before-policy"] == 0
        assert token["refresh_expires_in"] > 0 and token["session_state"]

        access = kc.decode_token(token["access_token"])  # verified with the realm's certs
        assert access["iss"] == issuer and access["typ"] == "Bearer"
        assert access["azp"] == "vnconnect" and access["preferred_username"] == ADULT
        assert access["acr"] == "1"
        assert "default-roles-citizen" in access["realm_access"]["roles"]
        assert access["resource_access"]["account"]["roles"]
        assert access["sid"] == access["session_state"] == token["session_state"]
        assert jwt.get_unverified_header(token["access_token"])["typ"] == "JWT"

        id_claims = kc.decode_token(token["id_token"])
        assert id_claims["typ"] == "ID" and id_claims["aud"] == "vnconnect"
        assert id_claims["azp"] == "vnconnect" and id_claims["nonce"] == nonce
        assert id_claims["preferred_username"] == ADULT and id_claims["sub"] == access["sub"]

        info = kc.userinfo(token["access_token"])
        assert isinstance(info, dict)
        assert info["sub"] == access["sub"] and info["preferred_username"] == ADULT
        assert info["SoDinhDanh"] == ADULT and info["HoVaTen"] == "Nguyễn Văn An"
        assert info["LoaiTaiKhoan"] == "1" and info["TechID"] == access["sub"]
        assert len(info["NgayThangNamSinh"]) == 8 and info["NgayThangNamSinh"].isdigit()

        # The realm document's public key (python-keycloak's public_key()) verifies too.
        pem = f"-----BEGIN PUBLIC KEY-----\n{kc.public_key()}\n-----END PUBLIC KEY-----"
        assert (
            jwt.decode(
                token["access_token"], pem, algorithms=["RS256", "ES256"], audience="account"
            )["azp"]
            == "vnconnect"
        )
        assert kc.introspect(token["access_token"])["active"] is True
        refreshed = kc.refresh_token(token["refresh_token"])
        assert kc.decode_token(refreshed["access_token"])["preferred_username"] == ADULT
        # Back-channel logout (204) ends the grant: its refresh token no longer works.
        kc.logout(refreshed["refresh_token"])
        with pytest.raises(KeycloakPostError) as refused:
            kc.refresh_token(refreshed["refresh_token"])
        assert refused.value.response_code == 400
        assert kc.introspect(refreshed["access_token"])["active"] is False


async def test_realm_discovery_names_keycloak_paths(idp: httpx.AsyncClient) -> None:
    doc = (await idp.get("/auth/realms/citizen/.well-known/openid-configuration")).json()
    assert doc["issuer"] == REALM
    assert doc["authorization_endpoint"] == OIDC + "/auth"
    assert doc["token_endpoint"] == OIDC + "/token"
    assert doc["userinfo_endpoint"] == OIDC + "/userinfo"
    assert doc["jwks_uri"] == OIDC + "/certs"
    assert doc["introspection_endpoint"] == OIDC + "/token/introspect"
    assert doc["end_session_endpoint"] == OIDC + "/logout"
    assert "registration_endpoint" not in doc
    certs = (await idp.get("/auth/realms/citizen/protocol/openid-connect/certs")).json()
    assert certs == (await idp.get("/.well-known/jwks.json")).json()  # one VNeID key set
    assert (await idp.get("/auth/realms/other/.well-known/openid-configuration")).status_code == 404


async def realm_code(idp: httpx.AsyncClient, **extra: str) -> dict[str, str]:
    params = {
        "response_type": "code", "client_id": "vnconnect", "redirect_uri": KC_REDIRECT,
        "scope": "openid", "state": "s1", "login_hint": ADULT, **extra,
    }  # fmt: skip
    return query_of(await idp.get(OIDC + "/auth", params=params, headers=AUTO))


async def test_level2_and_loa_style_acr(idp: httpx.AsyncClient) -> None:
    q = await realm_code(idp, acr_values="2")
    token = (await idp.post(OIDC + "/token", data={
        "grant_type": "authorization_code", "code": q["code"], "redirect_uri": KC_REDIRECT,
        "client_id": "vnconnect", "client_secret": VNCONNECT_SECRET,
    })).json()  # fmt: skip
    access = jwt.decode(token["access_token"], options={"verify_signature": False})
    assert access["acr"] == "2" and "vneid-level-2" in access["realm_access"]["roles"]
    q = await realm_code(idp, acr_values="LoA1", login_hint=LEVEL1)
    assert "code" in q


async def test_realm_refuses_codes_tokens_and_clients_of_other_surfaces(
    idp: httpx.AsyncClient,
) -> None:
    # A client bound to the realm cannot use the root issuer, nor a root client the portal.
    r = await idp.get("/authorize", headers=AUTO, params={
        "response_type": "code", "client_id": "vnconnect", "redirect_uri": KC_REDIRECT,
        "scope": "openid", "state": "s", "login_hint": ADULT,
    })  # fmt: skip
    assert query_of(r)["error"] == "unauthorized_client"
    # The realm's code is refused at the root token endpoint (issuer bound), and a wrong
    # secret is invalid_client (RFC 6749 §5.2).
    q = await realm_code(idp)
    form = {"grant_type": "authorization_code", "code": q["code"], "redirect_uri": KC_REDIRECT,
            "client_id": "vnconnect", "client_secret": VNCONNECT_SECRET}  # fmt: skip
    r = await idp.post("/token", data=form)
    assert r.status_code == 400 and r.json()["error"] == "unauthorized_client"
    r = await idp.post(OIDC + "/token", data={**form, "client_secret": "wrong"})
    assert r.status_code == 401 and r.json()["error"] == "invalid_client"
    token = (await idp.post(OIDC + "/token", data=form)).json()
    # The realm's access token is not the root's (issuer), and the root's userinfo says so.
    r = await idp.get("/userinfo", headers={"Authorization": "Bearer " + token["access_token"]})
    assert r.status_code == 401 and 'error="invalid_token"' in r.headers["www-authenticate"]
    r = await idp.get(OIDC + "/userinfo", headers={"Authorization": "Bearer nope"})
    assert r.status_code == 401
    # A redeemed code again: invalid_grant.
    r = await idp.post(OIDC + "/token", data=form)
    assert r.status_code == 400 and r.json()["error"] == "invalid_grant"


async def test_pkce_optional_only_for_clients_that_say_so(idp: httpx.AsyncClient) -> None:
    # vnconnect (require_pkce: false) may still use PKCE, and then the verifier is checked.
    verifier = secrets.token_urlsafe(48)
    q = await realm_code(idp, code_challenge=s256(verifier), code_challenge_method="S256")
    r = await idp.post(OIDC + "/token", data={
        "grant_type": "authorization_code", "code": q["code"], "redirect_uri": KC_REDIRECT,
        "client_id": "vnconnect", "client_secret": VNCONNECT_SECRET, "code_verifier": "x" * 43,
    })  # fmt: skip
    assert r.status_code == 400 and r.json()["error"] == "invalid_grant"
    # Without a challenge, a verifier at the token endpoint is a downgrade: refused.
    q = await realm_code(idp)
    r = await idp.post(OIDC + "/token", data={
        "grant_type": "authorization_code", "code": q["code"], "redirect_uri": KC_REDIRECT,
        "client_id": "vnconnect", "client_secret": VNCONNECT_SECRET, "code_verifier": verifier,
    })  # fmt: skip
    assert r.status_code == 400 and r.json()["error"] == "invalid_grant"
    # Clients that require PKCE (the default) are refused without it.
    r = await idp.get("/authorize", headers=AUTO, params={
        "response_type": "code", "client_id": "root-rp", "redirect_uri": RP_REDIRECT,
        "scope": "openid", "state": "s", "login_hint": ADULT,
    })  # fmt: skip
    assert query_of(r)["error"] == "invalid_request"
    with pytest.raises(OAuthError):  # RFC 9700 §2.1.1: public clients always use PKCE
        client_from_metadata("spa", {"redirect_uris": [RP_REDIRECT],
                                     "token_endpoint_auth_method": "none",
                                     "require_pkce": False})  # fmt: skip
    with pytest.raises(OAuthError):
        client_from_metadata("x", {"redirect_uris": [RP_REDIRECT], "client_secret": RP_SECRET,
                                   "login_profile": "wso2"})  # fmt: skip


async def test_realm_pages_post_to_the_realm(idp: httpx.AsyncClient) -> None:
    params = {"response_type": "code", "client_id": "vnconnect", "redirect_uri": KC_REDIRECT,
              "scope": "openid", "state": "s2"}  # fmt: skip
    page = await idp.get(OIDC + "/auth", params=params)
    assert page.status_code == 200 and 'id="login-form"' in page.text
    assert 'action="qr/start"' not in page.text  # the QR login lives at the root only
    fields = hidden_fields(page.text)
    # The realm's login transaction is unknown to the root's /login.
    r = await idp.post("/login", data={**fields, "persona": ADULT, "passcode": ADULT[-6:]})
    assert r.status_code == 400 and "invalid_request" in r.text
    r = await idp.post(OIDC + "/login", data={**fields, "persona": ADULT, "passcode": ADULT[-6:]})
    assert r.status_code == 200 and 'action="consent"' in r.text

"""Routes of the portal SSO: a WSO2-Identity-Server-like broker in front of the VNeID realm.

    GET|POST /oauth2/authorize          the relying party's authorization request (acr_values
                                        LoA1|LoA2); an existing portal session answers at once,
                                        else → the login page
    GET  /authenticationendpoint/login.do?sessionDataKey=…   "Đăng nhập bằng VNeID"
    GET  /commonauth?sessionDataKey=…&idp=BCA   → VNeID realm /auth (PKCE, nonce, kc_idp_hint)
    GET  /commonauth?code=…&state=…&iss=…       the broker callback: code → VNeID tokens and
                                        user info over the back channel (``upstream.py``), a
                                        portal session, the portal's own code → relying party
    POST /oauth2/token, GET|POST /oauth2/userinfo, GET /oauth2/jwks, POST /oauth2/introspect,
    POST /oauth2/revoke, GET|POST /oidc/logout (RP-initiated, ends the portal's session),
    GET /oauth2/oidcdiscovery/.well-known/openid-configuration (WSO2's discovery path; also
    under the issuer ``/oauth2/token``, as OIDC Discovery §4 derives it)

Latency: the callback answers ``Server-Timing: portal;dur=…, vneid;dur=…`` — the VNeID back
channel (token + certs when not cached + userinfo, with the delay the latency profile draws for
the ``identity`` hop) and the portal's own share; the token endpoint answers ``portal;dur=…``.
"""

from __future__ import annotations

import functools
import secrets
import time
from urllib.parse import parse_qsl, urlencode

import httpx
from fastapi import FastAPI
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from sim06.mock_registry.ids import is_valid_pin
from sim06.services.identity.accounts import parse_acr_values
from sim06.services.identity.authorize import (
    AuthRequest,
    parse_request,
    redirect_url,
)
from sim06.services.identity.client_auth import authenticate_client
from sim06.services.identity.clients import Client
from sim06.services.identity.discovery import PORTAL_PATHS, REALM_PATHS, metadata
from sim06.services.identity.endpoints import OAuthHandlers, json_response
from sim06.services.identity.errors import OAuthError
from sim06.services.identity.forms import read_form, single
from sim06.services.identity.login import (
    auto_login,
    logout_endpoint,
    parse_or_answer,
    session_fits,
    untrusted,
)
from sim06.services.identity.oauth_contract import add_documented_route
from sim06.services.identity.pages import error_page
from sim06.services.identity.pkce import s256
from sim06.services.identity.portal.pages import portal_login_page
from sim06.services.identity.portal.profile import LOGIN_IDP, PortalProfile
from sim06.services.identity.portal.upstream import (
    BROKER_ID,
    FORWARDED,
    TIMEOUT,
    RealmClient,
    UpstreamError,
    broker_secret,
)
from sim06.services.identity.provider import Provider
from sim06.services.identity.signing import IdentityKeys

__all__ = ["PORTAL_PATHS", "install_portal"]

CALLBACK = "/commonauth"
LOGIN_PAGE = "/authenticationendpoint/login.do"
SESSION_COOKIE = "commonAuthId"  # WSO2's SSO cookie
# What the broker asks VNeID for: everything the portal may pass on.
UPSTREAM_SCOPE = "openid profile vneid_profile email phone address"
# Authorization errors of VNeID passed on to the relying party as they are (RFC 6749 §4.1.2.1,
# OIDC Core §3.1.2.6); anything else becomes server_error.
PASSED_ON = {
    "access_denied", "login_required", "consent_required", "interaction_required",
    "unmet_authentication_requirements", "temporarily_unavailable", "server_error",
}  # fmt: skip


def _ms(seconds: float) -> str:
    return f"{seconds * 1000:.1f}"


def install_portal(app: FastAPI, core: Provider, realm: Provider) -> Provider:
    """Mount the portal SSO on ``app`` (issuer ``{root}/oauth2/token``, its own signing keys,
    sessions and cookie); the portal's provider. Its back channel is in process unless
    ``identity_portal_vneid_url`` names the realm's server."""
    settings = core.settings
    state = core.state
    registry = core.registry
    root = core.issuer
    issuer = root + PORTAL_PATHS["token_endpoint"]  # WSO2's issuer is its token endpoint
    # Lazy: generating a key pair costs ~0.1 s, and most runs never log in through the portal.
    keys = IdentityKeys(settings, settings.keys_dir / "portal", lazy=True)
    portal = Provider(
        settings, issuer, core.store, state, keys, core.subjects, registry, PortalProfile()
    )
    secure = root.startswith("https://")
    callback_url = root + CALLBACK
    secret = broker_secret(settings)
    registry.add(
        Client(
            client_id=BROKER_ID, redirect_uris=(callback_url,), client_secret=secret,
            client_name="Cổng Dịch vụ công quốc gia (SSO) / National Public Service Portal",
            login_profile="keycloak",
        )
    )  # fmt: skip
    if settings.identity_portal_vneid_url:
        http = httpx.AsyncClient(base_url=settings.identity_portal_vneid_url, timeout=TIMEOUT)
    else:
        http = httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app), base_url=root, timeout=TIMEOUT
        )
    upstream = RealmClient(http, realm.issuer, secret)
    app.state.portal_upstream = upstream
    ttl = settings.identity_session_ttl

    async def authenticated(request: Request, form: dict[str, str], path: str) -> Client:
        return authenticate_client(
            form, request.headers.get("authorization"), registry, state,
            [issuer, root + path],
        )  # fmt: skip

    handlers = OAuthHandlers(portal, authenticated, PORTAL_PATHS)

    def redirect(areq: AuthRequest, params: dict[str, str | None]) -> RedirectResponse:
        url = redirect_url(areq.redirect_uri, {**params, "state": areq.state}, issuer)
        return RedirectResponse(url, status_code=303, headers={"Cache-Control": "no-store"})

    def refuse(areq: AuthRequest, error: str, description: str) -> RedirectResponse:
        return redirect(areq, {"error": error, "error_description": description})

    async def authorize(request: Request) -> Response:
        try:
            if request.method == "POST":
                params = await read_form(request)
            else:
                params = single(parse_qsl(request.url.query, keep_blank_values=True))
        except OAuthError as exc:
            return untrusted(request, exc)
        areq = parse_or_answer(request, params, registry, issuer)
        if isinstance(areq, Response):
            return areq
        if not portal.profile.accepts(areq.client):
            return refuse(areq, "unauthorized_client", "the client is bound to another issuer")
        sid = request.cookies.get(SESSION_COOKIE)
        session = portal.session(sid)
        if sid is not None and session is not None and session_fits(areq, session):
            return redirect(areq, {"code": portal.issue_code(areq, sid, session)})
        if "none" in areq.prompt:
            return refuse(areq, "login_required", "no portal session fits this request")
        key = secrets.token_urlsafe(24)
        state.put(f"portal_tx:{key}", {"params": areq.raw}, ttl)
        if auto_login(
            request, settings.identity_auto_login
        ):  # CI: as if the citizen chose VNeID on the login page
            return federate(key, areq)
        # WSO2 answers 302; 303 here, as every redirect of the published contract.
        return RedirectResponse(f"{LOGIN_PAGE}?{urlencode({'sessionDataKey': key})}", 303)

    def pending(key: str) -> AuthRequest | Response:
        tx = state.get(f"portal_tx:{key}") if key else None
        if tx is None:
            return error_page("invalid_request", "the login transaction expired; start again")
        try:
            return parse_request(tx["params"], registry)
        except OAuthError as exc:
            return error_page(exc.error, exc.description)

    async def login_page(request: Request) -> Response:
        areq = pending(request.query_params.get("sessionDataKey", ""))
        if not isinstance(areq, AuthRequest):
            return areq
        return portal_login_page(
            session_key=request.query_params["sessionDataKey"],
            client_name=areq.client.client_name or areq.client.client_id,
            required_level=areq.required_level,
        )

    def federate(key: str, areq: AuthRequest) -> Response:
        # The portal is VNeID's client: PKCE, nonce and state of its own (OIDC Core §3.1.2.1).
        fed_state, nonce = secrets.token_urlsafe(24), secrets.token_urlsafe(24)
        verifier = secrets.token_urlsafe(48)  # RFC 7636 §4.1: 43 to 128 characters
        state.put(f"portal_fed:{fed_state}", {"key": key, "nonce": nonce, "verifier": verifier},
                  ttl)  # fmt: skip
        query = {
            "client_id": BROKER_ID, "response_type": "code", "scope": UPSTREAM_SCOPE,
            "redirect_uri": callback_url, "state": fed_state, "nonce": nonce,
            "code_challenge": s256(verifier), "code_challenge_method": "S256",
            "acr_values": f"LoA{areq.required_level}", "kc_idp_hint": LOGIN_IDP,
        }  # fmt: skip
        if areq.login_hint:
            query["login_hint"] = areq.login_hint
        if "login" in areq.prompt:
            query["prompt"] = "login"
        url = realm.issuer + REALM_PATHS["authorization_endpoint"] + "?" + urlencode(query)
        return RedirectResponse(url, status_code=303, headers={"Cache-Control": "no-store"})

    async def commonauth(request: Request) -> Response:
        query = request.query_params
        if "state" in query:
            return await broker_callback(request, dict(query))
        if query.get("idp") == LOGIN_IDP:
            key = query.get("sessionDataKey", "")
            areq = pending(key)
            return federate(key, areq) if isinstance(areq, AuthRequest) else areq
        return error_page("invalid_request", "choose the VNeID account on the login page")

    async def broker_callback(request: Request, query: dict[str, str]) -> Response:
        started = time.perf_counter()
        fed = state.take(f"portal_fed:{query['state']}")
        tx = state.take(f"portal_tx:{fed['key']}") if fed is not None else None
        if fed is None or tx is None:
            return error_page("invalid_request", "the login transaction expired; start again")
        try:
            areq = parse_request(tx["params"], registry)
        except OAuthError as exc:
            return error_page(exc.error, exc.description)
        if query.get("iss") != realm.issuer:  # RFC 9207 §2.4: mix-up defence
            return refuse(areq, "server_error", "the answer did not come from VNeID (iss)")
        if "error" in query:
            error = query["error"] if query["error"] in PASSED_ON else "server_error"
            return refuse(areq, error, "VNeID: " + query.get("error_description", error))
        headers = {h: request.headers[h] for h in FORWARDED if h in request.headers}
        hop_started = time.perf_counter()
        try:
            tokens = await upstream.exchange(
                query.get("code", ""), callback_url, fed["verifier"], headers
            )
            id_claims = await upstream.id_token(
                str(tokens.get("id_token", "")), fed["nonce"], headers
            )
            info = await upstream.userinfo(str(tokens.get("access_token", "")), headers)
        except UpstreamError as exc:
            return refuse(areq, exc.error, exc.description)
        hop = time.perf_counter() - hop_started
        level, _ = parse_acr_values(str(id_claims.get("acr", "")))
        pin = str(info.get("SoDinhDanh") or id_claims.get("preferred_username") or "")
        if info.get("sub") != id_claims["sub"] or not is_valid_pin(pin):  # OIDC Core §5.3.2
            return refuse(areq, "server_error", "VNeID's user info does not match its ID token")
        if level is None or level < areq.required_level:
            return refuse(areq, "unmet_authentication_requirements", "VNeID login level too low")
        ext = {k: v for k, v in info.items() if k != "sub"} | {"loginIdp": LOGIN_IDP}
        amr = id_claims.get("amr")
        sid = portal.start_session(pin, level, amr if isinstance(amr, list) else None, ext)
        session = portal.session(sid)
        assert session is not None
        response = redirect(areq, {"code": portal.issue_code(areq, sid, session)})
        response.set_cookie(SESSION_COOKIE, sid, max_age=ttl, httponly=True, samesite="lax",
                            secure=secure)  # fmt: skip
        total = time.perf_counter() - started
        response.headers["Server-Timing"] = (
            f'portal;dur={_ms(total - hop)};desc="portal SSO", '
            f'vneid;dur={_ms(hop)};desc="VNeID realm: token, userinfo"'
        )
        return response

    logout = logout_endpoint(portal, SESSION_COOKIE)  # WSO2's /oidc/logout

    async def token(request: Request) -> Response:
        started = time.perf_counter()
        response = await handlers.token(request)
        response.headers["Server-Timing"] = f"portal;dur={_ms(time.perf_counter() - started)}"
        return response

    async def discovery() -> Response:
        doc = metadata(issuer, keys.alg, registration_open=False, paths=PORTAL_PATHS, base=root)
        return json_response(doc)

    async def jwks() -> Response:
        return json_response(keys.jwks())

    route = functools.partial(add_documented_route, app, ("portal-sso", "Portal SSO"))

    for method in ("GET", "POST"):
        low = method.lower()
        route(PORTAL_PATHS["authorization_endpoint"], authorize, method,
              f"portal-authorize-{low}", f"authorize-{low}")  # fmt: skip
        route(PORTAL_PATHS["userinfo_endpoint"], handlers.userinfo, method,
              f"portal-userinfo-{low}", f"userinfo-{low}")  # fmt: skip
    route(PORTAL_PATHS["token_endpoint"], token, "POST", "portal-token", "token")
    for method in ("GET", "POST"):
        low = method.lower()
        route(PORTAL_PATHS["end_session_endpoint"], logout, method, f"portal-logout-{low}",
              f"logout-{low}")  # fmt: skip
    route(PORTAL_PATHS["jwks_uri"], jwks, "GET", "portal-jwks", "jwks")
    route(PORTAL_PATHS["introspection_endpoint"], handlers.introspect, "POST",
          "portal-introspect", "introspect")  # fmt: skip
    route(PORTAL_PATHS["revocation_endpoint"], handlers.revoke, "POST", "portal-revoke",
          "revoke")  # fmt: skip
    route("/oauth2/oidcdiscovery/.well-known/openid-configuration", discovery, "GET",
          "portal-discovery", "portal-discovery")  # fmt: skip
    route("/oauth2/token/.well-known/openid-configuration", discovery, "GET",
          "portal-discovery-issuer", "portal-discovery")  # fmt: skip
    app.add_api_route(LOGIN_PAGE, login_page, methods=["GET"], include_in_schema=False)
    app.add_api_route(CALLBACK, commonauth, methods=["GET"], include_in_schema=False)
    return portal

"""Browser-facing endpoints: authorization, login and consent pages, RP-initiated logout.

Non-interactive mode for CI (as MockPass's ``SHOW_LOGIN_PAGE=false``): with the setting
``SIM06_IDENTITY_AUTO_LOGIN=true`` or the request header ``X-Sim-Auto-Login: true`` (the header
beats the setting, ``false`` forces the pages), ``/authorize`` logs in the citizen named by
``login_hint`` (a PIN or a persona key) at the minimum level asked by ``acr_values``, takes the
consent as given and redirects with a code at once. Refusals (no account, locked, deceased,
level 1 asked for level 2) come back to the redirect URI as OAuth errors.

A level-1 session asked for level 2 gets the step-up page (the simulated face check, POST
/stepup) instead of a new login; a level-1 account is refused there.

Forms carry a per-transaction CSRF token that must match a cookie (double submit), and the
transaction itself lives server side (``tx:{id}``).
"""

from __future__ import annotations

import secrets
import time
from collections.abc import Awaitable, Callable
from typing import Any
from urllib.parse import parse_qsl, urlencode

import jwt
import orjson
from fastapi import FastAPI, Request
from starlette.responses import RedirectResponse, Response

from sim06.services.identity.accounts import (
    Account,
    LoginRefused,
    check_level,
    resolve_pin,
)
from sim06.services.identity.authorize import (
    AuthRequest,
    UntrustedRedirect,
    parse_request,
    redirect_url,
)
from sim06.services.identity.claims import claims_request_names
from sim06.services.identity.clients import ClientRegistry
from sim06.services.identity.errors import OAuthError
from sim06.services.identity.forms import read_form, single
from sim06.services.identity.login_forms import (
    CSRF_COOKIE,
    SESSION_COOKIE,
    Retry,
    check_credentials,
    load_tx,
    login_level,
    set_session_cookie,
)
from sim06.services.identity.oauth_contract import route_options
from sim06.services.identity.pages import (
    consent_page,
    error_page,
    face_page,
    login_page,
    message_page,
)
from sim06.services.identity.provider import Provider

__all__ = ["auto_login", "install_login_routes", "logout_endpoint", "session_fits"]

PAR_PREFIX = "urn:ietf:params:oauth:request_uri:"


def untrusted(request: Request, exc: OAuthError) -> Response:
    """The answer to an authorization request that cannot be redirected back (an unknown
    client or redirect URI): never a redirect, JSON to a JSON client, else an error page."""
    if "application/json" in request.headers.get("accept", ""):
        return Response(orjson.dumps(exc.body()), status_code=400, media_type="application/json")
    return error_page(exc.error, exc.description)


def session_fits(
    areq: AuthRequest, session: dict[str, Any] | None, *, any_level: bool = False
) -> bool:
    """Whether an existing SSO session answers ``areq`` without a login page: no
    ``prompt=login``, the level asked (unless ``any_level``: a step-up follows), ``max_age``
    and the ``login_hint``'s citizen."""
    if session is None or "login" in areq.prompt:
        return False
    if session["level"] < areq.required_level and not any_level:
        return False  # step-up needed
    if areq.max_age is not None and time.time() - session["auth_time"] > areq.max_age:
        return False
    hint = resolve_pin(areq.login_hint) if areq.login_hint else None
    return hint is None or hint == session["pin"]


def auto_login(request: Request, default: bool) -> bool:
    """Whether to log in without the page (CI): ``X-Sim-Auto-Login`` beats the setting."""
    header = request.headers.get("x-sim-auto-login")
    if header is not None:
        return header.strip().lower() == "true"
    return default


def parse_or_answer(
    request: Request, params: dict[str, str], registry: ClientRegistry, issuer: str
) -> AuthRequest | Response:
    """The authorization request of ``params``, or the answer to a broken one: an error page
    when the redirect URI is not trusted, else the error redirected to the client (RFC 6749
    §4.1.2.1, with ``iss`` per RFC 9207)."""
    try:
        return parse_request(params, registry)
    except UntrustedRedirect as exc:
        return untrusted(request, exc)
    except OAuthError as exc:
        url = redirect_url(
            params["redirect_uri"],
            {"error": exc.error, "error_description": exc.description,
             "state": params.get("state")},
            issuer,
        )  # fmt: skip
        return RedirectResponse(url, status_code=303)


def install_login_routes(
    app: FastAPI,
    provider: Provider,
    *,
    prefix: str = "",
    authorize_path: str = "/authorize",
    names: str = "",
    qr: bool = True,
    logout_routes: bool = True,
) -> Callable[[Request], Awaitable[Response]]:
    """Mount /authorize, /login, /consent, /stepup and /logout under ``prefix`` on ``app``;
    the logout endpoint (for a surface that wraps it).

    Another surface (the Keycloak-style realm) mounts the same flow under its own ``prefix``,
    ``authorize_path`` and route ``names`` prefix, over its own provider; its login
    transactions live in their own namespace. The pages' forms post to relative paths."""
    settings = provider.settings
    tx_ns = "tx" if provider.profile.name == "standard" else f"{provider.profile.name}_tx"
    state = provider.state
    issuer = provider.issuer
    secure = issuer.startswith("https://")

    def redirect(areq: AuthRequest, params: dict[str, str | None]) -> RedirectResponse:
        url = redirect_url(areq.redirect_uri, {**params, "state": areq.state}, issuer)
        return RedirectResponse(url, status_code=303, headers={"Cache-Control": "no-store"})

    def refuse(areq: AuthRequest, error: str, description: str) -> RedirectResponse:
        return redirect(areq, {"error": error, "error_description": description})

    async def submitted(
        request: Request, *, take: bool
    ) -> tuple[dict[str, str], str, dict[str, Any], AuthRequest]:
        """A login form, its transaction (CSRF-checked; removed if ``take``) and the
        authorization request it carries; :class:`OAuthError` if any of them fails."""
        form = await read_form(request)
        tx_id, tx = load_tx(state, form, request, take=take, prefix=tx_ns)
        return form, tx_id, tx, parse_request(tx["params"], provider.registry)

    def with_session(response: Response, sid: str) -> Response:
        return set_session_cookie(response, sid, settings.identity_session_ttl, secure=secure)

    def code_response(areq: AuthRequest, sid: str, session: dict[str, Any]) -> Response:
        code = provider.issue_code(areq, sid, session)
        return redirect(areq, {"code": code})

    def start_transaction(areq: AuthRequest, *, error: tuple[str, str] | None = None) -> Response:
        tx, csrf = secrets.token_urlsafe(24), secrets.token_urlsafe(24)
        record = {"params": areq.raw, "csrf": csrf}
        state.put(f"{tx_ns}:{tx}", record, settings.identity_session_ttl)
        hint = resolve_pin(areq.login_hint) if areq.login_hint else None
        page = login_page(
            tx=tx, csrf=csrf, client_name=areq.client.client_name or areq.client.client_id,
            required_level=areq.required_level, redirect_uri=areq.redirect_uri, error=error,
            hint=hint or "", qr=qr,
        )  # fmt: skip
        page.set_cookie(CSRF_COOKIE, csrf, httponly=True, samesite="strict", secure=secure)
        return page

    async def continue_authorization(areq: AuthRequest, request: Request) -> Response:
        sid = request.cookies.get(SESSION_COOKIE)
        session = provider.session(sid)
        auto = auto_login(request, settings.identity_auto_login)
        if sid is not None and session is not None and session_fits(areq, session):
            pin = session["pin"]
            try:  # the account may have changed since login (locked; a death registered)
                provider.accounts.find(pin)
            except LoginRefused as exc:
                return refuse(areq, exc.error, exc.message)
            if auto or (
                "consent" not in areq.prompt
                and provider.consented(pin, areq.client.client_id, areq.scopes)
            ):
                return code_response(areq, sid, session)
            if "none" in areq.prompt:
                return refuse(areq, "consent_required", "the citizen has not consented yet")
            return consent_for(areq, session, pin)
        if "none" in areq.prompt:
            return refuse(areq, "login_required", "no login session fits this request")
        if not auto and sid is not None and session_fits(areq, session, any_level=True):
            assert session is not None
            return start_step_up(areq, sid, session["pin"])
        if not auto:
            return start_transaction(areq)
        if not areq.login_hint:
            return refuse(areq, "invalid_request", "login_hint is required for auto-login")
        pin_or_none = resolve_pin(areq.login_hint)
        try:
            if pin_or_none is None:
                raise LoginRefused("access_denied", "login_hint is no PIN or persona key", "")
            account = provider.accounts.find(pin_or_none)
            check_level(account, areq.required_level)
        except LoginRefused as exc:
            return refuse(areq, exc.error, exc.message)
        new_sid = provider.new_session(account, areq.required_level)
        new_session = provider.session(new_sid)
        assert new_session is not None
        return with_session(code_response(areq, new_sid, new_session), new_sid)

    def start_step_up(areq: AuthRequest, sid: str, pin: str) -> Response:
        # Level 1 session, level 2 asked: only the face check is missing (domain §5.2).
        try:
            account = provider.accounts.find(pin)
            check_level(account, areq.required_level)
        except LoginRefused as exc:
            return refuse(areq, exc.error, exc.message)
        tx, csrf = secrets.token_urlsafe(24), secrets.token_urlsafe(24)
        record = {"params": areq.raw, "csrf": csrf, "sid": sid}
        state.put(f"{tx_ns}:{tx}", record, settings.identity_session_ttl)
        page = face_page(
            tx=tx, csrf=csrf, client_name=areq.client.client_name or areq.client.client_id,
            citizen=account.full_name, redirect_uri=areq.redirect_uri,
        )  # fmt: skip
        page.set_cookie(CSRF_COOKIE, csrf, httponly=True, samesite="strict", secure=secure)
        return page

    async def step_up_submit(request: Request) -> Response:
        try:
            form, _, tx, areq = await submitted(request, take=True)
        except OAuthError as exc:
            return error_page(exc.error, exc.description)
        sid = request.cookies.get(SESSION_COOKIE)
        session = provider.session(sid)
        if sid is None or session is None or sid != tx.get("sid"):
            return refuse(areq, "login_required", "the login session expired")
        if form.get("cancel"):
            return refuse(areq, "access_denied", "the citizen cancelled the login")
        if form.get("face") != "match":
            return refuse(areq, "access_denied", "the face check did not match")
        try:
            account = provider.accounts.find(session["pin"])
            check_level(account, areq.required_level)
        except LoginRefused as exc:
            return refuse(areq, exc.error, exc.message)
        provider.end_session(sid)  # a new session id at the new level (no fixation)
        new_sid = provider.new_session(account, max(areq.required_level, 2))
        new_session = provider.session(new_sid)
        assert new_session is not None
        if "consent" not in areq.prompt and provider.consented(
            account.pin, areq.client.client_id, areq.scopes
        ):
            return with_session(code_response(areq, new_sid, new_session), new_sid)
        return with_session(consent_for(areq, new_session, account.pin), new_sid)

    def consent_for(areq: AuthRequest, session: dict[str, Any], pin: str) -> Response:
        tx, csrf = secrets.token_urlsafe(24), secrets.token_urlsafe(24)
        record = {"params": areq.raw, "csrf": csrf}
        state.put(f"{tx_ns}:{tx}", record, settings.identity_session_ttl)
        account = provider.accounts.find(pin)
        page = consent_page(
            tx=tx, csrf=csrf, client_name=areq.client.client_name or areq.client.client_id,
            scopes=areq.scopes, extra=claims_request_names(areq.claims, "userinfo"),
            citizen=account.full_name, redirect_uri=areq.redirect_uri,
        )  # fmt: skip
        page.set_cookie(CSRF_COOKIE, csrf, httponly=True, samesite="strict", secure=secure)
        del session
        return page

    async def authorize(request: Request) -> Response:
        try:
            if request.method == "POST":
                params = await read_form(request)
            else:
                params = single(parse_qsl(request.url.query, keep_blank_values=True))
            if "request_uri" in params:
                params = pushed_params(params)
        except UntrustedRedirect as exc:
            return untrusted(request, exc)
        except OAuthError as exc:
            return untrusted(request, exc)
        areq = parse_or_answer(request, params, provider.registry, issuer)
        if isinstance(areq, Response):
            return areq
        if not provider.profile.accepts(areq.client):
            return refuse(areq, "unauthorized_client", "the client is bound to another issuer")
        return await continue_authorization(areq, request)

    def pushed_params(params: dict[str, str]) -> dict[str, str]:
        uri = params["request_uri"]
        stored = state.take(f"par:{uri}") if uri.startswith(PAR_PREFIX) else None
        if stored is None:  # RFC 9126 §4: single use, short lived
            raise UntrustedRedirect("invalid_request_uri", "request_uri is unknown or expired")
        if params.get("client_id") != stored["params"].get("client_id"):
            raise UntrustedRedirect("invalid_request", "client_id does not match the request_uri")
        pushed: dict[str, str] = stored["params"]
        return pushed

    for method in ("GET", "POST"):  # one route per method: each needs its own operation id
        name = f"authorize-{method.lower()}"
        app.add_api_route(prefix + authorize_path, authorize, methods=[method], tags=["oidc"],
                          name=names + name,
                          summary="Authorization endpoint (code flow, PKCE S256)",
                          **route_options(name))  # fmt: skip

    async def login_search(request: Request) -> Response:
        tx_id = request.query_params.get("tx", "")
        tx = state.get(f"{tx_ns}:{tx_id}") if tx_id else None
        if tx is None:
            return error_page("invalid_request", "the login transaction expired; start again")
        try:
            areq = parse_request(tx["params"], provider.registry)
        except OAuthError as exc:
            return error_page(exc.error, exc.description)
        page = login_page(
            tx=tx_id, csrf=tx["csrf"], client_name=areq.client.client_name or areq.client.client_id,
            required_level=areq.required_level, redirect_uri=areq.redirect_uri,
            query=request.query_params.get("q", ""), qr=qr,
        )  # fmt: skip
        return page

    async def login_submit(request: Request) -> Response:
        try:
            form, tx_id, tx, areq = await submitted(request, take=False)
        except OAuthError as exc:
            return error_page(exc.error, exc.description)
        if form.get("cancel"):
            state.delete(f"{tx_ns}:{tx_id}")
            return refuse(areq, "access_denied", "the citizen cancelled the login")
        pin = (form.get("pin") or form.get("persona") or "").strip()

        def again(vi: str, en: str) -> Response:
            page = login_page(
                tx=tx_id, csrf=tx["csrf"], required_level=areq.required_level,
                redirect_uri=areq.redirect_uri,
                client_name=areq.client.client_name or areq.client.client_id, error=(vi, en),
                hint=pin, qr=qr,
            )  # fmt: skip
            return page

        level = login_level(form, areq.required_level)
        try:
            account: Account = check_credentials(provider, form, areq.required_level)
        except Retry as exc:
            return again(exc.vi, exc.en)
        except LoginRefused as exc:
            if exc.error == "unmet_authentication_requirements":
                state.delete(f"{tx_ns}:{tx_id}")
                return refuse(areq, exc.error, exc.message)
            return again(exc.message_vi, exc.message)
        sid = provider.new_session(account, level)
        session = provider.session(sid)
        assert session is not None
        if "consent" not in areq.prompt and provider.consented(
            pin, areq.client.client_id, areq.scopes
        ):
            state.delete(f"{tx_ns}:{tx_id}")
            return with_session(code_response(areq, sid, session), sid)
        state.delete(f"{tx_ns}:{tx_id}")
        return with_session(consent_for(areq, session, pin), sid)

    async def consent_submit(request: Request) -> Response:
        try:
            form, _, tx, areq = await submitted(request, take=True)
        except OAuthError as exc:
            return error_page(exc.error, exc.description)
        sid = request.cookies.get(SESSION_COOKIE)
        session = provider.session(sid)
        if sid is None or session is None:
            return refuse(areq, "login_required", "the login session expired")
        if form.get("decision") != "allow":
            return refuse(areq, "access_denied", "the citizen refused to share the data")
        provider.remember_consent(session["pin"], areq.client.client_id, areq.scopes)
        return code_response(areq, sid, session)

    logout = logout_endpoint(provider)

    app.add_api_route(prefix + "/login", login_search, methods=["GET"], include_in_schema=False)
    app.add_api_route(prefix + "/login", login_submit, methods=["POST"], include_in_schema=False)
    app.add_api_route(prefix + "/consent", consent_submit, methods=["POST"],
                      include_in_schema=False)  # fmt: skip
    app.add_api_route(prefix + "/stepup", step_up_submit, methods=["POST"],
                      include_in_schema=False)  # fmt: skip
    if logout_routes:
        for method in ("GET", "POST"):
            name = f"logout-{method.lower()}"
            app.add_api_route(prefix + "/logout", logout, methods=[method], tags=["oidc"],
                              name=names + name,
                              summary="RP-initiated logout (OIDC RP-Initiated Logout 1.0)",
                              **route_options(name))  # fmt: skip
    return logout


def logout_endpoint(
    provider: Provider, cookie: str = SESSION_COOKIE
) -> Callable[[Request], Awaitable[Response]]:
    """RP-initiated logout (OIDC RP-Initiated Logout 1.0) of ``provider``'s sessions, whose id
    is in ``cookie``: checks ``id_token_hint`` and the registered ``post_logout_redirect_uri``."""
    issuer = provider.issuer

    async def logout(request: Request) -> Response:
        try:
            if request.method == "POST":
                params = await read_form(request)
            else:
                params = single(parse_qsl(request.url.query, keep_blank_values=True))
        except OAuthError as exc:
            return error_page(exc.error, exc.description)
        client_id = params.get("client_id")
        hint = params.get("id_token_hint")
        if hint:
            try:
                claims = provider.keys.verify(hint, audience=None, issuer=issuer, verify_exp=False)
            except jwt.PyJWTError:
                return error_page(
                    "invalid_request", "id_token_hint is not a token of this provider"
                )
            aud = claims.get("aud")
            if client_id is not None and client_id != aud:
                return error_page("invalid_request", "client_id does not match id_token_hint")
            client_id = aud if isinstance(aud, str) else client_id
        target = params.get("post_logout_redirect_uri")
        client = provider.registry.get(client_id) if client_id else None
        if target and (client is None or target not in client.post_logout_redirect_uris):
            return error_page("invalid_request", "post_logout_redirect_uri is not registered")
        provider.end_session(request.cookies.get(cookie))
        response: Response
        if target:
            url = target
            if "state" in params:
                url += ("&" if "?" in target else "?") + urlencode({"state": params["state"]})
            response = RedirectResponse(url, status_code=303)
        else:
            response = message_page("Đã đăng xuất", "You are logged out")
        response.delete_cookie(cookie)
        return response

    return logout

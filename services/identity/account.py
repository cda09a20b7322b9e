"""The citizen's account pages: log in, remembered consents (revocable), access log.

    GET  /account/login?next=…        login for the account pages (persona/PIN + passcode)
    POST /account/login
    GET  /account/consents            consents remembered per client, each with "revoke"
    POST /account/consents/revoke     CSRF-protected; the client asks for consent again
    GET  /account/access-log          who looked at my data (since, until, agency, purpose,
                                      page: 50 a page, newest first, Vietnam time)

The pages use the provider's login session (cookie ``vneid_sid``), so a citizen who just
logged in to a client is already logged in here. Forms carry a CSRF token bound to the
session in the state store and mirrored in a cookie (double submit).
"""

from __future__ import annotations

import hmac
import secrets
from datetime import date, timedelta
from typing import Any
from urllib.parse import urlencode

import orjson
from fastapi import FastAPI, Request
from starlette.responses import RedirectResponse, Response

from sim06.services.identity.access_log_source import AccessLogError, AccessLogSource
from sim06.services.identity.account_pages import access_log_page, consents_page
from sim06.services.identity.accounts import LoginRefused
from sim06.services.identity.citizen_token import mint_page_token
from sim06.services.identity.errors import OAuthError
from sim06.services.identity.forms import read_form
from sim06.services.identity.login_forms import (
    CSRF_COOKIE,
    SESSION_COOKIE,
    Retry,
    check_credentials,
    load_tx,
    login_level,
    set_session_cookie,
)
from sim06.services.identity.pages import error_page, login_page
from sim06.services.identity.provider import Provider

__all__ = ["install_account_routes"]

PAGES = ("/account/consents", "/account/access-log")
ACCOUNT_CSRF_COOKIE = "vneid_acct_csrf"
LOG_LIMIT = "10000"  # the most entries the gateway's access log answers at once
NAME = "Tài khoản VNeID của tôi / My VNeID account"


def _to_login(path: str) -> RedirectResponse:
    return RedirectResponse("/account/login?" + urlencode({"next": path}), status_code=303)


def _page_number(value: str | None) -> int:
    """``?page=`` of the access log: a positive integer, else the first page."""
    return int(value) if value and value.isdigit() and 0 < int(value) < 1_000_000 else 1


def _date(value: str, name: str) -> date | None:
    if not value:
        return None
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise ValueError(f"{name}: dùng dạng / use YYYY-MM-DD") from None


def install_account_routes(app: FastAPI, provider: Provider, source: AccessLogSource) -> None:
    """Mount the account pages on ``app``."""
    settings = provider.settings
    state = provider.state
    secure = provider.issuer.startswith("https://")

    def logged_in(request: Request) -> tuple[str, dict[str, Any]] | None:
        sid = request.cookies.get(SESSION_COOKIE)
        session = provider.session(sid)
        return None if sid is None or session is None else (sid, session)

    def login_form(tx: str, csrf: str, *, query: str = "", error: tuple[str, str] | None = None,
                   hint: str = "") -> Response:  # fmt: skip
        return login_page(tx=tx, csrf=csrf, client_name=NAME, required_level=1, query=query,
                          error=error, hint=hint, qr=False)  # fmt: skip

    async def login_get(request: Request) -> Response:
        tx_id = request.query_params.get("tx", "")
        tx = state.get(f"acct_tx:{tx_id}") if tx_id else None
        if tx is not None:  # the persona search of the same login
            return login_form(tx_id, tx["csrf"], query=request.query_params.get("q", ""))
        target = request.query_params.get("next", PAGES[0])
        tx_id, csrf = secrets.token_urlsafe(24), secrets.token_urlsafe(24)
        state.put(f"acct_tx:{tx_id}",
                  {"csrf": csrf, "next": target if target in PAGES else PAGES[0]},
                  settings.identity_session_ttl)  # fmt: skip
        response = login_form(tx_id, csrf)
        response.set_cookie(CSRF_COOKIE, csrf, httponly=True, samesite="strict", secure=secure)
        return response

    async def login_post(request: Request) -> Response:
        try:
            form = await read_form(request)
            tx_id, tx = load_tx(state, form, request, take=False, prefix="acct_tx")
        except OAuthError as exc:
            return error_page(exc.error, exc.description)
        if form.get("cancel"):
            state.delete(f"acct_tx:{tx_id}")
            return RedirectResponse("/account/login", status_code=303)
        hint = (form.get("pin") or form.get("persona") or "").strip()
        try:
            account = check_credentials(provider, form, 1)
        except Retry as exc:
            return login_form(tx_id, tx["csrf"], error=(exc.vi, exc.en), hint=hint)
        except LoginRefused as exc:
            return login_form(tx_id, tx["csrf"], error=(exc.message_vi, exc.message), hint=hint)
        state.delete(f"acct_tx:{tx_id}")
        provider.end_session(request.cookies.get(SESSION_COOKIE))  # no session fixation
        sid = provider.new_session(account, login_level(form, 1))
        response = RedirectResponse(tx["next"], status_code=303)
        return set_session_cookie(response, sid, settings.identity_session_ttl, secure=secure)

    async def consents(request: Request) -> Response:
        current = logged_in(request)
        if current is None:
            return _to_login("/account/consents")
        sid, session = current
        pin = session["pin"]
        items = []
        for c in provider.consents.listed(pin):
            client = provider.registry.get(c["client_id"])
            name = (client.client_name or client.client_id) if client else c["client_id"]
            items.append({**c, "client_name": name})
        csrf = secrets.token_urlsafe(24)
        state.put(f"acct_csrf:{csrf}", {"sid": sid}, settings.identity_session_ttl)
        revoked = request.query_params.get("revoked")
        notice = f"Đã thu hồi / Revoked: {revoked}" if revoked else None
        response = consents_page(
            citizen=_citizen(provider, pin), csrf=csrf, consents=items, notice=notice
        )
        response.set_cookie(ACCOUNT_CSRF_COOKIE, csrf, httponly=True, samesite="strict",
                            secure=secure)  # fmt: skip
        return response

    async def revoke(request: Request) -> Response:
        current = logged_in(request)
        if current is None:
            return _to_login("/account/consents")
        sid, session = current
        try:
            form = await read_form(request)
        except OAuthError as exc:
            return error_page(exc.error, exc.description)
        csrf = form.get("csrf", "")
        bound = state.take(f"acct_csrf:{csrf}") if csrf else None
        cookie = request.cookies.get(ACCOUNT_CSRF_COOKIE, "")
        if bound is None or bound["sid"] != sid or not hmac.compare_digest(cookie, csrf):
            return error_page("invalid_request", "CSRF check failed; reload the page", status=403)
        client_id = form.get("client_id", "")
        provider.consents.revoke(session["pin"], client_id)
        return RedirectResponse("/account/consents?" + urlencode({"revoked": client_id}), 303)

    async def access_log(request: Request) -> Response:
        current = logged_in(request)
        if current is None:
            return _to_login("/account/access-log")
        _, session = current
        pin = session["pin"]
        q = request.query_params
        filters = {k: q.get(k, "").strip() for k in ("since", "until", "agency", "purpose")}
        citizen = _citizen(provider, pin)
        try:
            since, until = _date(filters["since"], "since"), _date(filters["until"], "until")
        except ValueError as exc:
            return access_log_page(citizen=citizen, accesses=[], filters=filters, agencies=(),
                                   purposes=(), error=str(exc), status=400)  # fmt: skip
        query = {
            "since": since.isoformat() if since else "",
            "until": (until + timedelta(days=1)).isoformat() if until else "",  # inclusive day
            "agency": filters["agency"],
            "purpose": filters["purpose"],
        }
        token = mint_page_token(provider.keys, provider.issuer, pin,
                                provider.subjects.subject(pin), session["level"])  # fmt: skip
        try:
            # The whole (filtered) log, up to the gateway's maximum: the page pages it.
            body = await source.accesses(pin, token, {**query, "limit": LOG_LIMIT})
            every = (
                body
                if not any(query.values())
                else await source.accesses(pin, token, {"limit": LOG_LIMIT})
            )
        except AccessLogError as exc:
            return access_log_page(citizen=citizen, accesses=[], filters=filters, agencies=(),
                                   purposes=(), error=f"Không đọc được nhật ký / Cannot read "
                                   f"the access log: {exc}", status=exc.status)  # fmt: skip
        agencies = {a["agency"]: a.get("agency_name_vi") or a["agency"] for a in every["accesses"]}
        purposes = sorted({a["purpose"] for a in every["accesses"] if a.get("purpose")})
        return access_log_page(citizen=citizen, accesses=body["accesses"], filters=filters,
                               agencies=sorted(agencies.items()), purposes=purposes,
                               page_number=_page_number(q.get("page")))  # fmt: skip

    async def evidence(request: Request) -> Response:
        """The citizen's whole access log as the gateway signed it: each entry with its Merkle
        inclusion proof and the signed tree head (scripts/verify_access_proof.py checks it)."""
        current = logged_in(request)
        if current is None:
            return _to_login("/account/access-log/evidence.json")
        _, session = current
        pin = session["pin"]
        token = mint_page_token(provider.keys, provider.issuer, pin,
                                provider.subjects.subject(pin), session["level"])  # fmt: skip
        try:
            body = await source.accesses(pin, token, {"limit": LOG_LIMIT})
        except AccessLogError as exc:
            failed = {"error": "access_log_unavailable", "error_description": str(exc)}
            return Response(orjson.dumps(failed), exc.status, media_type="application/json")
        return Response(
            orjson.dumps(body),
            media_type="application/json",
            headers={
                "Content-Disposition": 'attachment; filename="access-log-evidence.json"',
                "Cache-Control": "no-store",
            },
        )

    async def account_home(_: Request) -> Response:
        return RedirectResponse(PAGES[0], status_code=303)

    app.add_api_route("/account", account_home, methods=["GET"], include_in_schema=False)
    app.add_api_route("/account/login", login_get, methods=["GET"], include_in_schema=False)
    app.add_api_route("/account/login", login_post, methods=["POST"], include_in_schema=False)
    app.add_api_route("/account/consents", consents, methods=["GET"], include_in_schema=False)
    app.add_api_route("/account/consents/revoke", revoke, methods=["POST"],
                      include_in_schema=False)  # fmt: skip
    app.add_api_route("/account/access-log", access_log, methods=["GET"], include_in_schema=False)
    app.add_api_route("/account/access-log/evidence.json", evidence, methods=["GET"],
                      include_in_schema=False)  # fmt: skip


def _citizen(provider: Provider, pin: str) -> str:
    """The citizen's name, or the PIN when the account no longer works (locked since)."""
    try:
        return provider.accounts.find(pin).full_name
    except LoginRefused:
        return pin

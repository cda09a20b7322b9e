"""Routes of the QR login: start, poll, the VNeID app simulator and the CI test endpoint.

POST /qr/start                    from the login page (tx + CSRF): new transaction
GET  /qr?txn=…                    the QR code; polls (meta refresh) until the answer
GET  /app-simulator?txn=…         what the app shows after the scan (vi + en)
POST /app-simulator               a level-2 account approves or denies (passcode, CSRF)
POST /v1/test/qr/{txn}/approve    CI: approve as {"persona": key} or {"pin": PIN}
POST /v1/test/qr/{txn}/deny       CI: deny likewise (SIM06_IDENTITY_QR_TEST_API=false: 404)
"""

from __future__ import annotations

import hmac
import re
import secrets
from typing import Any
from urllib.parse import urlencode

import orjson
from fastapi import FastAPI, Request
from starlette.responses import RedirectResponse, Response

from sim06.mock_registry.personas import BY_KEY
from sim06.services.common.problems import ProblemError, openapi_responses
from sim06.services.identity.accounts import LoginRefused, check_level
from sim06.services.identity.authorize import AuthRequest, parse_request, redirect_url
from sim06.services.identity.claims import claims_request_names
from sim06.services.identity.errors import OAuthError
from sim06.services.identity.forms import read_form
from sim06.services.identity.login_forms import load_tx, set_session_cookie
from sim06.services.identity.pages import error_page
from sim06.services.identity.provider import Provider
from sim06.services.identity.qr import APP_AMR, GRACE, QrError, QrLogins
from sim06.services.identity.qr_pages import app_page, qr_end_page, qr_page
from sim06.services.registry.schemas import Problem

__all__ = ["install_qr_routes"]

QR_COOKIE = "vneid_qr"
APP_CSRF_COOKIE = "vneid_app_csrf"
_CI_BODY = {
    "oneOf": [
        {"type": "object", "required": ["persona"], "properties": {"persona": {
            "type": "string", "enum": sorted(BY_KEY), "description": "Persona key"}}},
        {"type": "object", "required": ["pin"], "properties": {"pin": {
            "type": "string", "pattern": "^[0-9]{12}$", "description": "12-digit PIN"}}},
    ]
}  # fmt: skip


def install_qr_routes(app: FastAPI, provider: Provider, qr: QrLogins) -> None:
    """Mount the QR login routes on ``app``."""
    settings = provider.settings
    state = provider.state
    issuer = provider.issuer
    secure = issuer.startswith("https://")

    def app_url(txn: str) -> str:
        return f"{issuer}/app-simulator?{urlencode({'txn': txn})}"

    def to_client(areq: AuthRequest, params: dict[str, str | None]) -> RedirectResponse:
        url = redirect_url(areq.redirect_uri, {**params, "state": areq.state}, issuer)
        response = RedirectResponse(url, status_code=303, headers={"Cache-Control": "no-store"})
        response.delete_cookie(QR_COOKIE, path="/qr")
        return response

    async def start(request: Request) -> Response:
        try:
            form = await read_form(request)
            _, tx = load_tx(state, form, request, take=False)
            parse_request(tx["params"], provider.registry)
        except OAuthError as exc:
            return error_page(exc.error, exc.description)
        txn, browser = qr.start(tx["params"])
        response = RedirectResponse(f"/qr?{urlencode({'txn': txn})}", status_code=303)
        response.set_cookie(QR_COOKIE, browser, max_age=qr.ttl + GRACE, path="/qr",
                            httponly=True, samesite="lax", secure=secure)  # fmt: skip
        return response

    async def poll(request: Request) -> Response:
        txn = request.query_params.get("txn", "")
        status = qr.poll(txn, request.cookies.get(QR_COOKIE))
        if status.status in ("unknown", "used"):
            if status.status == "used":
                vi, en, http = "Mã QR đã được sử dụng", "This QR code was already used.", 409
            else:
                vi, en, http = "Không có giao dịch này", "No such QR login in this browser.", 404
            return qr_end_page(vi, en, restart=None, status=http)
        assert status.record is not None
        try:
            areq = parse_request(status.record["params"], provider.registry)
        except OAuthError as exc:  # the client changed since: show, do not redirect
            return error_page(exc.error, exc.description)
        if status.status == "expired":
            restart = "authorize?" + urlencode(status.record["params"])
            return qr_end_page("Mã QR đã hết hạn", "The QR code has expired.", restart=restart,
                               status=410)  # fmt: skip
        if status.status == "pending":
            left = max(0, int(status.record["expires"] - qr.clock()))
            name = areq.client.client_name or areq.client.client_id
            return qr_page(txn=txn, app_url=app_url(txn), client_name=name, seconds_left=left)
        assert status.decision is not None
        if status.status == "denied":
            why = "the citizen denied the login in the VNeID app"
            return to_client(areq, {"error": "access_denied", "error_description": why})
        try:  # the account may have changed between the approval and this poll
            account = provider.accounts.find(status.decision["pin"])
            check_level(account, 2)
        except LoginRefused as exc:
            return to_client(areq, {"error": exc.error, "error_description": exc.message})
        sid = provider.new_session(account, 2, APP_AMR)
        session = provider.session(sid)
        assert session is not None
        # Approving in the app is the consent (the app lists the data asked for).
        provider.remember_consent(account.pin, areq.client.client_id, areq.scopes)
        code = provider.issue_code(areq, sid, session)
        response = to_client(areq, {"code": code})
        return set_session_cookie(response, sid, settings.identity_session_ttl, secure=secure)

    def simulator(txn: str, *, error: tuple[str, str] | None = None) -> Response:
        try:
            record = qr.pending(txn)
            areq = parse_request(record["params"], provider.registry)
        except QrError as exc:
            return app_page(txn=txn, csrf="", client_name="", scopes=(), extra=(),
                            done=(exc.message_vi, exc.message))  # fmt: skip
        except OAuthError as exc:
            return error_page(exc.error, exc.description)
        csrf = secrets.token_urlsafe(24)
        state.put(f"qr_csrf:{csrf}", {"txn": txn}, qr.ttl)
        response = app_page(
            txn=txn, csrf=csrf, client_name=areq.client.client_name or areq.client.client_id,
            scopes=areq.scopes, extra=claims_request_names(areq.claims, "userinfo"), error=error,
        )  # fmt: skip
        response.set_cookie(APP_CSRF_COOKIE, csrf, httponly=True, samesite="strict",
                            secure=secure)  # fmt: skip
        return response

    async def simulator_page(request: Request) -> Response:
        return simulator(request.query_params.get("txn", ""))

    async def simulator_submit(request: Request) -> Response:
        try:
            form = await read_form(request)
        except OAuthError as exc:
            return error_page(exc.error, exc.description)
        txn, csrf = form.get("txn", ""), form.get("csrf", "")
        bound = state.take(f"qr_csrf:{csrf}") if csrf else None
        if (
            bound is None
            or bound["txn"] != txn
            or not hmac.compare_digest(request.cookies.get(APP_CSRF_COOKIE, ""), csrf)
        ):
            return error_page("invalid_request", "CSRF check failed; scan the QR code again")
        pin = (form.get("pin") or form.get("persona") or "").strip()
        if not pin:
            return simulator(txn, error=("Chọn tài khoản.", "Pick an account."))
        if not hmac.compare_digest(form.get("passcode", ""), pin[-6:]):
            return simulator(txn, error=("Mã bảo vệ không đúng.", "Wrong passcode."))
        approve = form.get("decision") == "approve"
        try:
            qr.decide(txn, pin, approve=approve)
        except QrError as exc:
            if exc.code == "IDENTITY_QR_ACCOUNT_REFUSED":
                return simulator(txn, error=(exc.message_vi, exc.message))
            return app_page(txn=txn, csrf="", client_name="", scopes=(), extra=(),
                            done=(exc.message_vi, exc.message))  # fmt: skip
        done = (
            ("Đã xác nhận đăng nhập.", "Login approved: go back to your browser.")
            if approve
            else ("Đã từ chối đăng nhập.", "Login denied.")
        )
        return app_page(txn=txn, csrf="", client_name="", scopes=(), extra=(), done=done)

    def decide_for_ci(approve: bool) -> Any:
        async def endpoint(txn: str, request: Request) -> Response:
            if not provider.settings.identity_qr_test_api:  # read per call: tests flip it
                raise ProblemError("NOT_FOUND", "The QR test API is off.")
            try:
                body = orjson.loads(await request.body())
            except orjson.JSONDecodeError:
                raise ProblemError("MALFORMED_BODY", "The body is not JSON.") from None
            body = body if isinstance(body, dict) else {}
            persona, pin = body.get("persona"), body.get("pin")
            if isinstance(persona, str) and persona in BY_KEY:
                pin = BY_KEY[persona].pin
            if not (isinstance(pin, str) and re.fullmatch("[0-9]{12}", pin)):
                raise ProblemError(
                    "VALIDATION_FAILED", "Send {\"persona\": key} or {\"pin\": PIN}.",
                    errors=[{"pointer": "/persona", "rule": "required",
                             "reason": "a persona key or a 12-digit PIN"}],
                )  # fmt: skip
            try:
                qr.decide(txn, pin, approve=approve)
            except QrError as exc:
                raise ProblemError(exc.code, exc.message) from None
            decision = "approved" if approve else "denied"
            return Response(orjson.dumps({"txn": txn, "decision": decision}),
                            media_type="application/json")  # fmt: skip

        return endpoint

    codes = ("IDENTITY_QR_NOT_FOUND", "IDENTITY_QR_EXPIRED", "IDENTITY_QR_USED",
             "IDENTITY_QR_ACCOUNT_REFUSED", "MALFORMED_BODY", "VALIDATION_FAILED")  # fmt: skip
    for verb, approve in (("approve", True), ("deny", False)):
        app.add_api_route(
            f"/v1/test/qr/{{txn}}/{verb}", decide_for_ci(approve), methods=["POST"],
            tags=["test"], name=f"qr-{verb}", responses=openapi_responses(Problem, *codes),
            summary=f"CI: {verb} a QR login as the VNeID app would",
            description="Body: {\"persona\": \"adult-level2\"} or {\"pin\": \"001090104217\"}. "
            "Only a level-2 account may answer; one answer per transaction.",
            openapi_extra={"requestBody": {"required": True, "content": {
                "application/json": {"schema": _CI_BODY}}}},
        )  # fmt: skip
    app.add_api_route("/qr/start", start, methods=["POST"], include_in_schema=False)
    app.add_api_route("/qr", poll, methods=["GET"], include_in_schema=False)
    app.add_api_route("/app-simulator", simulator_page, methods=["GET"], include_in_schema=False)
    app.add_api_route("/app-simulator", simulator_submit, methods=["POST"],
                      include_in_schema=False)  # fmt: skip

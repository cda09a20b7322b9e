"""Shared pieces of the login forms: credentials, the session cookie, the CSRF-checked
transaction. Used by the authorization pages (``login.py``), the QR login and the account pages.
"""

from __future__ import annotations

import hmac
from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from sim06.services.identity.accounts import Account, check_level
from sim06.services.identity.errors import OAuthError
from sim06.services.identity.provider import Provider
from sim06.services.identity.state import StateStore

__all__ = [
    "CSRF_COOKIE",
    "SESSION_COOKIE",
    "Retry",
    "check_credentials",
    "load_tx",
    "login_level",
    "set_session_cookie",
]

SESSION_COOKIE = "vneid_sid"
CSRF_COOKIE = "vneid_csrf"


class Retry(Exception):
    """The login form must be shown again with this message (Vietnamese, English)."""

    def __init__(self, vi: str, en: str) -> None:
        super().__init__(en)
        self.vi = vi
        self.en = en


def check_credentials(provider: Provider, form: dict[str, str], required: int) -> Account:
    """The account a login form names, once passcode and (level 2) face check pass.

    Raises :class:`Retry` for a wrong form and ``LoginRefused`` for an account that cannot
    log in at the level (``form["level"]`` or ``required``, whichever is higher)."""
    pin = (form.get("pin") or form.get("persona") or "").strip()
    if not pin:
        raise Retry("Chọn hoặc nhập số định danh.", "Pick a persona or enter a PIN.")
    if not hmac.compare_digest(form.get("passcode", ""), pin[-6:]):
        raise Retry("Mã bảo vệ không đúng.", "Wrong passcode.")
    if login_level(form, required) == 2 and form.get("face") != "match":
        raise Retry("Mức độ 2 cần xác thực khuôn mặt.", "Level 2 needs the (simulated) face check.")
    account = provider.accounts.find(pin)
    check_level(account, login_level(form, required))
    return account


def login_level(form: dict[str, str], required: int) -> int:
    """The level a login form asks for: the chosen one, at least the required one."""
    return max(required, 2 if form.get("level") == "2" else 1)


def set_session_cookie(response: Response, sid: str, ttl: int, *, secure: bool) -> Response:
    """The login session cookie (HttpOnly, SameSite=Lax so the redirect back carries it)."""
    response.set_cookie(
        SESSION_COOKIE, sid, max_age=ttl, httponly=True, samesite="lax", secure=secure
    )
    return response


def load_tx(
    state: StateStore, form: dict[str, str], request: Request, *, take: bool, prefix: str = "tx"
) -> tuple[str, dict[str, Any]]:
    """The login transaction a form names, after the double-submit CSRF check.

    ``prefix``: ``tx`` (authorization) or ``acct_tx`` (account pages); never interchangeable."""
    tx_id = form.get("tx", "")
    tx = state.get(f"{prefix}:{tx_id}") if tx_id else None
    csrf_cookie = request.cookies.get(CSRF_COOKIE, "")
    if tx is None:
        raise OAuthError("invalid_request", "the login transaction expired; start again")
    if not (
        hmac.compare_digest(form.get("csrf", ""), tx["csrf"])
        and hmac.compare_digest(csrf_cookie, tx["csrf"])
    ):
        raise OAuthError("invalid_request", "CSRF check failed")
    if take:
        state.delete(f"{prefix}:{tx_id}")
    return tx_id, tx

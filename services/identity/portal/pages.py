"""The portal SSO's login page (WSO2's ``authenticationendpoint``), Vietnamese and English."""

from __future__ import annotations

from html import escape
from urllib.parse import urlencode

from starlette.responses import HTMLResponse

from sim06.services.identity.pages import page
from sim06.services.identity.portal.profile import LOGIN_IDP

__all__ = ["portal_login_page"]


def portal_login_page(*, session_key: str, client_name: str, required_level: int) -> HTMLResponse:
    """The choice of account: since 1 Jul 2024 citizens log in with VNeID only (domain §5.5),
    so the page offers the VNeID account; the link starts the federation (``/commonauth``)."""
    start = "/commonauth?" + urlencode({"sessionDataKey": session_key, "idp": LOGIN_IDP})
    body = f"""
<h1>Cổng Dịch vụ công quốc gia — Đăng nhập</h1>
<p class="en">National Public Service Portal — log in (simulated)</p>
<p>Dịch vụ yêu cầu / Service: <strong id="client-name">{escape(client_name)}</strong>
 — mức độ đảm bảo / assurance: <strong id="required-level">LoA{required_level}</strong></p>
<p><a id="vneid-login" href="{escape(start)}">Đăng nhập bằng VNeID — Tài khoản Định danh điện tử
 cấp bởi Bộ Công an</a><br><span class="en">Log in with VNeID — electronic identity account
 issued by the Ministry of Public Security</span></p>
<p class="en">Tài khoản Cổng DVC của cá nhân không còn dùng từ 01/07/2024 / Personal portal
 accounts stopped working on 1 July 2024.</p>"""
    return page("Cổng DVC quốc gia / National Public Service Portal", body)

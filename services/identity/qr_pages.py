"""Pages of the QR login: the QR code the browser polls, and the VNeID app simulator.

The QR code is inline SVG made by ``segno`` (no external assets, no JavaScript); the polling
page reloads itself with ``<meta http-equiv="refresh">``.
"""

from __future__ import annotations

from collections.abc import Iterable
from html import escape

import segno
from starlette.responses import HTMLResponse

from sim06.mock_registry import personas
from sim06.services.identity.claim_labels import claim_items
from sim06.services.identity.claims import requested
from sim06.services.identity.pages import page

__all__ = ["POLL_SECONDS", "app_page", "qr_end_page", "qr_page", "qr_svg"]

POLL_SECONDS = 2


def qr_svg(data: str) -> str:
    """The QR code of ``data`` as an inline ``<svg>`` element (ISO/IEC 18004, level M)."""
    svg: str = segno.make(data, error="m").svg_inline(scale=4, title="QR")
    return svg


def qr_page(*, txn: str, app_url: str, client_name: str, seconds_left: int) -> HTMLResponse:
    """The QR code for ``txn``; reloads every :data:`POLL_SECONDS` until the app answers."""
    body = f"""
<h1>Quét mã QR bằng ứng dụng VNeID</h1>
<p class="en">Scan the QR code with the VNeID app</p>
<p>Dịch vụ / Service: <strong id="client-name">{escape(client_name)}</strong></p>
<figure id="qr" role="img" aria-label="QR code / mã QR">{qr_svg(app_url)}</figure>
<p>Mã giao dịch / Transaction: <code id="qr-txn">{escape(txn)}</code>
 — còn / expires in <span id="qr-seconds">{seconds_left}</span> s</p>
<p>Trình mô phỏng ứng dụng / App simulator: <a id="qr-app-link" href="{escape(app_url)}"
 target="_blank" rel="noopener">{escape(app_url)}</a></p>
<p class="en" id="qr-waiting">Đang chờ xác nhận trên ứng dụng… / Waiting for the approval in
 the app… (this page refreshes by itself)</p>"""
    return page("Đăng nhập bằng mã QR / QR login", body, refresh=POLL_SECONDS)


def qr_end_page(title_vi: str, title_en: str, *, restart: str | None, status: int) -> HTMLResponse:
    """The end of a QR login that cannot go back to the client (expired, used, unknown)."""
    again = (
        f'<p><a id="qr-restart" href="{escape(restart)}">Đăng nhập lại / Start again</a></p>'
        if restart
        else ""
    )
    body = f'<h1 id="qr-end">{escape(title_vi)}</h1><p class="en">{escape(title_en)}</p>{again}'
    return page(f"{title_vi} / {title_en}", body, status=status)


def _level2_rows() -> Iterable[str]:
    for p in personas.listed():
        if p.eid_level != 2 or p.eid_status != "active":
            continue
        yield (
            f'<tr><td><input type="radio" name="persona" id="a-{escape(p.key)}" '
            f'value="{escape(p.pin)}"></td><td><label for="a-{escape(p.key)}">'
            f"{escape(p.name.full)}</label></td><td>{escape(p.pin)}</td><td>{escape(p.key)}</td></tr>"
        )


def app_page(
    *, txn: str, csrf: str, client_name: str, scopes: Iterable[str], extra: Iterable[str],
    error: tuple[str, str] | None = None, done: tuple[str, str] | None = None,
) -> HTMLResponse:  # fmt: skip
    """The VNeID app as the citizen sees it after scanning: the request, approve or deny."""
    if done is not None:
        body = f'<h1 id="app-done">{escape(done[0])}</h1><p class="en">{escape(done[1])}</p>'
        return page("Ứng dụng VNeID / VNeID app", body)
    err = (
        f'<p class="err" role="alert" id="error">{escape(error[0])}<br>'
        f'<span class="en">{escape(error[1])}</span></p>'
        if error
        else ""
    )
    items = claim_items(["sub", *requested(scopes, extra)])
    body = f"""
<h1>Ứng dụng VNeID (mô phỏng)</h1><p class="en">VNeID app (simulated)</p>
<p>Dịch vụ <strong id="client-name">{escape(client_name)}</strong> yêu cầu đăng nhập và các
 thông tin sau / <span class="en">asks you to log in and to share:</span></p>
<ul id="claims">{items}</ul>{err}
<form method="post" action="app-simulator" id="app-form">
<input type="hidden" name="txn" value="{escape(txn)}">
<input type="hidden" name="csrf" value="{escape(csrf)}">
<fieldset><legend>Tài khoản trên điện thoại (mức độ 2) / Account on the phone (level 2)</legend>
<table><thead><tr><th></th><th>Họ tên / Name</th><th>Số định danh / PIN</th><th>Key</th></tr>
</thead><tbody>{"".join(_level2_rows())}</tbody></table>
<label for="pin">Hoặc số định danh / Or a PIN</label>
<input id="pin" name="pin" inputmode="numeric" pattern="[0-9]{{12}}"></fieldset>
<fieldset><legend>Mã bảo vệ / Passcode</legend>
<label for="passcode">Mã bảo vệ 6 số (mô phỏng: 6 số cuối của số định danh) /
 6-digit passcode (simulated: the last 6 digits of the PIN)</label>
<input id="passcode" name="passcode" type="password" inputmode="numeric" autocomplete="off">
</fieldset>
<button type="submit" name="decision" value="approve" id="approve">Xác nhận / Approve</button>
<button type="submit" name="decision" value="deny" id="deny">Từ chối / Deny</button>
</form>"""
    return page("Ứng dụng VNeID / VNeID app", body, status=400 if error else 200)

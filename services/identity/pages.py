"""Server-rendered pages of the provider: login, consent, errors, logout (Vietnamese + English).

Plain HTML, no JavaScript, no external assets; every field has a label and stable ``id``/``name``
attributes so a headless browser (or ``httpx``) can drive the pages. All values are escaped.
"""

from __future__ import annotations

from collections.abc import Iterable
from html import escape
from urllib.parse import urlsplit

from starlette.responses import HTMLResponse

from sim06.mock_registry import personas
from sim06.services.identity.claim_labels import claim_items
from sim06.services.identity.claims import requested

__all__ = [
    "consent_page",
    "error_page",
    "face_page",
    "hidden_fields",
    "login_page",
    "message_page",
    "page",
    "security_headers",
]

_STYLE = (
    "body{font-family:system-ui,sans-serif;max-width:46rem;margin:2rem auto;padding:0 1rem;"
    "color:#1b1b1b}h1{color:#a50e0e;font-size:1.5rem}fieldset{margin:1rem 0}"
    ".err{background:#fde8e8;border:1px solid #a50e0e;padding:.6rem}.en{color:#555}"
    "table{border-collapse:collapse}td,th{padding:.2rem .5rem;text-align:left}"
    "button{font-size:1rem;padding:.4rem 1rem;margin:.2rem}"
)


def security_headers(form_target: str | None = None) -> dict[str, str]:
    """CSP without scripts, no framing, no caching, no referrer (pages carry codes)."""
    form_action = "'self'"
    if form_target:  # a form submission that redirects to the client must be allowed
        parts = urlsplit(form_target)
        form_action += f" {parts.scheme}://{parts.netloc}"
    return {
        "Content-Security-Policy": (
            "default-src 'none'; style-src 'unsafe-inline'; base-uri 'none'; "
            f"frame-ancestors 'none'; form-action {form_action}"
        ),
        "X-Frame-Options": "DENY",
        "X-Content-Type-Options": "nosniff",
        "Referrer-Policy": "no-referrer",
        "Cache-Control": "no-store",
    }


def page(
    title: str, body: str, *, status: int = 200, form_target: str | None = None,
    refresh: int | None = None,
) -> HTMLResponse:  # fmt: skip
    """A complete page; ``refresh``: reload after that many seconds (polling without JS)."""
    meta = f'<meta http-equiv="refresh" content="{refresh}">' if refresh else ""
    html = (
        f'<!doctype html><html lang="vi"><head><meta charset="utf-8">{meta}'
        '<meta name="viewport" content="width=device-width,initial-scale=1">'
        f"<title>{escape(title)}</title><style>{_STYLE}</style></head><body>"
        f"<main>{body}</main>"
        '<footer><p class="en">sim06 — VNeID simulator, synthetic data only / '
        "trình mô phỏng, dữ liệu giả lập</p></footer></body></html>"
    )
    return HTMLResponse(html, status_code=status, headers=security_headers(form_target))


def hidden_fields(tx: str, csrf: str) -> str:
    return (
        f'<input type="hidden" name="tx" value="{escape(tx)}">'
        f'<input type="hidden" name="csrf" value="{escape(csrf)}">'
    )


def _persona_rows(query: str) -> Iterable[str]:
    q = query.strip().casefold()
    for p in personas.listed():
        name = p.name.full
        if q and q not in p.pin and q not in name.casefold() and q not in p.key:
            continue
        yield (
            f'<tr><td><input type="radio" name="persona" id="p-{escape(p.key)}" '
            f'value="{escape(p.pin)}"></td><td><label for="p-{escape(p.key)}">'
            f"{escape(name)}</label></td><td>{escape(p.pin)}</td><td>{escape(p.key)}</td>"
            f"<td>{p.eid_level or '—'}</td></tr>"
        )


def login_page(
    *, tx: str, csrf: str, client_name: str, required_level: int, query: str = "",
    error: tuple[str, str] | None = None, hint: str = "", redirect_uri: str | None = None,
    qr: bool = True,
) -> HTMLResponse:  # fmt: skip
    """Persona picker, PIN + 6-digit passcode, level choice with the simulated face check.

    ``redirect_uri``: where a submission may end up (cancel, remembered consent); browsers
    enforce the CSP ``form-action`` on the redirect too. ``qr``: offer the QR login with the
    VNeID app (domain §5.6 item 4)."""
    rows = "".join(_persona_rows(query))
    err = (
        f'<p class="err" role="alert" id="error">{escape(error[0])}<br>'
        f'<span class="en">{escape(error[1])}</span></p>'
        if error
        else ""
    )
    level2_checked = " checked" if required_level >= 2 else ""
    level1 = (
        ""
        if required_level >= 2
        else '<input type="radio" name="level" id="level-1" value="1" checked>'
        '<label for="level-1">Mức độ 1 / Level 1 (mã bảo vệ / passcode)</label><br>'
    )
    body = f"""
<h1>Đăng nhập bằng tài khoản định danh điện tử VNeID</h1>
<p class="en">Log in with your VNeID electronic identity</p>
<p>Dịch vụ yêu cầu / Service: <strong id="client-name">{escape(client_name)}</strong>
 — mức độ tối thiểu / minimum level: <strong id="required-level">{required_level}</strong></p>
{err}
<form method="get" action="login" role="search">
<input type="hidden" name="tx" value="{escape(tx)}">
<label for="q">Tìm theo số định danh hoặc họ tên / Search by PIN or name</label>
<input type="search" id="q" name="q" value="{escape(query)}">
<button type="submit">Tìm / Search</button>
</form>
<form method="post" action="login" id="login-form">
{hidden_fields(tx, csrf)}
<fieldset><legend>Chọn công dân thử nghiệm / Pick a test persona</legend>
<table><thead><tr><th></th><th>Họ tên / Name</th><th>Số định danh / PIN</th><th>Key</th>
<th>Mức / Level</th></tr></thead><tbody>{rows}</tbody></table></fieldset>
<fieldset><legend>Hoặc nhập số định danh / Or enter a PIN</legend>
<label for="pin">Số định danh cá nhân / Personal ID number</label>
<input id="pin" name="pin" inputmode="numeric" pattern="[0-9]{{10}}([0-9]{{2}})?"
 value="{escape(hint)}">
</fieldset>
<fieldset><legend>Mã bảo vệ / Passcode</legend>
<label for="passcode">Mã bảo vệ 6 số (mô phỏng: 6 số cuối của số định danh) /
 6-digit passcode (simulated: the last 6 digits of the PIN)</label>
<input id="passcode" name="passcode" type="password" inputmode="numeric" pattern="[0-9]{{6}}"
 autocomplete="off" required></fieldset>
<fieldset><legend>Mức độ xác thực / Assurance level</legend>
{level1}<input type="radio" name="level" id="level-2" value="2"{level2_checked}>
<label for="level-2">Mức độ 2 / Level 2 (mã bảo vệ + khuôn mặt / passcode + face)</label><br>
<input type="checkbox" name="face" id="face" value="match">
<label for="face">Mô phỏng xác thực khuôn mặt khớp (bắt buộc cho mức độ 2) /
 Simulate a matching face check (required for level 2)</label></fieldset>
<button type="submit" id="login">Đăng nhập / Log in</button>
<button type="submit" name="cancel" value="1" id="cancel">Hủy / Cancel</button>
</form>{_qr_offer(tx, csrf) if qr else ""}"""
    status = 400 if error else 200
    return page("Đăng nhập VNeID / VNeID login", body, status=status, form_target=redirect_uri)


def _qr_offer(tx: str, csrf: str) -> str:
    return f"""
<section aria-labelledby="qr-title"><h2 id="qr-title">Đăng nhập bằng ứng dụng VNeID</h2>
<p class="en">Log in with the VNeID app: scan a QR code with the app (level-2 accounts).</p>
<form method="post" action="qr/start" id="qr-form">{hidden_fields(tx, csrf)}
<button type="submit" id="qr-start">Hiện mã QR / Show the QR code</button></form></section>"""


def consent_page(
    *, tx: str, csrf: str, client_name: str, scopes: Iterable[str], extra: Iterable[str],
    citizen: str, redirect_uri: str,
) -> HTMLResponse:  # fmt: skip
    """The claims the client asks for, with allow and deny."""
    items = claim_items(["sub", *requested(scopes, extra)])
    body = f"""
<h1>Chia sẻ thông tin / Share your information</h1>
<p><strong id="citizen">{escape(citizen)}</strong>, dịch vụ
<strong id="client-name">{escape(client_name)}</strong> yêu cầu các thông tin sau /
<span class="en">the service asks for:</span></p>
<ul id="claims">{items}</ul>
<form method="post" action="consent">
{hidden_fields(tx, csrf)}
<button type="submit" name="decision" value="allow" id="allow">Đồng ý / Allow</button>
<button type="submit" name="decision" value="deny" id="deny">Từ chối / Deny</button>
</form>"""
    return page("Đồng ý chia sẻ / Consent", body, form_target=redirect_uri)


def face_page(
    *, tx: str, csrf: str, client_name: str, citizen: str, redirect_uri: str
) -> HTMLResponse:
    """Level-2 step-up of a level-1 session: the simulated face check (no camera here)."""
    body = f"""
<h1>Xác thực khuôn mặt / Face check</h1>
<p>Dịch vụ <strong id="client-name">{escape(client_name)}</strong> yêu cầu mức độ 2.
<span class="en">The service requires level 2.</span></p>
<p><strong id="citizen">{escape(citizen)}</strong>: nhìn vào camera của ứng dụng VNeID /
<span class="en">look into the VNeID app's camera (simulated).</span></p>
<form method="post" action="stepup" id="face-form">
{hidden_fields(tx, csrf)}
<button type="submit" name="face" value="match" id="face-match">
Khuôn mặt khớp / Face matches</button>
<button type="submit" name="face" value="mismatch" id="face-mismatch">
Khuôn mặt không khớp / Face does not match</button>
<button type="submit" name="cancel" value="1" id="cancel">Hủy / Cancel</button>
</form>"""
    return page("Xác thực khuôn mặt / Face check", body, form_target=redirect_uri)


def error_page(error: str, description: str, *, status: int = 400) -> HTMLResponse:
    """An error that must not go to the client (RFC 6749 §4.1.2.1) or ends the login."""
    body = (
        "<h1>Không thể đăng nhập / Cannot log in</h1>"
        f'<p class="err" role="alert">Lỗi / Error: <code id="error">{escape(error)}</code><br>'
        f'<span id="error-description">{escape(description)}</span></p>'
    )
    return page("Lỗi / Error", body, status=status)


def message_page(title_vi: str, title_en: str) -> HTMLResponse:
    """A plain notice (logged out, and the like)."""
    body = f'<h1>{escape(title_vi)}</h1><p class="en">{escape(title_en)}</p>'
    return page(f"{title_vi} / {title_en}", body)

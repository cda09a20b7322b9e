"""The citizen's own pages: remembered consents, and who looked at their data (vi + en)."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime
from html import escape
from typing import Any

from starlette.responses import HTMLResponse

from services.identity.claims import requested
from services.identity.pages import page

__all__ = ["access_log_page", "consents_page"]

_NAV = (
    '<nav><a href="/account/consents" id="nav-consents">Đồng ý đã lưu / Consents</a> · '
    '<a href="/account/access-log" id="nav-access-log">Nhật ký truy cập / Access log</a> · '
    '<a href="/logout" id="nav-logout">Đăng xuất / Log out</a></nav>'
)


def _when(epoch: int | None) -> str:
    if epoch is None:
        return "—"
    return datetime.fromtimestamp(epoch, UTC).strftime("%Y-%m-%d %H:%M UTC")


def consents_page(
    *, citizen: str, csrf: str, consents: Iterable[dict[str, Any]], notice: str | None = None
) -> HTMLResponse:
    """Each client the citizen consented to, with the data and a revoke button."""
    rows = []
    for c in consents:
        claims = ", ".join(requested(c["scopes"])) or "—"
        cid = escape(c["client_id"])
        rows.append(
            f'<tr id="consent-{cid}"><td>{escape(c["client_name"])}<br><code>{cid}</code></td>'
            f"<td><code>{escape(' '.join(c['scopes']))}</code><br><small>{escape(claims)}</small>"
            f"</td><td>{_when(c.get('at'))}</td><td>"
            f'<form method="post" action="/account/consents/revoke">'
            f'<input type="hidden" name="csrf" value="{escape(csrf)}">'
            f'<input type="hidden" name="client_id" value="{cid}">'
            f'<button type="submit" id="revoke-{cid}">Thu hồi / Revoke</button></form></td></tr>'
        )
    table = (
        "<table><thead><tr><th>Dịch vụ / Service</th><th>Phạm vi, thông tin / Scopes, data</th>"
        f"<th>Từ / Since</th><th></th></tr></thead><tbody>{''.join(rows)}</tbody></table>"
        if rows
        else '<p id="no-consents">Chưa có đồng ý nào được lưu. /'
        ' <span class="en">No remembered consents.</span></p>'
    )
    note = f'<p role="status" id="notice">{escape(notice)}</p>' if notice else ""
    body = f"""{_NAV}
<h1>Các dịch vụ đã được đồng ý chia sẻ thông tin</h1>
<p class="en">Services you allowed to receive your data, <strong id="citizen">{escape(citizen)}
</strong>. Revoking one makes the service ask again at your next login.</p>{note}{table}"""
    return page("Đồng ý đã lưu / Remembered consents", body)


def _options(name: str, values: Iterable[tuple[str, str]], chosen: str) -> str:
    opts = ['<option value="">Tất cả / All</option>']
    for value, label in values:
        selected = " selected" if value == chosen else ""
        opts.append(f'<option value="{escape(value)}"{selected}>{escape(label)}</option>')
    return f'<select id="{name}" name="{name}">{"".join(opts)}</select>'


def _action(access: dict[str, Any]) -> str:
    """What happened, Vietnamese then English (the operation if the gateway says nothing)."""
    vi = access.get("action_vi") or access.get("operation") or "—"
    en = access.get("action") or ""
    return f'{escape(vi)}<br><small class="en">{escape(en)}</small>' if en else escape(vi)


def access_log_page(
    *, citizen: str, accesses: list[dict[str, Any]], filters: dict[str, str],
    agencies: Iterable[tuple[str, str]], purposes: Iterable[str], error: str | None = None,
    status: int = 200,
) -> HTMLResponse:  # fmt: skip
    """Who looked at the citizen's data through the gateway (Estonia's Data Tracker idea), and
    which civil-status registrations changed it: each entry says what happened (``action_vi`` /
    ``action`` of the gateway's log)."""
    rows = "".join(
        f'<tr class="access" data-operation="{escape(a.get("operation") or "")}">'
        f"<td>{escape(a['ts'][:19].replace('T', ' '))} UTC</td>"
        f'<td class="action">{_action(a)}</td>'
        f"<td>{escape(a.get('agency_name_vi') or a['agency'])}<br>"
        f"<small>{escape(a.get('agency_name') or '')} <code>{escape(a['agency'])}</code>"
        "</small></td>"
        f"<td><code>{escape(a.get('officer') or '—')}</code></td>"
        f"<td><code>{escape(a.get('procedure') or '—')}</code></td>"
        f"<td>{escape(a.get('purpose') or '—')}</td><td>{escape(a.get('legal_basis') or '—')}</td>"
        f"<td>{escape(', '.join(a.get('fields') or []))}</td></tr>"
        for a in accesses
    )
    table = (
        '<table id="accesses"><thead><tr><th>Thời gian / Time</th>'
        "<th>Hoạt động / Action</th><th>Cơ quan / Agency</th>"
        "<th>Cán bộ / Officer</th><th>Thủ tục / Procedure</th><th>Mục đích / Purpose</th>"
        "<th>Căn cứ pháp lý / Legal basis</th><th>Thông tin / Fields</th></tr></thead>"
        f"<tbody>{rows}</tbody></table>"
        if accesses
        else '<p id="no-accesses">Không có lượt truy cập nào. / <span class="en">No one'
        " accessed your data in this period.</span></p>"
    )
    err = f'<p class="err" role="alert" id="error">{escape(error)}</p>' if error else ""
    body = f"""{_NAV}
<h1>Ai đã xem thông tin của tôi?</h1>
<p class="en">Who looked at my data, <strong id="citizen">{escape(citizen)}</strong>: every
 lookup an agency made through the data-sharing gateway, and every civil-status registration
 (birth, death, residence, marriage, divorce, correction) that changed my record. Lookups of a
 covert investigation appear once their secrecy period ends.</p>
<form method="get" action="/account/access-log" id="filters">
<label for="since">Từ ngày / From</label>
<input type="date" id="since" name="since" value="{escape(filters.get("since", ""))}">
<label for="until">Đến ngày / Until</label>
<input type="date" id="until" name="until" value="{escape(filters.get("until", ""))}">
<label for="agency">Cơ quan / Agency</label>
{_options("agency", agencies, filters.get("agency", ""))}
<label for="purpose">Mục đích / Purpose</label>
{_options("purpose", ((p, p) for p in purposes), filters.get("purpose", ""))}
<button type="submit" id="filter">Lọc / Filter</button></form>{err}
<p>Số lượt / Count: <strong id="count">{len(accesses)}</strong></p>{table}"""
    return page("Nhật ký truy cập / Access log", body, status=status)

"""The citizen's own pages: remembered consents, and who looked at their data (vi + en)."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime, timedelta, timezone
from html import escape
from typing import Any
from urllib.parse import urlencode

from starlette.responses import HTMLResponse

from sim06.services.identity.claim_labels import claim_items
from sim06.services.identity.claims import requested
from sim06.services.identity.pages import page

__all__ = ["access_log_page", "consents_page"]

_NAV = (
    '<nav><a href="/account/consents" id="nav-consents">Đồng ý đã lưu / Consents</a> · '
    '<a href="/account/access-log" id="nav-access-log">Nhật ký truy cập / Access log</a> · '
    '<a href="/logout" id="nav-logout">Đăng xuất / Log out</a></nav>'
)


# Vietnam has kept UTC+7 without daylight saving since 1975: a fixed offset is exact for every
# record and needs no time-zone database on the host.
VIETNAM = timezone(timedelta(hours=7), "Asia/Ho_Chi_Minh")
PAGE_SIZE = 50  # access-log entries per page


def _when(epoch: int | None) -> str:
    if epoch is None:
        return "—"
    return datetime.fromtimestamp(epoch, VIETNAM).strftime("%Y-%m-%d %H:%M (UTC+7)")


def _local(ts: str) -> str:
    """An RFC 3339 UTC instant of the gateway as Vietnam's wall-clock time, to the second."""
    try:
        moment = datetime.fromisoformat(ts)
    except ValueError:
        return ts  # shown as the gateway wrote it rather than not at all
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(VIETNAM).strftime("%Y-%m-%d %H:%M:%S")


def consents_page(
    *, citizen: str, csrf: str, consents: Iterable[dict[str, Any]], notice: str | None = None
) -> HTMLResponse:
    """Each client the citizen consented to, with the data and a revoke button."""
    rows = []
    for c in consents:
        names = requested(c["scopes"])
        claims = (
            f'<details><summary>{len(names)} thông tin / <span class="en">items</span>'
            f"</summary><ul>{claim_items(names)}</ul></details>"
            if names
            else "—"
        )
        cid = escape(c["client_id"])
        rows.append(
            f'<tr id="consent-{cid}"><td>{escape(c["client_name"])}<br><code>{cid}</code></td>'
            f"<td><code>{escape(' '.join(c['scopes']))}</code><br>{claims}"
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


_EVIDENCE = """
<p id="evidence"><a href="/account/access-log/evidence.json" download>Tải bằng chứng (JSON) /
 <span class="en">Download the evidence (JSON)</span></a>: mỗi lượt kèm bằng chứng nằm trong
 nhật ký kiểm toán đã ký của hệ thống. / <span class="en">each entry with its proof of
 inclusion in the gateway's signed audit log; check it offline with
 <code>scripts/verify_access_proof.py</code> and the gateway's
 <code>/.well-known/audit-jwks.json</code>.</span></p>"""


def access_log_page(
    *, citizen: str, accesses: list[dict[str, Any]], filters: dict[str, str],
    agencies: Iterable[tuple[str, str]], purposes: Iterable[str], error: str | None = None,
    status: int = 200, page_number: int = 1,
) -> HTMLResponse:  # fmt: skip
    """Who looked at the citizen's data through the gateway (Estonia's Data Tracker idea), and
    which civil-status registrations changed it: each entry says what happened (``action_vi`` /
    ``action`` of the gateway's log). Newest first, :data:`PAGE_SIZE` a page, Vietnam time."""
    total = len(accesses)
    pages = max(1, -(-total // PAGE_SIZE))
    page_number = min(max(1, page_number), pages)
    start = (page_number - 1) * PAGE_SIZE
    shown = list(reversed(accesses))[start : start + PAGE_SIZE]
    rows = "".join(
        f'<tr class="access" data-operation="{escape(a.get("operation") or "")}">'
        f'<td><time datetime="{escape(a["ts"])}">{escape(_local(a["ts"]))}</time></td>'
        f'<td class="action">{_action(a)}</td>'
        f"<td>{escape(a.get('agency_name_vi') or a['agency'])}<br>"
        f"<small>{escape(a.get('agency_name') or '')} <code>{escape(a['agency'])}</code>"
        "</small></td>"
        f"<td><code>{escape(a.get('officer') or '—')}</code></td>"
        f"<td><code>{escape(a.get('procedure') or '—')}</code></td>"
        f"<td>{escape(a.get('purpose') or '—')}</td><td>{escape(a.get('legal_basis') or '—')}</td>"
        f"<td>{escape(', '.join(a.get('fields') or []))}</td></tr>"
        for a in shown
    )
    table = (
        '<table id="accesses"><thead><tr><th>Thời gian (giờ Việt Nam, UTC+7) / '
        '<span class="en">Time (Vietnam, UTC+7)</span></th>'
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
<p>Số lượt / Count: <strong id="count">{total}</strong></p>{table}{_EVIDENCE if accesses else ""}
{_pager(filters, page_number, pages, start, len(shown), total)}"""
    return page("Nhật ký truy cập / Access log", body, status=status)


def _pager(
    filters: dict[str, str], number: int, pages: int, start: int, shown: int, total: int
) -> str:
    """Newer / older links that keep the filters (nothing when everything fits on one page)."""
    if pages <= 1:
        return ""

    def link(to: int, rel: str, text: str) -> str:
        query = escape(urlencode({**{k: v for k, v in filters.items() if v}, "page": to}))
        return f'<a href="/account/access-log?{query}" rel="{rel}" id="page-{rel}">{text}</a>'

    parts = [
        f'<span id="page-info">{start + 1}–{start + shown} / {total} · trang {number}/{pages}'
        f' / <span class="en">page {number} of {pages}</span></span>'
    ]
    if number > 1:
        parts.insert(0, link(number - 1, "prev", "← Mới hơn / Newer"))
    if number < pages:
        parts.append(link(number + 1, "next", "Cũ hơn / Older →"))
    return f'<nav id="pager">{" · ".join(parts)}</nav>'

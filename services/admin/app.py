"""Admin console (bảng điều khiển): ``create_app(settings, controller, services)`` (port 8004).

A server-rendered page, in Vietnamese and English, showing the services, the current latency
profile and fault, the request journal (last exchanges with latency), p50/p95/p99 per route and
the admission control of each service of the process (limit, units in use, refusals), with a
form to change the profile and fault. It changes the :class:`FaultController` shared by the
services of the same process (``sim06 up``); each service also offers ``PUT /__sim06/faults``.
"""

from __future__ import annotations

import hmac
import secrets
from datetime import datetime
from html import escape
from urllib.parse import parse_qs

from fastapi import FastAPI, Request
from pydantic import ValidationError
from starlette.responses import HTMLResponse, RedirectResponse, Response

from sim06.services.common.admission import install_admission, live_controllers
from sim06.services.common.faults import (
    FaultController,
    FaultUpdate,
    InvalidOverride,
    SharedStateUnavailable,
)
from sim06.services.common.http import install_problem_handlers
from sim06.services.common.latency import FAULT_KINDS
from sim06.services.common.observability import FASTAPI_OPTIONS, install_observability
from sim06.services.common.problems import ProblemError
from sim06.services.common.settings import Settings

STYLE = ("body{font-family:system-ui,sans-serif;margin:2rem;max-width:70rem}table{border-collapse:"
         "collapse;margin:.5rem 0 1.5rem}td,th{border:1px solid #ccc;padding:.2rem .5rem}"
         ".err{color:#a00}.on{color:#a00;font-weight:bold}label{margin-right:1rem}")  # fmt: skip


def _options(values: list[str], current: str | None) -> str:
    return "".join(
        f'<option value="{escape(v)}"{" selected" if v == (current or "") else ""}>'
        f"{escape(v or '— không / none —')}</option>"
        for v in values
    )


def admission_rows() -> str:
    """One table row per admission controller of this process (``sim06 up``: every service)."""
    rows = []
    for name, ctl in live_controllers().items():
        snap = ctl.snapshot()
        state = "" if snap["enabled"] else " (tắt / off)"
        rows.append(
            f"<tr><td>{escape(name)}{state}</td><td>{snap['limit']}</td><td>{snap['in_use']}</td>"
            f"<td>{snap['in_flight']}</td><td>{snap['admitted']}</td>"
            f"<td>{snap['shed']['overload']}</td><td>{snap['shed']['agency_share']}</td>"
            f"<td>{snap['event_loop_delay_ms']:.1f}</td>"
            f"<td>{snap['queued']} / {snap['queue_cap']}</td></tr>"
        )
    return "".join(rows)


def render(
    controller: FaultController, services: dict[str, str], csrf: str, error: str = ""
) -> str:
    """The console page."""
    state = controller.snapshot()
    rows = "".join(f"<tr><td>{escape(n)}</td><td><a href='{escape(u)}/docs'>{escape(u)}</a></td>"
                   "</tr>" for n, u in services.items())  # fmt: skip
    fault = state["fault"]
    journal = "".join(
        f"<tr><td>{datetime.fromtimestamp(e.at).strftime('%H:%M:%S')}</td><td>{e.service}</td>"
        f"<td>{escape(e.method)} {escape(e.path)}</td><td>{e.status}</td><td>{e.ms:.1f}</td>"
        f"<td>{escape(e.profile)}</td><td>{escape(e.fault or '')}</td></tr>"
        for e in controller.recent(30)
    )
    stats = "".join(
        f"<tr><td>{r['service']}</td><td>{escape(r['route'])}</td><td>{r['count']}</td>"
        f"<td>{r['p50']:.1f}</td><td>{r['p95']:.1f}</td><td>{r['p99']:.1f}</td></tr>"
        for r in controller.percentiles()
    )
    admission = admission_rows()
    return f"""<!doctype html><html lang="vi"><head><meta charset="utf-8">
<title>sim06 — Bảng điều khiển / Admin console</title><style>{STYLE}</style></head><body>
<h1>sim06 — Bảng điều khiển / Admin console</h1>
<p>Dữ liệu tổng hợp, chỉ để thử nghiệm. / Synthetic data, for testing only.</p>
{f'<p class="err" id="error">{escape(error)}</p>' if error else ""}
<h2>Dịch vụ / Services</h2><table><tr><th>Tên / Name</th><th>URL</th></tr>{rows}</table>
<h2>Trạng thái hiện tại / Current state</h2>
<p>Hồ sơ độ trễ / Latency profile: <strong id="current-profile">{escape(state["profile"])}</strong>
 — Lỗi giả lập / Fault: <strong id="current-fault" class="{"on" if fault else ""}">{
        escape(fault or "không / none")
    }</strong> (tỉ lệ / rate {state["rate"]:g}; dịch vụ / services:
 {escape(", ".join(state["services"]) or "tất cả / all")}; seed {state["seed"]})</p>
<form method="post" action="/faults">
<input type="hidden" name="csrf" value="{csrf}">
<label>Hồ sơ độ trễ / Profile <select name="profile" id="profile">{
        _options(list(state["profiles"]), state["profile"])
    }</select></label>
<label>Lỗi / Fault <select name="fault" id="fault">{
        _options(["", *FAULT_KINDS], fault)
    }</select></label>
<label>Tỉ lệ / Rate <input name="rate" id="rate" value="{state["rate"]:g}" size="4"></label>
<label>Dịch vụ / Services <input name="services" id="services" value="{
        escape(",".join(state["services"]))
    }" placeholder="gateway,registry"></label>
<button type="submit" id="apply">Áp dụng / Apply</button></form>
<h2>Nhật ký yêu cầu / Request journal</h2>
<table id="journal"><tr><th>Giờ / Time</th><th>Dịch vụ / Service</th><th>Yêu cầu / Request</th>
<th>Mã / Status</th><th>ms</th><th>Hồ sơ / Profile</th><th>Lỗi / Fault</th></tr>{journal}</table>
<h2>Kiểm soát tiếp nhận / Admission control</h2>
<table id="admission"><tr><th>Dịch vụ / Service</th><th>Giới hạn / Limit</th>
<th>Đang dùng / In use</th><th>Đang xử lý / In flight</th><th>Nhận / Admitted</th>
<th>Từ chối 503 / Shed 503</th><th>Từ chối 429 / Shed 429</th>
<th>Trễ vòng lặp / Loop delay (ms)</th>
<th>Hàng đợi / Queued (of the cap)</th></tr>{admission}</table>
<h2>Phân vị độ trễ / Latency percentiles (ms)</h2>
<table><tr><th>Dịch vụ</th><th>Route</th><th>n</th><th>p50</th><th>p95</th><th>p99</th></tr>
{stats}</table>
<p>Hồ sơ độ trễ là giả định, không phải số liệu chính thức. / Profiles are assumptions, not
official figures.</p></body></html>"""


def create_app(
    settings: Settings, controller: FaultController, services: dict[str, str] | None = None
) -> FastAPI:
    """The console over ``controller``; ``services`` maps names to base URLs for the listing."""
    csrf = secrets.token_urlsafe(24)
    known = services or {
        "gateway": f"http://{settings.host}:{settings.gateway_port}",
        "registry": f"http://{settings.host}:{settings.registry_port}",
        "identity": f"http://{settings.host}:{settings.identity_port}",
        "procedures": f"http://{settings.host}:{settings.procedures_port}",
    }
    app = FastAPI(
        title="sim06 admin console", version="1.0.0", docs_url=None, redoc_url=None,
        **FASTAPI_OPTIONS,
    )  # fmt: skip
    install_problem_handlers(app)

    @app.get("/", include_in_schema=False)
    async def page() -> Response:
        return HTMLResponse(render(controller, known, csrf))

    @app.post("/faults", include_in_schema=False)
    async def change(request: Request) -> Response:
        raw = await request.body()
        if len(raw) > 4096:
            raise ProblemError("PAYLOAD_TOO_LARGE", "The form is too large.")
        form = {k: v[0] for k, v in parse_qs(raw.decode("utf-8", "replace")).items()}
        if not hmac.compare_digest(form.get("csrf", ""), csrf):
            raise ProblemError("VALIDATION_FAILED", "Reload the console: the form token is stale.")
        services_field = [s.strip() for s in form.get("services", "").split(",") if s.strip()]
        try:
            update = FaultUpdate(
                profile=form.get("profile") or None,
                fault=form.get("fault") or None,  # type: ignore[arg-type]
                rate=float(form.get("rate") or 1.0),
                services=services_field,
            )
            controller.update(update)
        except (ValidationError, InvalidOverride, ValueError, SharedStateUnavailable) as exc:
            message = str(exc).splitlines()[0]
            return HTMLResponse(render(controller, known, csrf, message), status_code=422)
        return RedirectResponse("/", status_code=303)

    @app.get("/healthz", include_in_schema=False)
    async def healthz() -> Response:
        return Response(b'{"status":"ok"}', media_type="application/json")

    install_admission(app, settings, "admin")
    install_observability(app, settings, service="admin")  # last: wraps every layer
    return app


__all__ = ["create_app", "render"]

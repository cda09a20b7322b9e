"""Admission control: cost units, refusals (503/429 + Retry-After), never-shed paths, metrics."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI, Request
from prometheus_client import REGISTRY
from starlette.responses import Response

from sim06.services.common.admission import (
    TICK_S,
    Admission,
    BodyCost,
    install_admission,
)
from sim06.services.common.admission_limit import GradientLimit
from sim06.services.common.settings import Settings

pytestmark = pytest.mark.anyio


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


def adm_settings(tmp_path: Path, limit: int = 40, **overrides: Any) -> Settings:
    """Settings of a service whose limit stays at ``limit`` (min = max) unless overridden."""
    values: dict[str, Any] = {
        "admission_initial_limit": limit,
        "admission_min_limit": limit,
        "admission_max_limit": limit,
        "gateway_embedded": True,
    } | overrides
    return Settings(data_dir=tmp_path, **values)


def fix(ctl: Admission, limit: int) -> None:
    """Hold ``ctl`` at ``limit`` (the timer's updates keep it there)."""
    g = ctl.gradient
    g.limit, g.minimum, g.maximum, ctl.limit = limit, limit, limit, limit


def spin(seconds: float) -> None:
    """Synchronous work for ``seconds`` (the loop cannot run meanwhile)."""
    end = time.perf_counter() + seconds
    while time.perf_counter() < end:
        pass


def mini_app(settings: Settings, *, keyed: bool = False, name: str = "mini") -> FastAPI:
    """A service with a slow awaiting route, CPU-bound routes (20 ms, a tenth of a tick) and a
    batch route."""
    app = FastAPI()
    release = asyncio.Event()
    app.state.release = release

    @app.get("/slow")
    async def slow() -> Response:
        await release.wait()
        return Response(b"{}", media_type="application/json")

    @app.get("/burn")
    async def burn() -> Response:
        spin(0.02)  # synchronous work, as a large batch is
        return Response(b"{}", media_type="application/json")

    @app.get("/step")
    async def step() -> Response:
        spin(TICK_S / 10)
        return Response(b"{}", media_type="application/json")

    @app.post("/batch")
    async def batch(request: Request) -> Response:
        await request.body()
        return Response(b"{}", media_type="application/json")

    @app.get("/healthz")
    async def healthz() -> Response:
        return Response(b'{"status":"ok"}', media_type="application/json")

    install_admission(
        app,
        settings,
        name,
        costs={("POST", "/batch"): BodyCost(10, 100)},
        key_header="x-road-client" if keyed else None,
    )
    return app


@pytest.fixture
async def mini(tmp_path: Path) -> AsyncIterator[tuple[FastAPI, httpx.AsyncClient]]:
    app = mini_app(adm_settings(tmp_path))
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://mini") as client:
        yield app, client


def controller(limit: int = 40, **kwargs: Any) -> Admission:
    return Admission("unit", GradientLimit(limit=limit, minimum=1, maximum=10_000), **kwargs)


# --- cost units -----------------------------------------------------------------------------


def test_body_cost_counts_units_from_the_declared_length() -> None:
    cost = BodyCost(64, 1000)
    scope: dict[str, Any] = {"headers": [(b"content-length", b"6400")]}
    assert cost(scope) == 101
    assert cost({"headers": [(b"content-length", b"10")]}) == 1
    assert cost({"headers": [(b"content-length", b"9999999")]}) == 1000  # at most the ceiling
    assert cost({"headers": [(b"content-length", b"x")]}) == 1  # the body limit answers it
    assert cost({"headers": []}) == 1000  # chunked: the worst case


def test_a_route_costs_one_unless_it_declares_more() -> None:
    ctl = controller(costs={("POST", "/batch"): BodyCost(10, 100)})
    batch = {"method": "POST", "path": "/batch", "headers": [(b"content-length", b"500")]}
    assert ctl.cost(batch) == 51
    assert ctl.cost({"method": "GET", "path": "/batch", "headers": []}) == 1
    assert ctl.cost({"method": "POST", "path": "/other", "headers": []}) == 1


async def test_units_in_use_bound_admission_and_are_freed_on_the_next_tick() -> None:
    ctl = controller(limit=10)
    charges = [ctl.admit(1, None) for _ in range(12)]
    assert charges == [1] * 10 + [-503, -503]
    for _ in range(10):
        ctl.finish(1, 1, None, time.monotonic())
    assert ctl.admit(1, None) == -503  # finished in this turn of the loop: still in use
    await asyncio.sleep(TICK_S * 3)
    assert ctl.used == 0 and ctl.admit(1, None) == 1
    assert ctl.refused[503] == 3 and ctl.admitted == 11


async def test_a_large_request_runs_but_leaves_room_for_single_ones() -> None:
    ctl = controller(limit=100)
    assert ctl.admit(1000, None) == 50  # counts as half the limit
    assert ctl.admit(30, None) == -503  # multi-unit requests stop at three quarters
    assert [ctl.admit(1, None) for _ in range(50)] == [1] * 50  # single ones fill the rest
    assert ctl.admit(1, None) == -503


async def test_an_oversized_request_is_admitted_on_an_idle_service() -> None:
    ctl = controller(limit=1)
    assert ctl.admit(500, None) == 1
    assert ctl.admit(1, None) == -503


def behind(ctl: Admission, seconds: float, cpu: float | None = None) -> None:
    """Make ``ctl``'s timer ``seconds`` late, of which ``cpu`` (default: all) spent working."""
    ctl.due = time.monotonic() - seconds
    ctl.due_cpu = time.thread_time() - (seconds if cpu is None else cpu)


async def test_a_late_event_loop_refuses_before_the_units_run_out() -> None:
    ctl = controller(limit=100)  # target 10 ms: multi-unit requests wait at most that
    assert ctl.admit(10, None) == 10
    behind(ctl, 0.02)  # the loop is 20 ms behind
    assert ctl.admit(5, None) == 5  # under a quarter of the limit in use: a lone slow request
    assert ctl.admit(10, None) == 10
    assert ctl.admit(2, None) == -503  # a quarter in use, 20 ms behind: multi-unit refused
    assert ctl.admit(1, None) == 1  # single requests until 4 targets behind
    behind(ctl, 0.06)
    assert ctl.admit(1, None) == -503


async def test_time_given_to_other_processes_is_not_a_queue() -> None:
    ctl = controller(limit=100)
    assert ctl.admit(30, None) == 30
    behind(ctl, 0.5, cpu=0.001)  # 500 ms late, but the loop worked 1 ms of it: descheduled
    assert ctl.admit(2, None) == 2 and ctl.admit(1, None) == 1


async def test_an_agency_alone_may_use_it_all_but_holds_a_share_once_others_come() -> None:
    ctl = controller(limit=100, agency_share=0.5)
    assert [ctl.admit(1, "A") for _ in range(80)] == [1] * 80  # alone: the whole limit
    assert ctl.admit(1, "B") == 1  # a newcomer finds room
    assert ctl.admit(1, "A") == -429  # A holds more than its half while B wants room
    # B may take its half even past the limit (A holds more than a share) ...
    assert [ctl.admit(1, "B") for _ in range(49)] == [1] * 49
    assert ctl.admit(1, "B") == -429  # ... and no more
    assert ctl.used == 130  # at most the limit plus one share
    assert ctl.admit(1, None) == -503  # unkeyed requests see a full service
    assert ctl.refused == {503: 1, 429: 2}


# --- the middleware -------------------------------------------------------------------------


async def test_refusal_is_problem_json_with_retry_after(
    mini: tuple[FastAPI, httpx.AsyncClient],
) -> None:
    app, client = mini
    ctl: Admission = app.state.admission
    fix(ctl, 2)
    slow = [asyncio.create_task(client.get("/slow")) for _ in range(2)]
    await asyncio.sleep(0.01)
    started = time.perf_counter()
    r = await asyncio.wait_for(client.get("/slow"), 5)  # a wrong admission would hang
    assert time.perf_counter() - started < 0.05  # answered at once, not queued
    assert r.status_code == 503
    assert r.headers["retry-after"] == "1"
    assert r.headers["content-type"] == "application/problem+json"
    body = r.json()
    assert body["code"] == "SERVICE_OVERLOADED" and body["status"] == 503
    assert body["title_vi"] and body["instance"] == "/slow"
    app.state.release.set()
    assert [t.status_code for t in await asyncio.gather(*slow)] == [200, 200]


@pytest.mark.parametrize(
    "path", ["/healthz", "/readyz", "/metrics", "/__sim06/state", "/docs", "/openapi.json"]
)
async def test_health_admin_and_docs_are_never_shed(
    mini: tuple[FastAPI, httpx.AsyncClient], path: str
) -> None:
    app, client = mini
    ctl: Admission = app.state.admission
    fix(ctl, 1)
    held = asyncio.create_task(client.get("/slow"))
    await asyncio.sleep(0.01)
    assert (await asyncio.wait_for(client.get("/slow"), 5)).status_code == 503
    assert (await client.get(path)).status_code != 503
    app.state.release.set()
    await held


async def test_batch_costs_by_declared_size(mini: tuple[FastAPI, httpx.AsyncClient]) -> None:
    app, client = mini
    ctl: Admission = app.state.admission
    held = [asyncio.create_task(client.get("/slow")) for _ in range(12)]  # 12 units of 40
    await asyncio.sleep(0.01)
    assert (await client.post("/batch", content=b"x" * 50)).status_code == 200  # 6 units
    # 91 units count as half the limit (20): 12 + 6 + 20 > 3/4 of 40, refused ...
    assert (await client.post("/batch", content=b"x" * 900)).status_code == 503
    assert (await client.get("/healthz")).status_code == 200
    # ... while single requests still find room.
    assert ctl.admit(1, None) == 1
    ctl.finish(1, 1, None, time.monotonic())
    assert ctl.snapshot()["shed"] == {"overload": 1, "agency_share": 0}
    app.state.release.set()
    await asyncio.gather(*held)


async def test_snapshot_endpoint(mini: tuple[FastAPI, httpx.AsyncClient]) -> None:
    _, client = mini
    await client.get("/healthz")
    r = await client.get("/__sim06/admission")
    assert r.status_code == 200
    snap = r.json()
    assert snap["service"] == "mini" and snap["limit"] == 40 and snap["max_limit"] == 40
    assert set(snap) >= {"in_flight", "in_use", "admitted", "shed", "event_loop_delay_ms"}
    assert (await client.put("/__sim06/admission")).status_code == 405


async def test_snapshot_needs_the_admin_token_outside_the_demo(tmp_path: Path) -> None:
    token = "a-long-admin-token-for-tests"
    settings = adm_settings(tmp_path, gateway_embedded=False, gateway_admin_token=token)
    app = mini_app(settings)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://mini") as client:
        assert (await client.get("/__sim06/admission")).status_code == 401
        auth = {"Authorization": f"Bearer {token}"}
        assert (await client.get("/__sim06/admission", headers=auth)).status_code == 200


async def test_disabled_admits_everything(tmp_path: Path) -> None:
    app = mini_app(adm_settings(tmp_path, limit=1, admission=False))
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://mini") as client:
        held = [asyncio.create_task(client.get("/slow")) for _ in range(5)]
        await asyncio.sleep(0.01)
        assert (await client.get("/burn")).status_code == 200
        app.state.release.set()
        assert {r.status_code for r in await asyncio.gather(*held)} == {200}


async def test_a_flood_of_synchronous_work_is_shed_while_health_answers(tmp_path: Path) -> None:
    """60 queued requests of 20 ms of synchronous work each (1.2 s in all): most are refused
    at once, and /healthz queued behind them answers within a fraction of that."""
    settings = adm_settings(tmp_path, limit=4, admission_max_limit=1000)
    app = mini_app(settings)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://mini") as client:
        started = time.perf_counter()
        flood = [asyncio.create_task(client.get("/burn")) for _ in range(60)]
        health = asyncio.create_task(client.get("/healthz"))
        answer = await health
        health_s = time.perf_counter() - started
        statuses = [r.status_code for r in await asyncio.gather(*flood)]
    assert answer.status_code == 200
    assert health_s < 0.6, health_s
    assert statuses.count(503) >= 40 and statuses.count(200) >= 1


async def test_agency_flood_does_not_starve_another_agency(tmp_path: Path) -> None:
    app = mini_app(adm_settings(tmp_path, limit=20), keyed=True)
    transport = httpx.ASGITransport(app=app)

    def send(agency: str, n: int) -> list[asyncio.Task[httpx.Response]]:
        headers = {"X-Road-Client": agency}
        return [asyncio.create_task(client.get("/slow", headers=headers)) for _ in range(n)]

    async with httpx.AsyncClient(transport=transport, base_url="http://mini") as client:
        a = send("A", 15)  # alone: admitted
        await asyncio.sleep(0.02)
        b = send("B", 5)
        await asyncio.sleep(0.02)
        a += send("A", 10)  # over its share (10 of 20) while B holds units: 429
        await asyncio.sleep(0.02)
        b += send("B", 5)  # B's share, past the limit while A holds more than a share
        await asyncio.sleep(0.02)
        app.state.release.set()
        a_status = [r.status_code for r in await asyncio.gather(*a)]
        b_status = [r.status_code for r in await asyncio.gather(*b)]
        await asyncio.sleep(TICK_S * 3)  # the next tick frees the finished units
        later = await asyncio.wait_for(client.get("/burn", headers={"X-Road-Client": "A"}), 5)
    assert b_status == [200] * 10
    assert a_status == [200] * 15 + [429] * 10
    assert later.status_code == 200  # released: A may go on
    assert app.state.admission.snapshot()["shed"] == {"overload": 0, "agency_share": 10}


async def test_metrics_are_read_from_the_controllers(
    mini: tuple[FastAPI, httpx.AsyncClient],
) -> None:
    app, client = mini
    ctl: Admission = app.state.admission
    fix(ctl, 1)
    held = asyncio.create_task(client.get("/slow"))
    await asyncio.sleep(0.01)
    await asyncio.wait_for(client.get("/slow"), 5)
    labels = {"service": "mini"}
    assert REGISTRY.get_sample_value("sim06_admission_limit", labels) == 1
    assert REGISTRY.get_sample_value("sim06_admission_inflight", labels) == 1
    assert REGISTRY.get_sample_value("sim06_admission_queue_cap", labels) == ctl.queue_cap
    assert REGISTRY.get_sample_value("sim06_admission_queued", labels) == 0  # no protocol here
    shed = REGISTRY.get_sample_value("sim06_admission_shed_total", labels | {"reason": "overload"})
    assert shed == 1
    app.state.release.set()
    await held


async def test_the_admin_console_shows_each_service(tmp_path: Path) -> None:
    from sim06.services.admin import create_app as create_console
    from sim06.services.common.faults import FaultController

    settings = adm_settings(tmp_path)
    service = mini_app(settings, name="console-test")
    fix(service.state.admission, 1)
    assert service.state.admission.admit(1, None) == 1
    assert service.state.admission.admit(1, None) == -503
    console = create_console(settings, FaultController.from_settings(settings), {})
    transport = httpx.ASGITransport(app=console)
    async with httpx.AsyncClient(transport=transport, base_url="http://admin") as client:
        page = (await client.get("/")).text
    assert "Admission control" in page and 'id="admission"' in page
    row = page.split("<td>console-test</td>", 1)[1].split("</tr>", 1)[0]
    assert row.startswith("<td>1</td><td>1</td><td>1</td><td>1</td><td>1</td><td>0</td>")
    cap = service.state.admission.queue_cap
    assert row.endswith(f"<td>0 / {cap}</td>")  # the HTTP protocol's queue: none in process


async def test_a_client_that_never_yields_is_never_refused(tmp_path: Path) -> None:
    """An in-process client calling one request after another, seldom yielding to the loop
    (the timer runs late or not at all): it never has two requests out, so nothing is refused.
    Its finished units stay in use until the timer runs; a limit's worth of these requests
    outlasts a tick on any machine, so when the units run out the timer is overdue and the
    second look finds no queue. (Requests faster than that, more than the limit within one
    tick, are refused: the limit bounds the work done in one turn of the loop.)"""
    app = mini_app(adm_settings(tmp_path, limit=20))
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://mini") as client:
        statuses = [(await client.get("/step")).status_code for _ in range(200)]
    assert statuses.count(200) == 200
    assert app.state.admission.snapshot()["shed"] == {"overload": 0, "agency_share": 0}

"""The registry's express lane: lookups answered before the middleware stack only while every
layer of it is idle, with the same answer, metrics, fault journal and admission accounting as
the stack (services/registry/express.py)."""

from __future__ import annotations

import re
import socket
from collections.abc import AsyncIterator, Callable
from typing import Any

import httpx
import pytest

from sim06.services.common.admission import PRECHARGED, Admission
from sim06.services.common.admission_http import AdmissionHttpProtocol
from sim06.services.common.fault_middleware import install_faults
from sim06.services.common.faults import FAULT_HEADER
from sim06.services.common.settings import Settings
from sim06.services.registry.app import create_app
from sim06.services.registry.express import RegistryApp
from tests.services.common.live import live_server
from tests.services.common.test_admission_services import freeze
from tests.services.common.test_metrics import PIN_ROUTE, requests, scrape, timed

pytestmark = pytest.mark.anyio

ADULT = "001090104217"  # persona adult-level2
LOOKUP = f"/v1/citizens/{ADULT}"


@pytest.fixture
def served(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The paths the express lane answered."""
    seen: list[str] = []
    real = RegistryApp._serve

    async def spy(self: RegistryApp, values: Any, scope: Any, raw: bytes, send: Any) -> None:
        seen.append(scope["path"])
        await real(self, values, scope, raw, send)

    monkeypatch.setattr(RegistryApp, "_serve", spy)
    return seen


@pytest.fixture
async def registry(settings: Settings) -> AsyncIterator[tuple[RegistryApp, httpx.AsyncClient]]:
    app = create_app(settings)
    assert isinstance(app, RegistryApp)
    install_faults(app, settings, "registry")  # as `sim06 up` serves it
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://registry") as c:
        yield app, c
    app.state.store.close()


def close_lane(app: RegistryApp) -> Callable[[], None]:
    """Send lookups through the whole stack; returns the undo."""
    app._lane_open = False

    def reopen() -> None:
        app._lane_open = None

    return reopen


async def test_the_lane_answers_like_the_stack_and_the_route(
    registry: tuple[RegistryApp, httpx.AsyncClient], served: list[str]
) -> None:
    app, client = registry
    fast = await client.get(LOOKUP)
    assert served == [LOOKUP]
    close_lane(app)
    stacked = await client.get(LOOKUP)  # the stack's fast path
    routed = await client.get(LOOKUP + "?via=route")  # FastAPI's route
    assert served == [LOOKUP]
    for other in (stacked, routed):
        assert other.status_code == fast.status_code == 200
        assert other.content == fast.content
        assert other.headers.raw == fast.headers.raw


async def test_what_the_lane_does_not_serve_goes_through_the_stack(
    registry: tuple[RegistryApp, httpx.AsyncClient], served: list[str]
) -> None:
    _, client = registry
    assert (await client.get("/v1/citizens/003090104217")).json()["code"] == "INVALID_PIN"
    assert (await client.get("/v1/citizens/001090999999")).json()["code"] == "CITIZEN_NOT_FOUND"
    assert (await client.get(LOOKUP + "?x=1")).status_code == 200
    assert (await client.post(LOOKUP)).status_code == 405
    assert served == []


async def test_a_lane_lookup_is_counted_as_the_metrics_middleware_counts_it(
    registry: tuple[RegistryApp, httpx.AsyncClient], served: list[str]
) -> None:
    app, client = registry
    before = await scrape(client)
    assert (await client.get(LOOKUP)).status_code == 200
    lane = await scrape(client)
    reopen = close_lane(app)
    assert (await client.get(LOOKUP)).status_code == 200
    stack = await scrape(client)
    reopen()
    assert served == [LOOKUP]
    # The same series moved by one each time, and nothing else of the request counters.
    for earlier, later in ((before, lane), (lane, stack)):
        moved = {
            key: later[key] - earlier.get(key, 0.0)
            for key in later
            if key[0].startswith("sim06_http_request") and later[key] != earlier.get(key, 0.0)
        }
        assert (
            requests(later, "registry", PIN_ROUTE, "200")
            - requests(earlier, "registry", PIN_ROUTE, "200")
            == 1
        )
        count0, _, inf0 = timed(earlier, "registry", PIN_ROUTE)
        count1, _, inf1 = timed(later, "registry", PIN_ROUTE)
        assert count1 - count0 == 1 and inf1 - inf0 == 1
        # Only the lookup's series: its counter, its histogram's count, sum and buckets.
        labels = {dict(key[1]).get("route") for key in moved}
        assert labels == {PIN_ROUTE}


async def test_faults_and_their_journal_see_lane_lookups(
    registry: tuple[RegistryApp, httpx.AsyncClient], served: list[str]
) -> None:
    app, client = registry
    assert (await client.get(LOOKUP)).status_code == 200
    entry = app.state.faults.recent(1)[0]
    assert (entry.service, entry.method, entry.path, entry.status) == (
        "registry", "GET", LOOKUP, 200,
    )  # fmt: skip
    assert entry.profile == app.state.faults.state.profile and entry.fault is None
    assert served == [LOOKUP]
    # A fault in force: the stack's fault layer answers, not the lane.
    assert (await client.put("/__sim06/faults", json={"fault": "http_503"})).status_code == 200
    faulted = await client.get(LOOKUP)
    assert faulted.status_code == 503 and faulted.json()["code"] == "SIM_FAULT_UNAVAILABLE"
    assert (await client.put("/__sim06/faults", json={"fault": None})).status_code == 200
    # A fault asked for by header: the stack again.
    asked = await client.get(LOOKUP, headers={FAULT_HEADER: "http_500"})
    assert asked.status_code == 500
    assert served == [LOOKUP]


async def test_expectations_close_the_lane(
    registry: tuple[RegistryApp, httpx.AsyncClient], served: list[str]
) -> None:
    _, client = registry
    spec = {"pin": ADULT, "operation": "citizens-get",
            "outcome": {"status": 503, "code": "NOT_READY"}, "times": 1}  # fmt: skip
    assert (await client.put("/__sim06/expectations", json=spec)).status_code == 201
    assert (await client.get(LOOKUP)).status_code == 503
    assert (await client.get(LOOKUP)).status_code == 200  # used up, but still registered
    assert served == []
    assert (await client.delete("/__sim06/expectations")).status_code == 200
    assert (await client.get(LOOKUP)).status_code == 200
    assert served == [LOOKUP]


async def test_the_contract_journal_keeps_the_lane_closed(
    settings: Settings, served: list[str]
) -> None:
    app = create_app(settings.model_copy(update={"contract_journal": True}))
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://registry") as client:
        assert (await client.get(LOOKUP)).status_code == 200
        journal = (await client.get("/__sim06/journal")).json()
    app.state.store.close()
    assert served == []
    assert [e["path"] for e in journal["entries"]] == [PIN_ROUTE]


async def test_the_lane_charges_and_frees_admission_units(
    registry: tuple[RegistryApp, httpx.AsyncClient], served: list[str]
) -> None:
    app, client = registry
    ctl: Admission = app.state.admission
    before = ctl.snapshot()
    assert (await client.get(LOOKUP)).status_code == 200
    after = ctl.snapshot()
    assert after["admitted"] == before["admitted"] + 1 and after["in_flight"] == 0
    assert served == [LOOKUP]
    # Admitted by the connection's protocol already: passed, not charged twice.
    token = PRECHARGED.set(ctl)
    try:
        assert (await client.get(LOOKUP)).status_code == 200
    finally:
        PRECHARGED.reset(token)
    assert ctl.snapshot()["admitted"] == after["admitted"]
    # No room: the stack's admission layer refuses and counts it (once).
    freeze(ctl, 64)
    ctl.used = 64
    refused = await client.get(LOOKUP)
    assert refused.status_code == 503 and refused.json()["code"] == "SERVICE_OVERLOADED"
    assert ctl.snapshot()["shed"]["overload"] == before["shed"]["overload"] + 1
    assert served == [LOOKUP, LOOKUP]


def raw_exchange(url: str, requests: list[bytes]) -> list[bytes]:
    """Send ``requests`` one after another on one connection; each whole answer as read."""
    host, port = url.removeprefix("http://").split(":")
    answers: list[bytes] = []
    with socket.create_connection((host, int(port)), timeout=5) as sock:
        for request in requests:
            sock.sendall(request)
            data = b""
            while b"\r\n\r\n" not in data:
                data += sock.recv(65536)
            head, _, body = data.partition(b"\r\n\r\n")
            length = int(re.search(rb"content-length: (\d+)", head.lower()).group(1))  # type: ignore[union-attr]
            while len(body) < length:
                chunk = sock.recv(65536)
                if not chunk:
                    break
                body += chunk
            answers.append(head + b"\r\n\r\n" + body)
    return answers


def parts(answer: bytes) -> tuple[bytes, dict[bytes, bytes], bytes]:
    head, _, body = answer.partition(b"\r\n\r\n")
    status, *lines = head.split(b"\r\n")
    headers = dict(line.lower().split(b": ", 1) for line in lines)
    headers.pop(b"date", None)
    return status, headers, body


def get(path: str, extra: bytes = b"", version: bytes = b"HTTP/1.1") -> bytes:
    return b"GET %s %s\r\nhost: registry\r\n%s\r\n" % (path.encode(), version, extra)


def test_the_protocol_lane_answers_like_the_stack(
    settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    app = create_app(settings)
    assert isinstance(app, RegistryApp)
    install_faults(app, settings, "registry")
    asked: list[str] = []
    real = RegistryApp.answer_in_protocol

    def spy(self: RegistryApp, path: str, headers: Any, write: Any) -> bool:
        answered = real(self, path, headers, write)
        asked.append(f"{path} {answered}")
        return answered

    monkeypatch.setattr(RegistryApp, "answer_in_protocol", spy)
    ctl = app.state.admission
    try:
        with live_server(app, http=AdmissionHttpProtocol) as url:
            before = httpx.get(f"{url}/metrics").text
            lane, unknown, query = raw_exchange(
                url, [get(LOOKUP), get("/v1/citizens/001090104218"), get(f"{LOOKUP}?x=1")]
            )
            reopen = close_lane(app)
            (stack,) = raw_exchange(url, [get(LOOKUP)])
            reopen()
            (closing,) = raw_exchange(url, [get(LOOKUP, version=b"HTTP/1.0")])
            after = httpx.get(f"{url}/metrics").text
    finally:
        app.state.store.close()
    # The lane answered the live citizen twice (kept alive, then HTTP/1.0); the unknown PIN and
    # the lookup with the lane closed went on to the app; a query string is not even offered.
    assert asked == [
        f"{LOOKUP} True",
        "/v1/citizens/001090104218 False",
        f"{LOOKUP} False",
        f"{LOOKUP} True",
    ]
    assert parts(lane) == parts(stack)
    assert parts(lane)[0] == b"HTTP/1.1 200 OK" and b"connection" not in parts(lane)[1]
    assert parts(closing)[1][b"connection"] == b"close"
    assert parts(closing)[2] == parts(stack)[2]
    assert parts(unknown)[0] == b"HTTP/1.1 404 Not Found"
    assert parts(query)[0] == b"HTTP/1.1 200 OK"  # the route, through the stack
    series = r'sim06_http_requests_total\{[^}]*route="/v1/citizens/\{pin\}"[^}]*status="200"'

    def lookups(metrics: str) -> float:
        found = re.search(series + r"[^}]*\} (\S+)", metrics)
        return float(found.group(1)) if found else 0.0

    assert lookups(after) - lookups(before) == 4.0  # the lane's 2, the stack's 2 (query too)
    assert ctl.in_flight == 0 and ctl.pending == 0  # every unit given back

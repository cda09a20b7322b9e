"""Admission in the connection's protocol: refusals written before the ASGI app, HTTP/1.1 kept.

Unit tests drive :class:`AdmissionHttpProtocol` with a recording transport (bytes in, bytes
out, the app's calls counted); the live tests run it in a real uvicorn on 127.0.0.1.
"""

from __future__ import annotations

import asyncio
import socket
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import jsonschema_rs
import orjson
import pytest
import yaml
from fastapi import FastAPI
from starlette.responses import Response
from uvicorn.config import Config
from uvicorn.protocols.http.h11_impl import H11Protocol
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol
from uvicorn.server import ServerState

from sim06.services.common.admission import (
    PRECHARGED,
    QUEUE_FLOOR,
    TICK_S,
    Admission,
    install_admission,
)
from sim06.services.common.admission_http import (
    AdmissionHttpProtocol,
    admission_protocol,
    controller_of,
)
from sim06.services.common.admission_limit import GradientLimit
from sim06.services.common.problems import catalogue
from sim06.services.common.settings import Settings
from sim06.services.gateway.mtls import TlsHttpProtocol
from tests.services.common.live import live_server

pytestmark = pytest.mark.anyio
ROOT = Path(__file__).resolve().parents[3]


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


def problem_schema() -> dict[str, Any]:
    """The Problem schema of the registry's published contract."""
    spec = yaml.safe_load((ROOT / "contracts/openapi/registry.yaml").read_text("utf-8"))
    schema: dict[str, Any] = spec["components"]["schemas"]["Problem"]
    return schema


class App:
    """An app behind admission: ``/slow`` waits for ``release``; every call is counted."""

    def __init__(self, tmp_path: Path, limit: int = 1, key_header: str | None = None) -> None:
        settings = Settings(
            data_dir=tmp_path, gateway_embedded=True, admission_initial_limit=limit,
            admission_min_limit=limit, admission_max_limit=limit,
        )  # fmt: skip
        self.fastapi = app = FastAPI()
        self.calls: list[tuple[str, bool]] = []  # (path, charged by the protocol)
        self.bodies: list[bytes] = []
        self.release = asyncio.Event()

        @app.middleware("http")
        async def count(request: Any, call_next: Any) -> Any:
            self.calls.append((request.url.path, PRECHARGED.get() is self.ctl))
            return await call_next(request)

        @app.get("/slow")
        async def slow() -> Response:
            while not self.release.is_set():  # polled: the live tests set it from their thread
                await asyncio.sleep(0.002)
            return Response(b"{}", media_type="application/json")

        @app.get("/fast")
        async def fast() -> Response:
            return Response(b"{}", media_type="application/json")

        @app.post("/post")
        async def post(request: Any) -> Response:
            self.bodies.append(await request.body())
            return Response(b"{}", media_type="application/json")

        @app.get("/healthz")
        async def healthz() -> Response:
            return Response(b'{"status":"ok"}', media_type="application/json")

        self.ctl: Admission = install_admission(
            app, settings, "proto", key_header=key_header
        )  # fmt: skip


class Transport:
    """What the protocol writes, and whether it closed the connection."""

    def __init__(self) -> None:
        self.out = bytearray()
        self.closed = False

    def write(self, data: bytes) -> None:
        self.out += data

    def get_extra_info(self, name: str, default: Any = None) -> Any:
        return ("127.0.0.1", 8000) if name in ("sockname", "peername") else default

    def is_closing(self) -> bool:
        return self.closed

    def close(self) -> None:
        self.closed = True

    def pause_reading(self) -> None:
        pass

    def resume_reading(self) -> None:
        pass

    def set_write_buffer_limits(self, *_: Any) -> None:
        pass


def connect(app: App) -> tuple[AdmissionHttpProtocol, Transport]:
    config = Config(app.fastapi, http=AdmissionHttpProtocol, log_level="critical", lifespan="off")
    config.load()
    state = ServerState()
    state.default_headers = [(b"date", b"Mon, 07 Dec 2026 10:00:00 GMT")]
    protocol = AdmissionHttpProtocol(config, state, {})
    transport = Transport()
    protocol.connection_made(transport)  # type: ignore[arg-type]
    return protocol, transport


def answers(raw: bytes) -> list[tuple[int, dict[str, str], bytes]]:
    """Split the bytes written into (status, headers, body) answers (Content-Length framed)."""
    out = []
    data = bytes(raw)
    while data:
        head, _, rest = data.partition(b"\r\n\r\n")
        lines = head.decode("latin-1").split("\r\n")
        headers = {}
        for line in lines[1:]:
            name, _, value = line.partition(":")
            assert name.lower() not in headers, f"header {name} twice"
            headers[name.lower()] = value.strip()
        length = int(headers["content-length"])
        out.append((int(lines[0].split()[1]), headers, rest[:length]))
        data = rest[length:]
    return out


async def saturate(app: App) -> AdmissionHttpProtocol:
    """A connection whose ``/slow`` request holds the whole limit (one unit)."""
    holder, _ = connect(app)
    holder.data_received(b"GET /slow HTTP/1.1\r\nhost: t\r\n\r\n")
    await asyncio.sleep(0)
    assert app.ctl.in_flight == 1
    return holder


def check_refusal(
    answer: tuple[int, dict[str, str], bytes], status: int, code: str, path: str
) -> None:
    got, headers, body = answer
    assert got == status
    assert headers["content-type"] == "application/problem+json"
    assert headers["retry-after"] == "1"
    assert headers["date"].endswith(" GMT")  # uvicorn's default headers
    problem = orjson.loads(body)
    jsonschema_rs.Draft202012Validator(problem_schema()).validate(problem)
    spec = catalogue()[code]
    assert problem["code"] == code and problem["status"] == spec.status == status
    assert problem["title"] == spec.title and problem["title_vi"] == spec.title_vi
    assert problem["type"] == f"urn:sim06:problem:{code}" and problem["instance"] == path


# --- unit: the protocol with a recording transport ---------------------------------------------


async def test_a_refusal_is_written_at_once_and_the_connection_kept(tmp_path: Path) -> None:
    app = App(tmp_path)
    holder = await saturate(app)
    protocol, transport = connect(app)
    protocol.data_received(b"GET /fast?x=1 HTTP/1.1\r\nhost: t\r\n\r\n")
    [answer] = answers(bytes(transport.out))  # written inside data_received: no task, no app
    check_refusal(answer, 503, "SERVICE_OVERLOADED", "/fast")
    assert "connection" not in answer[1] and not transport.closed
    assert protocol.idle_timer is not None  # the keep-alive timeout runs
    await asyncio.sleep(0.01)
    assert app.calls == [("/slow", True)]  # the refused request never reached the app
    assert app.ctl.refused[503] == 1 and app.ctl.admitted == 1
    # The same connection serves the next request once there is room.
    app.release.set()
    await asyncio.sleep(TICK_S * 4)
    transport.out.clear()
    protocol.data_received(b"GET /fast HTTP/1.1\r\nhost: t\r\n\r\n")
    await asyncio.sleep(0.01)
    assert [a[0] for a in answers(bytes(transport.out))] == [200]
    assert app.calls[-1] == ("/fast", True)
    holder.connection_lost(None)
    protocol.connection_lost(None)


async def test_units_are_charged_once_and_freed_after_the_answer(tmp_path: Path) -> None:
    app = App(tmp_path, limit=5)
    protocol, transport = connect(app)
    protocol.data_received(b"GET /fast HTTP/1.1\r\nhost: t\r\n\r\n")
    assert app.ctl.in_flight == 1  # charged in the protocol, before the app runs
    await asyncio.sleep(0.01)
    assert [a[0] for a in answers(bytes(transport.out))] == [200]
    assert app.ctl.in_flight == 0 and app.ctl.admitted == 1  # the middleware did not charge
    assert app.calls == [("/fast", True)]
    await asyncio.sleep(TICK_S * 4)
    assert app.ctl.used == 0
    protocol.connection_lost(None)


async def test_a_refused_body_is_discarded_and_a_pipelined_request_served(
    tmp_path: Path,
) -> None:
    app = App(tmp_path)
    holder = await saturate(app)
    protocol, transport = connect(app)
    body = b'{"items": [1, 2, 3]}'
    post = b"POST /post HTTP/1.1\r\nhost: t\r\ncontent-length: %d\r\n\r\n" % len(body)
    # The body arrives in two pieces, a never-shed request right behind it.
    protocol.data_received(post + body[:5])
    assert protocol.refused == 503
    protocol.data_received(body[5:] + b"GET /healthz HTTP/1.1\r\nhost: t\r\n\r\n")
    await asyncio.sleep(0.01)
    refused, health = answers(bytes(transport.out))
    check_refusal(refused, 503, "SERVICE_OVERLOADED", "/post")
    assert health[0] == 200 and health[2] == b'{"status":"ok"}'
    assert app.bodies == [] and app.calls == [("/slow", True), ("/healthz", False)]
    app.release.set()
    holder.connection_lost(None)
    protocol.connection_lost(None)


@pytest.mark.parametrize(
    "request_line, header",
    [("GET /fast HTTP/1.1", "connection: close\r\n"), ("GET /fast HTTP/1.0", "")],
)
async def test_a_connection_that_asked_to_close_is_closed_after_the_refusal(
    tmp_path: Path, request_line: str, header: str
) -> None:
    app = App(tmp_path)
    holder = await saturate(app)
    protocol, transport = connect(app)
    protocol.data_received(f"{request_line}\r\nhost: t\r\n{header}\r\n".encode())
    [answer] = answers(bytes(transport.out))
    assert answer[0] == 503 and answer[1]["connection"] == "close"
    assert transport.closed
    app.release.set()
    holder.connection_lost(None)


async def test_head_gets_the_headers_without_the_body(tmp_path: Path) -> None:
    app = App(tmp_path)
    holder = await saturate(app)
    protocol, transport = connect(app)
    protocol.data_received(b"HEAD /fast HTTP/1.1\r\nhost: t\r\n\r\n")
    head, _, rest = bytes(transport.out).partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 503 ") and rest == b""
    assert b"content-length: " in head  # the length the GET's body would have
    app.release.set()
    holder.connection_lost(None)
    protocol.connection_lost(None)


async def test_an_agency_over_its_share_gets_429(tmp_path: Path) -> None:
    app = App(tmp_path, limit=4, key_header="x-road-client")
    connections = [connect(app) for _ in range(4)]
    for agency, (protocol, _) in zip("AABB", connections, strict=True):
        protocol.data_received(f"GET /slow HTTP/1.1\r\nx-road-client: {agency}\r\n\r\n".encode())
    protocol, transport = connect(app)
    protocol.data_received(b"GET /fast HTTP/1.1\r\nx-road-client: A\r\n\r\n")
    [answer] = answers(bytes(transport.out))
    check_refusal(answer, 429, "AGENCY_SHARE_EXCEEDED", "/fast")
    app.release.set()
    await asyncio.sleep(0.01)
    for other, _ in [*connections, (protocol, transport)]:
        other.connection_lost(None)


async def test_a_request_pipelined_behind_a_running_one_is_not_answered_first(
    tmp_path: Path,
) -> None:
    app = App(tmp_path)
    protocol, transport = connect(app)
    # /slow takes the limit; /fast behind it on the same connection must wait its turn: the
    # protocol leaves it to uvicorn's pipeline, and the middleware decides once it runs.
    protocol.data_received(
        b"GET /slow HTTP/1.1\r\nhost: t\r\n\r\nGET /fast HTTP/1.1\r\nhost: t\r\n\r\n"
    )
    await asyncio.sleep(0.01)
    assert transport.out == b""
    app.release.set()
    await asyncio.sleep(0.02)
    first, second = answers(bytes(transport.out))  # in order, each once
    assert first[0] == 200 and second[0] in (200, 503)
    assert app.calls[0] == ("/slow", True) and ("/fast", True) not in app.calls
    protocol.connection_lost(None)


async def test_expect_100_continue_is_left_to_the_middleware(tmp_path: Path) -> None:
    app = App(tmp_path)
    holder = await saturate(app)
    protocol, transport = connect(app)
    protocol.data_received(
        b"POST /post HTTP/1.1\r\nhost: t\r\nexpect: 100-continue\r\ncontent-length: 2\r\n\r\n"
    )
    assert transport.out == b""  # not answered in the protocol
    await asyncio.sleep(0.01)
    [answer] = answers(bytes(transport.out))
    assert answer[0] == 503 and app.ctl.refused[503] == 1  # the middleware refused it
    assert app.calls == [("/slow", True)]
    app.release.set()
    holder.connection_lost(None)
    protocol.connection_lost(None)


async def test_the_keep_alive_timeout_closes_an_idle_refused_connection(
    tmp_path: Path,
) -> None:
    app = App(tmp_path)
    holder = await saturate(app)
    protocol, transport = connect(app)
    protocol.timeout_keep_alive = 0.05  # type: ignore[assignment]
    protocol.data_received(b"GET /fast HTTP/1.1\r\nhost: t\r\n\r\n")
    await asyncio.sleep(0.03)
    protocol.data_received(b"GET /fast HTTP/1.1\r\nhost: t\r\n\r\n")  # activity: pushed back
    await asyncio.sleep(0.03)
    assert not transport.closed
    await asyncio.sleep(0.06)
    assert transport.closed
    app.release.set()
    holder.connection_lost(None)


def test_the_controller_is_found_through_wrappers(tmp_path: Path) -> None:
    app = App(tmp_path)

    class Wrapper:
        def __init__(self, inner: Any) -> None:
            self.app = inner

    assert controller_of(Wrapper(Wrapper(app.fastapi))) is app.ctl
    assert controller_of(FastAPI()) is None
    assert controller_of(object()) is None


def test_the_installed_uvicorn_has_what_the_protocol_overrides(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Every server uses the protocol on this uvicorn; on one without those internals the
    servers would fall back to uvicorn's own protocol (and the middleware decide alone)."""
    from sim06.services.common import admission_http

    assert admission_http.COMPATIBLE
    assert admission_http.PROTOCOL.endswith(":AdmissionHttpProtocol")
    assert admission_protocol(HttpToolsProtocol) is AdmissionHttpProtocol
    monkeypatch.setattr(admission_http, "COMPATIBLE", False)
    assert admission_protocol(HttpToolsProtocol) is HttpToolsProtocol
    assert admission_protocol(TlsHttpProtocol) is TlsHttpProtocol


def test_the_protocol_composes_with_other_httptools_protocols() -> None:
    tls = admission_protocol(TlsHttpProtocol)
    assert issubclass(tls, AdmissionHttpProtocol) and issubclass(tls, TlsHttpProtocol)
    assert admission_protocol(tls) is tls
    assert admission_protocol(H11Protocol) is H11Protocol  # h11: the middleware admits


# --- live: a real uvicorn on 127.0.0.1 ----------------------------------------------------------


@pytest.fixture
def live(tmp_path: Path) -> Iterator[tuple[App, int]]:
    app = App(tmp_path)
    with live_server(app.fastapi, http=AdmissionHttpProtocol) as url:
        yield app, int(url.rsplit(":", 1)[1])


def exchange(sock: socket.socket, request: bytes, count: int = 1) -> bytes:
    """Send ``request``, read until ``count`` answers are complete."""
    sock.sendall(request)
    return read(sock, count)


def read(sock: socket.socket, count: int = 1) -> bytes:
    """Read until ``count`` answers are complete."""
    data = b""
    while len(answers_prefix(data)) < count:
        chunk = sock.recv(65536)
        assert chunk, "connection closed early"
        data += chunk
    return data


def answers_prefix(data: bytes) -> list[int]:
    """Statuses of the complete answers at the start of ``data``."""
    done: list[int] = []
    while True:
        head, sep, rest = data.partition(b"\r\n\r\n")
        if not sep:
            return done
        length = next(
            int(line.split(b":", 1)[1])
            for line in head.split(b"\r\n")
            if line.lower().startswith(b"content-length:")
        )
        if len(rest) < length:
            return done
        done.append(int(head[9:12]))
        data = rest[length:]


def test_live_refusal_keeps_the_connection_and_discards_the_body(
    live: tuple[App, int],
) -> None:
    app, port = live
    with socket.create_connection(("127.0.0.1", port)) as holder:
        holder.sendall(b"GET /slow HTTP/1.1\r\nhost: t\r\n\r\n")
        deadline = time.monotonic() + 5
        while app.ctl.in_flight == 0 and time.monotonic() < deadline:
            time.sleep(0.005)
        with socket.create_connection(("127.0.0.1", port)) as sock:
            body = b"x" * 100_000  # more than one read: discarded as it arrives
            post = b"POST /post HTTP/1.1\r\nhost: t\r\ncontent-length: %d\r\n\r\n" % len(body)
            started = time.perf_counter()
            raw = exchange(sock, post + body)
            assert time.perf_counter() - started < 1.0
            [answer] = answers(raw)
            check_refusal(answer, 503, "SERVICE_OVERLOADED", "/post")
            assert answer[1]["date"]  # uvicorn's default headers
            assert exchange(sock, b"GET /healthz HTTP/1.1\r\nhost: t\r\n\r\n").startswith(
                b"HTTP/1.1 200 "
            )  # same connection: kept alive, the body did not leak into the next request
            # Room again: the same connection's next request is admitted and served.
            app.release.set()
            assert answers_prefix(read(holder)) == [200]
            time.sleep(TICK_S * 4)
            assert answers_prefix(exchange(sock, b"GET /fast HTTP/1.1\r\nhost: t\r\n\r\n")) == [200]
    assert app.bodies == []
    assert app.calls == [("/slow", True), ("/healthz", False), ("/fast", True)]
    deadline = time.monotonic() + 5  # the units are freed just after the answer is written
    while app.ctl.in_flight and time.monotonic() < deadline:
        time.sleep(0.005)
    assert app.ctl.refused[503] == 1 and app.ctl.in_flight == 0


# --- the protocol's queue: units admitted but not started, capped by their wait --------------


def queue_controller(cap: int, limit: int = 1000) -> Admission:
    ctl = Admission("q", GradientLimit(limit=limit, minimum=1, maximum=10_000), queue_ms=2.0)
    ctl.queue_cap = cap
    return ctl


async def test_the_queue_counts_requests_until_they_start() -> None:
    ctl = queue_controller(cap=3)
    assert [ctl.admit(1, None, queued=True) for _ in range(4)] == [1, 1, 1, -503]
    assert ctl.pending == 3 and ctl.capped
    ctl.started(1, None)  # running (or awaiting I/O): no longer queued ahead of anyone
    assert ctl.admit(1, None, queued=True) == 1
    assert ctl.in_flight == 4  # the limit still bounds what is in flight
    small = queue_controller(cap=1000, limit=4)
    assert [small.admit(1, None, queued=True) for _ in range(4)] == [1] * 4
    for _ in range(4):
        small.started(1, None)  # all running, none queued, all in flight
    assert small.admit(1, None, queued=True) == -503


async def test_a_queued_batch_leaves_room_for_single_requests() -> None:
    ctl = queue_controller(cap=8)
    assert ctl.admit(1000, None, queued=True) == 4  # charged half the cap
    assert ctl.admit(30, None, queued=True) == -503  # multi-unit ones stop at three quarters
    assert [ctl.admit(1, None, queued=True) for _ in range(5)] == [1, 1, 1, 1, -503]


def test_the_cap_follows_the_wait_of_admitted_work() -> None:
    ctl = queue_controller(cap=400)
    ctl.waited_ms = 8.0  # four times the target: cut to half at most
    ctl._adjust_queue()
    assert ctl.queue_cap == 200
    ctl.waited_ms = 3.0
    ctl._adjust_queue()
    assert ctl.queue_cap == 133  # 200 * 2 / 3
    ctl._adjust_queue()
    assert ctl.queue_cap == 133  # nothing waited too long, nothing refused: unchanged
    ctl.capped = True
    ctl._adjust_queue()
    assert ctl.queue_cap == 149  # refusing while waits were short: one eighth more
    # Reading and refusing took 5 ms before the batch: a wait of 4 ms is within the target.
    ctl.waited_ms, ctl.read_ms, ctl.capped = 4.0, 5.0, True
    ctl._adjust_queue()
    assert ctl.queue_cap == 167
    for _ in range(10):
        ctl.waited_ms = 1000.0
        ctl._adjust_queue()
    assert ctl.queue_cap == QUEUE_FLOOR  # never below: 64 waiting requests are not overload


async def test_the_wait_counts_from_the_mark_of_the_batch() -> None:
    ctl = queue_controller(cap=10)
    for _ in range(3):
        assert ctl.admit(1, None, queued=True) == 1
        ctl.queue_mark()  # the first schedules the mark; the others find it scheduled
    assert ctl.marking
    await asyncio.sleep(0)  # the mark runs after the reads, before the batch's tasks
    assert not ctl.marking
    end = time.thread_time() + 0.003
    while time.thread_time() < end:  # the first request of the batch works 3 ms
        pass
    ctl.started(1, None)
    assert 3.0 <= ctl.waited_ms < 50  # the third waited for the work ahead of it
    ctl.started(1, None)
    ctl.started(1, None)
    assert ctl.pending == 0


class Clocks:
    """The clock and the loop thread's CPU time, moved by hand; counts the CPU-time reads
    (each a system call in production)."""

    def __init__(self) -> None:
        self.wall, self.cpu, self.cpu_reads = 100.0, 5.0, 0

    def perf_counter(self) -> float:
        return self.wall

    def thread_time(self) -> float:
        self.cpu_reads += 1
        return self.cpu

    def work(self, ms: float) -> None:
        self.wall += ms / 1000
        self.cpu += ms / 1000

    def elsewhere(self, ms: float) -> None:
        """The OS runs another process: the clock moves, the thread's CPU time does not."""
        self.wall += ms / 1000


@pytest.fixture
def clocks(monkeypatch: pytest.MonkeyPatch) -> Clocks:
    fake = Clocks()  # the admission module reads them as time.perf_counter, time.thread_time
    monkeypatch.setattr(time, "perf_counter", fake.perf_counter)
    monkeypatch.setattr(time, "thread_time", fake.thread_time)
    return fake


def test_waits_within_the_target_read_no_cpu_time(clocks: Clocks) -> None:
    ctl = queue_controller(cap=10)  # target 2 ms
    ctl.pending = 4
    ctl._mark()
    reads = clocks.cpu_reads
    for _ in range(3):  # waits of 0.5, 1 and 1.5 ms: the cap would not change
        clocks.work(0.5)
        ctl.started(1, None)
    assert clocks.cpu_reads == reads and ctl.waited_ms == 0.0
    clocks.work(1.0)
    ctl.started(1, None)  # 2.5 ms of admitted work ran ahead of it: that counts
    assert clocks.cpu_reads == reads + 1
    assert ctl.waited_ms == pytest.approx(2.5)
    ctl.pending = 1
    clocks.elsewhere(10.0)  # 12.5 ms on the clock, but 2.5 of them the loop's
    ctl.started(1, None)
    assert ctl.waited_ms == pytest.approx(2.5)
    untargeted = Admission("u", GradientLimit(limit=10, minimum=1, maximum=10))
    untargeted.pending = 1
    untargeted._mark()
    reads = clocks.cpu_reads
    clocks.work(50.0)
    untargeted.started(1, None)  # no target: no wait matters
    assert clocks.cpu_reads == reads


def test_the_reading_before_a_batch_counts_in_cpu_time(clocks: Clocks) -> None:
    ctl = queue_controller(cap=10)
    ctl._mark()
    ctl._adjust_queue()  # a new tick (the first mark counted the thread's CPU time so far)
    clocks.work(1.0)
    ctl.ran()  # the batch ran for 1 ms
    clocks.work(3.0)  # then the loop read and refused for 3 ms
    ctl._mark()
    assert ctl.read_ms == pytest.approx(3.0)
    clocks.work(1.0)
    ctl.ran()
    clocks.elsewhere(10.0)  # another process ran: 10.5 ms on the clock, 0.5 of them ours
    clocks.work(0.5)
    ctl._mark()
    assert ctl.read_ms == pytest.approx(3.0)
    ctl._adjust_queue()
    clocks.work(1.0)
    ctl.ran()
    clocks.work(1.5)  # within the target: counts for nothing, whatever the clocks say
    ctl._mark()
    assert ctl.read_ms == 0.0

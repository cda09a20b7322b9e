"""Load generator, flow runner and server helpers against servers on 127.0.0.1."""

from __future__ import annotations

import contextlib
import socket
import socketserver
import threading
import time
import types
from collections.abc import Callable, Iterator
from typing import Any

import pytest
import uvicorn

from sim06.services.bench import (
    FlowClient,
    Request,
    encode_request,
    free_port,
    run_flows,
    run_load,
    start_uvicorn,
)
from sim06.services.bench._common import LatencyRecorder, latency_summary
from sim06.services.bench._http import scan_chunked
from sim06.services.bench.baseline import BODY, Receive, Scope, Send, app as baseline_app

# --- servers ----------------------------------------------------------------------------


@contextlib.contextmanager
def serve_asgi(app: Any) -> Iterator[int]:
    """Run ``app`` under uvicorn in a thread on 127.0.0.1; yield its port."""
    # proto=IPPROTO_TCP matters: asyncio sets TCP_NODELAY on accepted sockets only for
    # those, and without it every response waits ~40 ms on Nagle plus delayed ACK.
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.bind(("127.0.0.1", 0))
    config = uvicorn.Config(
        app, loop="asyncio", http="httptools", ws="none", lifespan="off", log_level="warning"
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 5
    while not server.started and thread.is_alive() and time.monotonic() < deadline:
        time.sleep(0.01)
    try:
        assert server.started, "uvicorn did not start"
        yield sock.getsockname()[1]
    finally:
        server.should_exit = True
        thread.join(5)
        sock.close()


# Called once per request head received; returns False to close the connection.
Responder = Callable[[socket.socket, int], bool]


class _Handler(socketserver.BaseRequestHandler):
    server: _RawServer

    def handle(self) -> None:
        sock: socket.socket = self.request
        sock.settimeout(5)
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        buf, count = b"", 0
        while True:
            while b"\r\n\r\n" not in buf:
                try:
                    chunk = sock.recv(65536)
                except OSError:
                    return
                if not chunk:
                    return
                buf += chunk
            buf = buf.partition(b"\r\n\r\n")[2]
            if not self.server.respond(sock, count):
                return
            count += 1


class _RawServer(socketserver.ThreadingTCPServer):
    daemon_threads = True

    def __init__(self, respond: Responder) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.respond = respond


@contextlib.contextmanager
def serve_raw(respond: Responder) -> Iterator[int]:
    """A scripted HTTP server for responses uvicorn would never send."""
    server = _RawServer(respond)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05})
    thread.start()
    try:
        yield server.server_address[1]
    finally:
        server.shutdown()
        server.server_close()
        thread.join(5)


@pytest.fixture(scope="module")
def baseline_port() -> Iterator[int]:
    with serve_asgi(baseline_app) as port:
        yield port


# --- load generator ---------------------------------------------------------------------


def test_max_requests_is_exact(baseline_port: int) -> None:
    result = run_load(
        "127.0.0.1", baseline_port, Request(), connections=4, warmup=0, max_requests=300
    )
    assert result.requests == 300
    assert result.status_counts == {200: 300}
    assert result.errors == {}
    assert 0 < result.p50_ms <= result.p90_ms <= result.p99_ms <= result.p999_ms
    assert result.p999_ms <= result.max_ms
    assert result.rps > 0
    assert result.bytes_received >= 300 * len(BODY)
    assert result.to_dict()["status_counts"] == {"200": 300}


def test_duration_and_warmup_bound_the_run(baseline_port: int) -> None:
    begin = time.monotonic()
    result = run_load(
        "127.0.0.1", baseline_port, Request(), connections=2, duration=0.3, warmup=0.2
    )
    assert time.monotonic() - begin < 2
    assert result.requests > 0
    assert 0.29 <= result.duration_s < 0.6  # loop timers may fire a hair early
    # Warmup requests went out (more than the 2 in flight at the end) but are not counted.
    sent = result.bytes_sent // len(Request().encode(f"127.0.0.1:{baseline_port}"))
    assert sent > result.requests + 2


def test_requests_cycle_and_head_has_no_body(baseline_port: int) -> None:
    requests = [Request("GET", "/a"), Request("HEAD", "/b"), Request("POST", "/c", body=b"{}")]
    result = run_load(
        "127.0.0.1", baseline_port, requests, connections=1, warmup=0, max_requests=30
    )
    assert result.status_counts == {200: 20, 405: 10}
    assert result.errors == {}


def test_factory_gets_each_index_once() -> None:
    seen: list[str] = []

    async def app(scope: Scope, _receive: Receive, send: Send) -> None:
        seen.append(scope["path"])
        await send({"type": "http.response.start", "status": 204, "headers": []})
        await send({"type": "http.response.body", "body": b""})

    def factory(index: int) -> bytes:
        return encode_request("GET", f"/pin/{index}", host="127.0.0.1")

    with serve_asgi(app) as port:
        result = run_load("127.0.0.1", port, factory, connections=3, warmup=0, max_requests=30)
    assert result.status_counts == {204: 30}
    assert sorted(seen) == sorted(f"/pin/{i}" for i in range(30))


def test_chunked_responses_from_uvicorn() -> None:
    async def app(_scope: Scope, _receive: Receive, send: Send) -> None:
        await send({"type": "http.response.start", "status": 200, "headers": []})
        for part in (b"first,", b"x" * 5000, b""):
            await send({"type": "http.response.body", "body": part, "more_body": bool(part)})

    with serve_asgi(app) as port:
        result = run_load("127.0.0.1", port, Request(), connections=2, warmup=0, max_requests=50)
    assert result.status_counts == {200: 50}
    assert result.errors == {}


_CHUNKED = (
    b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
    b"5;ext=1\r\nhello\r\n1A\r\n" + b"x" * 26 + b"\r\n0\r\nX-Trailer: yes\r\n\r\n"
)


def _chunked_in_pieces(sock: socket.socket, _: int) -> bool:
    # Cut inside the head's blank line, a size line, chunk data and the trailers.
    for cut in ((0, 47), (47, 52), (52, 60), (60, 75), (75, 100), (100, None)):
        sock.sendall(_CHUNKED[cut[0] : cut[1]])
        time.sleep(0.001)
    return True


def test_chunked_split_across_reads() -> None:
    with serve_raw(_chunked_in_pieces) as port:
        result = run_load("127.0.0.1", port, Request(), connections=2, warmup=0, max_requests=10)
    assert result.status_counts == {200: 10}
    assert result.errors == {}


def test_scan_chunked_resumes_and_collects() -> None:
    body: list[bytes] = []
    start = _CHUNKED.index(b"\r\n\r\n") + 4
    assert scan_chunked(_CHUNKED[:70], start) == (False, start + 16)
    assert scan_chunked(_CHUNKED, start, body) == (True, len(_CHUNKED))
    assert b"".join(body) == b"hello" + b"x" * 26


def _close_mid_response(sock: socket.socket, _: int) -> bool:
    sock.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\nshort")
    return False


def _never_answer(_sock: socket.socket, _: int) -> bool:
    return True


def _garbage(sock: socket.socket, _: int) -> bool:
    sock.sendall(b"SSH-2.0-nope\r\n\r\n")
    return True


def _close_after_each(sock: socket.socket, _: int) -> bool:
    sock.sendall(b"HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 2\r\n\r\nok")
    return False


@pytest.mark.parametrize(
    ("respond", "timeout", "errors"),
    [
        (_close_mid_response, 5.0, {"reset": 5}),
        (_never_answer, 0.2, {"timeout": 5}),
        (_garbage, 5.0, {"malformed": 5}),
        (_close_after_each, 5.0, {}),
    ],
)
def test_failures_are_counted_not_hung(respond: Responder, timeout: float, errors: Any) -> None:
    begin = time.monotonic()
    with serve_raw(respond) as port:
        result = run_load(
            "127.0.0.1",
            port,
            Request(),
            connections=2,
            warmup=0,
            duration=3,
            max_requests=5,
            timeout=timeout,
        )
    assert time.monotonic() - begin < 2.5
    assert result.errors == errors
    assert result.requests == 5 - sum(errors.values())


def test_connect_errors_are_counted() -> None:
    result = run_load("127.0.0.1", free_port(), Request(), connections=2, duration=0.2, warmup=0)
    assert result.requests == 0
    assert result.errors["connect"] >= 2


@pytest.mark.parametrize("host", ["10.0.0.1", "example.com", "0.0.0.0", "::1"])
def test_non_loopback_host_is_refused(host: str) -> None:
    with pytest.raises(ValueError, match="only 127.0.0.1"):
        run_load(host, 80, Request(), duration=0.1, warmup=0)
    with pytest.raises(ValueError, match="only 127.0.0.1"):
        run_flows(host, 80, _two_steps, duration=0.1, warmup=0)


def test_request_encoding_rejects_header_injection() -> None:
    with pytest.raises(ValueError, match="CR or LF"):
        Request("GET", "/", headers={"X-A": "1\r\nX-B: 2"}).encode("127.0.0.1")


def test_percentiles_are_nearest_rank() -> None:
    recorder = LatencyRecorder(capacity=16)  # grows past its first allocation
    for ms in range(1000, 0, -1):
        recorder.add(ms * 1_000_000)
    summary = latency_summary(recorder)
    assert (summary["p50_ms"], summary["p90_ms"], summary["p99_ms"]) == (500.0, 900.0, 990.0)
    assert (summary["p999_ms"], summary["max_ms"], summary["mean_ms"]) == (999.0, 1000.0, 500.5)


# --- flows ------------------------------------------------------------------------------


async def _redirect_app(scope: Scope, _receive: Receive, send: Send) -> None:
    if scope["path"] == "/start":
        headers = [(b"location", b"/next?code=abc"), (b"content-length", b"0")]
        await send({"type": "http.response.start", "status": 302, "headers": headers})
        await send({"type": "http.response.body", "body": b""})
    else:
        body = scope["query_string"]
        headers = [(b"content-type", b"text/plain")]
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        await send({"type": "http.response.body", "body": body})


async def _two_steps(client: FlowClient) -> None:
    first = (await client.request("GET", "/start")).expect(302)
    second = (await client.request("GET", first.headers["location"])).expect(200)
    assert second.body == b"code=abc"


def test_flow_mode_completes_two_step_flows() -> None:
    with serve_asgi(_redirect_app) as port:
        result = run_flows("127.0.0.1", port, _two_steps, concurrency=3, warmup=0, max_flows=20)
    assert result.flows == 20
    assert result.errors == {}
    assert result.requests == 40
    assert result.status_counts == {200: 20, 302: 20}
    assert 0 < result.p50_ms <= result.p99_ms <= result.max_ms
    assert result.to_dict()["flows"] == 20


def test_flow_failures_are_counted_by_kind() -> None:
    async def wrong(client: FlowClient) -> None:
        (await client.request("GET", "/start")).expect(200)

    with serve_asgi(_redirect_app) as port:
        result = run_flows("127.0.0.1", port, wrong, concurrency=2, warmup=0, max_flows=6)
    assert result.flows == 0
    assert result.errors == {"status 302": 6}


def test_flow_client_reads_chunked_bodies() -> None:
    async def fetch(client: FlowClient) -> None:
        response = await client.request("GET", "/")
        assert response.headers["transfer-encoding"] == "chunked"
        assert response.body == b"hello" + b"x" * 26

    with serve_raw(_chunked_in_pieces) as port:
        result = run_flows("127.0.0.1", port, fetch, concurrency=1, warmup=0, max_flows=3)
    assert (result.flows, result.errors) == (3, {})


# --- subprocess server ------------------------------------------------------------------


def test_start_uvicorn_serves_baseline_and_stops() -> None:
    with start_uvicorn("sim06.services.bench.baseline:app") as server:
        result = run_load("127.0.0.1", server.port, Request(), warmup=0, max_requests=20)
        assert result.status_counts == {200: 20}
    assert server.process.poll() is not None


def test_public_surface_is_sorted_and_complete() -> None:
    import sim06.services.bench as bench

    public = {
        name
        for name, value in vars(bench).items()
        if not name.startswith("_") and not isinstance(value, types.ModuleType)
    }
    assert bench.__all__ == sorted(bench.__all__)
    assert set(bench.__all__) == public

"""The express lane serves idle lookups before the stack, and steps aside whenever a layer of
the stack has something to do: a fault, an override header, an expectation, strict mode, TLS."""

from __future__ import annotations

import re
import socket
import time
from collections.abc import AsyncIterator
from typing import Any

import httpx
import orjson
import pytest
from fastapi import FastAPI

from sim06.services.common.admission_http import AdmissionHttpProtocol
from sim06.services.common.fault_middleware import install_faults
from sim06.services.common.settings import Settings
from sim06.services.gateway import express
from sim06.services.gateway.app import create_app
from sim06.services.gateway.express import GatewayApp
from tests.services.common.live import live_server
from tests.services.gateway.helpers import ADMIN, ADULT, POLICE, exchange_headers, get_token

pytestmark = pytest.mark.anyio

LOOKUP = f"/v1/registry/citizens/{ADULT}"


@pytest.fixture
def served(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The paths the express lane answered."""
    seen: list[str] = []
    original = GatewayApp._serve

    async def spy(self: GatewayApp, profile: Any, scope: Any, *rest: Any) -> None:
        seen.append(scope["path"])
        await original(self, profile, scope, *rest)

    monkeypatch.setattr(GatewayApp, "_serve", spy)
    return seen


async def _app(settings: Settings) -> FastAPI:
    application = create_app(settings)
    install_faults(application, settings, "gateway")  # as services.asgi:gateway does
    return application


@pytest.fixture
async def faulty(gw_settings: Settings) -> AsyncIterator[httpx.AsyncClient]:
    application = await _app(gw_settings)
    transport = httpx.ASGITransport(app=application)
    async with httpx.AsyncClient(transport=transport, base_url="http://gateway") as c:
        c.app = application  # type: ignore[attr-defined]
        yield c
    await application.state.gateway.registry.aclose()
    application.state.audit.close()


async def _lookup(client: httpx.AsyncClient, **override: str) -> httpx.Response:
    token = await get_token(client, POLICE)
    return await client.get(LOOKUP, headers=exchange_headers(token, POLICE, **override))


async def test_an_idle_lookup_takes_the_express_lane_and_is_journalled(
    faulty: httpx.AsyncClient, served: list[str]
) -> None:
    r = await _lookup(faulty)
    assert r.status_code == 200 and r.json()["pin"] == ADULT
    assert "x-jws-signature" in r.headers and "x-request-hash" in r.headers
    assert served == [LOOKUP]
    [entry] = [e for e in faulty.app.state.faults.recent() if e.path == LOOKUP]  # type: ignore[attr-defined]
    assert entry.status == 200 and entry.service == "gateway" and entry.fault is None


async def test_other_operations_and_query_strings_take_the_stack(
    faulty: httpx.AsyncClient, served: list[str]
) -> None:
    token = await get_token(faulty, POLICE)
    r = await faulty.get(f"{LOOKUP}?fields=pin", headers=exchange_headers(token, POLICE))
    assert r.status_code == 200 and set(r.json()) == {"pin"}
    r = await faulty.get(f"{LOOKUP}/household", headers=exchange_headers(token, POLICE))
    assert r.status_code == 200
    assert served == []


async def test_an_active_fault_is_applied_by_the_stack(
    faulty: httpx.AsyncClient, served: list[str]
) -> None:
    token = await get_token(faulty, POLICE)  # before the fault: it hits /oauth/token too
    auth = {"Authorization": f"Bearer {ADMIN}"}
    r = await faulty.put("/__sim06/faults", json={"fault": "http_503", "rate": 1.0}, headers=auth)
    assert r.status_code == 200, r.text
    r = await faulty.get(LOOKUP, headers=exchange_headers(token, POLICE))
    assert r.status_code == 503 and r.json()["code"] == "SIM_FAULT_UNAVAILABLE"
    assert served == []


async def test_a_fault_header_is_applied_by_the_stack(
    faulty: httpx.AsyncClient, served: list[str]
) -> None:
    r = await _lookup(faulty, **{"X-Sim-Fault": "http_500"})
    assert r.status_code == 500
    assert served == []


async def test_a_latency_profile_with_delay_turns_the_lane_off(faulty: httpx.AsyncClient) -> None:
    controller = faulty.app.state.faults  # type: ignore[attr-defined]
    assert controller.quiet("gateway")
    auth = {"Authorization": f"Bearer {ADMIN}"}
    assert (
        await faulty.put("/__sim06/faults", json={"profile": "typical"}, headers=auth)
    ).is_success
    assert not controller.quiet("gateway")
    assert (await faulty.put("/__sim06/faults", json={"profile": "ideal"}, headers=auth)).is_success
    assert controller.quiet("gateway")


async def test_an_expectation_is_applied_by_the_stack(
    faulty: httpx.AsyncClient, served: list[str]
) -> None:
    auth = {"Authorization": f"Bearer {ADMIN}"}
    spec = {"pin": ADULT, "operation": "registry-lookup", "outcome": {"fault": "http_502"}}
    r = await faulty.put("/__sim06/expectations", json=spec, headers=auth)
    assert r.status_code in (200, 201), r.text
    r = await _lookup(faulty)
    assert r.status_code == 502
    assert served == []


async def test_strict_mode_keeps_every_lookup_in_the_stack(
    gw_settings: Settings, served: list[str]
) -> None:
    application = await _app(gw_settings.model_copy(update={"strict_contracts": True}))
    transport = httpx.ASGITransport(app=application)
    try:
        async with httpx.AsyncClient(transport=transport, base_url="http://gateway") as c:
            r = await _lookup(c)
        assert r.status_code == 200
        assert served == []
    finally:
        await application.state.gateway.registry.aclose()
        application.state.audit.close()


async def test_a_tls_connection_goes_through_the_certificate_layer(
    faulty: httpx.AsyncClient,
) -> None:
    app: GatewayApp = faulty.app  # type: ignore[attr-defined]
    scope = {
        "type": "http", "method": "GET", "path": LOOKUP, "query_string": b"", "root_path": "",
        "headers": [], "extensions": {"tls": {"client_cert_chain": []}},
    }  # fmt: skip
    assert not app._idle(scope)
    assert app._idle({**scope, "extensions": {}})


async def test_an_unexpected_error_is_a_problem(
    faulty: httpx.AsyncClient, served: list[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    async def broken(*_: Any, **__: Any) -> Any:
        raise RuntimeError("boom")

    app: GatewayApp = faulty.app  # type: ignore[attr-defined]
    assert app.express_profile is not None
    monkeypatch.setattr(app.express_profile, "exchange", broken)
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://gateway") as c:
        r = await _lookup(c)
    assert r.status_code == 500
    assert r.headers["content-type"] == "application/problem+json"
    assert r.json()["code"] == "INTERNAL_ERROR"
    assert served == [LOOKUP]
    assert express.log.name == "sim06.gateway"


# --- the lane inside the connection's HTTP protocol (sim06 up) ----------------------------------


def _raw(url: str, payload: bytes, answers: int) -> list[bytes]:
    """Send ``payload`` (one request or several pipelined) on one connection; the answers."""
    host, port = url.removeprefix("http://").split(":")
    out: list[bytes] = []
    data = b""
    with socket.create_connection((host, int(port)), timeout=10) as sock:
        sock.sendall(payload)
        while len(out) < answers:
            while b"\r\n\r\n" not in data:
                chunk = sock.recv(65536)
                assert chunk, out
                data += chunk
            head, _, rest = data.partition(b"\r\n\r\n")
            found = re.search(rb"content-length: (\d+)", head.lower())
            assert found is not None
            length = int(found.group(1))
            while len(rest) < length:
                chunk = sock.recv(65536)
                assert chunk
                rest += chunk
            out.append(head + b"\r\n\r\n" + rest[:length])
            data = rest[length:]
    return out


def _live_token(url: str) -> str:
    r = httpx.post(f"{url}/oauth/token", data={"grant_type": "client_credentials"},
                   auth=(POLICE["client_id"], POLICE["secret"]))  # fmt: skip
    token: str = r.json()["access_token"]
    return token


def _parts(answer: bytes) -> tuple[bytes, dict[bytes, bytes], bytes]:
    head, _, body = answer.partition(b"\r\n\r\n")
    status, *lines = head.split(b"\r\n")
    return status, dict(line.lower().split(b": ", 1) for line in lines), body


def _request(headers: dict[str, str], path: str = LOOKUP, version: bytes = b"HTTP/1.1") -> bytes:
    lines = b"".join(b"%s: %s\r\n" % (k.encode(), v.encode()) for k, v in headers.items())
    return b"GET %s %s\r\nhost: gateway\r\n%s\r\n" % (path.encode(), version, lines)


# Per request: the date, the request's own id and hash, and the signature over them.
_PER_REQUEST = {b"date", b"x-mayeucau", b"x-request-hash", b"x-jws-signature"}


def test_the_protocol_lane_answers_like_the_stack(
    gw_settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    app = create_app(gw_settings)
    assert isinstance(app, GatewayApp)
    install_faults(app, gw_settings, "gateway")
    taken: list[str] = []
    real = GatewayApp.answer_in_protocol_later

    def spy(self: GatewayApp, path: str, headers: Any, respond: Any) -> Any:
        job = real(self, path, headers, respond)
        taken.append(f"{path} {job is not None}")
        return job

    monkeypatch.setattr(GatewayApp, "answer_in_protocol_later", spy)
    ctl = app.state.admission
    try:
        with live_server(app, http=AdmissionHttpProtocol) as url:
            token = _live_token(url)
            before = app.state.audit.count()
            (lane,) = _raw(url, _request(exchange_headers(token, POLICE)), 1)
            app._lane_open = False  # the whole stack
            (stack,) = _raw(url, _request(exchange_headers(token, POLICE)), 1)
            app._lane_open = None
            (closing,) = _raw(
                url, _request(exchange_headers(token, POLICE), version=b"HTTP/1.0"), 1
            )
            (refused,) = _raw(url, _request(exchange_headers("not-a-token", POLICE)), 1)
            # Pipelined behind a lane answer: answered after it, in order, on the same connection.
            pipelined = _request(exchange_headers(token, POLICE)) + _request({}, "/healthz")
            first, health = _raw(url, pipelined, 2)
            audited = app.state.audit.count() - before
    finally:
        app.state.audit.close()
    lane_status, lane_headers, lane_body = _parts(lane)
    stack_status, stack_headers, stack_body = _parts(stack)
    assert lane_status == stack_status == b"HTTP/1.1 200 OK"
    assert list(lane_headers) == list(stack_headers)  # same names, same order
    assert {k: v for k, v in lane_headers.items() if k not in _PER_REQUEST} == {
        k: v for k, v in stack_headers.items() if k not in _PER_REQUEST
    }
    assert lane_body == stack_body and orjson.loads(lane_body)["pin"] == ADULT
    assert b"connection" not in lane_headers
    assert _parts(closing)[1][b"connection"] == b"close" and _parts(closing)[2] == stack_body
    status, headers, body = _parts(refused)
    assert status == b"HTTP/1.1 401 Unauthorized" and b"www-authenticate" in headers
    assert orjson.loads(body)["code"] == "GATEWAY_UNAUTHENTICATED" and b"x-jws-signature" in headers
    assert _parts(first)[2] == stack_body and _parts(health)[0] == b"HTTP/1.1 200 OK"
    # Asked for every lookup; it declined the one with the lane closed (the stack answered).
    assert taken == [f"{LOOKUP} {answered}" for answered in (True, False, True, True, True)]
    assert audited == 5  # every lookup, the refused one and the stack's too
    assert ctl.in_flight == 0 and ctl.pending == 0  # every unit given back


def test_a_protocol_lane_that_fails_answers_500_and_closes(
    gw_settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    app = create_app(gw_settings)

    async def broken() -> None:
        raise RuntimeError("boom")

    monkeypatch.setattr(GatewayApp, "answer_in_protocol_later", lambda *_: broken())
    ctl = app.state.admission
    try:
        with live_server(app, http=AdmissionHttpProtocol) as url:
            (answer,) = _raw(url, _request({}), 1)
    finally:
        app.state.audit.close()
    status, headers, body = _parts(answer)
    assert status == b"HTTP/1.1 500 Internal Server Error"
    assert headers[b"connection"] == b"close"
    assert headers[b"content-type"] == b"application/problem+json"
    assert orjson.loads(body)["code"] == "INTERNAL_ERROR"
    assert ctl.in_flight == 0 and ctl.pending == 0


def test_a_client_that_leaves_before_its_lane_answer_loses_nothing(gw_settings: Settings) -> None:
    """The exchange still runs to its audit record; the answer is not written to a closed
    connection, and its admission units come back."""
    app = create_app(gw_settings)
    ctl = app.state.admission
    try:
        with live_server(app, http=AdmissionHttpProtocol) as url:
            token = _live_token(url)
            before = app.state.audit.count()
            host, port = url.removeprefix("http://").split(":")
            with socket.create_connection((host, int(port)), timeout=10) as sock:
                sock.sendall(_request(exchange_headers(token, POLICE)))
            deadline = time.monotonic() + 10
            while app.state.audit.count() == before and time.monotonic() < deadline:
                time.sleep(0.01)
            (after,) = _raw(url, _request(exchange_headers(token, POLICE)), 1)
            audited = app.state.audit.count() - before
    finally:
        app.state.audit.close()
    assert audited == 2 and _parts(after)[0] == b"HTTP/1.1 200 OK"
    assert ctl.in_flight == 0 and ctl.pending == 0

"""The admission protocol sends an answer's head with its body's first part (one write), and
never holds the head behind an app that waits before its body."""

from __future__ import annotations

import asyncio
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from fastapi import FastAPI
from starlette.responses import Response

from sim06.services.common.admission import install_admission
from sim06.services.common.admission_http import HeadWithBody
from sim06.services.common.settings import Settings
from tests.services.common.test_admission_http import App, Transport, connect

pytestmark = pytest.mark.anyio


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


class Writes(Transport):
    """A transport that keeps each write apart."""

    def __init__(self) -> None:
        super().__init__()
        self.writes: list[bytes] = []

    def write(self, data: bytes) -> None:
        super().write(data)
        self.writes.append(bytes(data))


async def test_head_and_body_go_out_in_one_write() -> None:
    out = Writes()
    t = HeadWithBody(out, asyncio.get_running_loop())
    t.write(b"HTTP/1.1 200 OK\r\n\r\n")
    assert out.writes == []
    t.write(b"{}")
    t.write(b"more")
    assert out.writes == [b"HTTP/1.1 200 OK\r\n\r\n{}", b"more"]
    await asyncio.sleep(0)  # the pending flush finds nothing left to write
    assert out.writes == [b"HTTP/1.1 200 OK\r\n\r\n{}", b"more"]


async def test_a_head_is_not_held_behind_a_waiting_app() -> None:
    out = Writes()
    t = HeadWithBody(out, asyncio.get_running_loop())
    t.write(b"HEAD")
    await asyncio.sleep(0)  # the app awaits something before its body: the loop turns
    assert out.writes == [b"HEAD"]
    t.write(b"body")
    assert out.writes == [b"HEAD", b"body"]


async def test_close_writes_a_held_head_first_and_the_rest_is_the_transport() -> None:
    out = Writes()
    t = HeadWithBody(out, asyncio.get_running_loop())
    t.write(b"HEAD")
    t.close()
    assert out.writes == [b"HEAD"] and out.closed and t.is_closing()
    assert t.get_extra_info("peername") == ("127.0.0.1", 8000)


async def test_a_head_answer_is_not_held() -> None:
    out = Writes()
    t = HeadWithBody(out, asyncio.get_running_loop(), hold=False)
    t.write(b"HEAD")
    assert out.writes == [b"HEAD"]


async def test_a_large_body_is_not_copied_to_join_its_head() -> None:
    out = Writes()
    t = HeadWithBody(out, asyncio.get_running_loop())
    big = b"x" * 100_000
    t.write(b"HEAD")
    t.write(big)
    assert out.writes == [b"HEAD", big]


def plain(tmp_path: Path) -> Any:
    """A FastAPI app behind admission whose answers are sent in one go (no streaming layer)."""
    app = FastAPI()

    async def fast() -> Response:
        return Response(b"{}", media_type="application/json")

    app.add_api_route("/fast", fast, methods=["GET", "HEAD"])

    install_admission(app, Settings(data_dir=tmp_path, gateway_embedded=True), "proto")
    return SimpleNamespace(fastapi=app)


async def served(app: Any, method: bytes = b"GET") -> list[bytes]:
    """The writes of one ``/fast`` request on a fresh connection of the admission protocol."""
    protocol, plain_transport = connect(app)
    out = Writes()
    protocol.transport = out  # type: ignore[assignment]
    protocol.data_received(method + b" /fast HTTP/1.1\r\nHost: t\r\n\r\n")
    for _ in range(50):
        await asyncio.sleep(0)
        if protocol.cycle is not None and protocol.cycle.response_complete:
            break
    # What the protocol may write as soon as the answer is complete (a refusal of the next
    # request) must come after it: the head is out by then.
    complete = len(out.writes)
    await asyncio.sleep(0)
    assert len(out.writes) == complete
    assert not plain_transport.out  # everything went through the cycle's transport
    return out.writes


async def test_the_protocol_answers_in_one_write(tmp_path: Path) -> None:
    writes = await served(plain(tmp_path))
    assert len(writes) == 1, writes
    assert writes[0].startswith(b"HTTP/1.1 200 OK\r\n") and writes[0].endswith(b"\r\n\r\n{}")
    assert b"content-length: 2\r\n" in writes[0]


async def test_a_head_request_is_answered_at_once(tmp_path: Path) -> None:
    writes = await served(plain(tmp_path), b"HEAD")
    assert len(writes) == 1 and writes[0].endswith(b"\r\n\r\n"), writes


async def test_a_streamed_answer_has_its_head_sent_at_once(tmp_path: Path) -> None:
    # Behind an ``@app.middleware("http")`` layer the body comes after awaits: the head is
    # written alone, when the loop turns, not held until the body.
    writes = await served(App(tmp_path, limit=4))
    assert writes[0].startswith(b"HTTP/1.1 200 OK\r\n") and writes[0].endswith(b"\r\n\r\n")
    assert b"".join(writes[1:]) == b"{}"

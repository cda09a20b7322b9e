"""Fault kinds slow_body, malformed, http_500/429/502 and error rates by status (issue 6 item 4)."""

from __future__ import annotations

import json
import time
from collections import Counter

import httpx
import pytest
from pydantic import ValidationError
from starlette.types import Message

from sim06.services.common.fault_middleware import FaultMiddleware
from sim06.services.common.faults import FaultController, FaultUpdate
from sim06.services.common.settings import Settings
from sim06.services.registry.app import create_app

pytestmark = pytest.mark.anyio
ADULT = "/v1/citizens/001090104217"


@pytest.mark.parametrize(
    ("kind", "status", "code", "retry"),
    [
        ("http_500", 500, "SIM_FAULT_INTERNAL", False),
        ("http_429", 429, "SIM_FAULT_RATE_LIMITED", True),
        ("http_502", 502, "SIM_FAULT_BAD_GATEWAY", False),
        ("http_503", 503, "SIM_FAULT_UNAVAILABLE", True),
    ],
)
async def test_status_faults_are_catalogued_problems(
    client: httpx.AsyncClient, kind: str, status: int, code: str, retry: bool
) -> None:
    r = await client.get(ADULT, headers={"X-Sim-Fault": kind})
    assert r.status_code == status
    assert r.headers["content-type"] == "application/problem+json"
    assert r.json()["code"] == code and r.json()["status"] == status
    assert ("retry-after" in r.headers) is retry


async def test_malformed_is_a_200_whose_json_does_not_parse(client: httpx.AsyncClient) -> None:
    good = await client.get(ADULT)
    r = await client.get(ADULT, headers={"X-Sim-Fault": "malformed"})
    assert r.status_code == 200
    assert int(r.headers["content-length"]) == len(r.content)  # the length is honest
    assert r.content.startswith(good.content[:10])
    with pytest.raises(json.JSONDecodeError):
        json.loads(r.content)


async def test_slow_body_sends_the_whole_body_in_pieces_with_pauses(settings: Settings) -> None:
    app = create_app(settings)
    ctl = FaultController.from_settings(settings)
    ctl.update(FaultUpdate(slow_body_ms=300))
    middleware = FaultMiddleware(app, ctl, "registry", settings)
    sent: list[tuple[float, Message]] = []

    async def receive() -> Message:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: Message) -> None:
        sent.append((time.perf_counter(), message))

    scope = {
        "type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": "GET",
        "scheme": "http", "path": ADULT, "raw_path": ADULT.encode(), "query_string": b"",
        "headers": [(b"host", b"registry"), (b"x-sim-fault", b"slow_body")],
        "client": ("127.0.0.1", 1), "server": ("registry", 80), "root_path": "",
    }  # fmt: skip
    started = time.perf_counter()
    await middleware(scope, receive, send)
    bodies = [m for _, m in sent if m["type"] == "http.response.body"]
    assert len(bodies) > 5
    assert [m.get("more_body", False) for m in bodies][-1] is False
    body = b"".join(m["body"] for m in bodies)
    start = next(m for _, m in sent if m["type"] == "http.response.start")
    assert dict(start["headers"])[b"content-length"] == str(len(body)).encode()
    assert json.loads(body)  # intact, only slow
    assert time.perf_counter() - started >= 0.28
    assert sent[-1][0] - sent[1][0] >= 0.2  # the pauses are between pieces, not up front


def test_error_rates_by_status_are_drawn_from_the_seed() -> None:
    def run(seed: int) -> list[str | None]:
        ctl = FaultController.from_settings(Settings(fault_seed=seed))
        ctl.update(FaultUpdate(errors={"503": 0.05, "500": 0.01}))
        return [ctl.decide("registry", None, None).fault for _ in range(20_000)]

    first = run(7)
    assert first == run(7) and first != run(8)
    counts = Counter(first)
    assert set(counts) == {None, "http_503", "http_500"}
    assert abs(counts["http_503"] / 20_000 - 0.05) < 0.01
    assert abs(counts["http_500"] / 20_000 - 0.01) < 0.004


def test_error_rates_add_to_the_configured_fault_and_can_be_cleared() -> None:
    ctl = FaultController.from_settings(Settings())
    ctl.update(FaultUpdate(fault="reset", rate=0.5, errors={"429": 0.5}))
    kinds = Counter(ctl.decide("gateway", None, None).fault for _ in range(2000))
    assert set(kinds) == {"reset", "http_429"}
    assert ctl.snapshot()["errors"] == {"429": 0.5}
    ctl.update(FaultUpdate(errors=None, fault=None))
    assert {ctl.decide("gateway", None, None).fault for _ in range(200)} == {None}


def test_invalid_error_rates_are_refused() -> None:
    with pytest.raises(ValidationError):
        FaultUpdate.model_validate({"errors": {"418": 0.1}})
    with pytest.raises(ValidationError):
        FaultUpdate.model_validate({"errors": {"503": 0.8, "500": 0.3}})


async def test_errors_over_the_admin_api(client: httpx.AsyncClient) -> None:
    r = await client.put("/__sim06/faults", json={"errors": {"502": 1.0}})
    assert r.status_code == 200 and r.json()["errors"] == {"502": 1.0}
    assert (await client.get(ADULT)).status_code == 502
    bad = await client.put("/__sim06/faults", json={"errors": {"503": 2}})
    assert bad.status_code == 422

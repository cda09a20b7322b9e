"""Latency distributions, scoping by route/agency/persona and scheduled outages (issue 6 item 4)."""

from __future__ import annotations

import secrets
from datetime import UTC, datetime, timedelta
from pathlib import Path
from statistics import mean, stdev

import httpx
import pytest
from fastapi import FastAPI
from pydantic import ValidationError

from sim06.services.common.fault_rules import FaultScope
from sim06.services.common.faults import FaultController, FaultUpdate
from sim06.services.common.latency import HopLatency, ProfileBook
from sim06.services.common.redis_state import RedisFaultState
from sim06.services.common.settings import Settings
from tests.backends import REDIS_URL, needs_redis

ADULT = "/v1/citizens/001090104217"
OTHER = "/v1/citizens/001190000001"


class Clock:
    """A movable clock for outage windows: tests move it instead of sleeping."""

    def __init__(self, at: str) -> None:
        self.now = datetime.fromisoformat(at)

    def __call__(self) -> datetime:
        return self.now


def test_fixed_and_normal_hops() -> None:
    assert HopLatency(fixed=40).quantile(0.001) == HopLatency(fixed=40).quantile(0.999) == 40
    normal = HopLatency.model_validate({"normal": {"mean": 50, "sd": 10}})
    draws = [normal.quantile((i + 0.5) / 5000) for i in range(5000)]
    assert abs(mean(draws) - 50) < 1 and abs(stdev(draws) - 10) < 1
    wide = HopLatency.model_validate({"normal": {"mean": 5, "sd": 20}})
    assert min(wide.quantile((i + 0.5) / 1000) for i in range(1000)) >= 0  # truncated at 0
    assert HopLatency(fixed=10).scaled(2.5).quantile(0.5) == 25


def test_a_hop_takes_one_form_only() -> None:
    with pytest.raises(ValidationError):
        HopLatency.model_validate({"fixed": 5, "p50": 1, "p95": 2, "p99": 3})
    with pytest.raises(ValidationError):
        HopLatency.model_validate({"fixed": 5, "normal": {"mean": 1, "sd": 1}})


def test_profiles_file_accepts_all_three_forms(tmp_path: Path) -> None:
    path = tmp_path / "profiles.yaml"
    path.write_text(
        "profiles:\n"
        "  lab:\n"
        "    hops:\n"
        "      registry: {fixed: 25}\n"
        "      identity: {normal: {mean: 80, sd: 15}}\n"
        "      '*': {p50: 10, p95: 30, p99: 60}\n",
        "utf-8",
    )
    book = ProfileBook.load(path)
    ctl = FaultController(state=FaultController.from_settings(Settings()).state, book=book)
    ctl.update(FaultUpdate(profile="lab"))
    assert {ctl.decide("registry", None, None).delay_ms for _ in range(50)} == {25}
    identity = [ctl.decide("identity", None, None).delay_ms for _ in range(4000)]
    assert abs(mean(identity) - 80) < 2
    assert len({ctl.decide("gateway", None, None).delay_ms for _ in range(50)}) == 50


def test_scope_by_route_agency_and_persona() -> None:
    scope = FaultScope(routes=["/v1/citizens/*"], agencies=["000.21.01.H26"])
    assert scope.matches(ADULT, "VN/GOV/000.21.01.H26/hcc")
    assert scope.matches(ADULT, "000.21.01.H26")
    assert not scope.matches(ADULT, "VN/GOV/000.00.00.G01/hcc")
    assert not scope.matches(ADULT, None)
    assert not scope.matches("/v1/households/1", "000.21.01.H26")
    by_key = FaultScope(personas=["adult-level2"])
    assert by_key.personas and by_key.personas[0].isdigit()
    assert by_key.matches(f"/v1/citizens/{by_key.personas[0]}", None)
    assert not by_key.matches(OTHER, None)
    with pytest.raises(ValidationError):
        FaultScope(personas=["no-such-persona"])


def test_fault_and_profile_apply_only_in_scope() -> None:
    ctl = FaultController.from_settings(Settings())
    ctl.update(
        FaultUpdate.model_validate(
            {"fault": "http_500", "profile": "typical", "scope": {"personas": ["001090104217"]}}
        )
    )
    hit = ctl.decide("registry", None, None, ADULT)
    miss = ctl.decide("registry", None, None, OTHER)
    assert hit.fault == "http_500" and hit.delay_ms > 0
    assert miss.fault is None and miss.delay_ms == 0 and miss.profile == "ideal"
    ctl.update(FaultUpdate(scope=None))
    assert ctl.decide("registry", None, None, OTHER).fault == "http_500"


def test_one_off_outage_answers_503_until_the_window_ends() -> None:
    clock = Clock("2026-07-01T18:59:00+07:00")
    ctl = FaultController.from_settings(
        Settings(),
    )
    ctl.clock = clock
    ctl.update(FaultUpdate.model_validate(
        {"outages": [{"service": "registry", "start": "2026-07-01T19:00:00+07:00", "minutes": 30}]}
    ))  # fmt: skip
    assert ctl.decide("registry", None, None).fault is None
    clock.now += timedelta(minutes=11)  # 19:10
    d = ctl.decide("registry", None, None)
    assert d.fault == "http_503" and d.retry_after == 20 * 60
    assert ctl.decide("identity", None, None).fault is None  # only the registry is out
    assert ctl.decide("registry", None, "none").fault is None  # the header still wins
    clock.now += timedelta(minutes=20)  # 19:30: over
    assert ctl.decide("registry", None, None).fault is None


def test_daily_outage_recurs_and_crosses_midnight() -> None:
    clock = Clock("2026-07-02T23:50:00+07:00")
    ctl = FaultController.from_settings(Settings())
    ctl.clock = clock
    ctl.update(FaultUpdate.model_validate(
        {"outages": [{"service": "gateway", "start": "23:45", "minutes": 30}]}
    ))  # fmt: skip
    assert ctl.decide("gateway", None, None).retry_after == 25 * 60
    clock.now = datetime(2026, 7, 3, 0, 10, tzinfo=UTC) - timedelta(hours=7)  # 00:10 Vietnam
    assert ctl.decide("gateway", None, None).retry_after == 5 * 60
    clock.now += timedelta(minutes=10)
    assert ctl.decide("gateway", None, None).fault is None
    clock.now = datetime.fromisoformat("2026-07-09T23:46:00+07:00")  # a week later
    assert ctl.decide("gateway", None, None).fault == "http_503"


@pytest.mark.parametrize(
    "outage",
    [
        {"service": "nowhere", "start": "19:00", "minutes": 30},
        {"service": "registry", "start": "25:00", "minutes": 30},
        {"service": "registry", "start": "2026-07-01T19:00:00", "minutes": 30},  # no offset
        {"service": "registry", "start": "19:00", "minutes": 0},
    ],
)
def test_bad_outages_are_refused(outage: dict[str, object]) -> None:
    with pytest.raises(ValidationError):
        FaultUpdate.model_validate({"outages": [outage]})


@pytest.fixture
def frozen_clock(faults_app: FastAPI) -> None:
    """The fault controller's clock at 19:05 on 1 July 2026 (Vietnam time)."""
    faults_app.state.faults.clock = Clock("2026-07-01T19:05:00+07:00")


@pytest.mark.anyio
@pytest.mark.usefixtures("frozen_clock")
async def test_scope_and_outage_over_http(client: httpx.AsyncClient) -> None:
    r = await client.put(
        "/__sim06/faults",
        json={"fault": "http_502", "scope": {"agencies": ["000.21.01.H26"]}},
    )
    assert r.status_code == 200 and r.json()["scope"]["agencies"] == ["000.21.01.H26"]
    assert (await client.get(ADULT)).status_code == 200
    hit = await client.get(ADULT, headers={"X-Road-Client": "VN/GOV/000.21.01.H26/sub"})
    assert hit.status_code == 502
    r = await client.put(
        "/__sim06/faults",
        json={"fault": None, "outages": [{"service": "registry", "start": "19:00", "minutes": 30}]},
    )
    assert r.status_code == 200 and r.json()["outages"][0]["start"] == "19:00"
    out = await client.get(ADULT)
    assert out.status_code == 503 and out.headers["retry-after"] == str(25 * 60)
    assert out.json()["code"] == "SIM_FAULT_UNAVAILABLE" and "outage" in out.json()["detail"]
    bad = await client.put("/__sim06/faults", json={"scope": {"personas": ["nobody"]}})
    assert bad.status_code == 422


@needs_redis
def test_scope_errors_and_outages_are_shared_by_replicas() -> None:
    assert REDIS_URL is not None
    shared = RedisFaultState(REDIS_URL, prefix=f"sim06-test-{secrets.token_hex(4)}:")
    try:
        a = FaultController.from_settings(Settings(), shared)
        b = FaultController.from_settings(Settings(), shared)
        a.update(FaultUpdate.model_validate({
            "errors": {"500": 1.0}, "slow_body_ms": 250, "scope": {"routes": ["/v1/*"]},
            "outages": [{"service": "identity", "start": "19:00", "minutes": 30}],
        }))  # fmt: skip
        b.sync(force=True)
        assert b.state.errors == {"500": 1.0} and b.state.slow_body_ms == 250
        assert b.state.scope == FaultScope(routes=["/v1/*"])
        assert [o.start for o in b.state.outages] == ["19:00"]
        assert b.decide("registry", None, None, ADULT).fault == "http_500"
        assert b.decide("registry", None, None, "/other").fault is None
    finally:
        shared.clear()

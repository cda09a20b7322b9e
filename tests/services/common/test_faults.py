"""Latency profiles and fault decisions in process (no real sleeping): percentiles, replay."""

from __future__ import annotations

from pathlib import Path

import pytest

from sim06.services.common.faults import FaultController, FaultUpdate, InvalidOverride, percentile
from sim06.services.common.latency import SHIPPED, HopLatency, ProfileBook
from sim06.services.common.settings import Settings


def controller(**overrides: object) -> FaultController:
    return FaultController.from_settings(Settings(**overrides))  # type: ignore[arg-type]


@pytest.mark.parametrize("service", ["gateway", "registry", "identity"])
def test_typical_percentiles_match_the_profile_within_10_percent(service: str) -> None:
    ctl = controller(latency_profile="typical")
    delays = sorted(ctl.decide(service, None, None).delay_ms for _ in range(10_000))
    configured = SHIPPED["typical"].hop(service)
    for q, expected in ((0.50, configured.p50), (0.95, configured.p95), (0.99, configured.p99)):
        measured = percentile(delays, q)
        assert abs(measured - expected) <= 0.10 * expected, (service, q, measured, expected)


def test_the_same_seed_replays_the_same_delays_and_faults() -> None:
    def sequence(seed: int) -> list[tuple[float, str | None]]:
        ctl = controller(latency_profile="degraded", fault_seed=seed)
        return [(d.delay_ms, d.fault) for d in (ctl.decide("gateway", None, None)
                                                 for _ in range(2000))]  # fmt: skip

    first, again, other = sequence(42), sequence(42), sequence(43)
    assert first == again
    assert first != other
    kinds = {fault for _, fault in first}
    assert {"http_503", "timeout", "reset", None} <= kinds  # degraded: 5% / 1% / 1%


def test_changing_the_seed_at_run_time_restarts_the_sequence() -> None:
    ctl = controller(latency_profile="typical", fault_seed=1)
    start = [ctl.decide("registry", None, None).delay_ms for _ in range(5)]
    ctl.update(FaultUpdate(seed=1))
    assert [ctl.decide("registry", None, None).delay_ms for _ in range(5)] == start


def test_header_beats_setting_beats_default() -> None:
    ctl = controller()  # default: ideal, no fault
    d = ctl.decide("registry", None, None)
    assert (d.profile, d.delay_ms, d.fault) == ("ideal", 0.0, None)
    ctl = controller(fault="http_503", latency_profile="typical")
    assert ctl.decide("registry", None, None).fault == "http_503"
    assert ctl.decide("registry", None, "reset").fault == "reset"
    assert ctl.decide("registry", None, "none").fault is None
    d = ctl.decide("registry", "peak", None)  # alias of evening-peak
    assert d.profile == "evening-peak"


def test_unknown_header_values_are_refused() -> None:
    ctl = controller()
    with pytest.raises(InvalidOverride, match="unknown latency profile"):
        ctl.decide("gateway", "rush-hour", None)
    with pytest.raises(InvalidOverride, match="unknown fault"):
        ctl.decide("gateway", None, "explode")


def test_fault_rate_and_service_scope() -> None:
    ctl = controller(fault="http_503", fault_rate=0.25, fault_services=["registry"])
    hits = sum(ctl.decide("registry", None, None).fault == "http_503" for _ in range(4000))
    assert 900 <= hits <= 1100
    assert all(ctl.decide("gateway", None, None).fault is None for _ in range(200))


def test_outage_profile_fails_everything() -> None:
    ctl = controller(latency_profile="outage")
    assert all(ctl.decide("identity", None, None).fault == "http_503" for _ in range(100))


def test_percentiles_must_be_ordered() -> None:
    with pytest.raises(ValueError, match="p50 <= p95 <= p99"):
        HopLatency(p50=10, p95=5, p99=20)
    assert HopLatency(p50=10, p95=30, p99=60).quantile(0.5) == pytest.approx(10)


def test_profiles_file_adds_and_validates(tmp_path: Path) -> None:
    path = tmp_path / "profiles.yaml"
    path.write_text(
        "profiles:\n  slow-registry:\n    hops:\n      registry: {p50: 100, p95: 300, p99: 900}\n"
        "    faults:\n      registry: {timeout: 0.5}\n",
        "utf-8",
    )
    book = ProfileBook.load(path)
    assert book.get("slow-registry").hop("registry").p99 == 900
    assert "typical" in book.names()
    path.write_text("profiles:\n  bad:\n    faults:\n      '*': {explode: 0.1}\n", "utf-8")
    with pytest.raises(ValueError, match="unknown fault kinds"):
        ProfileBook.load(path)


def test_update_validates_profile_names() -> None:
    ctl = controller()
    with pytest.raises(InvalidOverride):
        ctl.update(FaultUpdate(profile="nope"))
    snapshot = ctl.update(FaultUpdate(profile="degraded", fault="timeout", rate=0.5))
    assert snapshot["profile"] == "degraded" and snapshot["fault"] == "timeout"
    assert ctl.update(FaultUpdate.model_validate({"fault": None}))["fault"] is None

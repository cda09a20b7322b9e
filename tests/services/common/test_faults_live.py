"""Each fault kind as a real httpx client sees it from a live uvicorn server on 127.0.0.1."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from sim06.services.common.fault_middleware import install_faults
from sim06.services.common.faults import percentile
from sim06.services.common.latency import HopLatency, Profile
from sim06.services.common.settings import Settings
from sim06.services.registry.app import create_app
from tests.services.common.live import live_server

pytestmark = pytest.mark.e2e
ADULT = "/v1/citizens/001090104217"


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory, seeded_db: Path) -> Iterator[str]:
    settings = Settings(
        data_dir=tmp_path_factory.mktemp("faults"), db_path=seeded_db, fault_hold_seconds=5
    )
    app = create_app(settings)
    controller = install_faults(app, settings, "registry")
    # A profile for the live check, slow enough to dominate the server's own time.
    controller.book.profiles["live-check"] = Profile(
        hops={"registry": HopLatency(p50=30, p95=60, p99=90)}
    )
    with live_server(app) as url:
        yield url


def get(url: str, fault: str, timeout: float = 2.0) -> httpx.Response:
    with httpx.Client(base_url=url, timeout=timeout) as client:
        return client.get(ADULT, headers={"X-Sim-Fault": fault})


def test_http_503_with_retry_after(served: str) -> None:
    r = get(served, "http_503")
    assert r.status_code == 503 and int(r.headers["retry-after"]) >= 0


def test_timeout_is_a_read_timeout(served: str) -> None:
    with pytest.raises(httpx.ReadTimeout):
        get(served, "timeout", timeout=0.3)


def test_reset_is_a_connection_reset(served: str) -> None:
    with pytest.raises((httpx.ReadError, httpx.RemoteProtocolError)) as caught:
        get(served, "reset")
    assert "reset" in str(caught.value).lower() or isinstance(caught.value, httpx.ReadError)


def test_truncated_body_is_incomplete(served: str) -> None:
    with pytest.raises(httpx.RemoteProtocolError, match="incomplete|complete message body"):
        get(served, "truncated")


def test_the_server_survives_every_fault(served: str) -> None:
    assert get(served, "none").status_code == 200


def test_runtime_toggle_reaches_the_next_request(served: str) -> None:
    with httpx.Client(base_url=served, timeout=2) as client:
        client.put("/__sim06/faults", json={"fault": "http_503", "services": ["registry"]})
        try:
            assert client.get(ADULT).status_code == 503
        finally:
            client.put("/__sim06/faults", json={"fault": None, "services": []})
        assert client.get(ADULT).status_code == 200


def test_live_latency_follows_the_profile(served: str) -> None:
    """A small live check: 60 real requests under a 30/60/90 ms profile, sleeping for real."""
    with httpx.Client(base_url=served, timeout=5) as client:
        headers = {"X-Sim-Latency-Profile": "live-check"}
        ms = sorted(
            client.get(ADULT, headers=headers).elapsed.total_seconds() * 1000 for _ in range(60)
        )
    assert 30 * 0.9 <= percentile(ms, 0.5) <= 30 * 1.6, ms  # + server and client overhead

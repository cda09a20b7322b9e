"""The pytest plugin, run as an integrator would: a suite in a temporary directory."""

from __future__ import annotations

import inspect

import pytest

pytest_plugins = ["pytester"]

SUITE = """
import pytest

ADULT = "001090104217"


def test_persona_and_lookup(sim06, persona):
    adult = persona("adult-level2")
    assert adult.pin == ADULT and adult.record["pin"] == ADULT
    assert sim06.registry.get("/v1/citizens/" + ADULT).status_code == 200
    assert set(sim06.urls) == {"gateway", "registry", "identity"}


def test_demo_agency_headers_and_replay_reset(demo_agency):
    commune = demo_agency("ubnd-ba-dinh")
    r = commune.get("/v1/registry/citizens/" + ADULT)
    assert r.status_code == 200, r.text
    assert "x-jws-signature" in r.headers
    replay = commune.headers()
    replay["X-MaYeuCau"] = "fixed-request-id-1"
    assert commune.client.get("/v1/registry/citizens/" + ADULT, headers=replay).status_code == 200
    assert commune.client.get("/v1/registry/citizens/" + ADULT, headers=replay).status_code == 409


def test_after_reset_the_request_id_is_fresh(demo_agency):
    commune = demo_agency("ubnd-ba-dinh")
    h = commune.headers()
    h["X-MaYeuCau"] = "fixed-request-id-1"
    assert commune.client.get("/v1/registry/citizens/" + ADULT, headers=h).status_code == 200


def test_fault_and_latency_context_managers(sim06):
    with sim06.fault("http_503", service="registry"):
        r = sim06.registry.get("/v1/citizens/" + ADULT)
        assert r.status_code == 503 and r.json()["code"] == "SIM_FAULT_UNAVAILABLE"
        assert sim06.identity.get("/.well-known/openid-configuration").status_code == 200
    assert sim06.registry.get("/v1/citizens/" + ADULT).status_code == 200
    with sim06.latency("peak"):
        assert sim06.registry.get("/__sim06/faults").json()["profile"] == "evening-peak"
    assert sim06.registry.get("/__sim06/faults").json()["profile"] != "evening-peak"


def test_expectation_context_manager(sim06):
    with sim06.expect(ADULT, {"code": "CITIZEN_NOT_FOUND"}, operation="citizens-get",
                      times=1) as made:
        assert sim06.registry.get("/v1/citizens/" + ADULT).status_code == 404
    assert made["hits"] == 1
    assert sim06.registry.get("/v1/citizens/" + ADULT).status_code == 200


def test_leaves_a_fault_behind(sim06):
    sim06.admin("registry", "PUT", "/__sim06/faults", {"fault": "http_503", "rate": 1.0})


def test_the_fault_left_behind_was_reset(sim06):
    assert sim06.registry.get("/v1/citizens/" + ADULT).status_code == 200


async def test_async_client(sim06):
    async with sim06.async_client("registry") as client:
        r = await client.get("/v1/citizens/" + ADULT)
        assert r.status_code == 200, r.text


@pytest.fixture
def anyio_backend():
    return "asyncio"


pytestmark = pytest.mark.anyio
"""


def test_plugin_in_process(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_agency=SUITE)
    result = pytester.runpytest_subprocess("-p", "anyio", "--sim06-population", "200", "-q")
    result.assert_outcomes(passed=8)


def _wired() -> bool:
    # `sim06 up` serves the state API once every create_app calls install_testing_tools.
    from sim06.services.registry import app

    return "install_testing_tools" in inspect.getsource(app)


@pytest.mark.e2e
@pytest.mark.skipif(not _wired(), reason="create_app does not call install_testing_tools yet")
def test_plugin_live(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_agency=SUITE)
    result = pytester.runpytest_subprocess(
        "-p", "anyio", "--sim06-population", "200",
        "--sim06-live", "-q",
    )  # fmt: skip
    result.assert_outcomes(passed=8)


def test_plugin_is_inert_without_the_option(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_plain="def test_plain():\n    assert True\n")
    result = pytester.runpytest_subprocess("-q")
    result.assert_outcomes(passed=1)
    assert not list(pytester.path.glob("**/population.db"))

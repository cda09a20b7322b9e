"""pytest plugin for integrators: a running sim06 and its controls as fixtures.

Enabled by the ``sim06`` entry point (``pytest11``) once sim06 is installed, or with
``pytest -p sim06.services.testing.plugin``. Nothing starts unless a test asks for a fixture:

    sim06           a running sim06 (session): in process over ASGI (default), or ``sim06 up``
                    on free ports with ``--sim06-live``; ``.registry``, ``.gateway``,
                    ``.identity`` are httpx clients, ``.urls`` their base URLs,
                    ``.fault(kind, service=)`` / ``.latency(profile)`` / ``.expect(pin, outcome)``
                    context managers, ``.snapshot()`` / ``.reset()``
    sim06_settings  the Settings it runs with (a small population seeded once, in a tmp dir)
    persona         ``persona("adult-level2")`` -> PIN and registry record
    demo_agency     ``demo_agency("ubnd-ba-dinh").get("/v1/registry/citizens/...")`` with a token
                    and the X-Road-style headers (fresh X-MaYeuCau each call)

After each test that used ``sim06`` its state is reset to the session's start (replay caches,
quotas, added agencies, identity codes and sessions, faults, expectations) — but not the
contract journal, so ``sim06 contract coverage`` sees the whole run. ``--sim06-no-reset``
keeps state across tests.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest

from sim06.services.common.settings import Settings
from sim06.services.testing.harness import AgencyClient, PersonaInfo, Sim06, in_process, live

RESET_PARTS = [
    "expectations", "faults", "gateway.agencies", "gateway.assertions", "gateway.quota",
    "gateway.replay", "identity.state", "registry.events",
]  # fmt: skip


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("sim06", "sim06 sandbox of Project 06 national systems")
    group.addoption(
        "--sim06-live",
        action="store_true",
        default=False,
        help="run sim06 as live servers (sim06 up) on free ports, not in process",
    )
    group.addoption(
        "--sim06-population",
        type=int,
        default=2_000,
        help="citizens generated besides the personas (default 2000)",
    )
    group.addoption("--sim06-no-reset", action="store_true", default=False,
                    help="do not reset sim06's state after each test")  # fmt: skip


@pytest.fixture(scope="session")
def sim06_settings(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Settings:
    """Settings of the session's sim06: a private data dir seeded once (personas included)."""
    from sim06.services.bench import free_port
    from sim06.services.seeding import ensure_seeded

    data = tmp_path_factory.mktemp("sim06")
    size = int(request.config.getoption("--sim06-population"))
    settings = Settings(
        data_dir=data, db_path=data / "population.db", population_size=size,
        gateway_embedded=True, host="127.0.0.1",
        gateway_port=free_port(), registry_port=free_port(), identity_port=free_port(),
        procedures_port=free_port(), admin_port=free_port(),
    )  # fmt: skip
    ensure_seeded(settings, progress=False)
    return settings


@pytest.fixture(scope="session")
def sim06(request: pytest.FixtureRequest, sim06_settings: Settings) -> Iterator[Sim06]:
    """A running sim06 for the session (see the module docstring)."""
    if request.config.getoption("--sim06-live"):
        s = sim06_settings
        env = {
            "SIM06_DATA_DIR": str(s.data_dir), "SIM06_DB_PATH": str(s.database),
            "SIM06_HOST": s.host, "SIM06_GATEWAY_EMBEDDED": "true",
            **{f"SIM06_{n.upper()}_PORT": str(getattr(s, f"{n}_port"))
               for n in ("gateway", "registry", "identity", "procedures", "admin")},
        }  # fmt: skip
        if s.identity_clients_file is not None:
            env["SIM06_IDENTITY_CLIENTS_FILE"] = str(s.identity_clients_file)
        manager = live(s, env, s.data_dir / "sim06-up.log")
    else:
        manager = in_process(sim06_settings)
    with manager as running:
        _snapshot_start(running)
        yield running


def _snapshot_start(running: Sim06) -> None:
    try:
        running.snapshot(RESET_PARTS)
    except AssertionError:
        # A live sim06 whose apps predate install_testing_tools: no reset between tests.
        running.state_api = False


@pytest.fixture(autouse=True)
def _sim06_reset(request: pytest.FixtureRequest) -> Iterator[None]:
    # Autouse but inert: it touches sim06 only in tests that asked for it.
    yield
    if "sim06" not in request.fixturenames or request.config.getoption("--sim06-no-reset"):
        return
    running: Sim06 = request.getfixturevalue("sim06")
    if running.state_api:
        running.reset(RESET_PARTS)


@pytest.fixture
def persona(sim06: Sim06) -> Callable[[str], PersonaInfo]:
    """``persona(key)``: the persona's PIN and registry record."""
    return sim06.persona


@pytest.fixture
def demo_agency(sim06: Sim06) -> Callable[..., AgencyClient]:
    """``demo_agency(client_id, scope="")``: a gateway client holding a token."""
    cache: dict[tuple[str, str], AgencyClient] = {}

    def make(client_id: str, scope: str = "") -> AgencyClient:
        key = (client_id, scope)
        if key not in cache:
            cache[key] = sim06.agency(client_id, scope)
        return cache[key]

    return make


def pytest_report_header(config: pytest.Config) -> list[str] | None:
    if config.getoption("--sim06-live"):
        return ["sim06: live servers (sim06 up) on free ports"]
    return None

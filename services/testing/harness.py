"""A running sim06 for an integrator's tests: in process (no ports) or live (``sim06 up``).

:class:`Sim06` gives base URLs and ready ``httpx`` clients of the registry, gateway and
identity services, persona look-ups, demo agency clients with the X-Road-style headers, fault
and latency profiles as context managers, expectations, and snapshot/reset of state. Every
control goes through the services' own admin API (``/__sim06/...``), so both modes behave alike.
"""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from sim06.mock_registry.personas import BY_KEY
from sim06.services.common.settings import Settings
from sim06.services.gateway.agencies import AgencySpec, load_agencies

__all__ = ["SERVICES", "AgencyClient", "PersonaInfo", "Sim06", "in_process", "live"]

SERVICES = ("gateway", "registry", "identity")
_SERVICE_OF_PREFIX = {"citizens-": "registry", "registry-": "gateway", "oidc-": "identity",
                      "chip-": "identity"}  # fmt: skip


@dataclass(frozen=True)
class PersonaInfo:
    """A persona: its key, PIN and registry record (``GET /v1/citizens/{pin}``)."""

    key: str
    pin: str
    record: dict[str, Any]


class AgencyClient:
    """A demo agency at the gateway: holds a token and adds the exchange headers per call."""

    def __init__(self, client: httpx.Client, spec: AgencySpec, token: str) -> None:
        self.client = client
        self.spec = spec
        self.token = token
        procedure = spec.default_procedure or spec.procedures[0].code
        self.procedure = procedure
        self.purpose = next(p.purposes for p in spec.procedures if p.code == procedure)
        officers = [o.code for o in spec.officers if procedure in o.permissions]
        self.officer = officers[0] if officers else ""

    def headers(
        self, procedure: str | None = None, purpose: str | None = None,
        officer: str | None = None, legal_basis: str = "sim06 test",
    ) -> dict[str, str]:  # fmt: skip
        """The headers of one exchange, with a fresh ``X-MaYeuCau``."""
        return {
            "Authorization": f"Bearer {self.token}",
            "X-Road-Client": self.spec.code,
            "X-MaYeuCau": f"sim06-test-{uuid.uuid4().hex}",
            "X-MaDVC": procedure or self.procedure,
            "X-MaCanBo": officer or self.officer,
            "X-Purpose": purpose or next(iter(self.purpose)),
            "X-Legal-Basis": legal_basis,
        }

    def request(
        self, method: str, path: str, *, procedure: str | None = None,
        purpose: str | None = None, officer: str | None = None, **kwargs: Any,
    ) -> httpx.Response:  # fmt: skip
        headers = {**self.headers(procedure, purpose, officer), **kwargs.pop("headers", {})}
        return self.client.request(method, path, headers=headers, **kwargs)

    def get(self, path: str, **kwargs: Any) -> httpx.Response:
        return self.request("GET", path, **kwargs)

    def post(self, path: str, **kwargs: Any) -> httpx.Response:
        return self.request("POST", path, **kwargs)


@dataclass
class Sim06:
    """A running sim06 (see the module docstring)."""

    settings: Settings
    mode: str
    urls: dict[str, str]
    clients: dict[str, httpx.Client]
    apps: dict[str, Any] = field(default_factory=dict)
    state_api: bool = True  # False: a sim06 without /__sim06/snapshot (no reset per test)
    _agencies: dict[str, AgencySpec] = field(default_factory=dict)

    @property
    def registry(self) -> httpx.Client:
        return self.clients["registry"]

    @property
    def gateway(self) -> httpx.Client:
        return self.clients["gateway"]

    @property
    def identity(self) -> httpx.Client:
        return self.clients["identity"]

    def async_client(self, service: str) -> httpx.AsyncClient:
        """A new async client of ``service`` (close it yourself; in process over ASGI)."""
        if self.mode == "in-process":
            transport = httpx.ASGITransport(self.apps[service])
            return httpx.AsyncClient(transport=transport, base_url=self.urls[service])
        return httpx.AsyncClient(base_url=self.urls[service], timeout=30.0)

    # --- control through the admin API -------------------------------------------------

    def admin(self, service: str, method: str, path: str, json: Any = None) -> httpx.Response:
        headers = {"Authorization": f"Bearer {self.settings.gateway_admin_token}"}
        r = self.clients[service].request(method, path, json=json, headers=headers)
        if r.status_code >= 400:
            raise AssertionError(f"{method} {path} on {service}: {r.status_code} {r.text}")
        return r

    def snapshot(self, parts: list[str] | None = None) -> None:
        """Save the state of every service as the restore point."""
        for service in SERVICES:
            self.admin(service, "POST", "/__sim06/snapshot", self._parts(service, parts))

    def reset(self, parts: list[str] | None = None, *, to: str = "snapshot") -> None:
        """Restore the saved state (``to="startup"``: the state before the first request)."""
        for service in SERVICES:
            body = {**self._parts(service, parts), "to": to}
            self.admin(service, "POST", "/__sim06/reset", body)

    def save_scenario(self, name: str) -> None:
        """Save the state of every service under ``name`` (e.g. after a scenario's events)."""
        for service in SERVICES:
            self.admin(service, "POST", "/__sim06/snapshot", {"name": name})

    def load_scenario(self, name: str) -> None:
        """Bring back the state saved by :meth:`save_scenario`."""
        for service in SERVICES:
            self.admin(service, "POST", "/__sim06/reset", {"name": name})

    def _parts(self, service: str, parts: list[str] | None) -> dict[str, Any]:
        if parts is None:
            return {}
        known = self.admin(service, "GET", "/__sim06/state").json()["parts"]
        return {"parts": [p for p in parts if p in known]}

    @contextlib.contextmanager
    def fault(self, kind: str, service: str | None = None, rate: float = 1.0) -> Iterator[None]:
        """Inject ``kind`` (timeout, reset, truncated, http_503) into ``service`` (or all)."""
        with self._faults({"fault": kind, "rate": rate, "services": [service] if service else []}):
            yield

    @contextlib.contextmanager
    def latency(self, profile: str, service: str | None = None) -> Iterator[None]:
        """Apply a latency profile (ideal, typical, peak, ...) to ``service`` (or all)."""
        with self._faults({"profile": profile, "services": [service] if service else []}):
            yield

    @contextlib.contextmanager
    def _faults(self, change: dict[str, Any]) -> Iterator[None]:
        before = self.admin("registry", "GET", "/__sim06/faults").json()
        self.admin("registry", "PUT", "/__sim06/faults", change)
        try:
            yield
        finally:
            self.admin("registry", "PUT", "/__sim06/faults", {k: before[k] for k in change})

    @contextlib.contextmanager
    def expect(
        self, pin: str, outcome: dict[str, Any], operation: str = "*",
        times: int | None = None, service: str | None = None,
    ) -> Iterator[dict[str, Any]]:  # fmt: skip
        """Force ``outcome`` for ``pin`` (see services/testing/expectations.py); yields it
        (with its hit count at exit) and removes the service's expectations afterwards."""
        target = service or next(
            (s for prefix, s in _SERVICE_OF_PREFIX.items() if operation.startswith(prefix)),
            "registry",
        )
        spec = {"pin": pin, "outcome": outcome, "operation": operation, "times": times}
        made = self.admin(target, "PUT", "/__sim06/expectations", spec).json()
        try:
            yield made
        finally:
            listed = self.admin(target, "GET", "/__sim06/expectations").json()["expectations"]
            made.update(next((e for e in listed if e["id"] == made["id"]), {}))
            self.admin(target, "DELETE", "/__sim06/expectations")

    # --- domain helpers -----------------------------------------------------------------

    def persona(self, key: str) -> PersonaInfo:
        """The persona ``key`` (see ``sim06 personas``) with its registry record."""
        persona = BY_KEY.get(key)
        if persona is None:
            raise KeyError(f"unknown persona {key!r}; known: {sorted(BY_KEY)}")
        r = self.registry.get(f"/v1/citizens/{persona.pin}")
        r.raise_for_status()
        return PersonaInfo(key, persona.pin, r.json())

    def agency(self, client_id: str, scope: str = "") -> AgencyClient:
        """A demo agency (examples/agencies.yaml, DEMO-ONLY secrets) holding a fresh token."""
        if not self._agencies:
            specs = load_agencies(self.settings.gateway_agencies_file)
            self._agencies = {s.client_id: s for s in specs}
        spec = self._agencies.get(client_id)
        if spec is None or spec.client_secret is None:
            raise KeyError(f"no demo agency {client_id!r} with a secret: {sorted(self._agencies)}")
        form = {"grant_type": "client_credentials", **({"scope": scope} if scope else {})}
        r = self.gateway.post("/oauth/token", data=form, auth=(client_id, spec.client_secret))
        r.raise_for_status()
        return AgencyClient(self.gateway, spec, r.json()["access_token"])


@contextlib.contextmanager
def in_process(settings: Settings) -> Iterator[Sim06]:
    """Every service built as ``sim06 up`` builds them, served over ASGI without a port."""
    from starlette.testclient import TestClient

    from sim06.services.serve import build_apps, embedded_settings
    from sim06.services.testing.middleware import install_testing_tools

    settings = embedded_settings(settings)
    built = build_apps(settings)
    apps = {name: app for name, (app, _) in built.items()}
    with contextlib.ExitStack() as stack:
        clients: dict[str, httpx.Client] = {}
        urls: dict[str, str] = {}
        for name in SERVICES:
            install_testing_tools(apps[name], settings)  # no-op once create_app calls it
            urls[name] = f"http://{settings.host}:{getattr(settings, name + '_port')}"
            client = TestClient(apps[name], base_url=urls[name], raise_server_exceptions=False,
                                follow_redirects=False)  # fmt: skip
            clients[name] = stack.enter_context(client)
        yield Sim06(settings, "in-process", urls, clients, apps)


@contextlib.contextmanager
def live(settings: Settings, env: dict[str, str], log: Path) -> Iterator[Sim06]:
    """``sim06 up`` in a subprocess on the ports of ``settings`` (free ones, chosen by the
    caller), until the context exits."""
    script = Path(sys.executable).parent / "sim06"
    command = [str(script), "up"] if script.exists() else [
        sys.executable, "-c", "import sys; from services.cli import main; sys.exit(main(['up']))"
    ]  # fmt: skip
    urls = {n: f"http://{settings.host}:{getattr(settings, n + '_port')}" for n in SERVICES}
    with log.open("wb") as out:
        process = subprocess.Popen(
            command, env={**os.environ, **env}, stdout=out, stderr=subprocess.STDOUT
        )
    try:
        _wait_ready(urls, process, log)
        with contextlib.ExitStack() as stack:
            clients = {
                n: stack.enter_context(httpx.Client(base_url=u, timeout=30.0))
                for n, u in urls.items()
            }
            yield Sim06(settings, "live", urls, clients)
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def _wait_ready(urls: dict[str, str], process: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + 120
    pending = dict(urls)
    while pending:
        if process.poll() is not None:
            raise RuntimeError(f"sim06 up exited ({process.returncode}): {log.read_text()[-2000:]}")
        if time.monotonic() > deadline:
            raise RuntimeError(f"sim06 up not ready after 120 s: {log.read_text()[-2000:]}")
        for name, url in list(pending.items()):
            with contextlib.suppress(httpx.HTTPError):
                if httpx.get(url + "/healthz", timeout=1.0).status_code == 200:
                    del pending[name]
        time.sleep(0.1)

"""docker-compose.yml and the Dockerfile, checked without a Docker engine.

The compose file is interpolated as ``docker compose`` does (``${VAR:-default}``,
``${VAR:?error}``, ``$$``) and validated against the Compose Specification's JSON Schema (a copy
in ``shared/data/`` beside the repository), then against the rules of docs/deploying.md.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
SCHEMA = ROOT / ".." / "shared" / "data" / "compose-spec.json"
COMPOSE = ROOT / "docker-compose.yml"
SECRETS = {
    "POSTGRES_PASSWORD": "pw-for-tests",
    "SIM06_GATEWAY_ADMIN_TOKEN": "a-long-random-admin-token",
    "SIM06_AGENCIES_FILE": "./agencies.yaml",
}
APPS = ("registry", "identity", "gateway")
_VAR = re.compile(r"\$(?:\$|\{([A-Za-z_][A-Za-z0-9_]*)(?:(:?[-?])([^}]*))?\}|([A-Za-z_]\w*))")


class MissingVariable(ValueError):
    """A required ``${VAR:?message}`` is unset, as ``docker compose`` reports it."""


def interpolate(value: Any, env: dict[str, str]) -> Any:
    """Compose interpolation of every string in a parsed compose file."""
    if isinstance(value, dict):
        return {k: interpolate(v, env) for k, v in value.items()}
    if isinstance(value, list):
        return [interpolate(v, env) for v in value]
    if not isinstance(value, str):
        return value

    def one(m: re.Match[str]) -> str:
        if m.group(0) == "$$":
            return "$"
        name = m.group(1) or m.group(4)
        op, arg = m.group(2), m.group(3) or ""
        current = env.get(name)
        unset = current is None or (op is not None and op.startswith(":") and current == "")
        if op in (":-", "-"):
            return arg if unset else str(current)
        if op in (":?", "?"):
            if unset:
                raise MissingVariable(f"required variable {name} is missing a value: {arg}")
            return str(current)
        return "" if current is None else current

    return _VAR.sub(one, value)


def load(env: dict[str, str] | None = None) -> dict[str, Any]:
    doc = yaml.safe_load(COMPOSE.read_text("utf-8"))
    result: dict[str, Any] = interpolate(doc, SECRETS if env is None else env)
    return result


@pytest.fixture(scope="module")
def validator() -> Any:
    jsonschema = pytest.importorskip("jsonschema", reason="jsonschema is not installed")
    if not SCHEMA.is_file():
        pytest.skip(f"Compose schema not found at {SCHEMA.resolve()} (shared/ beside the repo)")
    schema = json.loads(SCHEMA.read_text("utf-8"))
    return jsonschema.Draft7Validator(schema)


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    return load()


def test_validates_against_the_compose_specification(validator: Any) -> None:
    errors = sorted(validator.iter_errors(load()), key=lambda e: list(e.path))
    assert not errors, "\n".join(f"{list(e.path)}: {e.message}" for e in errors)


def test_the_schema_check_catches_mistakes(validator: Any) -> None:
    doc = load()
    doc["services"]["registry"]["depends_on"]["postgres"]["condition"] = "healthy"
    doc["services"]["lb"]["healthcheck"]["interval"] = ["10s"]
    doc["services"]["redis"]["restart_policy"] = "always"  # not a service key
    assert len(list(validator.iter_errors(doc))) >= 3


@pytest.mark.parametrize("name", sorted(SECRETS))
def test_required_settings_fail_fast(name: str) -> None:
    env = {k: v for k, v in SECRETS.items() if k != name}
    with pytest.raises(MissingVariable, match=name):
        load(env)


def test_every_dependency_waits_for_health(compose: dict[str, Any]) -> None:
    services = compose["services"]
    for name, service in services.items():
        if name != "init":
            assert "healthcheck" in service, f"{name} has no healthcheck"
        for target, how in service.get("depends_on", {}).items():
            assert target in services, (name, target)
            if target == "init":
                assert how["condition"] == "service_completed_successfully"
            else:
                assert how["condition"] == "service_healthy", (name, target)
                assert "healthcheck" in services[target], target
    assert services["init"]["restart"] == "no"


def test_replicas_sit_behind_the_load_balancer(compose: dict[str, Any]) -> None:
    services = compose["services"]
    published = {name for name, s in services.items() if s.get("ports")}
    assert published == {"lb"}  # replicated services cannot each bind a host port
    ports = {str(p).split(":")[-1] for p in services["lb"]["ports"]}
    conf = compose["configs"]["nginx-conf"]["content"]
    for name in APPS:
        service = services[name]
        assert "container_name" not in service
        assert int(service["deploy"]["replicas"]) == 1
        (port,) = service["expose"]
        assert f"server {name}:{port}" in conf and port in ports
        assert f"--port {port}" in " ".join(service["command"])
        assert service["environment"]["SIM06_REDIS_URL"] == "redis://redis:6379/0"
        assert service["environment"]["SIM06_DATABASE_URL"].startswith("postgresql://sim06:")
    # `$$` reached nginx as `$`, and the proxy snippet is mounted where the servers include it.
    assert "$http_x_forwarded_proto" in conf and "$$" not in conf
    targets = {c["target"] for c in services["lb"]["configs"]}
    assert "/etc/nginx/sim06_proxy.conf" in targets and "sim06_proxy.conf" in conf


def test_replica_counts_come_from_the_environment() -> None:
    scaled = load({**SECRETS, "SIM06_REGISTRY_REPLICAS": "3", "SIM06_IDENTITY_REPLICAS": "2"})
    assert scaled["services"]["registry"]["deploy"]["replicas"] == "3"
    assert scaled["services"]["identity"]["deploy"]["replicas"] == "2"
    assert scaled["services"]["gateway"]["deploy"]["replicas"] == "1"


def test_identity_replicas_share_issuer_and_keys(compose: dict[str, Any]) -> None:
    identity = compose["services"]["identity"]
    assert identity["environment"]["SIM06_IDENTITY_ISSUER"] == "http://localhost:8002"
    assert "sim06-data:/data" in identity["volumes"]
    assert "keys export" in " ".join(compose["services"]["init"]["command"])


def test_dockerfile_is_slim_and_non_root() -> None:
    text = (ROOT / "Dockerfile").read_text("utf-8")
    bases = re.findall(r"^FROM (\S+)", text, re.M)
    assert bases and all(b.endswith("-slim") for b in bases)
    users = re.findall(r"^USER (\S+)", text, re.M)
    assert users and users[-1].split(":")[0] not in ("root", "0")
    ignored = (ROOT / ".dockerignore").read_text("utf-8")
    assert ignored.splitlines()[1] == "**"  # deny by default: no .venv, .sim06 or .git

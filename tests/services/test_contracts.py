"""The committed contracts match what the services serve, and they are valid OpenAPI."""

from __future__ import annotations

from pathlib import Path

import yaml
from openapi_spec_validator import validate

from sim06.services.contracts import check_contracts, documents

ROOT = Path(__file__).resolve().parents[2]


def test_committed_contracts_match_the_code() -> None:
    assert check_contracts(ROOT / "contracts" / "openapi") == []


def test_contracts_are_valid_openapi_31() -> None:
    for name, text in documents().items():
        spec = yaml.safe_load(text)
        assert spec["openapi"].startswith("3.1"), name
        validate(spec)


def test_error_catalogue_copy_is_identical() -> None:
    published = (ROOT / "contracts" / "errors.yaml").read_bytes()
    packaged = (ROOT / "services" / "common" / "errors.yaml").read_bytes()
    assert published == packaged, "edit contracts/errors.yaml, then copy it to services/common/"


def test_core_imports_no_web_framework() -> None:
    forbidden = ("fastapi", "starlette", "httpx", "uvicorn", "pydantic")
    for path in (ROOT / "mock_registry").rglob("*.py"):
        text = path.read_text("utf-8")
        for name in forbidden:
            assert f"import {name}" not in text and f"from {name}" not in text, (path, name)


def test_only_settings_reads_the_environment() -> None:
    # Besides the settings, only code that hands the environment on to child processes.
    allowed = {
        "services/common/settings.py",
        "services/bench/servers.py",
        "services/serve_replicas.py",
        "services/testing/harness.py",
        "mock_registry/compiled.py",  # SIM06_PURE_PYTHON: read at import, before any settings
    }
    for path in list((ROOT / "services").rglob("*.py")) + list(
        (ROOT / "mock_registry").rglob("*.py")
    ):
        rel = path.relative_to(ROOT).as_posix()
        if rel in allowed:
            continue
        assert "os.environ" not in path.read_text("utf-8"), rel

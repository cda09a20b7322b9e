"""The example agency suite against a live registry, then its contract coverage report."""

from __future__ import annotations

import os
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from sim06.services.bench import start_uvicorn
from sim06.services.cli import main

pytestmark = pytest.mark.e2e

ROOT = Path(__file__).resolve().parents[3]
SUITE = ROOT / "examples" / "agency-suite"


def test_coverage_names_the_operation_the_suite_never_called(
    seeded_db: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    env = {
        "SIM06_DB_PATH": str(seeded_db),
        "SIM06_DATA_DIR": str(tmp_path),
        "SIM06_CONTRACT_JOURNAL": "true",
    }
    with start_uvicorn(
        "tests.services.contract.live:registry",
        factory=True,
        env=env,
        health_path="/healthz",
        cwd=str(ROOT),
    ) as server:
        suite_env = {k: v for k, v in os.environ.items() if not k.startswith("PYTEST_")}
        suite_env["SIM06_REGISTRY_URL"] = server.url
        suite_env["PYTEST_DISABLE_PLUGIN_AUTOLOAD"] = "1"  # the suite needs none; saves seconds
        result = subprocess.run(
            [sys.executable, "-m", "pytest", "-q", "-c", str(SUITE / "pytest.ini"), str(SUITE)],
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
            env=suite_env,
            cwd=str(SUITE),
        )
        assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-2000:]
        assert "6 passed" in result.stdout

        junit = tmp_path / "coverage.xml"
        status = main(["contract", "coverage", "--url", server.url, "--junit", str(junit)])
    out = capsys.readouterr().out
    assert status == 0, out
    never = out.split("NEVER EXERCISED", 1)[1]
    assert "operation       citizens-residence-confirmation" in never
    assert "operation       citizens-get" not in never
    assert "citizens-get" in out and "CITIZEN_NOT_FOUND" in out

    cases = {
        case.get("name"): case
        for case in ET.parse(junit).getroot().iter("testcase")
        if case.get("classname") == "sim06 population registry.operation"
    }
    assert cases["citizens-residence-confirmation"].find("skipped") is not None
    assert cases["citizens-get"].find("skipped") is None
    assert cases["citizens-verify"].find("system-out") is not None

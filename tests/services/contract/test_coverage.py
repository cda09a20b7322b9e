"""Contract coverage from journal entries: universe from the contract, table and JUnit XML."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

import pytest
import yaml

from sim06.services.cli import main
from sim06.services.contract.coverage import coverage, junit_xml, render_report

ROOT = Path(__file__).resolve().parents[3]
REGISTRY = ROOT / "contracts" / "openapi" / "registry.yaml"


def doc() -> dict[str, Any]:
    loaded: dict[str, Any] = yaml.safe_load(REGISTRY.read_text("utf-8"))
    return loaded


def entry(op: str, status: int = 200, code: str | None = None, **fields: Any) -> dict[str, Any]:
    return {"operation_id": op, "method": "GET", "path": "/", "status": status, "code": code,
            "query": [], "request_fields": [], "response_fields": [], **fields}  # fmt: skip


ENTRIES = [
    entry("citizens-get", response_fields=["/pin", "/cmnd"]),
    entry("citizens-get", 404, "CITIZEN_NOT_FOUND"),
    entry("citizens-verify", request_fields=["/pin", "/cmnd"]),
    entry("citizens-verify", 422, "INVALID_PIN", request_fields=["/sex"]),
]


def items(report: Any, kind: str, hit: bool) -> set[str]:
    return {i.label for i in report.of(kind) if bool(i.hits) == hit}


def test_operations_statuses_and_fields() -> None:
    report = coverage(doc(), ENTRIES, service="registry")
    assert report.exchanges == 4
    assert items(report, "operation", True) == {"citizens-get", "citizens-verify"}
    assert "citizens-residence-confirmation" in items(report, "operation", False)
    assert {"citizens-get 200", "citizens-get 404", "citizens-verify 422"} <= items(
        report, "response", True
    )
    assert "citizens-get 400" in items(report, "response", False)
    sent = items(report, "request-field", True)
    assert sent == {"citizens-verify /pin", "citizens-verify /cmnd", "citizens-verify /sex"}
    assert "citizens-verify /birth_year" in items(report, "request-field", False)
    # /cmnd is nullable: exercised once it came with a value; /pin is required: not an item
    assert "citizens-get /cmnd" in items(report, "response-field", True)
    assert "citizens-get /pin" not in items(report, "response-field", True)
    assert "citizens-get /temporary_residence" in items(report, "response-field", False)
    # The registry declares its codes per operation (x-error-codes): seen ones are hits.
    assert {"citizens-get CITIZEN_NOT_FOUND", "citizens-verify INVALID_PIN"} <= items(
        report, "error-code", True
    )
    assert "citizens-household NO_HOUSEHOLD" in items(report, "error-code", False)
    assert {i.label for i in report.of("error-code", declared=False)} == set()


def test_declared_error_codes_and_status_ranges() -> None:
    spec = doc()
    get = spec["paths"]["/v1/citizens/{pin}"]["get"]
    get["x-error-codes"] = ["CITIZEN_NOT_FOUND", "INVALID_PIN"]
    get["responses"]["5XX"] = {"description": "server error"}
    problem = get["responses"]["404"]["content"]["application/problem+json"]
    problem["examples"] = {"gone": {"value": {"code": "NO_HOUSEHOLD"}}}
    report = coverage(spec, [*ENTRIES, entry("citizens-get", 503, "NOT_READY")], service="r")
    hit = {i for i in items(report, "error-code", True) if i.startswith("citizens-get ")}
    missed = {i for i in items(report, "error-code", False) if i.startswith("citizens-get ")}
    assert hit == {"citizens-get CITIZEN_NOT_FOUND"}
    assert {"citizens-get INVALID_PIN", "citizens-get NO_HOUSEHOLD"} <= missed
    assert "citizens-get 5XX" in items(report, "response", True)


def test_table_names_what_was_never_exercised() -> None:
    text = render_report(coverage(doc(), ENTRIES, service="registry", source="file"))
    assert text.startswith("registry — file (4 exchanges journaled)")
    never = text.split("NEVER EXERCISED", 1)[1]
    assert "operation       citizens-residence-confirmation" in never
    assert "operation       citizens-get\n" not in never
    assert "request-field   citizens-verify /birth_year" in never


@pytest.mark.parametrize("gaps", ["skipped", "failure"])
def test_junit_xml(gaps: Any) -> None:
    report = coverage(doc(), ENTRIES, service="registry")
    root = ET.fromstring(junit_xml([report], gaps))
    suites = {s.get("name"): s for s in root.iter("testsuite")}
    assert set(suites) == {
        "registry.operation", "registry.response", "registry.error-code",
        "registry.request-field", "registry.response-field",
    }  # fmt: skip
    ops = suites["registry.operation"]
    assert (
        ops.get("tests") == "14" and ops.get("failures" if gaps == "failure" else "skipped") == "12"
    )
    cases = {c.get("name"): c for c in ops.iter("testcase")}
    assert cases["citizens-residence-confirmation"].find(gaps) is not None
    assert cases["citizens-get"].find(gaps) is None
    total = sum(int(s.get("tests", 0)) for s in suites.values())
    assert root.get("tests") == str(total) == str(len(report.items))


def test_cli_with_a_saved_journal(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    journal = tmp_path / "journal.json"
    journal.write_text(json.dumps({"service": "registry", "entries": ENTRIES}), "utf-8")
    junit, items_json = tmp_path / "c.xml", tmp_path / "c.json"
    args = ["contract", "coverage", "--journal", str(journal), "--contract", str(REGISTRY)]
    assert main([*args, "--junit", str(junit), "--json", str(items_json)]) == 0
    assert "citizens-residence-confirmation" in capsys.readouterr().out
    assert ET.parse(junit).getroot().get("tests")
    assert any(i["kind"] == "operation" for i in json.loads(items_json.read_text())[0]["items"])
    assert main([*args, "--fail-under", "50"]) == 1  # 2 of 14 operations
    assert main(["contract", "coverage", "--journal", str(journal)]) == 2
    assert main(["contract", "coverage", "--url", "http://127.0.0.1:9"]) == 2
    assert "error:" in capsys.readouterr().err

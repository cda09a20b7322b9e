"""The catalogue: every file valid against the published JSON Schema, and the issue's coverage."""

from __future__ import annotations

import json
from pathlib import Path

import jsonschema  # type: ignore[import-untyped,unused-ignore]
import pytest
import yaml

from services.common.settings import Settings
from services.gateway.agencies import compile_agency
from services.procedures.agencies import known_agencies
from services.procedures.catalogue import REPO_DIR, Catalogue, CatalogueError, load_procedure
from services.procedures.model import SCHEMA_FILE, schema_text

FILES = sorted(p for p in REPO_DIR.glob("*.yaml"))
REQUIRED = {
    "birth-registration", "permanent-residence-registration", "temporary-residence-registration",
    "death-registration", "judicial-record-certificate", "driving-licence-renewal",
    "vehicle-registration", "unemployment-benefit", "passport-issuance", "health-insurance-card",
    "marriage-registration", "bank-account-opening",
}  # fmt: skip


def test_published_schema_matches_the_models() -> None:
    assert (REPO_DIR / SCHEMA_FILE).read_text("utf-8") == schema_text(), (
        "run: python -c 'from pathlib import Path; from services.procedures.model import "
        'write_schema; write_schema(Path("contracts/procedures"))\''
    )


@pytest.mark.parametrize("path", FILES, ids=lambda p: p.stem)
def test_file_is_valid_against_the_json_schema(path: Path) -> None:
    schema = json.loads((REPO_DIR / SCHEMA_FILE).read_text("utf-8"))
    jsonschema.Draft202012Validator.check_schema(schema)
    jsonschema.validate(yaml.safe_load(path.read_text("utf-8")), schema)


def test_catalogue_has_the_issues_procedures(catalogue: Catalogue) -> None:
    assert REQUIRED <= set(catalogue.procedures)
    assert len(catalogue.procedures) >= 12


def test_every_fact_is_tagged_and_every_rule_has_a_persona(catalogue: Catalogue) -> None:
    for p in catalogue.all():
        tags = [p.basis.tag, p.national_code_basis.tag] + [d.basis.tag for d in p.documents]
        tags += [r.basis.tag for r in p.rules]
        assert set(tags) <= {"V", "P", "I", "U"}
        assert {r.id for r in p.rules} == {rule for c in p.cases for rule in c.rules}
        assert any(d.status == "replaced" for d in p.documents), p.key


def test_the_agency_of_each_procedure_licenses_its_code_purpose_and_officer(
    catalogue: Catalogue,
) -> None:
    agencies = known_agencies(Settings())
    for p in catalogue.all():
        agency = compile_agency(agencies[p.agency.client_id])
        assert p.code in agency.procedures, p.key
        assert p.agency.purpose in agency.purposes[p.code], p.key
        assert p.code in agency.officers[p.agency.officer], p.key
        for step in p.steps():
            if step.kind != "vneid-login":
                assert (p.code, p.agency.purpose, step.kind) in agency.grants, (p.key, step.id)


def test_a_malformed_file_names_file_and_field(tmp_path: Path) -> None:
    data = yaml.safe_load((REPO_DIR / "birth-registration.yaml").read_text("utf-8"))
    data["rules"][0]["when"] = {"field": "x", "equals": 1, "in": [1]}  # two operators
    path = tmp_path / "birth-registration.yaml"
    path.write_text(yaml.safe_dump(data, allow_unicode=True), "utf-8")
    with pytest.raises(CatalogueError, match="(?s)birth-registration.yaml.*exactly one operator"):
        load_procedure(path)
    data["rules"][0]["when"] = {"failed": "login"}
    data["cases"] = [c for c in data["cases"] if "login-refused" not in c.get("rules", [])]
    path.write_text(yaml.safe_dump(data, allow_unicode=True), "utf-8")
    with pytest.raises(CatalogueError, match="(?s)rules without a persona case.*login-refused"):
        load_procedure(path)


def test_the_key_must_be_the_file_name(tmp_path: Path) -> None:
    path = tmp_path / "other.yaml"
    path.write_text((REPO_DIR / "birth-registration.yaml").read_text("utf-8"), "utf-8")
    with pytest.raises(CatalogueError, match="key must be the file name"):
        load_procedure(path)

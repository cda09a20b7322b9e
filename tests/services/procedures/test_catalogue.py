"""The catalogue: every file valid against the published JSON Schema, and the issue's coverage."""

from __future__ import annotations

import json
from pathlib import Path

import jsonschema  # type: ignore[import-untyped,unused-ignore]
import pytest
import yaml

from sim06.services.common.settings import Settings
from sim06.services.gateway.agencies import AgencyDirectory, compile_agency, load_agencies
from sim06.services.procedures.agencies import known_agencies, procedure_agencies
from sim06.services.procedures.catalogue import REPO_DIR, Catalogue, CatalogueError, load_procedure
from sim06.services.procedures.model import SCHEMA_FILE, schema_text

FILES = sorted(p for p in REPO_DIR.glob("*.yaml"))
REQUIRED = {
    "birth-registration", "permanent-residence-registration", "temporary-residence-registration",
    "death-registration", "judicial-record-certificate", "driving-licence-renewal",
    "vehicle-registration", "unemployment-benefit", "passport-issuance", "health-insurance-card",
    "marriage-registration", "bank-account-opening",
    "linked-birth-residence-insurance", "linked-death-residence-funeral",
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
    assert len(catalogue.procedures) >= 14


def test_every_fact_is_tagged_and_every_rule_has_a_persona(catalogue: Catalogue) -> None:
    for p in catalogue.all():
        tags = [p.basis.tag, p.national_code_basis.tag] + [d.basis.tag for d in p.documents]
        tags += [r.basis.tag for r in p.rules]
        assert set(tags) <= {"V", "P", "I", "U"}
        assert {r.id for r in p.rules} == {rule for c in p.cases for rule in c.rules}
        assert any(d.status == "replaced" for d in p.documents), p.key


def test_the_agency_of_each_step_licenses_its_code_purpose_officer_and_operation(
    catalogue: Catalogue,
) -> None:
    agencies = known_agencies(Settings())
    for p in catalogue.all():
        for owner in [p.agency, *p.agencies.values()]:
            agency = compile_agency(agencies[owner.client_id])
            code = owner.code or p.code
            assert code in agency.procedures, (p.key, owner.client_id)
            assert owner.purpose in agency.purposes[code], (p.key, owner.client_id)
            assert code in agency.officers[owner.officer], (p.key, owner.client_id)
        for step in p.steps():
            if step.kind in ("vneid-login", "issue"):
                continue  # the citizen's login; a document of the agency's own system
            owner = p.agency_of(step)
            agency = compile_agency(agencies[owner.client_id])
            operation = {"write": step.operation, "feed": "changes"}.get(step.kind, step.kind)
            grant = agency.grants.get((p.code_of(step), owner.purpose, str(operation)))
            assert grant is not None, (p.key, step.id, operation)
            # What a step checks on its answer is in what the purpose grants.
            for path in step.expect:
                top = path.removeprefix("changes.").split(".")[0]
                assert grant.fields is None or top in grant.fields, (p.key, step.id, path)


def test_linked_procedures_run_each_hop_as_another_agency(catalogue: Catalogue) -> None:
    for key in ("linked-birth-residence-insurance", "linked-death-residence-funeral"):
        p = catalogue.procedures[key]
        owners = {p.agency_of(s).client_id for s in p.steps() if s.kind != "vneid-login"}
        assert len(owners) == 1 + len(p.agencies) >= 2, key
        assert [s.kind for s in p.steps()].count("write") == 1, key
        assert any(s.kind == "feed" and s.agency for s in p.steps()), key
        assert any(s.kind == "issue" and "MOCK" in (s.document or {})["number"]
                   for s in p.steps()), key  # fmt: skip


def test_the_two_agency_files_share_no_code_or_client_id() -> None:
    ours, gateway = procedure_agencies(), load_agencies(None)
    assert not {a.code for a in ours} & {a.code for a in gateway}
    assert not {a.client_id for a in ours} & {a.client_id for a in gateway}
    AgencyDirectory([*ours, *gateway])  # the admin API's duplicate check passes


@pytest.mark.parametrize(
    ("step", "message"),
    [
        ({"id": "w", "kind": "write", "operation": "register-birth"}, "needs body"),
        ({"id": "w", "kind": "lookup", "role": "mother", "body": {}}, "body is for write"),
        ({"id": "f", "kind": "feed", "role": "mother"}, "needs event"),
        ({"id": "i", "kind": "issue", "role": "mother", "document": {"holder": "x"}},
         "has a number"),
        ({"id": "l", "kind": "lookup", "role": "mother", "agency": "nobody"}, "unknown agency"),
        ({"id": "w", "kind": "write", "operation": "register-birth", "body": {},
          "role": "mother", "pin_from": "x.pin"}, "at most one"),
    ],
)  # fmt: skip
def test_a_malformed_linked_step_is_refused(
    tmp_path: Path, step: dict[str, object], message: str
) -> None:
    data = yaml.safe_load((REPO_DIR / "birth-registration.yaml").read_text("utf-8"))
    data["stages"].append([step])
    path = tmp_path / "birth-registration.yaml"
    path.write_text(yaml.safe_dump(data, allow_unicode=True), "utf-8")
    with pytest.raises(CatalogueError, match=message):
        load_procedure(path)


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

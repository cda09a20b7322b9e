"""Breaking-change check: direction-aware, $refs followed, CLI exit status."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import pytest
import yaml

from sim06.services.cli import main
from sim06.services.contract.diff import Change, diff_documents
from sim06.services.contracts import _drift_summary

ROOT = Path(__file__).resolve().parents[3]
REGISTRY = ROOT / "contracts" / "openapi" / "registry.yaml"


def contract() -> dict[str, Any]:
    """A small contract: a lookup returning a $ref'd Person, a create with a request body."""
    person = {
        "type": "object",
        "required": ["id", "name", "kind"],
        "properties": {
            "id": {"type": "string"},
            "name": {"type": "string"},
            "kind": {"type": "string", "enum": ["a", "b"]},
            "note": {"anyOf": [{"type": "string"}, {"type": "null"}]},
        },
    }
    create = {
        "type": "object",
        "additionalProperties": False,
        "required": ["name"],
        "properties": {
            "name": {"type": "string", "maxLength": 100},
            "kind": {"type": "string", "enum": ["a", "b"]},
            "age": {"type": "integer"},
            "note": {"anyOf": [{"type": "string"}, {"type": "null"}]},
        },
    }
    json_of = {"content": {"application/json": {"schema": {"$ref": "#/components/schemas/Person"}}}}
    return {
        "openapi": "3.1.0",
        "info": {"title": "t", "version": "1"},
        "paths": {
            "/people/{id}": {
                "get": {
                    "operationId": "people-get",
                    "parameters": [
                        {"name": "id", "in": "path", "required": True, "schema": {"type": "string"}}
                    ],
                    "responses": {
                        "200": {"description": "ok", **json_of},
                        "404": {"description": "no"},
                    },
                },  # fmt: skip
            },
            "/people": {
                "post": {
                    "operationId": "people-create",
                    "requestBody": {
                        "required": True,
                        "content": {
                            "application/json": {"schema": {"$ref": "#/components/schemas/Create"}}
                        },
                    },
                    "responses": {"201": {"description": "created", **json_of}},
                },  # fmt: skip
            },
        },
        "components": {"schemas": {"Person": person, "Create": create}},
    }


def changed(edit: Any) -> list[Change]:
    old = contract()
    new = copy.deepcopy(old)
    edit(new)
    return diff_documents(old, new)


def rules(changes: list[Change]) -> set[tuple[str, str, str]]:
    return {(c.level, c.rule, c.where) for c in changes}


def schemas(doc: dict[str, Any]) -> dict[str, Any]:
    result: dict[str, Any] = doc["components"]["schemas"]
    return result


def test_identical_contracts_have_no_changes() -> None:
    assert diff_documents(contract(), contract()) == []
    registry = yaml.safe_load(REGISTRY.read_text("utf-8"))
    assert diff_documents(registry, registry) == []


def test_removed_response_field_is_breaking_through_refs() -> None:
    changes = changed(lambda d: schemas(d)["Person"]["properties"].pop("name"))
    assert ("breaking", "response-field-removed", "response 200 /name") in rules(changes)
    assert ("breaking", "response-field-removed", "response 201 /name") in rules(changes)


def test_renamed_response_field_is_breaking_and_named() -> None:
    def rename(d: dict[str, Any]) -> None:
        props = schemas(d)["Person"]["properties"]
        props["full_name"] = props.pop("name")

    [removed] = [c for c in changed(rename) if c.rule == "response-field-removed"][:1]
    assert removed.level == "breaking" and "renamed to 'full_name'" in removed.message


def test_added_optional_fields_are_not_breaking() -> None:
    def add(d: dict[str, Any]) -> None:
        schemas(d)["Person"]["properties"]["email"] = {"type": "string"}
        schemas(d)["Create"]["properties"]["email"] = {"type": "string"}

    changes = changed(add)
    assert changes and all(c.level == "info" for c in changes)
    assert ("info", "optional-field-added", "request body (application/json) /email") in rules(
        changes
    )


def test_new_required_request_field_is_breaking() -> None:
    def add(d: dict[str, Any]) -> None:
        schemas(d)["Create"]["properties"]["email"] = {"type": "string"}
        schemas(d)["Create"]["required"].append("email")

    assert ("breaking", "required-field-added", "request body (application/json) /email") in rules(
        changed(add)
    )
    changes = changed(lambda d: schemas(d)["Create"]["required"].append("age"))
    assert ("breaking", "field-became-required", "request body (application/json) /age") in rules(
        changes
    )


def test_enum_direction() -> None:
    narrowed = changed(lambda d: schemas(d)["Create"]["properties"]["kind"].update(enum=["a"]))
    assert ("breaking", "enum-narrowed", "request body (application/json) /kind") in rules(narrowed)
    narrowed = changed(lambda d: schemas(d)["Person"]["properties"]["kind"].update(enum=["a"]))
    assert {c.level for c in narrowed} == {"info"}  # a response that returns fewer values is safe
    widened = changed(lambda d: schemas(d)["Person"]["properties"]["kind"]["enum"].append("c"))
    assert ("breaking", "enum-widened", "response 200 /kind") in rules(widened)
    widened = changed(lambda d: schemas(d)["Create"]["properties"]["kind"]["enum"].append("c"))
    assert widened == []  # a request that accepts more is safe (enum values are not reported)


def test_types_lengths_and_nullable_by_direction() -> None:
    retyped = changed(lambda d: schemas(d)["Create"]["properties"]["age"].update(type="string"))
    assert ("breaking", "type-narrowed", "request body (application/json) /age") in rules(retyped)
    retyped = changed(lambda d: schemas(d)["Person"]["properties"]["id"].update(type="integer"))
    assert ("breaking", "type-changed", "response 200 /id") in rules(retyped)
    shorter = changed(lambda d: schemas(d)["Create"]["properties"]["name"].update(maxLength=50))
    assert ("breaking", "maxLength-reduced", "request body (application/json) /name") in rules(
        shorter
    )
    longer = changed(lambda d: schemas(d)["Create"]["properties"]["name"].update(maxLength=500))
    assert longer == []

    def not_null(d: dict[str, Any]) -> None:
        schemas(d)["Person"]["properties"]["note"] = {"type": "string"}
        schemas(d)["Create"]["properties"]["note"] = {"type": "string"}

    changes = rules(changed(not_null))
    assert ("info", "nullable-removed", "response 200 /note") in changes
    assert ("breaking", "nullable-removed", "request body (application/json) /note") in changes
    nullable = changed(
        lambda d: schemas(d)["Person"]["properties"].update(
            name={"anyOf": [{"type": "string"}, {"type": "null"}]}
        )
    )
    assert ("breaking", "nullable-added", "response 200 /name") in rules(nullable)


def test_removed_operation_and_status() -> None:
    removed = changed(lambda d: d["paths"].pop("/people"))
    assert [(c.level, c.rule, c.operation) for c in removed] == [
        ("breaking", "operation-removed", "POST /people (people-create)")
    ]
    status = changed(lambda d: d["paths"]["/people/{id}"]["get"]["responses"].pop("404"))
    assert rules(status) == {("breaking", "status-removed", "response 404")}
    added = changed(
        lambda d: d["paths"]["/people/{id}"]["get"]["responses"].update(
            {"410": {"description": "x"}}
        )
    )
    assert rules(added) == {("info", "status-added", "response 410")}


def test_a_schema_moving_to_an_already_declared_media_type_is_not_breaking() -> None:
    problem = {"$ref": "#/components/schemas/Person"}

    def declare(d: dict[str, Any], content: dict[str, Any]) -> None:
        d["paths"]["/people/{id}"]["get"]["responses"]["404"]["content"] = content

    old = contract()
    declare(old, {"application/problem+json": {}, "application/json": {"schema": problem}})
    moved = copy.deepcopy(old)
    declare(moved, {"application/problem+json": {"schema": problem}})
    assert rules(diff_documents(old, moved)) == {("info", "response-schema-moved", "response 404")}
    dropped = copy.deepcopy(old)
    declare(dropped, {"application/problem+json": {}})
    assert ("breaking", "response-media-type-removed", "response 404") in rules(
        diff_documents(old, dropped)
    )


def test_parameters() -> None:
    def add(required: bool) -> Any:
        def edit(d: dict[str, Any]) -> None:
            d["paths"]["/people/{id}"]["get"]["parameters"].append(
                {
                    "name": "fields",
                    "in": "query",
                    "required": required,
                    "schema": {"type": "string"},
                }
            )

        return edit

    assert rules(changed(add(True))) == {
        ("breaking", "required-parameter-added", "query parameter 'fields'")
    }
    assert rules(changed(add(False))) == {
        ("info", "optional-parameter-added", "query parameter 'fields'")
    }


def write(path: Path, doc: dict[str, Any]) -> Path:
    path.write_text(yaml.safe_dump(doc), "utf-8")
    return path


def test_cli_exit_status(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    old = write(tmp_path / "old.yaml", contract())
    new_doc = contract()
    schemas(new_doc)["Person"]["properties"]["email"] = {"type": "string"}
    assert main(["contract", "diff", str(old), str(write(tmp_path / "new.yaml", new_doc))]) == 0
    assert "0 breaking change(s), 2 other change(s)" in capsys.readouterr().out
    schemas(new_doc)["Person"]["properties"].pop("name")
    assert main(["contract", "diff", str(old), str(write(tmp_path / "new.yaml", new_doc))]) == 1
    out = capsys.readouterr().out
    assert "breaking" in out and "response 200 /name" in out and "field removed" in out
    assert main(["contract", "diff", str(tmp_path / "nope.yaml"), str(old)]) == 2


def test_directories_pair_files_by_name(tmp_path: Path) -> None:
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    write(tmp_path / "a" / "people.yaml", contract())
    write(tmp_path / "a" / "gone.yaml", contract())
    write(tmp_path / "b" / "people.yaml", contract())
    assert main(["contract", "diff", str(tmp_path / "a"), str(tmp_path / "b")]) == 1


def test_check_prints_a_diff_summary_on_drift() -> None:
    committed = REGISTRY.read_text("utf-8")
    served = yaml.safe_load(committed)
    del served["components"]["schemas"]["PersonName"]["properties"]["middle"]
    lines = _drift_summary(committed, yaml.safe_dump(served))
    assert lines[0].strip().startswith("1 breaking") or "breaking change(s)" in lines[0]
    assert any("/name/middle" in line and "field removed" in line for line in lines)
    assert "descriptions, examples or order only" in _drift_summary(committed, committed)[0]


@pytest.mark.parametrize(
    ("old", "new", "safe"),
    [
        ("^(?:a|b)$", "^(?:a|b|c)$", True),  # a word added: everything old still matches
        ("^(?:a|b)(?:,(?:a|b))*$", "^(?:a|b|c)(?:,(?:a|b|c))*$", True),
        ("^(?:a|b|c)$", "^(?:a|b)$", False),  # a word removed
        ("^(?:a|b)$", "^(?:a|b)x$", False),  # the skeleton changed
        ("^[0-9]{3}$", "^[0-9]{4}$", False),  # no alternation to reason about
    ],
)
def test_a_request_pattern_widened_by_alternatives_is_not_breaking(
    old: str, new: str, safe: bool
) -> None:
    from sim06.services.contract.diff import _alternatives_widened

    assert _alternatives_widened(old, new) is safe

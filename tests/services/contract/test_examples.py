"""The committed contracts have an example for every request body and response (issue #7), every
example validates against its schema, and problem examples carry a declared, catalogued code."""

from __future__ import annotations

import copy
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest
import yaml
from jsonschema import Draft202012Validator  # type: ignore[import-untyped,unused-ignore]
from referencing import Registry
from referencing.jsonschema import DRAFT202012

ROOT = Path(__file__).resolve().parents[3]
CONTRACTS = ROOT / "contracts" / "openapi"
NAMES = ("registry", "identity", "gateway")
CATALOGUE = set(yaml.safe_load((ROOT / "contracts" / "errors.yaml").read_text("utf-8"))["errors"])
METHODS = ("get", "put", "post", "delete", "options", "head", "patch", "trace")
PROBLEM = "application/problem+json"
URI = "urn:sim06:test:contract"


def load(name: str) -> dict[str, Any]:
    doc: dict[str, Any] = yaml.safe_load((CONTRACTS / f"{name}.yaml").read_text("utf-8"))
    return doc


def escape(token: str) -> str:
    return token.replace("~", "~0").replace("/", "~1")


def media(doc: dict[str, Any]) -> Iterator[tuple[str, str, dict[str, Any], dict[str, Any]]]:
    """(label, JSON pointer, media entry, its request body or response) of every media type."""
    for path, item in doc["paths"].items():
        for method in METHODS:
            op = item.get(method)
            if op is None:
                continue
            base = f"/paths/{escape(path)}/{method}"
            label = f"{op.get('operationId', method + ' ' + path)}"
            parts = [("request", f"{base}/requestBody", op.get("requestBody"))]
            parts += [
                (str(status), f"{base}/responses/{escape(str(status))}", response)
                for status, response in op.get("responses", {}).items()
            ]
            for where, pointer, node in parts:
                for media_type, entry in ((node or {}).get("content") or {}).items():
                    yield (
                        f"{label} {where} {media_type}",
                        f"{pointer}/content/{escape(media_type)}",
                        entry,
                        node,
                    )


def examples(entry: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    """(name, example object) of a media entry: ``example`` or each of ``examples``."""
    if "example" in entry:
        return [("example", {"value": entry["example"]})]
    return list((entry.get("examples") or {}).items())


def validator(doc: dict[str, Any], pointer: str) -> Draft202012Validator:
    registry: Registry[Any] = Registry().with_resource(URI, DRAFT202012.create_resource(doc))
    ref = f"{URI}#{quote(pointer, safe='/~')}"
    return Draft202012Validator(
        {"$ref": ref}, registry=registry, format_checker=Draft202012Validator.FORMAT_CHECKER
    )


def missing(doc: dict[str, Any]) -> list[str]:
    """Media types (of request bodies and responses) without an example."""
    return [label for label, _, entry, _ in media(doc) if not examples(entry)]


def invalid(doc: dict[str, Any]) -> list[str]:
    """Examples that break their schema (or carry neither a value nor an external one)."""
    out = []
    for label, pointer, entry, _ in media(doc):
        for name, example in examples(entry):
            if "value" not in example:
                if not str(example.get("externalValue", "")).startswith("/"):
                    out.append(f"{label} [{name}]: no value and no local externalValue")
                continue
            if "schema" not in entry:
                continue
            check = validator(doc, f"{pointer}/schema")
            out += [f"{label} [{name}]: {e.message}" for e in check.iter_errors(example["value"])]
    return out


def problem_faults(doc: dict[str, Any]) -> list[str]:
    """Problem responses: typed under application/problem+json only, one example per declared
    code, every example's code declared and catalogued."""
    out = []
    for label, _, entry, node in media(doc):
        codes = node.get("x-error-codes")
        if codes is None:
            continue
        if not label.endswith(PROBLEM):
            out.append(f"{label}: a problem response served as another media type")
            continue
        if "schema" not in entry:
            out.append(f"{label}: no schema")
        seen = set()
        for name, example in examples(entry):
            code = (example.get("value") or {}).get("code")
            seen.add(code)
            if code not in codes or code not in CATALOGUE:
                out.append(f"{label} [{name}]: code {code!r} not in {codes} or errors.yaml")
        out += [f"{label}: no example of {code}" for code in codes if code not in seen]
    return out


@pytest.mark.parametrize("name", NAMES)
def test_every_request_body_and_response_has_an_example(name: str) -> None:
    assert missing(load(name)) == []


@pytest.mark.parametrize("name", NAMES)
def test_every_example_validates_against_its_schema(name: str) -> None:
    assert invalid(load(name)) == []


@pytest.mark.parametrize("name", NAMES)
def test_problem_examples_carry_declared_catalogued_codes(name: str) -> None:
    assert problem_faults(load(name)) == []


def _first(doc: dict[str, Any], kind: str) -> tuple[dict[str, Any], dict[str, Any]]:
    """The first problem response (kind="problem") or success response with a JSON example."""
    for label, _, entry, node in media(doc):
        wanted = "x-error-codes" in node if kind == "problem" else label.split()[1] == "200"
        if wanted and label.endswith("json") and examples(entry):
            return entry, node
    raise AssertionError(f"no {kind} response with an example")


def test_the_checks_fail_on_a_missing_or_broken_example() -> None:
    # Guards the guards: each check must notice the defect it exists for.
    doc = copy.deepcopy(load("registry"))
    entry, _ = _first(doc, "success")
    entry.pop("examples", None)
    entry.pop("example", None)
    assert missing(doc)

    doc = copy.deepcopy(load("registry"))
    entry, _ = _first(doc, "success")
    _, example = examples(entry)[0]
    example["value"] = {**example["value"], "pin": 1}
    assert any("is not of type 'string'" in fault for fault in invalid(doc))

    doc = copy.deepcopy(load("registry"))
    entry, node = _first(doc, "problem")
    _, example = examples(entry)[0]
    example["value"]["code"] = "GATEWAY_QUOTA_EXCEEDED"  # catalogued, but not declared here
    assert any("GATEWAY_QUOTA_EXCEEDED" in fault for fault in problem_faults(doc))
    node["content"]["application/json"] = node["content"].pop(PROBLEM)
    assert any("another media type" in fault for fault in problem_faults(doc))

"""The OpenAPI links of the committed contracts (issue #7: stateful runs follow them).

Every contract has links; every link targets an operation that exists, fills parameters that
operation declares, and reads ``$response.body#/...`` (``$request.body#/...``) only where the
source operation's response (request) schema declares a property.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

CONTRACTS = Path(__file__).resolve().parents[3] / "contracts" / "openapi"
SERVICES = ("registry", "identity", "gateway")
_EXPRESSION = re.compile(r"\$(response|request)\.body#(/[^}\s]*)")
_METHODS = ("get", "put", "post", "delete", "patch")


def _load(service: str) -> dict[str, Any]:
    loaded: dict[str, Any] = yaml.safe_load((CONTRACTS / f"{service}.yaml").read_text("utf-8"))
    return loaded


def _operations(doc: dict[str, Any]) -> Iterator[dict[str, Any]]:
    for item in doc["paths"].values():
        for method in _METHODS:
            if method in item:
                yield item[method]


def _deref(doc: dict[str, Any], node: dict[str, Any]) -> dict[str, Any]:
    while "$ref" in node:
        target: Any = doc
        for part in node["$ref"].removeprefix("#/").split("/"):
            target = target[part]
        node = target
    return node


def declares(doc: dict[str, Any], schema: dict[str, Any], pointer: str) -> bool:
    """Whether ``schema`` declares the value at the JSON pointer (properties by name, array
    items by index), through ``$ref`` and any branch of allOf/anyOf/oneOf."""
    node = _deref(doc, schema)
    if not pointer.strip("/"):
        return True
    head, _, rest = pointer.lstrip("/").partition("/")
    rest = "/" + rest if rest else ""
    branches = [b for k in ("allOf", "anyOf", "oneOf") for b in node.get(k, ())]
    if any(declares(doc, branch, pointer) for branch in branches):
        return True
    if head.isdigit() and isinstance(node.get("items"), dict):
        return declares(doc, node["items"], rest)
    prop = node.get("properties", {}).get(head.replace("~1", "/").replace("~0", "~"))
    return prop is not None and declares(doc, prop, rest)


def _json_schema(doc: dict[str, Any], holder: dict[str, Any]) -> dict[str, Any] | None:
    content = _deref(doc, holder).get("content", {})
    for media, entry in content.items():
        if ("json" in media or "form" in media) and "schema" in entry:
            schema: dict[str, Any] = entry["schema"]
            return schema
    return None


def _strings(value: Any) -> Iterator[str]:
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for item in value.values():
            yield from _strings(item)
    elif isinstance(value, list):
        for item in value:
            yield from _strings(item)


def link_problems(doc: dict[str, Any]) -> list[str]:
    """What is wrong with the links of ``doc`` (empty: nothing)."""
    by_id = {op["operationId"]: op for op in _operations(doc)}
    problems: list[str] = []
    for op in _operations(doc):
        for status, response in op.get("responses", {}).items():
            for name, link in response.get("links", {}).items():
                where = f"{op['operationId']} {status} → {name}"
                target = by_id.get(link.get("operationId", ""))
                if target is None:
                    problems.append(f"{where}: no operation {link.get('operationId')!r}")
                    continue
                declared = {p["name"] for p in target.get("parameters", ())}
                for key in link.get("parameters", {}):
                    location, _, param = key.rpartition(".")
                    if location == "header" and param == "Authorization" and target.get("security"):
                        continue
                    if param not in declared:
                        problems.append(f"{where}: {target['operationId']} has no {param!r}")
                if "requestBody" in link and "requestBody" not in target:
                    problems.append(f"{where}: {target['operationId']} takes no body")
                for text in _strings([link.get("parameters", {}), link.get("requestBody")]):
                    for source, pointer in _EXPRESSION.findall(text):
                        holder = response if source == "response" else op.get("requestBody")
                        schema = _json_schema(doc, holder) if holder else None
                        if schema is None or not declares(doc, schema, pointer):
                            problems.append(f"{where}: {source} body declares no {pointer}")
    return problems


@pytest.mark.parametrize("service", SERVICES)
def test_every_contract_has_links(service: str) -> None:
    doc = _load(service)
    links = [link for op in _operations(doc) for r in op["responses"].values()
             for link in r.get("links", {}).values()]  # fmt: skip
    assert links, f"{service}.yaml has no OpenAPI links"


@pytest.mark.parametrize("service", SERVICES)
def test_links_target_real_operations_and_declared_fields(service: str) -> None:
    assert link_problems(_load(service)) == []


def test_a_broken_link_is_reported() -> None:
    doc = _load("registry")
    op = next(op for op in _operations(doc) if op["operationId"] == "citizens-get")
    links = op["responses"]["200"]["links"]
    links["household"] = {**links["household"], "parameters": {"pin": "$response.body#/nope"}}
    links["ghost"] = {"operationId": "citizens-ghost"}
    links["param"] = {"operationId": "citizens-household", "parameters": {"who": "x"}}
    problems = link_problems(doc)
    assert any("declares no /nope" in p for p in problems), problems
    assert any("no operation 'citizens-ghost'" in p for p in problems), problems
    assert any("has no 'who'" in p for p in problems), problems

"""An app's own contract, compiled for checking exchanges: operations by path, JSON Schema
validators (built lazily, once per schema) and violations as ``{pointer|parameter, rule, reason}``.

The contract is read from ``app.openapi()`` on first use, so routes added after the tools were
installed are included, and an app that never gets a request never pays for it.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from typing import Any
from urllib.parse import quote

from jsonschema import Draft202012Validator  # type: ignore[import-untyped,unused-ignore]
from jsonschema.exceptions import ValidationError  # type: ignore[import-untyped,unused-ignore]
from referencing import Registry
from referencing.jsonschema import DRAFT202012

from sim06.services.contract.openapi import Operation, PathMatcher, deref, escape, nullable_inner

__all__ = [
    "MAX_ERRORS",
    "ContractIndex",
    "content_pointer",
    "media_matches",
    "operation_pointer",
]

MAX_ERRORS = 20
_URI = "urn:sim06:contract"


def media_matches(declared: Iterable[str], actual: str) -> str | None:
    """The declared media type (``application/json``, ``text/*``, ``*/*``) that ``actual`` fits."""
    actual = actual.split(";", 1)[0].strip().lower()
    for media in declared:
        m = media.lower()
        if m == actual or m == "*/*" or (m.endswith("/*") and actual.startswith(m[:-1])):
            return media
    return None


class ContractIndex:
    """Operations and validators of one contract (the app's ``openapi()``), built lazily."""

    def __init__(self, load: Callable[[], Mapping[str, Any]]) -> None:
        self._load = load
        self._doc: Mapping[str, Any] | None = None
        self._matcher: PathMatcher | None = None
        self._registry: Registry[Any] | None = None
        self._validators: dict[str, Draft202012Validator] = {}

    @property
    def doc(self) -> Mapping[str, Any]:
        """The contract document."""
        if self._doc is None:
            doc = self._load()
            self._matcher = PathMatcher(doc)
            self._registry = Registry().with_resource(_URI, DRAFT202012.create_resource(doc))
            self._doc = doc
        return self._doc

    def find(self, method: str, path: str) -> tuple[Operation, dict[str, str]] | None:
        """The operation serving ``method path`` and its path parameters; None if undocumented."""
        _ = self.doc
        assert self._matcher is not None
        found = self._matcher.match(path)
        if found is None:
            return None
        template, params = found
        op = self._matcher.by_path[template].get(method)
        return (op, params) if op is not None else None

    def validator(self, pointer: str) -> Draft202012Validator:
        """A compiled validator for the schema at ``pointer`` of the contract (cached)."""
        cached = self._validators.get(pointer)
        if cached is None:
            _ = self.doc
            ref = f"{_URI}#{quote(pointer, safe='/~')}"
            cached = Draft202012Validator(
                {"$ref": ref},
                registry=self._registry,
                format_checker=Draft202012Validator.FORMAT_CHECKER,
            )
            self._validators[pointer] = cached
        return cached

    def violations(self, pointer: str, instance: Any, where: str = "") -> list[dict[str, str]]:
        """What in ``instance`` breaks the schema at ``pointer``; ``where`` prefixes pointers."""
        errors = sorted(
            self.validator(pointer).iter_errors(instance),
            key=lambda e: [str(p) for p in e.absolute_path],
        )
        return [_describe(e, where) for e in errors[:MAX_ERRORS]]

    def parameter_schema(self, op: Operation, index: int) -> tuple[str, set[str]]:
        """Pointer of the schema of ``op.parameters[index]`` and the JSON types it allows."""
        param = op.parameters[index]
        pointer = _parameter_pointer(self.doc, op, param)
        schema, nullable = nullable_inner(self.doc, param.get("schema") or {})
        types = schema.get("type") if isinstance(schema, Mapping) else None
        allowed = set(types) if isinstance(types, list) else {types} if types else set()
        return pointer, allowed | ({"null"} if nullable else set())


def operation_pointer(op: Operation) -> str:
    """JSON pointer of an operation object in its contract."""
    return f"/paths/{escape(op.path)}/{op.method.lower()}"


def content_pointer(base: str, node: Any, media: str) -> str:
    """Pointer of the schema of ``media`` in a request body or response at ``base``."""
    if isinstance(node, Mapping) and isinstance(node.get("$ref"), str):
        base = node["$ref"][1:]  # a shared requestBody/response under components
    return f"{base}/content/{escape(media)}/schema"


def _parameter_pointer(doc: Mapping[str, Any], op: Operation, param: Mapping[str, Any]) -> str:
    # A parameter may sit on the operation or on the path item, inline or behind a $ref.
    item = doc["paths"][op.path]
    for base, params in (
        (operation_pointer(op), op.spec.get("parameters") or []),
        (f"/paths/{escape(op.path)}", item.get("parameters") or []),
    ):
        for i, candidate in enumerate(params):
            if deref(doc, candidate) is param or deref(doc, candidate) == param:
                return f"{base}/parameters/{i}/schema"
    raise KeyError(param.get("name"))


def _describe(error: ValidationError, where: str) -> dict[str, str]:
    # anyOf (pydantic's Optional) reports "not valid under any"; the branch that failed on
    # something other than its type says what is really wrong.
    if error.validator in ("anyOf", "oneOf") and error.context:
        precise = [e for e in error.context if e.validator != "type"]
        if precise:
            error = precise[0]
    pointer = "".join(f"/{escape(str(p))}" for p in error.absolute_path)
    rule = str(error.validator)
    if rule == "required" and isinstance(error.instance, Mapping):
        missing = [p for p in error.validator_value if p not in error.instance]
        if missing:
            pointer += f"/{escape(str(missing[0]))}"
    reason = error.message if len(error.message) <= 300 else error.message[:297] + "..."
    return {"pointer": where + pointer, "rule": rule, "reason": reason}

"""Reading OpenAPI 3.x documents: files, local ``$ref``s, operations and path matching.

Shared by the breaking-change check (``diff.py``), strict mode (``strict.py``) and contract
coverage (``coverage.py``). Only local references (``#/...``) are followed: sim06 publishes
self-contained contracts.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

__all__ = [
    "METHODS",
    "Operation",
    "PathMatcher",
    "deref",
    "escape",
    "load_documents",
    "nullable_inner",
    "operations",
    "pointer_get",
]

METHODS = ("get", "put", "post", "delete", "options", "head", "patch", "trace")
_SUFFIXES = (".yaml", ".yml", ".json")
_PARAM = re.compile(r"\{([^}/]+)\}")
_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)  # libyaml when present: 10x faster


def load_documents(path: Path) -> dict[str, dict[str, Any]]:
    """OpenAPI documents of a file or a directory, keyed by file stem (``registry``)."""
    files = sorted(p for p in path.iterdir() if p.suffix in _SUFFIXES) if path.is_dir() else [path]
    docs: dict[str, dict[str, Any]] = {}
    for file in files:
        text = file.read_text("utf-8")
        doc = json.loads(text) if file.suffix == ".json" else yaml.load(text, _LOADER)
        if not isinstance(doc, dict) or "paths" not in doc:
            raise ValueError(f"{file} is not an OpenAPI document (no 'paths')")
        docs[file.stem] = doc
    return docs


def escape(part: str) -> str:
    """One JSON pointer token (RFC 6901)."""
    return part.replace("~", "~0").replace("/", "~1")


def pointer_get(doc: Any, pointer: str) -> Any:
    """The node at a JSON pointer (RFC 6901) of ``doc``; ``KeyError`` when absent."""
    node = doc
    for raw in pointer.lstrip("/").split("/") if pointer.strip("/") else []:
        part = raw.replace("~1", "/").replace("~0", "~")
        node = node[int(part)] if isinstance(node, list) else node[part]
    return node


def deref(doc: Mapping[str, Any], node: Any, _depth: int = 0) -> Any:
    """``node`` with a local ``$ref`` followed (siblings of ``$ref`` kept, as 3.1 allows)."""
    if not isinstance(node, Mapping) or "$ref" not in node or _depth > 32:
        return node
    ref = node["$ref"]
    if not isinstance(ref, str) or not ref.startswith("#"):
        return node
    target = deref(doc, pointer_get(doc, ref[1:]), _depth + 1)
    siblings = {k: v for k, v in node.items() if k != "$ref"}
    return {**target, **siblings} if siblings and isinstance(target, Mapping) else target


def nullable_inner(doc: Mapping[str, Any], schema: Any) -> tuple[Any, bool]:
    """Unwrap ``anyOf: [X, {type: null}]`` (pydantic's Optional) into ``(X, True)``."""
    schema = deref(doc, schema)
    if not isinstance(schema, Mapping):
        return schema, False
    nullable = bool(schema.get("nullable"))
    for key in ("anyOf", "oneOf"):
        branches = schema.get(key)
        if isinstance(branches, list):
            real = [b for b in branches if deref(doc, b) != {"type": "null"}]
            if len(real) == 1 and len(real) < len(branches):
                # Keywords beside anyOf (pydantic puts a pattern there) apply to the value too.
                rest = {k: v for k, v in schema.items() if k != key}
                inner = deref(doc, real[0])
                return ({**rest, **inner} if rest and isinstance(inner, Mapping) else inner), True
    types = schema.get("type")
    if isinstance(types, list) and "null" in types:
        nullable = True
    return schema, nullable


@dataclass(frozen=True, slots=True)
class Operation:
    """One operation of a contract, with its path-level parameters merged in."""

    method: str  # upper case
    path: str  # the template, e.g. /v1/citizens/{pin}
    operation_id: str
    spec: Mapping[str, Any]
    parameters: tuple[Mapping[str, Any], ...]

    @property
    def label(self) -> str:
        """``operationId`` or ``METHOD /path`` when the contract gives none."""
        return self.operation_id or f"{self.method} {self.path}"


def operations(doc: Mapping[str, Any]) -> Iterator[Operation]:
    """Every operation of ``doc`` in document order."""
    for path, item in (doc.get("paths") or {}).items():
        item = deref(doc, item)
        shared = [deref(doc, p) for p in item.get("parameters", [])]
        for method in METHODS:
            op = item.get(method)
            if not isinstance(op, Mapping):
                continue
            own = [deref(doc, p) for p in op.get("parameters", [])]
            keys = {(p.get("in"), p.get("name")) for p in own}
            params = [p for p in shared if (p.get("in"), p.get("name")) not in keys] + own
            yield Operation(method.upper(), path, str(op.get("operationId", "")), op, tuple(params))


class PathMatcher:
    """Match a concrete request path to a contract's path template (literal segments first)."""

    def __init__(self, doc: Mapping[str, Any]) -> None:
        self.by_path: dict[str, dict[str, Operation]] = {}
        for op in operations(doc):
            self.by_path.setdefault(op.path, {})[op.method] = op
        # A literal path (/v1/citizens/verify) wins over a template that also matches it
        # (/v1/citizens/{pin}), as OpenAPI 3.1 §4.8.8 requires.
        ordered = sorted(self.by_path, key=lambda p: (p.count("{"), -len(p)))
        self._patterns = [(re.compile(self._regex(p)), p) for p in ordered]

    @staticmethod
    def _regex(template: str) -> str:
        out, last = ["^"], 0
        for m in _PARAM.finditer(template):
            out.append(re.escape(template[last : m.start()]))
            out.append(f"(?P<{_group(m.group(1))}>[^/]+)")
            last = m.end()
        out.append(re.escape(template[last:]) + "$")
        return "".join(out)

    def match(self, path: str) -> tuple[str, dict[str, str]] | None:
        """``(template, path parameters)`` for ``path``, or None when no template matches."""
        for pattern, template in self._patterns:
            m = pattern.match(path)
            if m:
                names = _PARAM.findall(template)
                return template, {name: m.group(_group(name)) for name in names}
        return None


def _group(name: str) -> str:
    # Regex group names must be identifiers; parameter names may hold '-' or '.'.
    return "p_" + "".join(c if c.isalnum() else f"_{ord(c):x}_" for c in name)

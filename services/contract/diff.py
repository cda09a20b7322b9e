"""Breaking-change check between two versions of an OpenAPI contract (``sim06 contract diff``).

A change is *breaking* when a client written against the old contract can fail against the new
one. The direction matters:

- in a **request** (the client writes, the server validates) narrowing is breaking: a new
  required field or parameter, a type or enum that accepts less, a lower ``maxLength``, a new
  ``pattern`` (unless it only adds words to the old one's alternations), ``null`` no longer
  accepted;
- in a **response** (the server writes, the client parses) widening is breaking: a removed or
  renamed field, a field no longer required, a new type, a new enum value, ``null`` now possible.
  Narrowing a response (an enum value or ``null`` that can no longer come) is safe.

Removed operations, removed status codes and removed media types are breaking; additions are
listed as information. A response schema moving to a media type the old contract already
declared untyped (application/json → application/problem+json) is information: the server could
already answer that media type.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from sim06.services.contract.openapi import (
    Operation,
    deref,
    load_documents,
    nullable_inner,
    operations,
)

__all__ = ["Change", "diff_documents", "diff_paths", "render_changes", "summary"]

Level = Literal["breaking", "info"]
Direction = Literal["request", "response"]
_UPPER = ("maxLength", "maxItems", "maxProperties", "maximum", "exclusiveMaximum")
_LOWER = ("minLength", "minItems", "minProperties", "minimum", "exclusiveMinimum")
_MAX_DEPTH = 24


@dataclass(frozen=True, slots=True)
class Change:
    """One difference: its level, a stable rule name, the operation and where in it."""

    level: Level
    rule: str
    operation: str
    where: str
    message: str


@dataclass
class _Ctx:
    old: Mapping[str, Any]
    new: Mapping[str, Any]
    operation: str
    out: list[Change] = field(default_factory=list)

    def add(self, level: Level, rule: str, where: str, message: str) -> None:
        self.out.append(Change(level, rule, self.operation, where, message))


def diff_paths(old: Path, new: Path) -> list[Change]:
    """Changes from the contract(s) at ``old`` to those at ``new`` (files or directories)."""
    olds, news = load_documents(old), load_documents(new)
    if len(olds) == 1 and len(news) == 1:  # two files: compare them whatever their names
        return diff_documents(next(iter(olds.values())), next(iter(news.values())))
    changes: list[Change] = []
    for name, doc in olds.items():
        if name in news:
            changes += diff_documents(doc, news[name], prefix=f"{name}: ")
        else:
            changes.append(Change("breaking", "contract-removed", name, "", "contract removed"))
    changes += [
        Change("info", "contract-added", name, "", "new contract")
        for name in news
        if name not in olds
    ]
    return changes


def diff_documents(
    old: Mapping[str, Any], new: Mapping[str, Any], *, prefix: str = ""
) -> list[Change]:
    """Changes from ``old`` to ``new`` (two OpenAPI documents), breaking ones first."""
    old_ops = {_key(op): op for op in operations(old)}
    new_ops = {_key(op): op for op in operations(new)}
    changes: list[Change] = []
    for key, op in old_ops.items():
        label = prefix + _label(op)
        if key not in new_ops:
            changes.append(Change("breaking", "operation-removed", label, "", "operation removed"))
            continue
        ctx = _Ctx(old, new, label)
        _operation(ctx, op, new_ops[key])
        changes += ctx.out
    changes += [
        Change("info", "operation-added", prefix + _label(op), "", "new operation")
        for key, op in new_ops.items()
        if key not in old_ops
    ]
    return sorted(changes, key=lambda c: c.level != "breaking")


def summary(changes: list[Change]) -> str:
    """One line: how many breaking and informational changes."""
    breaking = sum(c.level == "breaking" for c in changes)
    return f"{breaking} breaking change(s), {len(changes) - breaking} other change(s)"


def render_changes(changes: list[Change]) -> str:
    """The changes as an aligned text table."""
    if not changes:
        return "no changes"
    rows = [("LEVEL", "OPERATION", "WHERE", "CHANGE")]
    rows += [(c.level, c.operation, c.where, c.message) for c in changes]
    widths = [max(len(r[i]) for r in rows) for i in range(3)]
    lines = ["  ".join(r[i].ljust(widths[i]) for i in range(3)) + "  " + r[3] for r in rows]
    return "\n".join(line.rstrip() for line in lines)


def _key(op: Operation) -> tuple[str, str]:
    # Renaming a path parameter ({pin} → {id}) does not change what a client calls.
    return op.method, re.sub(r"\{[^}/]+\}", "{}", op.path)


def _label(op: Operation) -> str:
    return f"{op.method} {op.path}" + (f" ({op.operation_id})" if op.operation_id else "")


def _operation(ctx: _Ctx, old: Operation, new: Operation) -> None:
    _parameters(ctx, old, new)
    _request_body(ctx, old.spec.get("requestBody"), new.spec.get("requestBody"))
    _responses(ctx, old.spec.get("responses") or {}, new.spec.get("responses") or {})


def _parameters(ctx: _Ctx, old: Operation, new: Operation) -> None:
    olds = {(p.get("in"), p.get("name")): p for p in old.parameters}
    news = {(p.get("in"), p.get("name")): p for p in new.parameters}
    for (where_in, name), param in news.items():
        where = f"{where_in} parameter '{name}'"
        before = olds.get((where_in, name))
        if before is None:
            if param.get("required"):
                ctx.add("breaking", "required-parameter-added", where, "new required parameter")
            else:
                ctx.add("info", "optional-parameter-added", where, "new optional parameter")
            continue
        if param.get("required") and not before.get("required"):
            ctx.add("breaking", "parameter-became-required", where, "optional → required")
        _schema(ctx, before.get("schema"), param.get("schema"), "request", where, "", 0, set())
    for where_in, name in olds.keys() - news.keys():
        ctx.add("info", "parameter-removed", f"{where_in} parameter '{name}'", "parameter removed")


def _content(doc: Mapping[str, Any], node: Any) -> Mapping[str, Any]:
    node = deref(doc, node)
    return node.get("content") or {} if isinstance(node, Mapping) else {}


def _request_body(ctx: _Ctx, old: Any, new: Any) -> None:
    if new is None:
        if old is not None:
            ctx.add("info", "request-body-removed", "request body", "request body removed")
        return
    new_body = deref(ctx.new, new)
    old_body = deref(ctx.old, old) if old is not None else None
    if new_body.get("required") and not (old_body or {}).get("required"):
        rule = "request-body-added" if old_body is None else "request-body-became-required"
        ctx.add("breaking", rule, "request body", "a request body is now required")
    if old_body is None:
        return
    old_media, new_media = _content(ctx.old, old_body), _content(ctx.new, new_body)
    for media, entry in old_media.items():
        where = f"request body ({media})"
        if media not in new_media:
            ctx.add(
                "breaking", "request-media-type-removed", where, "media type no longer accepted"
            )
            continue
        old_schema, new_schema = entry.get("schema"), new_media[media].get("schema")
        _schema(ctx, old_schema, new_schema, "request", where, "", 0, set())


def _responses(ctx: _Ctx, old: Mapping[str, Any], new: Mapping[str, Any]) -> None:
    for status, entry in old.items():
        where = f"response {status}"
        if status not in new:
            ctx.add("breaking", "status-removed", where, f"status {status} removed")
            continue
        old_media, new_media = _content(ctx.old, entry), _content(ctx.new, new[status])
        for media, body in old_media.items():
            if media not in new_media:
                moved = _moved_to(old_media, new_media, body.get("schema"))
                if moved is None:
                    ctx.add("breaking", "response-media-type-removed", where, f"{media} removed")
                else:  # the server could already answer `moved`: the response only narrowed
                    message = f"{media} removed, its schema moved to {moved}"
                    ctx.add("info", "response-schema-moved", where, message)
                continue
            old_schema, new_schema = body.get("schema"), new_media[media].get("schema")
            _schema(ctx, old_schema, new_schema, "response", where, "", 0, set())
        for media in new_media.keys() - old_media.keys():
            ctx.add("info", "response-media-type-added", where, f"{media} added")
    for status in new.keys() - old.keys():
        ctx.add("info", "status-added", f"response {status}", f"status {status} added")


def _moved_to(
    old_media: Mapping[str, Any], new_media: Mapping[str, Any], schema: Any
) -> str | None:
    """The media type, declared untyped before, that now carries ``schema`` (e.g. a problem
    schema moved from application/json to application/problem+json), if any."""
    if schema is None:
        return None
    return next(
        (
            media
            for media, entry in new_media.items()
            if media in old_media
            and "schema" not in old_media[media]
            and entry.get("schema") == schema
        ),
        None,
    )


def _types(doc: Mapping[str, Any], schema: Any) -> set[str] | None:
    """The JSON types a schema allows (None: unconstrained). ``integer`` implies nothing else."""
    schema = deref(doc, schema)
    if not isinstance(schema, Mapping):
        return None
    if "type" in schema:
        t = schema["type"]
        types = set(t) if isinstance(t, list) else {str(t)}
        return types | ({"null"} if schema.get("nullable") else set())
    for key in ("anyOf", "oneOf"):
        if isinstance(schema.get(key), list):
            union: set[str] = set()
            for branch in schema[key]:
                sub = _types(doc, branch)
                if sub is None:
                    return None
                union |= sub
            return union
    if "properties" in schema:
        return {"object"}
    if "enum" in schema or "const" in schema:
        values = schema.get("enum", [schema.get("const")])
        return {_json_type(v) for v in values}
    return None


def _json_type(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int):
        return "integer"
    return {float: "number", str: "string", list: "array", dict: "object"}.get(
        type(value), "string"
    )


def _covers(wide: set[str], narrow: set[str]) -> set[str]:
    """Types of ``narrow`` that ``wide`` does not accept (``number`` accepts ``integer``)."""
    return {t for t in narrow if t not in wide and not (t == "integer" and "number" in wide)}


def _enum(schema: Mapping[str, Any]) -> set[Any] | None:
    if "enum" in schema:
        return {_hashable(v) for v in schema["enum"]}
    if "const" in schema:
        return {_hashable(schema["const"])}
    return None


def _hashable(value: Any) -> Any:
    return repr(value) if isinstance(value, (list, dict)) else value


def _properties(
    doc: Mapping[str, Any], schema: Mapping[str, Any]
) -> tuple[dict[str, Any], set[str]]:
    props: dict[str, Any] = dict(schema.get("properties") or {})
    required = set(schema.get("required") or [])
    for part in schema.get("allOf") or []:
        sub = deref(doc, part)
        if isinstance(sub, Mapping):
            more, req = _properties(doc, sub)
            props.update(more)
            required |= req
    return props, required


def _schema(
    ctx: _Ctx,
    old: Any,
    new: Any,
    direction: Direction,
    place: str,
    pointer: str,
    depth: int,
    seen: set[Any],
) -> None:
    """Compare two schemas at ``place`` (e.g. "response 200") and JSON ``pointer`` in it."""
    if old is None or new is None or depth > _MAX_DEPTH:
        return
    old_s, old_null = nullable_inner(ctx.old, old)
    new_s, new_null = nullable_inner(ctx.new, new)
    if not isinstance(old_s, Mapping) or not isinstance(new_s, Mapping):
        return
    guard = (id(old_s), id(new_s))
    if guard in seen:  # a recursive schema: this pair is being compared further up
        return
    seen = seen | {guard}
    at = f"{place} {pointer}" if pointer else place
    request = direction == "request"

    if request and old_null and not new_null:
        ctx.add("breaking", "nullable-removed", at, "null no longer accepted")
    elif not request and new_null and not old_null:
        ctx.add("breaking", "nullable-added", at, "may now be null")
    elif not request and old_null and not new_null:
        ctx.add("info", "nullable-removed", at, "no longer null")

    old_t, new_t = _types(ctx.old, old_s), _types(ctx.new, new_s)
    old_t, new_t = (old_t or set()) - {"null"} or None, (new_t or set()) - {"null"} or None
    if request and new_t is not None:
        lost = _covers(new_t, old_t) if old_t is not None else {"any"}
        if lost:
            ctx.add("breaking", "type-narrowed", at, f"type {_fmt(old_t or set())} → {_fmt(new_t)}")
    elif not request and new_t is not None and old_t is not None and _covers(old_t, new_t):
        ctx.add("breaking", "type-changed", at, f"type {_fmt(old_t)} → {_fmt(new_t)}")

    _enums(ctx, old_s, new_s, request, at)
    if request:
        _constraints(ctx, old_s, new_s, at)
    _objects(ctx, old_s, new_s, direction, place, pointer, depth, seen)
    if "items" in old_s and "items" in new_s:
        item = pointer + "/*"
        _schema(ctx, old_s["items"], new_s["items"], direction, place, item, depth + 1, seen)


def _enums(
    ctx: _Ctx, old: Mapping[str, Any], new: Mapping[str, Any], request: bool, at: str
) -> None:
    old_e, new_e = _enum(old), _enum(new)
    if request and new_e is not None:
        if old_e is None:
            ctx.add("breaking", "enum-added", at, f"now restricted to {_fmt(new_e)}")
        elif old_e - new_e:
            ctx.add("breaking", "enum-narrowed", at, f"values removed: {_fmt(old_e - new_e)}")
    elif not request and old_e is not None:
        if new_e is None or new_e - old_e:
            added = "any value" if new_e is None else _fmt(new_e - old_e)
            ctx.add("breaking", "enum-widened", at, f"may now return {added}")
        elif old_e - new_e:
            ctx.add("info", "enum-narrowed", at, f"no longer returns {_fmt(old_e - new_e)}")


def _constraints(ctx: _Ctx, old: Mapping[str, Any], new: Mapping[str, Any], at: str) -> None:
    for key in _UPPER:
        if key in new and (key not in old or new[key] < old[key]):
            ctx.add("breaking", f"{key}-reduced", at, f"{key} {old.get(key, '∞')} → {new[key]}")
    for key in _LOWER:
        if key in new and (key not in old or new[key] > old[key]):
            ctx.add("breaking", f"{key}-raised", at, f"{key} {old.get(key, 'none')} → {new[key]}")
    for key in ("pattern", "format"):
        if key in new and new[key] != old.get(key):
            if key == "pattern" and _alternatives_widened(old.get(key), new[key]):
                ctx.add("info", "pattern-widened", at, "pattern now accepts more alternatives")
                continue
            ctx.add("breaking", f"{key}-changed", at, f"{key} {old.get(key)!r} → {new[key]!r}")


_ALTERNATION = re.compile(r"\(\?:([A-Za-z0-9_]+(?:\|[A-Za-z0-9_]+)*)\)")


def _alternatives_widened(old: str | None, new: str) -> bool:
    """True when ``new`` is ``old`` with words added to its plain alternations ``(?:a|b|c)``
    and nothing else changed: it accepts every string ``old`` accepted (a request is safe)."""
    if old is None:
        return False
    old_groups, new_groups = _ALTERNATION.findall(old), _ALTERNATION.findall(new)
    if not old_groups or len(old_groups) != len(new_groups):
        return False
    if _ALTERNATION.sub("(?:)", old) != _ALTERNATION.sub("(?:)", new):
        return False
    return all(
        set(a.split("|")) <= set(b.split("|")) for a, b in zip(old_groups, new_groups, strict=True)
    )


def _objects(
    ctx: _Ctx,
    old: Mapping[str, Any],
    new: Mapping[str, Any],
    direction: Direction,
    place: str,
    pointer: str,
    depth: int,
    seen: set[Any],
) -> None:
    old_p, old_r = _properties(ctx.old, old)
    new_p, new_r = _properties(ctx.new, new)
    if not old_p and not new_p:
        return
    request = direction == "request"
    closed = new.get("additionalProperties") is False
    for name in old_p.keys() - new_p.keys():
        at = f"{place} {pointer}/{name}"
        if request:
            level: Level = "breaking" if closed else "info"
            ctx.add(level, "request-field-removed", at, "field removed from the request schema")
        else:
            renamed = [n for n in new_p.keys() - old_p.keys() if _same(ctx, old_p[name], new_p[n])]
            hint = f" (renamed to '{renamed[0]}'?)" if renamed else ""
            ctx.add("breaking", "response-field-removed", at, f"field removed{hint}")
    for name in new_p.keys() - old_p.keys():
        at = f"{place} {pointer}/{name}"
        if request and name in new_r:
            ctx.add("breaking", "required-field-added", at, "new required field")
        elif request:
            ctx.add("info", "optional-field-added", at, "new optional field")
        else:
            ctx.add("info", "response-field-added", at, "new field")
    for name in old_p.keys() & new_p.keys():
        at = f"{place} {pointer}/{name}"
        if request and name in new_r and name not in old_r:
            ctx.add("breaking", "field-became-required", at, "optional → required")
        elif not request and name in old_r and name not in new_r:
            ctx.add(
                "breaking", "response-field-optional", at, "required → optional (may be absent)"
            )
        sub = f"{pointer}/{name}"
        _schema(ctx, old_p[name], new_p[name], direction, place, sub, depth + 1, seen)
    if request and closed and old.get("additionalProperties") is not False:
        at = f"{place} {pointer or '/'}"
        ctx.add("breaking", "additional-properties-refused", at, "unknown fields refused")


def _same(ctx: _Ctx, old: Any, new: Any) -> bool:
    return bool(deref(ctx.old, old) == deref(ctx.new, new))


def _fmt(values: set[Any]) -> str:
    return "|".join(sorted(str(v) for v in values))

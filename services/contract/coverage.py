"""Contract coverage: which parts of a contract an agency's client exercised, from the journal.

The universe comes from the contract, the observations from the journal:

    operation       every operation
    response        every documented status of an operation ("4XX" ranges match any 4xx)
    error-code      every problem ``code`` an operation declares (``x-error-codes`` on the
                    operation or a response, ``code`` in a problem example, or an enum of the
                    ``code`` property); codes seen but not declared are listed as extra
    request-field   every optional query parameter and optional JSON body field (pointer)
    response-field  every optional or nullable field of a 2xx JSON response; it counts as
                    exercised when it came with a non-null value

In JUnit XML each item is a testcase; an item never exercised is ``<skipped>`` by default (the
build stays green and the gap is visible), or ``<failure>`` with ``gaps="failure"``.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

from sim06.services.contract.openapi import Operation, deref, nullable_inner, operations

__all__ = ["KINDS", "CoverageReport", "Item", "coverage", "junit_xml", "render_report"]

KINDS = ("operation", "response", "error-code", "request-field", "response-field")
_JSON = ("application/json", "application/problem+json")
_MAX_DEPTH = 8


@dataclass(frozen=True, slots=True)
class Item:
    """One thing a client can exercise, and how many exchanges exercised it."""

    kind: str
    operation: str
    name: str
    hits: int
    declared: bool = True

    @property
    def label(self) -> str:
        """``operation name`` (just the operation for operation items)."""
        return f"{self.operation} {self.name}".strip()


@dataclass
class CoverageReport:
    """Coverage of one service's contract by the exchanges of its journal."""

    service: str
    source: str
    exchanges: int
    items: list[Item] = field(default_factory=list)

    def of(self, kind: str, *, declared: bool = True) -> list[Item]:
        """Items of ``kind`` (declared ones, or those seen without being declared)."""
        return [i for i in self.items if i.kind == kind and i.declared == declared]

    def ratio(self, kind: str) -> tuple[int, int]:
        """(exercised, total) declared items of ``kind``."""
        items = self.of(kind)
        return sum(i.hits > 0 for i in items), len(items)

    def missing(self, kind: str | None = None) -> list[Item]:
        """Declared items never exercised."""
        return [i for i in self.items if i.declared and not i.hits and kind in (None, i.kind)]


def coverage(
    doc: Mapping[str, Any], entries: Iterable[Mapping[str, Any]], *, service: str, source: str = ""
) -> CoverageReport:
    """Coverage of the contract ``doc`` by journal ``entries`` (dicts as the journal serves)."""
    by_op: dict[str, list[Mapping[str, Any]]] = defaultdict(list)
    count = 0
    for entry in entries:
        count += 1
        key = entry.get("operation_id") or f"{entry.get('method')} {entry.get('path')}"
        by_op[key].append(entry)
    report = CoverageReport(service, source, count)
    for op in operations(doc):
        seen = by_op.get(op.operation_id or f"{op.method} {op.path}", [])
        report.items += _items(doc, op, seen)
    return report


def _items(doc: Mapping[str, Any], op: Operation, seen: list[Mapping[str, Any]]) -> list[Item]:
    label = op.label
    items = [Item("operation", label, "", len(seen))]
    statuses = Counter(str(e.get("status")) for e in seen)
    responses: Mapping[str, Any] = op.spec.get("responses") or {}
    for status in responses:
        if status == "default":
            continue
        hits = sum(n for s, n in statuses.items() if s == status or f"{s[0]}XX" == status.upper())
        items.append(Item("response", label, status, hits))

    codes = Counter(str(e["code"]) for e in seen if e.get("code"))
    declared = _declared_codes(doc, op)
    items += [Item("error-code", label, code, codes.get(code, 0)) for code in sorted(declared)]
    items += [
        Item("error-code", label, code, n, declared=False)
        for code, n in sorted(codes.items())
        if code not in declared
    ]

    sent: Counter[str] = Counter()
    for entry in seen:
        sent.update(entry.get("request_fields") or ())
        sent.update("?" + name for name in entry.get("query") or ())
    for param in op.parameters:
        if param.get("in") == "query" and not param.get("required"):
            name = f"?{param.get('name')}"
            items.append(Item("request-field", label, name, sent.get(name, 0)))
    body = deref(doc, op.spec.get("requestBody"))
    for pointer in _optional_fields(doc, _json_schemas(body)):
        items.append(Item("request-field", label, pointer, sent.get(pointer, 0)))

    received: Counter[str] = Counter()
    for entry in seen:
        if 200 <= int(entry.get("status") or 0) < 300:
            received.update(entry.get("response_fields") or ())
    success = [deref(doc, r) for s, r in responses.items() if s.startswith("2")]
    schemas = [schema for r in success for schema in _json_schemas(r)]
    for pointer in _optional_fields(doc, schemas):
        items.append(Item("response-field", label, pointer, received.get(pointer, 0)))
    return items


def _json_schemas(node: Any) -> list[Any]:
    if not isinstance(node, Mapping):
        return []
    content = node.get("content") or {}
    return [
        entry["schema"]
        for media, entry in content.items()
        if (media in _JSON or media.endswith("+json")) and isinstance(entry, Mapping)
        and "schema" in entry
    ]  # fmt: skip


def _declared_codes(doc: Mapping[str, Any], op: Operation) -> set[str]:
    codes = {str(c) for c in op.spec.get("x-error-codes") or ()}
    for response in (op.spec.get("responses") or {}).values():
        response = deref(doc, response)
        if not isinstance(response, Mapping):
            continue
        codes |= {str(c) for c in response.get("x-error-codes") or ()}
        for entry in (response.get("content") or {}).values():
            if not isinstance(entry, Mapping):
                continue
            examples = [entry.get("example")] + [
                deref(doc, e).get("value") for e in (entry.get("examples") or {}).values()
            ]
            codes |= {str(e["code"]) for e in examples if isinstance(e, Mapping) and "code" in e}
            schema = deref(doc, entry.get("schema"))
            code = deref(doc, ((schema or {}).get("properties") or {}).get("code"))
            if isinstance(code, Mapping):
                codes |= {str(c) for c in code.get("enum") or ()}
                codes |= {str(code["const"])} if "const" in code else set()
    return codes


def _optional_fields(doc: Mapping[str, Any], schemas: list[Any]) -> list[str]:
    out: dict[str, bool] = {}
    for schema in schemas:
        _fields(doc, schema, "", out, 0, frozenset())
    return sorted(p for p, optional in out.items() if optional)


def _fields(
    doc: Mapping[str, Any],
    schema: Any,
    pointer: str,
    out: dict[str, bool],
    depth: int,
    seen: frozenset[int],
) -> None:
    schema, _ = nullable_inner(doc, schema)
    if not isinstance(schema, Mapping) or depth > _MAX_DEPTH or id(schema) in seen:
        return
    seen = seen | {id(schema)}
    for key in ("anyOf", "oneOf", "allOf"):
        for branch in schema.get(key) or []:
            _fields(doc, branch, pointer, out, depth + 1, seen)
    required = set(schema.get("required") or [])
    for name, sub in (schema.get("properties") or {}).items():
        child = f"{pointer}/{name.replace('~', '~0').replace('/', '~1')}"
        _, nullable = nullable_inner(doc, sub)
        out[child] = out.get(child, False) or name not in required or nullable
        _fields(doc, sub, child, out, depth + 1, seen)
    if "items" in schema:
        _fields(doc, schema["items"], pointer + "/*", out, depth + 1, seen)


def render_report(report: CoverageReport, *, limit: int = 15) -> str:
    """The report as text: totals, one row per operation, then what was never exercised."""
    lines = [f"{report.service} — {report.source} ({report.exchanges} exchanges journaled)"]
    for kind in KINDS:
        done, total = report.ratio(kind)
        extra = len(report.of(kind, declared=False))
        pct = f"{100 * done / total:5.1f}%" if total else "     -"
        note = f"  (+{extra} seen, not declared in the contract)" if extra else ""
        lines.append(f"  {kind + 's':<16}{done:>5}/{total:<5}{pct}{note}")
    rows = [("OPERATION", "CALLS", "STATUSES SEEN", "ERROR CODES SEEN")]
    for op in report.of("operation"):
        statuses = [
            i.name for i in report.items if i.kind == "response" and i.operation == op.operation
            and i.hits
        ]  # fmt: skip
        codes = [
            i.name for i in report.items if i.kind == "error-code" and i.operation == op.operation
            and i.hits
        ]  # fmt: skip
        rows.append((op.operation, str(op.hits), " ".join(statuses) or "-", " ".join(codes) or "-"))
    widths = [max(len(r[i]) for r in rows) for i in range(3)]
    lines.append("")
    lines += ["  ".join(r[i].ljust(widths[i]) for i in range(3)) + "  " + r[3] for r in rows]
    missing = report.missing()
    lines.append("")
    lines.append(f"NEVER EXERCISED ({len(missing)})" if missing else "Every item was exercised.")
    for kind in KINDS:
        gaps = report.missing(kind)
        by_op: dict[str, list[str]] = defaultdict(list)
        for item in gaps:
            by_op[item.operation].append(item.name)
        for operation, names in by_op.items():
            shown = " ".join(n for n in names[:limit] if n)
            more = f" (+{len(names) - limit} more)" if len(names) > limit else ""
            lines.append(f"  {kind:<15} {operation} {shown}{more}".rstrip())
    return "\n".join(lines)


def junit_xml(
    reports: list[CoverageReport], gaps: Literal["skipped", "failure"] = "skipped"
) -> str:
    """JUnit XML: a testsuite per service and kind, a testcase per item."""
    root = ET.Element("testsuites", name="sim06 contract coverage")
    total = flagged = 0
    for report in reports:
        for kind in KINDS:
            items = report.of(kind) + report.of(kind, declared=False)
            if not items:
                continue
            suite = ET.SubElement(root, "testsuite", name=f"{report.service}.{kind}")
            missing = 0
            for item in items:
                case = ET.SubElement(
                    suite, "testcase", classname=f"{report.service}.{kind}", name=item.label
                )
                if item.hits:
                    out = ET.SubElement(case, "system-out")
                    note = "" if item.declared else " (not declared in the contract)"
                    out.text = f"exercised by {item.hits} exchange(s){note}"
                else:
                    missing += 1
                    ET.SubElement(case, gaps, message=f"{kind} never exercised", type="coverage")
            suite.set("tests", str(len(items)))
            suite.set("failures" if gaps == "failure" else "skipped", str(missing))
            suite.set("errors", "0")
            total += len(items)
            flagged += missing
    root.set("tests", str(total))
    root.set("failures" if gaps == "failure" else "skipped", str(flagged))
    ET.indent(root)
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(root, encoding="unicode") + "\n"

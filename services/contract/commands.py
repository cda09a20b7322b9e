"""``sim06 contract diff`` and ``sim06 contract coverage``: the work behind the CLI."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import httpx

from sim06.services.contract.coverage import CoverageReport, coverage, junit_xml, render_report
from sim06.services.contract.diff import diff_paths, render_changes, summary
from sim06.services.contract.openapi import load_documents
from sim06.services.contract.plugin import JOURNAL_PATH

__all__ = ["CoverageSourceError", "Outcome", "fetch_reports", "run_coverage", "run_diff"]


class CoverageSourceError(Exception):
    """A service or file could not give a contract and a journal."""


@dataclass(frozen=True, slots=True)
class Outcome:
    """What a command prints and its exit status."""

    text: str
    status: int


def run_diff(old: Path, new: Path) -> Outcome:
    """Compare contracts; exit status 1 when a change is breaking."""
    try:
        changes = diff_paths(old, new)
    except (OSError, ValueError) as exc:
        return Outcome(f"error: {exc}", 2)
    breaking = any(c.level == "breaking" for c in changes)
    return Outcome(f"{render_changes(changes)}\n\n{summary(changes)}", 1 if breaking else 0)


def fetch_reports(
    urls: list[str], journals: list[Path], contracts: list[Path], timeout: float = 30.0
) -> list[CoverageReport]:
    """One report per live service (``urls``) and per saved journal (with its contract)."""
    if len(journals) != len(contracts):
        raise CoverageSourceError("give one --contract per --journal, in the same order")
    reports = []
    with httpx.Client(timeout=timeout) as client:
        for url in urls:
            base = url.rstrip("/")
            journal = _get(client, base + JOURNAL_PATH, journal=True)
            doc = _get(client, base + str(journal.get("openapi") or "/openapi.json"))
            name = str(journal.get("service") or base)
            reports.append(coverage(doc, journal["entries"], service=name, source=base))
    for journal_file, contract_file in zip(journals, contracts, strict=True):
        try:
            journal = json.loads(journal_file.read_text("utf-8"))
            docs = load_documents(contract_file)
        except (OSError, ValueError) as exc:
            raise CoverageSourceError(str(exc)) from exc
        if not isinstance(journal, dict) or not isinstance(journal.get("entries"), list):
            raise CoverageSourceError(f"{journal_file} is not a journal (GET {JOURNAL_PATH})")
        if len(docs) != 1:
            raise CoverageSourceError(f"{contract_file}: give one contract file per journal")
        doc = next(iter(docs.values()))
        name = str(journal.get("service") or journal_file.stem)
        reports.append(coverage(doc, journal["entries"], service=name, source=str(journal_file)))
    return reports


def _get(client: httpx.Client, url: str, *, journal: bool = False) -> dict[str, Any]:
    try:
        response = client.get(url)
    except httpx.HTTPError as exc:
        raise CoverageSourceError(f"{url}: {exc}") from exc
    if journal and response.status_code in (404, 405):
        raise CoverageSourceError(
            f"{url}: no journal; start the service with SIM06_CONTRACT_JOURNAL=true"
        )
    if response.status_code != 200:
        raise CoverageSourceError(f"{url}: HTTP {response.status_code}")
    try:
        body = response.json()
    except ValueError as exc:
        raise CoverageSourceError(f"{url}: not JSON") from exc
    if not isinstance(body, dict):
        raise CoverageSourceError(f"{url}: not a JSON object")
    return body


def run_coverage(
    urls: list[str],
    journals: list[Path],
    contracts: list[Path],
    *,
    junit: Path | None = None,
    json_out: Path | None = None,
    gaps: Literal["skipped", "failure"] = "skipped",
    fail_under: float | None = None,
) -> Outcome:
    """Coverage report(s); exit 1 when operation coverage is below ``fail_under`` percent."""
    if not urls and not journals:
        return Outcome("error: give --url or --journal (with --contract)", 2)
    try:
        reports = fetch_reports(urls, journals, contracts)
    except CoverageSourceError as exc:
        return Outcome(f"error: {exc}", 2)
    if junit is not None:
        junit.write_text(junit_xml(reports, gaps), "utf-8")
    if json_out is not None:
        data = [
            {
                "service": r.service,
                "source": r.source,
                "exchanges": r.exchanges,
                "items": [
                    {"kind": i.kind, "operation": i.operation, "name": i.name, "hits": i.hits,
                     "declared": i.declared}
                    for i in r.items
                ],
            }
            for r in reports
        ]  # fmt: skip
        json_out.write_text(json.dumps(data, indent=2, ensure_ascii=False), "utf-8")
    text = "\n\n".join(render_report(r) for r in reports)
    done = sum(r.ratio("operation")[0] for r in reports)
    total = sum(r.ratio("operation")[1] for r in reports)
    percent = 100.0 * done / total if total else 100.0
    if fail_under is not None and percent < fail_under:
        return Outcome(f"{text}\n\noperation coverage {percent:.1f}% < {fail_under}%", 1)
    return Outcome(text, 0)

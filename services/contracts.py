"""The published OpenAPI contracts (``contracts/openapi/*.yaml``), generated from the apps.

``sim06 contract write`` regenerates them; ``sim06 contract check`` (and a test) fails when the
served OpenAPI and the committed file differ, so an API change cannot land without its contract.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import yaml
from fastapi import FastAPI

from sim06.mock_registry.store import SQLiteCitizenStore
from sim06.services.common.settings import Settings


def _registry() -> FastAPI:
    from sim06.services.registry.app import create_app

    return create_app(Settings(), store=SQLiteCitizenStore(":memory:"))


def _identity() -> FastAPI:
    import tempfile
    from pathlib import Path

    from sim06.services.identity import create_app

    # Keys are generated into a throwaway directory: the contract must not depend on them.
    data = Path(tempfile.mkdtemp(prefix="sim06-contract-"))
    settings = Settings(data_dir=data, identity_issuer="http://127.0.0.1:8002")
    return create_app(settings, store=SQLiteCitizenStore(":memory:"))


def _gateway() -> FastAPI:
    import tempfile
    from pathlib import Path

    from sim06.services.gateway.app import create_app

    data = Path(tempfile.mkdtemp(prefix="sim06-contract-"))
    return create_app(Settings(data_dir=data), store=SQLiteCitizenStore(":memory:"))


SERVICES: dict[str, Callable[[], FastAPI]] = {
    "registry": _registry,
    "identity": _identity,
    "gateway": _gateway,
}


def render(spec: dict[str, Any]) -> str:
    """A contract as YAML text (stable key order, UTF-8 kept readable)."""
    return yaml.safe_dump(spec, sort_keys=False, allow_unicode=True, width=100)


def documents() -> dict[str, str]:
    """Service name → its contract text, as the code serves it now."""
    return {name: render(factory().openapi()) for name, factory in SERVICES.items()}


def write_contracts(directory: Path) -> list[Path]:
    """Regenerate every contract file in ``directory``."""
    directory.mkdir(parents=True, exist_ok=True)
    paths = []
    for name, text in documents().items():
        path = directory / f"{name}.yaml"
        path.write_text(text, encoding="utf-8")
        paths.append(path)
    return paths


def check_contracts(directory: Path) -> list[str]:
    """Differences between the committed contracts and the served ones (empty = none)."""
    problems = []
    for name, text in documents().items():
        path = directory / f"{name}.yaml"
        if not path.exists():
            problems.append(f"{path} is missing; run 'make contracts'")
        elif (committed := path.read_text(encoding="utf-8")) != text:
            problems.append(f"{path} differs from the served OpenAPI; run 'make contracts'")
            problems += _drift_summary(committed, text)
    return problems


def _drift_summary(committed: str, served: str, limit: int = 10) -> list[str]:
    """What changed from the committed contract to the served one, breaking changes first."""
    from sim06.services.contract.diff import diff_documents, summary

    try:
        loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)  # libyaml when present: 10x
        changes = diff_documents(yaml.load(committed, loader), yaml.load(served, loader))
    except (yaml.YAMLError, ValueError, KeyError, TypeError, AttributeError) as exc:
        return [f"  (cannot compare: {exc})"]
    if not changes:
        return ["  no operation, field or status changed (descriptions, examples or order only)"]
    lines = [f"  {summary(changes)}:"]
    lines += [
        f"  {c.level:<8} {' '.join(filter(None, (c.operation, c.where)))}: {c.message}"
        for c in changes[:limit]
    ]
    if len(changes) > limit:
        lines.append(f"  ... {len(changes) - limit} more: sim06 contract diff OLD NEW")
    return lines

"""The journal: bounded summaries of exchanges, served on /__sim06/journal."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from sim06.services.common.settings import Settings
from sim06.services.contract import JOURNAL_PATH, Journal, install_contract_tools
from sim06.services.contract.journal import fields_of
from sim06.services.registry.app import create_app

pytestmark = pytest.mark.anyio

ADULT = "001090104217"


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


def registry(settings: Settings, **overrides: Any) -> FastAPI:
    settings = settings.model_copy(update={"contract_journal": True, **overrides})
    app = create_app(settings)
    install_contract_tools(app, settings)
    return app


async def exchanges(app: FastAPI, *calls: tuple[str, str, Any]) -> dict[str, Any]:
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://registry") as c:
        for method, path, body in calls:
            await c.request(method, path, json=body)
        r = await c.get(JOURNAL_PATH)
        assert r.status_code == 200
        doc: dict[str, Any] = r.json()
        return doc


def test_fields_of_skips_nulls_and_folds_arrays() -> None:
    value = {"a": 1, "b": None, "c": {"d": [{"e": 1}, {"f": None, "g": 2}]}, "x/y": 0}
    assert fields_of(value) == ("/a", "/c", "/c/d", "/c/d/*/e", "/c/d/*/g", "/x~1y")


async def test_records_operation_status_code_and_fields(settings: Settings) -> None:
    doc = await exchanges(
        registry(settings),
        ("GET", f"/v1/citizens/{ADULT}?verbose=1", None),
        ("GET", "/v1/citizens/001099999999", None),
        ("POST", "/v1/citizens/verify", {"pin": ADULT, "cmnd": None, "sex": "male"}),
        ("GET", "/nowhere", None),
    )
    assert doc["service"] == "sim06 population registry"
    assert doc["recorded"] == 4 and doc["dropped"] == 0 and doc["openapi"] == "/openapi.json"
    lookup, missing, verify, nowhere = doc["entries"]
    assert lookup["operation_id"] == "citizens-get"
    assert lookup["path"] == "/v1/citizens/{pin}"  # the template: no PIN in the journal
    assert lookup["status"] == 200 and lookup["code"] is None and lookup["query"] == ["verbose"]
    assert {"/pin", "/name/full", "/eid/level"} <= set(lookup["response_fields"])
    assert missing["status"] == 404 and missing["code"] == "CITIZEN_NOT_FOUND"
    assert verify["operation_id"] == "citizens-verify"
    assert verify["request_fields"] == ["/pin", "/sex"]  # null means absent
    assert "/verdict" in verify["response_fields"]
    assert nowhere["operation_id"] is None and nowhere["path"] is None
    assert nowhere["code"] == "NOT_FOUND"
    assert all(e["duration_ms"] >= 0 for e in doc["entries"])


async def test_journal_routes_are_not_journaled_nor_published(settings: Settings) -> None:
    app = registry(settings)
    assert JOURNAL_PATH not in str(app.openapi())
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://registry") as c:
        await c.get("/healthz")
        assert len((await c.get(JOURNAL_PATH)).json()["entries"]) == 1
        first = (await c.get(JOURNAL_PATH)).json()["entries"][0]["seq"]
        await c.get("/healthz")
        assert [
            e["seq"] for e in (await c.get(f"{JOURNAL_PATH}?since={first}")).json()["entries"]
        ] == [first + 1]
        r = await c.get(f"{JOURNAL_PATH}?since=-1")
        assert r.status_code == 422 and r.json()["code"] == "VALIDATION_FAILED"
        assert (await c.delete(JOURNAL_PATH)).status_code == 204
        assert (await c.get(JOURNAL_PATH)).json()["entries"] == []


async def test_off_means_no_journal_route(settings: Settings) -> None:
    app = create_app(settings)
    install_contract_tools(app, settings)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://registry") as c:
        assert (await c.get(JOURNAL_PATH)).status_code == 404


async def test_strict_refusals_are_journaled(settings: Settings) -> None:
    doc = await exchanges(
        registry(settings, strict_contracts=True), ("GET", "/v1/citizens/12", None)
    )
    [entry] = doc["entries"]
    assert entry["operation_id"] == "citizens-get" and entry["code"] == "CONTRACT_VIOLATION"


def summary(n: int) -> dict[str, Any]:
    return {
        "time": float(n), "method": "GET", "path": "/x", "operation_id": "x", "status": 200,
        "code": None, "duration_ms": 0.1, "query": (), "request_fields": (),
        "response_fields": ("/a",),
    }  # fmt: skip


@pytest.mark.parametrize("in_sqlite", [False, True])
def test_bounded_and_resettable(tmp_path: Path, in_sqlite: bool) -> None:
    path = tmp_path / "journal.db" if in_sqlite else None
    journal = Journal(size=3, path=path)
    for n in range(5):
        journal.record(**summary(n))
    doc = journal.document("svc")
    assert [e["time"] for e in doc["entries"]] == [2.0, 3.0, 4.0]
    assert doc["recorded"] == 5 and doc["dropped"] == 2
    if path is not None:  # a second process (worker) sees the same journal
        other = Journal(size=3, path=path)
        assert [e.seq for e in other.entries()] == [3, 4, 5]
        other.close()
    journal.reset()
    assert journal.entries() == [] and journal.recorded() == 0
    journal.close()


async def test_sqlite_journal_via_settings(settings: Settings, tmp_path: Path) -> None:
    path = tmp_path / "j" / "journal.db"
    doc = await exchanges(registry(settings, contract_journal_path=path), ("GET", "/healthz", None))
    assert [e["operation_id"] for e in doc["entries"]] == ["health-live"]
    assert path.exists()

"""The procedures API in process: list, get, run, and clear problems for bad input."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import httpx
import pytest

from sim06.services.common.settings import Settings
from sim06.services.procedures.app import create_app
from sim06.services.procedures.catalogue import Catalogue
from sim06.services.procedures.runner import Runner
from tests.services.procedures.conftest import persona_commune

pytestmark = pytest.mark.anyio


@pytest.fixture
async def api(runner: Runner, catalogue: Catalogue) -> AsyncIterator[httpx.AsyncClient]:
    @asynccontextmanager
    async def given(_: Settings) -> AsyncIterator[Runner]:
        yield runner

    app = create_app(Settings(), catalogue=catalogue, runner=given)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://procedures") as c:
            yield c


async def test_list_and_get(api: httpx.AsyncClient) -> None:
    r = await api.get("/v1/procedures")
    assert r.status_code == 200
    body = r.json()
    assert body["count"] >= 14 and {"key", "code", "eliminated"} <= set(body["data"][0])
    r = await api.get("/v1/procedures/SIM06.HT.KHAISINH")  # by gateway code
    assert r.status_code == 200 and r.json()["key"] == "birth-registration"


# The twins' parents' commune (persona household dt-tran), where the twins-mother may declare.
OFFICE = {"office_commune": persona_commune("twins-mother")}


async def test_run_over_http_decides(api: httpx.AsyncClient) -> None:
    r = await api.post(
        "/v1/procedures/birth-registration/runs",
        json={"persona": "twins-mother", "roles": {"father": "deceased"}, "params": OFFICE},
    )
    assert r.status_code == 201, r.text
    run = r.json()
    assert run["decision"] == "rejected"
    assert "father-died-too-early" in {x["id"] for x in run["rules"]}
    assert [s["id"] for s in run["steps"]] == ["login", "mother", "father", "register"]
    assert all(s["ms"] > 0 for s in run["steps"][:3])
    # The rules rejected the dossier: nothing was registered.
    assert run["steps"][3]["status"] == "skipped" and not run["outputs"] and not run["closed"]


async def test_the_portal_refuses_a_level1_login(api: httpx.AsyncClient) -> None:
    # Birth registration is served by the national portal: level 2 (issue 16).
    r = await api.post("/v1/procedures/birth-registration/runs", json={"persona": "level1-only"})
    assert r.status_code == 201, r.text
    run = r.json()
    assert run["decision"] == "rejected" and [x["id"] for x in run["rules"]] == ["login-refused"]
    login = run["steps"][0]
    assert login["status"] == "refused" and "unmet_authentication_requirements" in login["detail"]
    assert all(s["status"] == "skipped" for s in run["steps"][1:]) and not run["outputs"]


async def test_a_run_over_http_writes_and_replays(api: httpx.AsyncClient) -> None:
    body = {"persona": "twins-mother", "params": OFFICE, "request_id_prefix": "http-run-1"}
    r = await api.post("/v1/procedures/birth-registration/runs", json=body)
    assert r.status_code == 201, r.text
    first = r.json()
    assert first["decision"] == "approved" and first["closed"], first["steps"]
    assert first["run_id"] == "http-run-1"
    register = first["outputs"]["register"]
    assert register["request_id"] == "http-run-1-register" and register["replayed"] is False
    again = (await api.post("/v1/procedures/birth-registration/runs", json=body)).json()
    assert again["outputs"]["register"]["replayed"] is True
    assert again["outputs"]["register"]["pin"] == register["pin"]
    assert again["params"]["child_given_name"] == first["params"]["child_given_name"]


@pytest.mark.parametrize(
    ("path", "body", "status", "code"),
    [
        ("/v1/procedures/nope/runs", {"persona": "adult-level2"}, 404, "PROCEDURE_NOT_FOUND"),
        ("/v1/procedures/birth-registration/runs", {"persona": "nobody"}, 422,
         "PROCEDURE_RUN_INVALID"),
        ("/v1/procedures/birth-registration/runs",
         {"persona": "level1-only", "roles": {"uncle": "no-eid"}}, 422, "PROCEDURE_RUN_INVALID"),
        ("/v1/procedures/birth-registration/runs",
         {"persona": "level1-only", "profile": "rush-hour"}, 422, "PROCEDURE_RUN_INVALID"),
        ("/v1/procedures/birth-registration/runs", {"persona": 7}, 422, "PROCEDURE_RUN_INVALID"),
        ("/v1/procedures/birth-registration/runs", {"persona": "x", "extra": 1}, 422,
         "PROCEDURE_RUN_INVALID"),
        ("/v1/procedures/birth-registration/runs",
         {"persona": "level1-only", "request_id_prefix": "no spaces"}, 422,
         "PROCEDURE_RUN_INVALID"),
    ],
)  # fmt: skip
async def test_bad_runs_are_problems(
    api: httpx.AsyncClient, path: str, body: object, status: int, code: str
) -> None:
    r = await api.post(path, json=body)
    assert r.status_code == status, r.text
    assert r.headers["content-type"] == "application/problem+json"
    assert r.json()["code"] == code


async def test_malformed_json_is_a_problem(api: httpx.AsyncClient) -> None:
    r = await api.post(
        "/v1/procedures/birth-registration/runs",
        content=b"{not json",
        headers={"content-type": "application/json"},
    )
    assert r.status_code == 422 and r.json()["code"] == "PROCEDURE_RUN_INVALID"

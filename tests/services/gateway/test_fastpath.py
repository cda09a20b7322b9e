"""The lookup fast path answers exactly as the FastAPI route: body, headers, audit record."""

from __future__ import annotations

import sqlite3
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import jwt
import pytest
from fastapi import FastAPI

from sim06.services.common.settings import Settings
from sim06.services.gateway import fastpath
from sim06.services.gateway.app import create_app
from sim06.services.gateway.fastpath import exchange_headers, lookup_pin
from tests.services.gateway.helpers import (
    ADULT,
    COMMUNE,
    POLICE,
    exchange_headers as headers_for,
    get_token,
)

pytestmark = pytest.mark.anyio

# (agency, path, header overrides): successes, filtered answers and refusals of every layer.
CASES: list[tuple[dict[str, str], str, dict[str, str]]] = [
    (POLICE, f"/v1/registry/citizens/{ADULT}", {}),  # full record: the registry's bytes
    (COMMUNE, f"/v1/registry/citizens/{ADULT}", {}),  # residence fields only
    (POLICE, "/v1/registry/citizens/003090104217", {}),  # registry 422 INVALID_PIN
    (POLICE, "/v1/registry/citizens/001090999999", {}),  # registry 404 or 422
    (COMMUNE, f"/v1/registry/citizens/{ADULT}", {"X-MaCanBo": "CB.NOBODY"}),  # 005
    (COMMUNE, f"/v1/registry/citizens/{ADULT}", {"X-MaDVC": "BCA.DT.001"}),  # 004
    (COMMUNE, f"/v1/registry/citizens/{ADULT}", {"X-Purpose": ""}),  # missing header
    (COMMUNE, f"/v1/registry/citizens/{ADULT}", {"X-Road-Client": POLICE["code"]}),  # mismatch
    (COMMUNE, f"/v1/registry/citizens/{ADULT}", {"Authorization": "Bearer not-a-jwt"}),  # 401
    (COMMUNE, f"/v1/registry/citizens/{ADULT}", {"X-MaYeuCau": "dup-1"}),
    (COMMUNE, f"/v1/registry/citizens/{ADULT}", {"X-MaYeuCau": "dup-1"}),  # replay 409
    (COMMUNE, f"/v1/registry/citizens/{ADULT}",
     {"X-Legal-Basis": "Ngh%E1%BB%8B %C4%91%E1%BB%8Bnh 104"}),  # percent-encoded legal basis
]  # fmt: skip
_VOLATILE_COLUMNS = {"ts", "latency_ms", "prev_hash", "hash"}


async def _run(settings: Settings, *, fast: bool, monkeypatch: pytest.MonkeyPatch) -> Any:
    taken: list[str | None] = []

    def spy(scope: Any) -> str | None:
        pin = lookup_pin(scope) if fast else None
        taken.append(pin)
        return pin

    monkeypatch.setattr(fastpath, "lookup_pin", spy)
    app = create_app(settings)
    responses = []
    try:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://gateway") as client:
            tokens = {a["client_id"]: await get_token(client, a) for a in (POLICE, COMMUNE)}
            for i, (agency, path, override) in enumerate(CASES):
                sent = headers_for(tokens[agency["client_id"]], agency, **override)
                if "X-MaYeuCau" not in override:  # the same ids on both paths
                    sent["X-MaYeuCau"] = f"same-{i}"
                responses.append(await client.get(path, headers=sent))
            jwks = (await client.get("/.well-known/jwks.json")).json()
    finally:
        await app.state.gateway.registry.aclose()
        app.state.audit.close()
    conn = sqlite3.connect(app.state.audit.path)
    conn.row_factory = sqlite3.Row
    records = [dict(r) for r in conn.execute("SELECT * FROM audit ORDER BY seq")]
    conn.close()
    return responses, records, jwks, [t for t in taken if t is not None]


@pytest.fixture
async def both(
    gw_settings: Settings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> AsyncIterator[tuple[Any, Any]]:
    fast = gw_settings.model_copy(update={"gateway_audit_path": tmp_path / "fast.db"})
    slow = gw_settings.model_copy(update={"gateway_audit_path": tmp_path / "slow.db"})
    yield (
        await _run(fast, fast=True, monkeypatch=monkeypatch),
        await _run(slow, fast=False, monkeypatch=monkeypatch),
    )


async def test_fast_path_and_fastapi_route_answer_alike(both: tuple[Any, Any]) -> None:
    (fast, fast_records, jwks, taken), (slow, slow_records, _, not_taken) = both
    assert len(taken) == len(CASES) and not not_taken  # every case took the path under test
    statuses = [r.status_code for r in fast]
    assert {200, 401, 403, 400, 409, 422} <= set(statuses)
    key = jwt.PyJWK(jwks["keys"][0]).key
    for a, b in zip(fast, slow, strict=True):
        assert a.status_code == b.status_code, (a.text, b.text)
        assert a.content == b.content
        items_a = [(k, v) for k, v in a.headers.multi_items() if k != "x-jws-signature"]
        items_b = [(k, v) for k, v in b.headers.multi_items() if k != "x-jws-signature"]
        assert items_a == items_b  # same names, values and order
        # ECDSA signatures are randomised: same protected header, and both verify.
        sig_a, sig_b = a.headers["x-jws-signature"], b.headers["x-jws-signature"]
        assert sig_a.split(".")[0] == sig_b.split(".")[0]
        for response, signature in ((a, sig_a), (b, sig_b)):
            jwt.api_jws.decode_complete(
                signature, key, algorithms=["ES256"], detached_payload=response.content
            )
    assert len(fast_records) == len(slow_records) == len(CASES)  # one record per request
    for ra, rb in zip(fast_records, slow_records, strict=True):
        # Timestamps differ; a hidden record is hidden on both paths.
        assert (ra.pop("hidden_until") is None) == (rb.pop("hidden_until") is None)
        for column in _VOLATILE_COLUMNS:
            ra.pop(column), rb.pop(column)
        assert ra == rb


def _scope(path: str, *, method: str = "GET", query: bytes = b"", **extra: Any) -> dict[str, Any]:
    return {"type": "http", "method": method, "path": path, "query_string": query,
            "root_path": "", "headers": [], **extra}  # fmt: skip


def test_only_plain_lookups_take_the_fast_path() -> None:
    assert lookup_pin(_scope(f"/v1/registry/citizens/{ADULT}")) == ADULT
    for scope in (
        _scope(f"/v1/registry/citizens/{ADULT}", method="HEAD"),
        _scope(f"/v1/registry/citizens/{ADULT}", method="POST"),
        _scope(f"/v1/registry/citizens/{ADULT}", query=b"fields=pin"),
        _scope(f"/v1/registry/citizens/{ADULT}", root_path="/gw"),
        _scope(f"/v1/registry/citizens/{ADULT}/household"),
        _scope(f"/v1/registry/citizens/{ADULT[:-1]}"),
        _scope(f"/v1/registry/citizens/{ADULT[:-1]}x"),
        _scope("/v1/registry/citizens/٠٠١٠٩٠١٠٤٢١٧"),  # Arabic-Indic digits are not a PIN
        _scope("/v1/registry/citizens/verify"),
        _scope(f"/v1/citizens/{ADULT}xxxxxxxxxx"),
        {**_scope(f"/v1/registry/citizens/{ADULT}"), "type": "websocket"},
    ):
        assert lookup_pin(scope) is None, scope


def test_exchange_headers_keeps_the_first_value_of_each() -> None:
    raw = [
        (b"x-madvc", b"P1"),
        (b"x-madvc", b"P2"),
        (b"authorization", b"Bearer t"),
        (b"cookie", b"ignored"),
        (b"x-legal-basis", "Lu\u1ead".encode("utf-8")),
    ]
    got = exchange_headers(raw)
    assert got == {
        "x-madvc": "P1",
        "authorization": "Bearer t",
        "x-legal-basis": "Lu\u1ead".encode().decode("latin-1"),
    }


async def test_the_route_stays_in_the_contract(app: FastAPI) -> None:
    spec = app.openapi()
    operation = spec["paths"]["/v1/registry/citizens/{pin}"]["get"]
    assert operation["operationId"] == "registry-lookup"
    assert {p["name"] for p in operation["parameters"]} >= {"pin", "x-mayeucau", "x-madvc"}

"""The registry API in process (httpx over the ASGI transport)."""

from __future__ import annotations

import unicodedata
from typing import Any

import httpx
import pytest

from sim06.services.registry import schemas

pytestmark = pytest.mark.anyio

ADULT = "001090104217"
DECEASED = "040050186692"


def assert_problem(response: httpx.Response, status: int, code: str) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/problem+json"
    body: dict[str, Any] = response.json()
    assert body["code"] == code
    assert body["status"] == status
    assert body["type"] == f"urn:sim06:problem:{code}"
    assert body["title"] and body["title_vi"] and body["detail"]
    schemas.Problem.model_validate(body)
    return body


async def test_lookup_serves_the_persona_record(client: httpx.AsyncClient) -> None:
    r = await client.get(f"/v1/citizens/{ADULT}")
    assert r.status_code == 200
    assert r.headers["content-type"] == "application/json"
    record = schemas.CitizenRecord.model_validate(r.json())
    assert record.pin == ADULT
    assert record.name.full == "Nguyễn Văn An"
    assert record.eid.level == 2
    assert record.id_card is not None and record.id_card.number == ADULT


async def test_deceased_is_a_record_with_a_status(client: httpx.AsyncClient) -> None:
    r = await client.get(f"/v1/citizens/{DECEASED}")
    assert r.status_code == 200
    body = r.json()
    assert body["status"] == "deceased"
    assert body["date_of_death"] == "2024-11-02"


@pytest.mark.parametrize(
    ("pin", "rule"),
    [
        ("12345", "wrong_length"),
        ("00109010421a", "not_digits"),
        ("003090104217", "unknown_province_code"),
        ("0010901042170", "wrong_length"),
    ],
)
async def test_malformed_pin_is_422_with_the_reason(
    client: httpx.AsyncClient, pin: str, rule: str
) -> None:
    body = assert_problem(await client.get(f"/v1/citizens/{pin}"), 422, "INVALID_PIN")
    assert rule in [e["rule"] for e in body["errors"]]
    assert all(e["reason"] and e["reason_vi"] for e in body["errors"])


async def test_unknown_pin_is_404(client: httpx.AsyncClient) -> None:
    assert_problem(await client.get("/v1/citizens/001090999999"), 404, "CITIZEN_NOT_FOUND")


async def test_unknown_route_and_method(client: httpx.AsyncClient) -> None:
    assert_problem(await client.get("/v1/nothing"), 404, "NOT_FOUND")
    assert_problem(await client.delete(f"/v1/citizens/{ADULT}"), 405, "METHOD_NOT_ALLOWED")


async def test_verify_matches_like_the_real_service(client: httpx.AsyncClient) -> None:
    nfd = unicodedata.normalize("NFD", "  nguyễn   văn  AN ")
    r = await client.post(
        "/v1/citizens/verify",
        json={"pin": ADULT, "full_name": nfd, "date_of_birth": "1990-05-12", "sex": "male"},
    )
    assert r.status_code == 200, r.text
    body = schemas.VerifyResult.model_validate(r.json())
    assert body.verdict == "match" and body.matched
    assert body.fields is not None and body.fields.full_name == "match"
    assert body.fields.cmnd == "not_provided"


async def test_verify_reports_the_mismatching_field(client: httpx.AsyncClient) -> None:
    r = await client.post(
        "/v1/citizens/verify",
        json={"pin": ADULT, "full_name": "Nguyen Van An", "date_of_birth": "1990-05-13"},
    )
    body = r.json()
    assert body["verdict"] == "mismatch"
    assert body["fields"]["full_name"] == "match"
    assert body["fields"]["date_of_birth"] == "mismatch"


async def test_verify_birth_year_only_and_cmnd(client: httpx.AsyncClient) -> None:
    r = await client.post(
        "/v1/citizens/verify",
        json={"pin": "017142620156", "full_name": "BUI THI NHAI", "date_of_birth": "1942-03-04"},
    )
    assert r.json()["fields"]["date_of_birth"] == "match_year_only"
    r = await client.post(
        "/v1/citizens/verify", json={"cmnd": "131524689", "full_name": "Đặng Văn Tư"}
    )
    assert r.json()["verdict"] == "match"
    r = await client.post("/v1/citizens/verify", json={"pin": "001090999999"})
    assert r.json() == {
        "verdict": "not_found",
        "matched": False,
        "fields": None,
        "citizen_status": None,
        "record_type": None,
    }


async def test_verify_bad_input(client: httpx.AsyncClient) -> None:
    assert_problem(
        await client.post("/v1/citizens/verify", json={"full_name": "X"}), 422, "VALIDATION_FAILED"
    )
    body = assert_problem(
        await client.post("/v1/citizens/verify", json={"pin": ADULT, "nickname": "x"}),
        422,
        "VALIDATION_FAILED",
    )
    assert body["errors"][0]["pointer"] == "/nickname"
    assert_problem(
        await client.post(
            "/v1/citizens/verify",
            content=b'{"pin": "0010',
            headers={"content-type": "application/json"},
        ),
        400,
        "MALFORMED_BODY",
    )
    assert_problem(
        await client.post(
            "/v1/citizens/verify", content=b"pin=1", headers={"content-type": "text/plain"}
        ),
        415,
        "UNSUPPORTED_MEDIA_TYPE",
    )
    assert_problem(await client.post("/v1/citizens/verify", json={"pin": "12"}), 422, "INVALID_PIN")


async def test_oversized_body_is_413(client: httpx.AsyncClient) -> None:
    big = b'{"items": [' + b'{"pin": "001090104217"},' * 60_000 + b"{}]}"
    r = await client.post(
        "/v1/citizens/verify-batch", content=big, headers={"content-type": "application/json"}
    )
    assert_problem(r, 413, "PAYLOAD_TOO_LARGE")


async def test_batch_keeps_order_and_isolates_bad_items(client: httpx.AsyncClient) -> None:
    items: list[dict[str, Any]] = [
        {"pin": ADULT, "full_name": "Nguyễn Văn An"},
        {"pin": "bad"},
        {"pin": DECEASED},
        {"unknown": 1},
        {"pin": "001090999999"},
    ]
    r = await client.post("/v1/citizens/verify-batch", json={"items": items})
    assert r.status_code == 200, r.text
    body = schemas.BatchResult.model_validate(r.json())
    assert [i.index for i in body.results] == [0, 1, 2, 3, 4]
    assert body.results[0].result is not None and body.results[0].result.verdict == "match"
    assert body.results[1].error is not None and body.results[1].error.code == "INVALID_PIN"
    assert body.results[2].result is not None
    assert body.results[2].result.citizen_status == "deceased"
    assert body.results[3].error is not None and body.results[3].error.code == "VALIDATION_FAILED"
    assert body.results[4].result is not None and body.results[4].result.verdict == "not_found"


async def test_batch_limit(client: httpx.AsyncClient) -> None:
    items = [{"pin": ADULT}] * 1001
    r = await client.post("/v1/citizens/verify-batch", json={"items": items})
    assert_problem(r, 422, "BATCH_TOO_LARGE")
    r = await client.post("/v1/citizens/verify-batch", json={"items": items[:1000]})
    assert r.status_code == 200 and r.json()["count"] == 1000


async def test_household_replaces_the_household_book(client: httpx.AsyncClient) -> None:
    r = await client.get("/v1/citizens/036062520156/household")
    assert r.status_code == 200, r.text
    body = schemas.Household.model_validate(r.json())
    assert body.count == 9 and body.head_pin == "036062520156"
    relationships = sorted(m.relationship for m in body.members)
    assert relationships.count("grandchild") == 3
    assert_problem(await client.get("/v1/citizens/060099308874/household"), 404, "NO_HOUSEHOLD")


async def test_residence_confirmation(client: httpx.AsyncClient) -> None:
    r = await client.get(f"/v1/citizens/{ADULT}/residence-confirmation")
    assert r.status_code == 200, r.text
    body = schemas.ResidenceConfirmation.model_validate(r.json())
    assert body.document.form == "CT07"
    assert body.household is not None and body.household.count == 3
    assert body.citizen["pin"] == ADULT
    assert_problem(
        await client.get(f"/v1/citizens/{DECEASED}/residence-confirmation"),
        409,
        "CITIZEN_NOT_ALIVE",
    )


async def test_health(client: httpx.AsyncClient) -> None:
    assert (await client.get("/healthz")).json() == {"status": "ok"}
    ready = (await client.get("/readyz")).json()
    assert ready["status"] == "ready" and ready["citizens"] > 3000


async def test_operation_ids_are_stable(client: httpx.AsyncClient) -> None:
    spec = (await client.get("/openapi.json")).json()
    ids = sorted(op["operationId"] for path in spec["paths"].values() for op in path.values())
    assert ids == [
        "citizens-get",
        "citizens-household",
        "citizens-residence-confirmation",
        "citizens-verify",
        "citizens-verify-batch",
        "events-births",
        "events-changes",
        "events-corrections",
        "events-deaths",
        "events-divorces",
        "events-marriages",
        "events-residence-changes",
        "health-live",
        "health-ready",
    ]


async def test_fast_path_answers_like_the_route(client: httpx.AsyncClient) -> None:
    fast = await client.get(f"/v1/citizens/{ADULT}")
    # A query string sends the same lookup through FastAPI's route instead of the fast path.
    routed = await client.get(f"/v1/citizens/{ADULT}?via=route")
    assert fast.status_code == routed.status_code == 200
    assert fast.content == routed.content
    assert fast.headers["content-type"] == routed.headers["content-type"] == "application/json"
    assert fast.headers["content-length"] == routed.headers["content-length"]
    # What the fast path does not serve still gets the route's problem answers.
    assert_problem(await client.get("/v1/citizens/003090104217"), 422, "INVALID_PIN")
    assert_problem(await client.get("/v1/citizens/001090999999"), 404, "CITIZEN_NOT_FOUND")

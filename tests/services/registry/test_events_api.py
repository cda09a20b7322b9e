"""The registry's write routes and change feed, in process."""

from __future__ import annotations

import asyncio
import hashlib
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

from sim06.mock_registry.ids import parse_pin
from sim06.services.common.settings import Settings
from sim06.services.registry import event_schemas, schemas
from sim06.services.registry.app import create_app
from sim06.services.registry.credentials import write_token
from tests.event_requests import (
    BA_DINH,
    CENTENARIAN,
    CHILD,
    DECEASED,
    FATHER,
    MOTHER,
    birth,
    death,
)
from tests.services.registry.test_api import assert_problem

pytestmark = pytest.mark.anyio


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture
async def client(events_settings: Settings) -> AsyncIterator[httpx.AsyncClient]:
    app = create_app(events_settings)
    transport = httpx.ASGITransport(app=app)
    headers = {"authorization": f"Bearer {write_token(events_settings)}"}
    async with httpx.AsyncClient(
        transport=transport, base_url="http://registry", headers=headers
    ) as c:
        yield c
    app.state.store.close()


async def post(client: httpx.AsyncClient, kind: str, body: Any, key: str) -> httpx.Response:
    return await client.post(f"/v1/{kind}", json=body, headers={"Idempotency-Key": key})


async def export_digest(client: httpx.AsyncClient) -> str:
    store = client._transport.app.state.store  # type: ignore[attr-defined]
    return hashlib.sha256(b"\n".join(store.records())).hexdigest()


async def test_a_birth_issues_a_valid_pin_found_at_once(client: httpx.AsyncClient) -> None:
    r = await post(client, "births", birth(), "b-1")
    assert r.status_code == 201, r.text
    answer = event_schemas.EventResult.model_validate(r.json())
    pin = answer.pin
    assert pin is not None
    parsed = parse_pin(pin)
    assert (parsed.province_code, parsed.century_sex_digit, parsed.birth_year) == ("001", 3, 2026)
    record = (await client.get(f"/v1/citizens/{pin}")).json()
    schemas.CitizenRecord.model_validate(record)
    assert record["name"]["full"] == "Nguyễn Minh Anh"
    assert record["mother"]["pin"] == MOTHER and record["father"]["pin"] == FATHER
    assert record["household"]["head_pin"] == FATHER
    assert {d["pin"] for d in answer.model_dump()["records"]} == {pin, MOTHER, FATHER}
    household = (await client.get(f"/v1/citizens/{FATHER}/household")).json()
    assert pin in [m["pin"] for m in household["members"]]
    mother = (await client.get(f"/v1/citizens/{MOTHER}")).json()
    assert pin in [c["pin"] for c in mother["children"]]


async def test_a_retry_returns_the_first_answer_and_one_record(client: httpx.AsyncClient) -> None:
    first = await post(client, "births", birth(), "same-key")
    again = await post(client, "births", birth(), "same-key")
    assert again.status_code == 200 and again.headers["idempotent-replayed"] == "true"
    assert again.content == first.content
    feed = (await client.get("/v1/changes")).json()
    assert [i["pin"] for i in feed["items"]] == [first.json()["pin"]]
    other = await post(client, "births", birth(given="Bình"), "same-key")
    assert_problem(other, 422, "IDEMPOTENCY_KEY_REUSED")


async def test_writes_need_the_write_token_and_a_key(
    client: httpx.AsyncClient,
) -> None:
    r = await client.post("/v1/births", json=birth(), headers={"authorization": "Bearer nope"})
    assert_problem(r, 401, "REGISTRY_WRITE_UNAUTHORIZED")
    assert r.headers["www-authenticate"].startswith("Bearer")
    r = await client.post("/v1/births", json={}, headers={"authorization": ""})
    assert_problem(r, 401, "REGISTRY_WRITE_UNAUTHORIZED")
    r = await client.post("/v1/births", json=birth())
    problem = assert_problem(r, 422, "VALIDATION_FAILED")
    assert problem["errors"][0]["parameter"] == "Idempotency-Key"
    r = await client.post("/v1/births", json=birth(), headers={"Idempotency-Key": "  "})
    assert_problem(r, 400, "IDEMPOTENCY_KEY_REQUIRED")


INVALID: list[tuple[str, str, dict[str, Any], int, str]] = [
    ("unknown parent", "births", birth(mother_pin="001195000000", father_pin=None,
                                       residence=None), 422, "EVENT_PARENT_NOT_FOUND"),
    ("deceased parent", "births", birth(father_pin=DECEASED, residence=None), 422,
     "EVENT_PARENT_DECEASED"),
    ("father as mother", "births", birth(mother_pin=FATHER, father_pin=None, residence=None),
     422, "EVENT_PARENT_INVALID"),
    ("future birth", "births", birth(child={**birth()["child"], "date_of_birth": "2999-01-01"}),
     422, "EVENT_DATE_IN_FUTURE"),
    ("unknown commune", "births", birth(registration_commune_code="99999"), 422,
     "EVENT_UNKNOWN_COMMUNE"),
    ("no parent", "births", birth(mother_pin=None, father_pin=None, residence=None), 422,
     "VALIDATION_FAILED"),
    ("bad field", "births", {**birth(), "colour": "blue"}, 422, "VALIDATION_FAILED"),
    ("death before birth", "deaths", death(CHILD, date_of_death="2001-01-01"), 422,
     "EVENT_DEATH_BEFORE_BIRTH"),
    ("death of the dead", "deaths", death(DECEASED), 409, "EVENT_CITIZEN_DECEASED"),
    ("unknown citizen", "deaths", death("001090000001"), 404, "CITIZEN_NOT_FOUND"),
    ("marry a married man", "marriages", {
        "spouse_a_pin": FATHER, "spouse_b_pin": "001301642018",
        "date_of_marriage": "2026-12-01", "registration_reference": "KH-1"}, 409,
     "MARRIAGE_NOT_ALLOWED"),
    ("divorce strangers", "divorces", {
        "spouse_a_pin": FATHER, "spouse_b_pin": "001301642018",
        "effective_date": "2026-12-01", "judgment_reference": "TA-1"}, 409,
     "DIVORCE_NOT_MARRIED"),
    ("correction of nothing", "corrections", {"pin": FATHER, "reason": "x", "sex": "male"}, 422,
     "CORRECTION_NO_CHANGE"),
    ("deregister nothing", "residence-changes", {
        "pin": "060099308874", "kind": "permanent_deregistration",
        "effective_date": "2026-12-01"}, 409, "EVENT_RESIDENCE_INVALID"),
]  # fmt: skip


@pytest.mark.parametrize(("kind", "body", "status", "code"), [i[1:] for i in INVALID],
                         ids=[i[0] for i in INVALID])  # fmt: skip
async def test_an_invalid_event_gets_its_code_and_changes_nothing(
    client: httpx.AsyncClient, kind: str, body: dict[str, Any], status: int, code: str
) -> None:
    before = await export_digest(client)
    r = await post(client, kind, body, f"bad-{kind}")
    assert_problem(r, status, code)
    assert await export_digest(client) == before
    assert (await client.get("/v1/changes")).json()["items"] == []


async def test_the_same_birth_twice_is_a_409_naming_the_pin(client: httpx.AsyncClient) -> None:
    first = (await post(client, "births", birth(), "one")).json()
    r = await post(client, "births", birth(), "two")
    body = assert_problem(r, 409, "BIRTH_ALREADY_REGISTERED")
    assert body["pin"] == first["pin"]


async def test_a_death_is_plain_everywhere(client: httpx.AsyncClient) -> None:
    r = await post(client, "deaths", death(FATHER), "d-1")
    assert r.status_code == 201, r.text
    record = (await client.get(f"/v1/citizens/{FATHER}")).json()
    assert record["status"] == "deceased" and record["date_of_death"] == "2026-12-01"
    assert record["id_card"]["status"] == "revoked"
    assert record["eid"]["status"] == "locked"
    assert record["permanent_residence"] is None and record["household"] is None
    verify = await client.post("/v1/citizens/verify", json={"pin": FATHER})
    assert verify.json()["citizen_status"] == "deceased"
    household = (await client.get(f"/v1/citizens/{MOTHER}/household")).json()
    assert household["head_pin"] == MOTHER
    assert FATHER not in [m["pin"] for m in household["members"]]
    assert (await client.get(f"/v1/citizens/{MOTHER}")).json()["marital_status"] == "widowed"
    ct07 = await client.get(f"/v1/citizens/{FATHER}/residence-confirmation")
    assert_problem(ct07, 409, "CITIZEN_NOT_ALIVE")


async def test_the_feed_is_gap_free_and_resumable(client: httpx.AsyncClient) -> None:
    pins = [(await post(client, "births", birth(given=f"Con{i}"), f"k{i}")).json()["pin"]
            for i in range(7)]  # fmt: skip
    await post(client, "deaths", death(CENTENARIAN), "d")
    page = (await client.get("/v1/changes", params={"limit": 3})).json()
    event_schemas.FeedPage.model_validate(page)
    seen = page["items"]
    while page["items"]:
        page = (await client.get("/v1/changes", params={"after": page["next_cursor"]})).json()
        seen += page["items"]
    assert [int(i["cursor"]) for i in seen] == list(range(1, 9))
    assert [i["pin"] for i in seen[:7]] == pins
    assert seen[-1]["type"] == "death" and seen[-1]["changes"]["status"] == "deceased"
    assert page["next_cursor"] == "8"
    middle = (await client.get("/v1/changes", params={"after": "5"})).json()
    assert [i["cursor"] for i in middle["items"]] == ["6", "7", "8"]
    for edge, first in (("0001-01-01T00:00:00+01:00", "1"), ("9999-12-31T23:00:00-05:00", None),
                        ("0796-03-30t04:42:17z", "1")):  # fmt: skip
        items = (await client.get("/v1/changes", params={"since": edge})).json()["items"]
        assert (items[0]["cursor"] if items else None) == first
    since = (await client.get("/v1/changes", params={"since": seen[6]["time"]})).json()
    assert since["items"][0]["cursor"] in {"1", "7"}  # same-microsecond commits share a time
    for params, reason in (({"after": "x"}, "after"), ({"since": "yesterday"}, "since"),
                           ({"since": "2026-12-01T00:00:00"}, "since"),
                           ({"limit": 0}, "limit")):  # fmt: skip
        problem = assert_problem(
            await client.get("/v1/changes", params=params), 422, "VALIDATION_FAILED"
        )
        assert problem["errors"][0]["parameter"] == reason
    ahead = assert_problem(
        await client.get("/v1/changes", params={"after": "99"}), 409, "FEED_CURSOR_AHEAD"
    )
    assert ahead["head"] == "8"
    both = {"after": "5", "since": seen[0]["time"]}  # a consumer resumes from its cursor
    assert (await client.get("/v1/changes", params=both)).json() == middle


async def test_reset_restores_the_seeded_population(client: httpx.AsyncClient) -> None:
    before = await export_digest(client)
    pin = (await post(client, "births", birth(), "b")).json()["pin"]
    await post(client, "deaths", death(CENTENARIAN), "d")
    assert await export_digest(client) != before
    r = await client.post("/__sim06/snapshot", json={"name": "after-birth"})
    assert r.status_code == 200, r.text
    r = await client.post("/__sim06/reset", json={"to": "startup"})
    assert r.status_code == 200 and "registry.events" in r.json()["restored"]
    assert await export_digest(client) == before
    assert (await client.get(f"/v1/citizens/{pin}")).status_code == 404
    assert (await client.get("/v1/changes")).json() == {"items": [], "next_cursor": "0"}
    r = await client.post("/__sim06/reset", json={"name": "after-birth"})
    assert r.status_code == 200, r.text
    assert (await client.get(f"/v1/citizens/{pin}")).status_code == 200
    r = await client.post("/__sim06/reset", json={"name": "never-saved"})
    assert_problem(r, 404, "SNAPSHOT_NOT_FOUND")
    # The same events after a reset issue the same PIN (determinism).
    await client.post("/__sim06/reset", json={"to": "startup"})
    assert (await post(client, "births", birth(), "b")).json()["pin"] == pin


async def test_a_correction_of_the_sex_cancels_and_reissues_the_pin(
    client: httpx.AsyncClient,
) -> None:
    body = {"pin": CHILD, "reason": "Xác định lại giới tính", "sex": "female"}
    r = await post(client, "corrections", body, "c-1")
    assert r.status_code == 201, r.text
    new_pin = r.json()["pin"]
    assert new_pin != CHILD and new_pin[:3] == CHILD[:3] and new_pin[3] == "3"
    old = assert_problem(await client.get(f"/v1/citizens/{CHILD}"), 410, "PIN_CANCELLED")
    assert old["replaced_by"] == new_pin
    routed = await client.get(f"/v1/citizens/{CHILD}?via=route")
    assert routed.json() == old  # the fast path leaves a cancelled PIN to the route
    verify = await client.post("/v1/citizens/verify", json={"pin": CHILD})
    assert assert_problem(verify, 410, "PIN_CANCELLED")["replaced_by"] == new_pin
    new = (await client.get(f"/v1/citizens/{new_pin}")).json()
    assert new["sex"] == "female" and new["pin_history"][0]["pin"] == CHILD
    father = (await client.get(f"/v1/citizens/{FATHER}")).json()
    assert new_pin in [c["pin"] for c in father["children"]]
    assert CHILD not in [c["pin"] for c in father["children"]]
    household = (await client.get(f"/v1/citizens/{FATHER}/household")).json()
    assert new_pin in [m["pin"] for m in household["members"]]
    again = await post(client, "deaths", death(CHILD), "d-old")
    assert assert_problem(again, 410, "PIN_CANCELLED")["replaced_by"] == new_pin


async def test_residence_marriage_and_divorce(client: httpx.AsyncClient) -> None:
    sơn, huyền = "060099308874", "001301642018"
    r = await post(client, "residence-changes", {
        "pin": sơn, "kind": "permanent_registration", "effective_date": "2026-12-01",
        "commune_code": BA_DINH, "detail": "Số 5 Đội Cấn"}, "r-1")  # fmt: skip
    assert r.status_code == 201, r.text
    ct07 = (await client.get(f"/v1/citizens/{sơn}/residence-confirmation")).json()
    assert ct07["permanent_residence"]["commune_code"] == BA_DINH
    assert ct07["household"]["head_pin"] == sơn
    r = await post(client, "marriages", {
        "spouse_a_pin": sơn, "spouse_b_pin": huyền, "date_of_marriage": "2026-12-02",
        "registration_reference": "KH-00004-2026-0001", "registration_commune_code": BA_DINH,
    }, "m-1")  # fmt: skip
    assert r.status_code == 201, r.text
    a, b = [(await client.get(f"/v1/citizens/{p}")).json() for p in (sơn, huyền)]
    assert a["spouse"]["pin"] == huyền and b["spouse"]["pin"] == sơn
    assert a["marital_status"] == b["marital_status"] == "married"
    r = await post(client, "residence-changes", {
        "pin": huyền, "kind": "permanent_registration", "effective_date": "2026-12-03",
        "join_household_of": sơn, "relationship": "spouse"}, "r-2")  # fmt: skip
    assert r.status_code == 201, r.text
    household = (await client.get(f"/v1/citizens/{sơn}/household")).json()
    assert {m["pin"]: m["relationship"] for m in household["members"]} == {
        sơn: "head", huyền: "spouse"}  # fmt: skip
    r = await post(client, "divorces", {
        "spouse_a_pin": huyền, "spouse_b_pin": sơn, "effective_date": "2026-12-04",
        "judgment_reference": "TA-2026-77"}, "dv-1")  # fmt: skip
    assert r.status_code == 201, r.text
    assert (await client.get(f"/v1/citizens/{sơn}")).json()["marital_status"] == "divorced"
    types = [i["type"] for i in (await client.get("/v1/changes")).json()["items"]]
    assert types == ["residence", "marriage", "residence", "divorce"]


async def test_concurrent_events_commit_together_and_fail_alone(
    client: httpx.AsyncClient,
) -> None:
    store = client._transport.app.state.store  # type: ignore[attr-defined]
    commits = 0
    original = store.commit_events

    def counting(batch: Any) -> Any:
        nonlocal commits
        commits += 1
        return original(batch)

    store.commit_events = counting
    bodies = [birth(given=f"Con{i}") for i in range(60)]
    bodies[7] = birth(mother_pin=None, father_pin=DECEASED, residence=None)  # refused
    answers = await asyncio.gather(
        *(post(client, "births", body, f"g{i}") for i, body in enumerate(bodies))
    )
    assert [a.status_code for a in answers].count(201) == 59
    assert_problem(answers[7], 422, "EVENT_PARENT_DECEASED")
    pins = {a.json()["pin"] for a in answers if a.status_code == 201}
    assert len(pins) == 59
    assert commits < 60  # requests in flight shared commits
    feed = (await client.get("/v1/changes")).json()["items"]
    assert [int(i["cursor"]) for i in feed] == list(range(1, 60))
    assert {i["pin"] for i in feed} == pins

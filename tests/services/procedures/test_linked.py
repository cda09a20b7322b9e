"""Procedures that write, in process, each test over its own copy of the seeded database.

Linked procedure 16 (birth – permanent residence – health insurance under 6) and 17 (death –
deletion of permanent residence – funeral allowance) end to end, each hop as its own agency;
the civil-status procedures register what they decide; request ids make a run re-playable.
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Iterator
from datetime import date
from pathlib import Path
from typing import Any

import orjson
import pytest

from sim06.mock_registry.ids import is_valid_pin, parse_pin
from sim06.mock_registry.store import SQLiteCitizenStore
from sim06.services.procedures.catalogue import Catalogue
from sim06.services.procedures.commands import cmd_run
from sim06.services.procedures.model import Param
from sim06.services.procedures.runner import Runner, RunResult, StepResult
from sim06.services.procedures.templates import generate, render
from tests.services.procedures.conftest import Apps, persona_commune

pytestmark = pytest.mark.anyio

FATHER = "001090104217"  # adult-level2, head of household 900000001 in Xã Yên Bài (09706)
MOTHER = "001195208733"  # level1-only, his wife
TWINS_FATHER, TWINS_MOTHER = "087082386793", "087185386794"  # level 2, one household
OFFICE = {"office_commune": persona_commune("twins-mother")}


@pytest.fixture
def db(apps: Apps) -> Iterator[SQLiteCitizenStore]:
    """The test's private database, read back (the apps write to it)."""
    store = SQLiteCitizenStore(apps.settings.database, readonly=True)
    yield store
    store.close()


def record(db: SQLiteCitizenStore, pin: str) -> dict[str, Any]:
    raw = db.get(pin)
    assert raw is not None, pin
    data: dict[str, Any] = orjson.loads(raw)
    return data


def step(result: RunResult, step_id: str) -> StepResult:
    return next(s for s in result.steps if s.id == step_id)


def hop(result: RunResult, name: str) -> dict[str, Any]:
    return next(h for h in result.hops if h["hop"] == name)


async def test_procedure_16_birth_residence_insurance_end_to_end(
    runner: Runner, catalogue: Catalogue, db: SQLiteCitizenStore
) -> None:
    p = catalogue.procedures["linked-birth-residence-insurance"]
    result = await runner.run(p, "adult-level2", request_id_prefix="t16-a")
    detail = [(s.id, s.status, s.detail) for s in result.steps]
    assert result.decision == "approved" and result.closed, detail
    # The commune registered the birth; the population database issued the PIN.
    register = step(result, "register")
    assert register.agency == "ubnd-xa-yen-bai" and register.http_status == 201
    pin = result.outputs["register"]["pin"]
    assert is_valid_pin(pin) and parse_pin(pin).province_code == "001"
    assert register.pin == pin and result.outputs["register"]["request_id"] == "t16-a-register"
    # ... and read the child back: found, in the father's household, residence in Yên Bài.
    child = step(result, "child")
    assert child.status == "ok" and child.pin == pin and child.http_status == 200
    stored = record(db, pin)
    assert stored["mother"]["pin"] == MOTHER and stored["father"]["pin"] == FATHER
    assert stored["household"]["head_pin"] == FATHER
    assert stored["permanent_residence"]["commune_code"] == "09706"
    assert stored["name"]["given"] == result.params["child_given_name"]
    assert stored["date_of_birth"] == result.params["child_date_of_birth"]
    # Social Security found the birth in the change feed, as itself.
    insurance = step(result, "insurance")
    assert insurance.status == "ok" and insurance.agency == "bhxh-ha-noi"
    assert insurance.data["event_id"] == result.outputs["register"]["event_id"]
    assert insurance.data["from_cursor"] == "0" and insurance.data["items_read"] == 1
    assert "found the birth" in insurance.detail
    # ... and issued a MOCK card number made from the PIN.
    card = result.outputs["card"]
    assert card["number"] == f"MOCK-BHYT-{pin}" and card["mock"] is True
    assert card["holder"] == stored["name"]["full"]
    # Each hop: its agency, its own procedure code and officer, latency and outcome.
    assert [h["hop"] for h in result.hops] == ["citizen", "lead", "social-security"]
    ss = hop(result, "social-security")
    assert ss["procedure"] == "SIM06.LT.BHYT.TREEM" and ss["officer"] == "BHXH.HN.LIENTHONG"
    assert hop(result, "lead")["procedure"] == "SIM06.LT.KHAISINH"
    assert all(h["ms"] > 0 and h["outcome"] == "ok" for h in result.hops)
    assert all(s.ms > 0 for s in result.steps if s.kind != "issue")
    assert result.papers == {"before": 10, "eliminated": 8}
    assert result.total_ms == pytest.approx(sum(result.stage_ms))
    json.dumps(result.as_dict(), ensure_ascii=False)  # the JSON report


async def test_procedure_17_death_residence_funeral_end_to_end(
    runner: Runner, catalogue: Catalogue, db: SQLiteCitizenStore
) -> None:
    p = catalogue.procedures["linked-death-residence-funeral"]
    before = record(db, MOTHER)
    assert before["permanent_residence"] is not None and before["household"] is not None
    result = await runner.run(p, "adult-level2", roles={"deceased": "level1-only"})
    detail = [(s.id, s.status, s.detail) for s in result.steps]
    assert result.decision == "approved" and result.closed, detail
    after = record(db, MOTHER)
    assert after["status"] == "deceased"
    assert after["date_of_death"] == result.params["date_of_death"]
    assert after["permanent_residence"] is None and after["household"] is None
    assert after["eid"]["status"] == "locked"
    assert record(db, FATHER)["marital_status"] == "widowed"
    event_id = result.outputs["register"]["event_id"]
    # The police found the death in the feed: residence deleted, household left; and read it.
    police = step(result, "deregistration")
    assert police.status == "ok" and police.agency == "ca-xa-yen-bai"
    assert police.data["event_id"] == event_id
    assert step(result, "residence").status == "ok"
    # The funeral-allowance office found the death in the feed and granted the allowance.
    claim = step(result, "claim")
    assert claim.status == "ok" and claim.agency == "mai-tang-xa-yen-bai"
    assert claim.data["event_id"] == event_id
    allowance = result.outputs["allowance"]
    assert allowance["number"] == f"MOCK-MT-{MOTHER}" and allowance["mock"] is True
    assert allowance["beneficiary_pin"] == FATHER
    assert [h["hop"] for h in result.hops] == ["citizen", "lead", "police", "funeral"]
    assert all(h["ms"] > 0 and h["outcome"] == "ok" for h in result.hops)


async def test_a_rejected_dossier_writes_nothing(
    runner: Runner, catalogue: Catalogue, db: SQLiteCitizenStore
) -> None:
    p = catalogue.procedures["linked-death-residence-funeral"]
    result = await runner.run(p, "adult-level2", roles={"deceased": "card-due-renewal"})
    assert result.decision == "rejected"
    later = [s for s in result.steps if s.stage >= p.commit_stage()]
    assert all(s.status == "skipped" and "not registered" in s.detail for s in later)
    assert record(db, "001301642018")["status"] == "alive" and db_feed_head(db) == 0


def db_feed_head(db: SQLiteCitizenStore) -> int:
    return db.feed_head()


@pytest.mark.parametrize(
    ("key", "persona", "roles", "params"),
    [
        ("death-registration", "adult-level2", {"deceased": "level1-only"}, {}),
        ("marriage-registration", "name-collision-a", {"partner": "no-eid"},
         {"office_commune": "00199"}),
        ("permanent-residence-registration", "card-due-renewal", {"host": "adult-level2"}, {}),
        ("temporary-residence-registration", "name-collision-b", {}, {}),
    ],
)  # fmt: skip
async def test_the_civil_status_procedures_now_write(
    runner: Runner, catalogue: Catalogue, db: SQLiteCitizenStore,
    key: str, persona: str, roles: dict[str, str], params: dict[str, str],
) -> None:  # fmt: skip
    result = await runner.run(catalogue.procedures[key], persona, roles, params)
    detail = [(s.id, s.status, s.detail) for s in result.steps]
    assert result.decision == "approved" and result.closed, detail
    written = result.outputs["register"]
    assert written["replayed"] is False and written["event_id"]
    pins = {r: v for r, v in result.roles.items() if v}
    if key == "death-registration":
        assert record(db, pins["deceased"])["status"] == "deceased"
    elif key == "marriage-registration":
        a, b = record(db, pins["applicant"]), record(db, pins["partner"])
        assert a["spouse"]["pin"] == b["pin"] and b["marital_status"] == "married"
    elif key == "permanent-residence-registration":
        moved = record(db, pins["applicant"])
        assert moved["household"]["id"] == record(db, pins["host"])["household"]["id"]
    else:
        stay = record(db, pins["applicant"])["temporary_residence"]
        assert stay["commune_code"] == result.params["office_commune"]


async def test_birth_registration_issues_a_pin_and_runs_do_not_collide(
    runner: Runner, catalogue: Catalogue, db: SQLiteCitizenStore
) -> None:
    p = catalogue.procedures["birth-registration"]
    # The portal needs the mother's level-2 login: the twins' mother (level1-only is refused).
    first = await runner.run(p, "twins-mother", params=OFFICE, request_id_prefix="tb-1")
    second = await runner.run(p, "twins-mother", params=OFFICE, request_id_prefix="tb-2")
    pins = [r.outputs["register"]["pin"] for r in (first, second)]
    assert pins[0] != pins[1]  # another run id, another child (another generated name)
    for pin, run in zip(pins, (first, second), strict=True):
        assert run.decision == "approved" and run.closed
        child = record(db, pin)
        assert child["mother"]["pin"] == TWINS_MOTHER and child["father"]["pin"] == TWINS_FATHER
        assert child["household"] is None  # birth registration alone registers no residence
        assert child["date_of_birth"] == run.params["birth_date"]
    assert {c["pin"] for c in record(db, TWINS_MOTHER)["children"]} >= set(pins)
    # The same run id again: the write is replayed, nothing is registered twice.
    replay = await runner.run(p, "twins-mother", params=OFFICE, request_id_prefix="tb-1")
    register = step(replay, "register")
    assert register.http_status == 200 and replay.outputs["register"]["replayed"] is True
    assert replay.outputs["register"]["pin"] == pins[0] and replay.closed
    assert db_feed_head(db) == 2


async def test_the_same_birth_under_a_new_request_id_is_refused_clearly(
    runner: Runner, catalogue: Catalogue
) -> None:
    p = catalogue.procedures["birth-registration"]
    named = {"child_given_name": "Anh", "child_middle_name": "Minh", **OFFICE}
    first = await runner.run(p, "twins-mother", params=named)
    assert first.decision == "approved"
    again = await runner.run(p, "twins-mother", params=named)
    register = step(again, "register")
    assert register.status == "refused" and register.http_status == 409
    assert "BIRTH_ALREADY_REGISTERED" in register.detail
    assert first.outputs["register"]["pin"] in register.detail
    assert again.decision == "rejected" and not again.closed
    assert [r["id"] for r in again.rules] == ["registration-refused"]


async def test_a_feed_consumer_reads_on_from_its_saved_cursor(
    runner: Runner, catalogue: Catalogue
) -> None:
    p = catalogue.procedures["linked-birth-residence-insurance"]
    first = await runner.run(p, "adult-level2", request_id_prefix="t16-1")
    second = await runner.run(p, "adult-level2", request_id_prefix="t16-2")
    one, two = step(first, "insurance").data, step(second, "insurance").data
    assert one["from_cursor"] == "0" and one["cursor"] == "1"
    assert two["from_cursor"] == "1" and two["cursor"] == "2" and two["items_read"] == 1
    assert runner.feeds["bhxh-ha-noi"].cursor == "2"
    # A replayed run: the write is replayed, Social Security already processed that birth.
    replay = await runner.run(p, "adult-level2", request_id_prefix="t16-1")
    assert replay.closed and replay.outputs["register"]["replayed"] is True
    assert step(replay, "insurance").data["already"] is True
    assert replay.outputs["card"]["number"] == first.outputs["card"]["number"]


def test_the_cli_runs_the_linked_procedures_in_process(
    apps: Apps, capsys: pytest.CaptureFixture[str]
) -> None:
    base: dict[str, Any] = {"role": [], "param": [], "profile": None, "in_process": True}
    args = argparse.Namespace(procedure="linked-birth-residence-insurance", persona="adult-level2",
                              request_id_prefix="cli-16", json=True, **base)  # fmt: skip
    assert cmd_run(apps.settings, args) == 0
    run = json.loads(capsys.readouterr().out)
    assert run["closed"] and run["outputs"]["card"]["number"].startswith("MOCK-BHYT-")
    args = argparse.Namespace(procedure="SIM06.LT.KHAITU", persona="adult-level2",
                              request_id_prefix=None, json=False,
                              **{**base, "role": ["deceased=level1-only"]})  # fmt: skip
    assert cmd_run(apps.settings, args) == 0
    text = capsys.readouterr().out
    assert "DECISION: APPROVED — dossier closed" in text and "MOCK-MT-" in text
    for agency in ("ubnd-xa-yen-bai", "ca-xa-yen-bai", "mai-tang-xa-yen-bai"):
        assert agency in text
    assert "papers: 7 of 9 eliminated" in text


def test_the_shared_seeded_database_is_never_written(seeded_db: Path) -> None:
    store = SQLiteCitizenStore(seeded_db, readonly=True)
    try:
        assert db_feed_head(store) == 0
    finally:
        store.close()


def test_templates_and_generated_parameters() -> None:
    facts = {"params": {"a": None, "b": "x"}, "run": {"tag": "T1"}, "father": {"pin": "1"}}
    body = {"p": "$params.a|params.b", "gone": "$params.a", "ref": "KT-{params.b}-{run.tag}",
            "nested": {"pin": "$father.pin"}, "n": 3}  # fmt: skip
    assert render(body, facts) == {"p": "x", "ref": "KT-x-T1", "nested": {"pin": "1"}, "n": 3}
    with pytest.raises(ValueError, match="params.a"):
        render("{params.a}", facts)
    today = date(2026, 12, 7)
    when = Param(default="", description="d", generated="date", days=-3)
    assert generate(when, "run-1", today, "birth_date") == "2026-12-04"
    given = Param(default="", description="g", generated="given-name")
    assert generate(given, "run-1", today, "g") == generate(given, "run-1", today, "g")
    names = {generate(given, f"run-{i}", today, "g") for i in range(40)}
    assert len(names) > 10  # runs pick different names

"""The domain rules of the events, through an in-memory ledger of the personas (no store)."""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any

import orjson
import pytest

from sim06.mock_registry import personas
from sim06.mock_registry.citizen import record_of
from sim06.mock_registry.events import Birth, Death, EventContext, EventRefused, Marriage, decide
from sim06.mock_registry.ids import parse_pin

CTX = EventContext(seed=6, now=datetime(2026, 12, 7, 3, tzinfo=UTC), actor="test")
MOTHER, FATHER = "001195208733", "001090104217"


class MemoryLedger:
    """The personas as a ledger: enough for the rules (households by id, counters in memory)."""

    def __init__(self) -> None:
        people = personas.build(date(2026, 7, 1))
        self.records = {p.pin: orjson.loads(orjson.dumps(record_of(p, "x"))) for p in people}
        self.serials: dict[str, int] = {}

    def record(self, pin: str) -> dict[str, Any] | None:
        found = self.records.get(pin)
        return None if found is None else orjson.loads(orjson.dumps(found))

    def household_members(self, household_id: int) -> list[dict[str, Any]]:
        return [
            orjson.loads(orjson.dumps(r))
            for _, r in sorted(self.records.items())
            if (r["household"] or {}).get("id") == household_id
        ]

    def pin_taken(self, pin: str) -> bool:
        return pin in self.records

    def next_serial(self, head: str) -> int:
        n = self.serials.get(head, 0)
        self.serials[head] = n + 1
        return n

    def next_household_id(self) -> int:
        return 1 + max(int((r["household"] or {}).get("id", 0)) for r in self.records.values())

    def birth_registered(self, key: str) -> str | None:  # noqa: ARG002 - no births yet
        return None


def birth(**override: Any) -> Birth:
    fields: dict[str, Any] = {
        "family": "Nguyễn", "middle": "Minh", "given": "Anh", "sex": "female",
        "date_of_birth": date(2026, 11, 30), "place_of_birth": "x",
        "registration_commune_code": "00004", "mother_pin": MOTHER, "father_pin": FATHER,
    }  # fmt: skip
    fields.update(override)
    return Birth(**fields)


def test_the_pin_follows_the_rules_and_the_seed() -> None:
    a = decide(MemoryLedger(), birth(), CTX)
    b = decide(MemoryLedger(), birth(), CTX)
    assert a.subject == b.subject  # same seed, same sequence of events: same PIN
    parsed = parse_pin(a.subject)
    assert (parsed.province_code, parsed.century_sex_digit, parsed.birth_year) == ("001", 3, 2026)
    boy = decide(MemoryLedger(), birth(sex="male", registration_commune_code="25747"), CTX)
    assert boy.subject[:4] == "0792"  # Hồ Chí Minh City's commune: prefix 079, male, 21st c.
    other = decide(MemoryLedger(), birth(), EventContext(seed=7, now=CTX.now))
    assert other.subject != a.subject


def test_a_father_who_died_before_the_birth() -> None:
    ledger = MemoryLedger()
    ledger.records[FATHER] = {**ledger.records[FATHER], "status": "deceased",
                              "date_of_death": "2026-03-01"}  # fmt: skip
    assert decide(ledger, birth(), CTX).subject  # 274 days before: a posthumous child
    ledger.records[FATHER]["date_of_death"] = "2025-12-01"
    with pytest.raises(EventRefused) as refused:
        decide(ledger, birth(), CTX)
    assert refused.value.code == "EVENT_PARENT_DECEASED"


def test_marriage_age_and_the_same_sex() -> None:
    ledger = MemoryLedger()
    # Đào Thị Thanh Huyền (born 2001) and the child Nguyễn Minh Khôi (born 2021): under age.
    with pytest.raises(EventRefused) as refused:
        decide(ledger, Marriage("001301642018", "001216531774", date(2026, 12, 1), "K"), CTX)
    assert refused.value.code == "MARRIAGE_NOT_ALLOWED"
    assert refused.value.errors and refused.value.errors[0]["rule"] == "minimum_age"
    with pytest.raises(EventRefused) as refused:
        decide(ledger, Marriage("001301642018", MOTHER, date(2026, 12, 1), "K"), CTX)
    assert refused.value.errors and refused.value.errors[0]["rule"] in {
        "same_sex",
        "already_married",
    }


def test_the_death_of_a_head_gives_the_household_a_new_head() -> None:
    decision = decide(MemoryLedger(), Death(FATHER, date(2026, 12, 1), "x", "KT-1"), CTX)
    assert decision.records[FATHER]["status"] == "deceased"
    assert decision.records[MOTHER]["household"]["relationship"] == "head"
    assert decision.records[MOTHER]["marital_status"] == "widowed"
    assert decision.result["household"]["head_pin"] == MOTHER

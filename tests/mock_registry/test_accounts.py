"""VNeID accounts by rule (issue 16): children's accounts hang from a level-2 representative,
deceased citizens' accounts are locked; the personas obey the same rules."""

from __future__ import annotations

from datetime import date
from typing import Any

import orjson
import pytest

from sim06.mock_registry import personas
from sim06.mock_registry.account_floors import measure_accounts
from sim06.mock_registry.accounts import settle_household
from sim06.mock_registry.citizen import Person
from sim06.mock_registry.names import PersonName
from sim06.mock_registry.persona_records import persona_records
from sim06.mock_registry.population import PopulationGenerator

AS_OF = date(2026, 7, 1)


@pytest.fixture(scope="module")
def records() -> list[dict[str, Any]]:
    gen = PopulationGenerator(16, AS_OF, personas.reserved_pins(), personas.reserved_cmnds())
    people = [orjson.loads(row.record) for batch in gen.generate(20_000) for row in batch]
    return persona_records(AS_OF) + people


def test_every_child_account_has_a_level2_representative(records: list[dict[str, Any]]) -> None:
    figures = measure_accounts(records, AS_OF)
    assert figures.child_accounts >= 30  # the rule is exercised, not vacuous
    assert figures.child_accounts == figures.child_accounts_with_level2_representative
    assert figures.deceased_accounts > 0
    assert figures.deceased_accounts == figures.deceased_accounts_locked
    assert figures.floors == dict.fromkeys(figures.floors, True)
    assert not figures.faults, figures.faults[:5]
    assert figures.identity_certificates == 1 and figures.cancelled_pins == 1


def _person(pin: str, birth: date, level: int, status: str = "active") -> Person:
    p = Person(pin, PersonName("Lê", "Văn", "A"), "male", birth)
    p.eid_level, p.eid_status = level, status if level else None
    return p


def test_a_child_account_without_a_level2_parent_is_not_made() -> None:
    father = _person("001090000001", date(1990, 1, 1), 1)
    mother = _person("001190000002", date(1991, 1, 1), 2, "locked")
    child = _person("001215000003", date(2015, 1, 1), 1)
    child.father, child.mother, child.representative = father, mother, father
    settle_household([father, mother, child], AS_OF)
    assert (child.eid_level, child.eid_status, child.eid_representative) == (0, None, None)

    mother.eid_status = "active"  # the mother can register it: she becomes its representative
    child.eid_level, child.eid_status = 1, "active"
    settle_household([father, mother, child], AS_OF)
    assert child.eid_level == 1 and child.eid_representative is mother
    # At 14 a citizen registers their own account: no representative is recorded.
    teen = _person("001210000004", date(2010, 1, 1), 1)
    settle_household([teen], AS_OF)
    assert teen.eid_level == 1 and teen.eid_representative is None


def test_persona_child_account_names_its_mother() -> None:
    by_pin = {r["pin"]: r for r in persona_records(AS_OF)}
    child = by_pin[personas.BY_KEY["child-account"].pin]
    mother = personas.BY_KEY["account-representative"]
    assert child["eid"]["representative"]["pin"] == mother.pin
    assert by_pin[mother.pin]["eid"]["level"] == 2
    # Children without an account carry no representative in their account.
    assert "representative" not in by_pin[personas.BY_KEY["child-under-14"].pin]["eid"]

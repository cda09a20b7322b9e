"""VNeID accounts of citizens by rule (Decree 69/2024/NĐ-CP art. 7, domain §5.1-5.2).

A child under 14 cannot register an account: the legal representative (parent or guardian)
registers it from their own **level-2** account ("Representatives register children/wards using
their own level-2 account", domain §5.2). The generator draws account levels person by person;
:func:`settle_household` then applies the rule to the whole household: a child's account names
the representative who registered it, or the child has no account. A deceased citizen's account
is locked (``Lifecycle.die`` and the death event both lock it; :func:`account_faults` checks it).

The pass draws no random numbers, so the rest of the population is unchanged by it.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date
from typing import Any, Final

from sim06.mock_registry.citizen import Person

__all__ = [
    "CHILD_ACCOUNT_AGE",
    "account_faults",
    "age_on",
    "child_account_representative",
    "settle_household",
]

CHILD_ACCOUNT_AGE: Final = 14  # under 14: registered by the representative (Decree 69 art. 7)
LEVEL2_FROM_AGE: Final = 6  # under 6: level 1 only (domain §5.1)


def age_on(birth: date, day: date) -> int:
    """Completed years of age on ``day``."""
    return day.year - birth.year - ((day.month, day.day) < (birth.month, birth.day))


def _can_register_for_child(p: Person | None) -> bool:
    return p is not None and p.status == "alive" and p.eid_level == 2 and p.eid_status == "active"


def child_account_representative(child: Person) -> Person | None:
    """Who registered ``child``'s account: the legal representative, else a parent, with an
    active level-2 account; None when nobody qualifies."""
    for candidate in (child.representative, child.father, child.mother):
        if _can_register_for_child(candidate):
            return candidate
    return None


def settle_household(members: Iterable[Person], as_of: date) -> None:
    """Apply the account rules to one household (after every member's life events)."""
    for m in members:
        if not m.eid_level or age_on(m.birth, as_of) >= CHILD_ACCOUNT_AGE:
            continue
        representative = child_account_representative(m)
        if representative is None:  # nobody could have registered it: the child has none
            m.eid_level, m.eid_status = 0, None
        m.eid_representative = representative


def account_faults(
    record: dict[str, Any], by_pin: dict[str, dict[str, Any]], as_of: date
) -> list[str]:
    """What breaks the account rules in one exported citizen record (empty: nothing).

    ``by_pin`` holds the other records (a representative's account is read there)."""
    eid = record["eid"]
    if not eid["level"]:
        return []
    faults = []
    if record["status"] == "deceased" and eid["status"] != "locked":
        faults.append("deceased citizen's account not locked")
    birth = record["date_of_birth"] or f"{record['birth_year']}-01-01"
    age = age_on(date.fromisoformat(birth), as_of)
    if age < CHILD_ACCOUNT_AGE and eid["level"] == 2 and age < LEVEL2_FROM_AGE:
        faults.append("level-2 account under 6")
    if age < CHILD_ACCOUNT_AGE:
        rep = eid.get("representative")
        rep_record = by_pin.get(rep["pin"]) if rep else None
        if rep_record is None:
            faults.append("child account without a representative")
        elif rep_record["eid"]["level"] != 2:
            faults.append("child account's representative has no level-2 account")
    return faults

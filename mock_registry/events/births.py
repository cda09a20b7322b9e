"""Birth registration (đăng ký khai sinh): the child's record and PIN, the parents' records.

The PIN is issued through the civil-status ↔ population-database link at registration (domain
§6.1): prefix of the province of birth registration (post-July-2025 policy: ``"0"`` + the new
province code, §2.3), century/sex digit, two-digit year, six-digit serial (§2.1).
"""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

from sim06.mock_registry import ethnicity
from sim06.mock_registry.events.errors import EventRefused
from sim06.mock_registry.events.model import Birth
from sim06.mock_registry.events.pins import allocate_pin
from sim06.mock_registry.events.workspace import (
    Workspace,
    commune_or_refuse,
    household_ref,
    person_ref,
)
from sim06.mock_registry.ids import post_2025_prefix
from sim06.mock_registry.names import PersonName, normalize_for_match

POSTHUMOUS_DAYS = 300  # a father may have died up to 300 days before the birth (Civil Code art. 88)
MIN_PARENT_AGE_YEARS = 12  # a "parent" younger than this at the birth is a data error [I]


def _parent(ws: Workspace, pin: str, role: str, birth: Birth) -> dict[str, Any]:
    pointer = f"/{role}_pin"
    record = ws.find(pin)
    if record is None or record["status"] == "cancelled":
        raise EventRefused(
            "EVENT_PARENT_NOT_FOUND",
            f"The {role} {pin} is not in the population database"
            + (f" (PIN cancelled, now {record.get('replaced_by')})." if record else "."),
            pointer=pointer,
            rule="unknown_parent",
        )
    expected = "female" if role == "mother" else "male"
    if record["sex"] != expected:
        raise EventRefused(
            "EVENT_PARENT_INVALID", f"The {role} {pin} is recorded as {record['sex']}.",
            pointer=pointer, rule="parent_sex",
        )  # fmt: skip
    if record["birth_year"] > birth.date_of_birth.year - MIN_PARENT_AGE_YEARS:
        raise EventRefused(
            "EVENT_PARENT_INVALID",
            f"The {role} {pin} was born in {record['birth_year']}: too young to be the parent "
            f"of a child born on {birth.date_of_birth.isoformat()}.",
            pointer=pointer,
            rule="parent_age",
        )
    if record["status"] != "alive":
        died = record.get("date_of_death")
        latest = birth.date_of_birth - timedelta(days=POSTHUMOUS_DAYS if role == "father" else 0)
        if died is None or date.fromisoformat(died) < latest:
            raise EventRefused(
                "EVENT_PARENT_DECEASED",
                f"The {role} {pin} is recorded as {record['status']}"
                + (f" since {died}" if died else "")
                + f", before the child's birth on {birth.date_of_birth.isoformat()}.",
                pointer=pointer,
                rule="parent_deceased",
            )
    return record


def birth_key(parent_pin: str, birth: Birth) -> str:
    """Duplicate key: the same parent, date of birth and (folded) name is the same birth."""
    name = normalize_for_match(f"{birth.family} {birth.middle} {birth.given}")
    return f"{parent_pin}|{birth.date_of_birth.isoformat()}|{name}"


def register_birth(ws: Workspace, birth: Birth) -> None:
    """Decide a birth: refuse it, or stage the child's and the parents' records."""
    ws.not_future(birth.date_of_birth, "/child/date_of_birth")
    if birth.mother_pin is None and birth.father_pin is None:
        raise EventRefused(
            "VALIDATION_FAILED", "Name at least one parent (mother_pin or father_pin).",
            pointer="/mother_pin", rule="required",
        )  # fmt: skip
    commune = commune_or_refuse(birth.registration_commune_code, "/registration_commune_code")
    mother = _parent(ws, birth.mother_pin, "mother", birth) if birth.mother_pin else None
    father = _parent(ws, birth.father_pin, "father", birth) if birth.father_pin else None
    first = mother or father
    assert first is not None
    key = birth_key(first["pin"], birth)
    already = ws.ledger.birth_registered(key)
    if already is not None:
        raise EventRefused(
            "BIRTH_ALREADY_REGISTERED",
            f"This birth was already registered: the child's PIN is {already}.",
            extra={"pin": already},
        )
    if birth.ethnicity_code is not None:
        try:
            group = ethnicity.ethnic_group(birth.ethnicity_code)
        except KeyError:
            raise EventRefused(
                "VALIDATION_FAILED", f"{birth.ethnicity_code!r} is not an ethnicity code.",
                pointer="/child/ethnicity_code", rule="enum",
            ) from None  # fmt: skip
        ethnic = {"code": group.code, "name": group.name}
    else:
        ethnic = dict(first["ethnicity"])

    prefix = post_2025_prefix(commune.province_code)
    pin = allocate_pin(ws.ledger, ws.ctx.seed, prefix, birth.date_of_birth.year, birth.sex)
    name = PersonName(birth.family, birth.middle, birth.given)
    number = birth.registration_number or f"KS-{commune.code}-{ws.today.year}-{pin[-6:]}"
    child: dict[str, Any] = {
        "pin": pin,
        "cmnd": None,
        "name": {
            "family": name.family,
            "middle": name.middle,
            "given": name.given,
            "full": name.full,
        },  # fmt: skip
        "date_of_birth": birth.date_of_birth.isoformat(),
        "birth_year": birth.date_of_birth.year,
        "sex": birth.sex,
        "place_of_birth_registration": {
            "pin_code": prefix,
            "province_code": commune.province_code,
            "province_name": _province_name(commune.province_code),
            "scheme": "post_2025",
        },
        # Quê quán follows the father unless the parents agree otherwise (Civil Code art. 27).
        "hometown": (father or mother or {}).get("hometown"),
        "ethnicity": ethnic,
        "religion": {"code": "00", "name": ethnicity.religion("00").name},
        "nationality": birth.nationality,
        "blood_group": None,
        "marital_status": "single",
        "permanent_residence": None,
        "temporary_residence": None,
        "current_residence": (mother or father or {}).get("current_residence"),
        "legacy_permanent_residence": None,
        "residence_since": None,
        "residence_file_number": None,
        "household": None,
        "father": person_ref(father) if father else None,
        "mother": person_ref(mother) if mother else None,
        "spouse": None,
        "legal_representative": person_ref(mother or father or {}),
        "children": [],
        "id_card": None,  # optional under 14; none issued at birth
        "eid": {"level": 0, "status": None},
        "status": "alive",
        "date_of_death": None,
        "date_missing": None,
        "phone": None,
        "email": None,
        "data_as_of": ws.stamp,
        "place_of_birth": birth.place_of_birth,  # nơi sinh
        "birth_registration": {
            "number": number,
            "date": ws.today.isoformat(),
            "commune_code": commune.code,
            "commune_name": commune.name,
            "registered_by": ws.ctx.actor,
        },
    }
    if birth.residence is not None:
        _join_parent_household(ws, child, birth, mother, father)
    ws.decision.subject = pin
    ws.decision.birth_key = key
    ws.put(child)
    for parent in (mother, father):
        if parent is not None:
            parent["children"] = [*parent["children"], {"pin": pin, "full_name": name.full}]
            ws.put(parent)
    ws.decision.result = {"pin": pin, "birth_registration_number": number}


def _join_parent_household(
    ws: Workspace,
    child: dict[str, Any],
    birth: Birth,
    mother: dict[str, Any] | None,
    father: dict[str, Any] | None,
) -> None:
    assert birth.residence is not None
    parent_pins = {p["pin"] for p in (mother, father) if p is not None}
    if birth.residence.with_pin not in parent_pins:
        raise EventRefused(
            "EVENT_RESIDENCE_INVALID",
            "The newborn's permanent residence is registered with the household of a parent "
            "named in the birth (residence.with_pin).",
            pointer="/residence/with_pin",
            rule="parent_household",
        )
    parent = mother if mother is not None and mother["pin"] == birth.residence.with_pin else father
    assert parent is not None
    ref = parent["household"]
    if ref is None or parent["permanent_residence"] is None:
        raise EventRefused(
            "EVENT_RESIDENCE_INVALID",
            f"The parent {parent['pin']} has no permanent residence to register the child in.",
            pointer="/residence/with_pin",
            rule="no_household",
        )
    head = ws.find(ref["head_pin"]) or parent
    child["permanent_residence"] = parent["permanent_residence"]
    child["current_residence"] = parent["permanent_residence"]
    child["residence_since"] = ws.today.isoformat()
    child["residence_file_number"] = parent["residence_file_number"]
    child["household"] = household_ref(ref["id"], birth.residence.relationship, head)


def _province_name(code: str) -> str:
    from sim06.mock_registry import admin_units

    return admin_units.province(code).short_name

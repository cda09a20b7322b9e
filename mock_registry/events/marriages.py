"""Marriage registration (đăng ký kết hôn) and divorce (ghi chú ly hôn): marital status and
spouse on both records. Conditions of the Law on Marriage and Family 2014, art. 5 and 8."""

from __future__ import annotations

from datetime import date
from typing import Any

from sim06.mock_registry.events.errors import EventRefused
from sim06.mock_registry.events.model import Divorce, Marriage
from sim06.mock_registry.events.workspace import Workspace, commune_or_refuse, person_ref

MIN_AGE = {"male": 20, "female": 18}  # art. 8(1)(a)


def _age_on(record: dict[str, Any], day: date) -> int:
    born = date.fromisoformat(record["date_of_birth"] or f"{record['birth_year']}-12-31")
    return day.year - born.year - ((day.month, day.day) < (born.month, born.day))


def _refuse(detail: str, pointer: str, rule: str) -> EventRefused:
    return EventRefused("MARRIAGE_NOT_ALLOWED", detail, pointer=pointer, rule=rule)


def register_marriage(ws: Workspace, marriage: Marriage) -> None:
    """Decide a marriage: refuse it (art. 5 and 8) or stage both records."""
    if marriage.spouse_a_pin == marriage.spouse_b_pin:
        raise _refuse("A citizen cannot marry themself.", "/spouse_b_pin", "distinct")
    a = ws.living(marriage.spouse_a_pin, "/spouse_a_pin")
    b = ws.living(marriage.spouse_b_pin, "/spouse_b_pin")
    ws.not_future(marriage.date_of_marriage, "/date_of_marriage")
    if marriage.registration_commune_code:
        commune_or_refuse(marriage.registration_commune_code, "/registration_commune_code")
    if a["sex"] == b["sex"]:
        raise _refuse("The State does not recognise marriage between people of the same sex "
                      "(art. 8(2)).", "/spouse_b_pin", "same_sex")  # fmt: skip
    for record, pointer in ((a, "/spouse_a_pin"), (b, "/spouse_b_pin")):
        if record["marital_status"] == "married":
            raise _refuse(f"The citizen {record['pin']} is already married (art. 5(2)(c)).",
                          pointer, "already_married")  # fmt: skip
        need = MIN_AGE[record["sex"]]
        if _age_on(record, marriage.date_of_marriage) < need:
            raise _refuse(
                f"The citizen {record['pin']} is under {need} on "
                f"{marriage.date_of_marriage.isoformat()} (art. 8(1)(a)).",
                pointer, "minimum_age",
            )  # fmt: skip
    kin = {(r or {}).get("pin") for r in (a["father"], a["mother"])} | {
        c["pin"] for c in a["children"]
    }
    if b["pin"] in kin:
        raise _refuse("Marriage between direct blood relatives is prohibited (art. 5(2)(d)).",
                      "/spouse_b_pin", "relatives")  # fmt: skip
    registration = {
        "number": marriage.registration_reference,
        "date": marriage.date_of_marriage.isoformat(),
        "commune_code": marriage.registration_commune_code,
        "registered_by": ws.ctx.actor,
    }
    for record, other in ((a, b), (b, a)):
        record["marital_status"] = "married"
        record["spouse"] = person_ref(other)
        record["marriage_registration"] = registration
        ws.put(record)
    ws.decision.subject = a["pin"]
    ws.decision.result = {"pins": [a["pin"], b["pin"]], "marital_status": "married"}


def register_divorce(ws: Workspace, divorce: Divorce) -> None:
    """Decide a divorce recorded from a court judgment: both records become divorced."""
    a = ws.living(divorce.spouse_a_pin, "/spouse_a_pin")
    b = ws.living(divorce.spouse_b_pin, "/spouse_b_pin")
    ws.not_future(divorce.effective_date, "/effective_date")
    if (a["spouse"] or {}).get("pin") != b["pin"] or (b["spouse"] or {}).get("pin") != a["pin"]:
        raise EventRefused(
            "DIVORCE_NOT_MARRIED",
            f"The citizens {a['pin']} and {b['pin']} are not recorded as married to each other.",
            pointer="/spouse_b_pin",
            rule="not_spouses",
        )
    for record in (a, b):
        record["marital_status"] = "divorced"
        record["spouse"] = None
        record["divorce"] = {
            "judgment": divorce.judgment_reference,
            "effective_date": divorce.effective_date.isoformat(),
        }
        record.pop("marriage_registration", None)
        ws.put(record)
    ws.decision.subject = a["pin"]
    ws.decision.result = {"pins": [a["pin"], b["pin"]], "marital_status": "divorced"}

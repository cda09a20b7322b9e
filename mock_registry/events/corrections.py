"""Corrections of civil-status data (cải chính hộ tịch, xác định lại giới tính).

A corrected birth year or sex that changes the PIN's century/sex digit or year re-establishes
the PIN (Law on Identification 2023 art. 12; domain §2.2): the old number becomes a cancelled
PIN (số định danh cá nhân đã hủy) whose lookup answers ``status: cancelled`` and
``replaced_by``, and the new record keeps the old number in ``pin_history``. The prefix (place
of birth registration) never changes. Relatives' records are re-pointed to the new number.
"""

from __future__ import annotations

from typing import Any

from sim06.mock_registry import card_history
from sim06.mock_registry.events.errors import EventRefused
from sim06.mock_registry.events.model import Correction
from sim06.mock_registry.events.pins import allocate_pin
from sim06.mock_registry.events.workspace import Workspace, household_ref, person_ref
from sim06.mock_registry.names import PersonName

_REFS = ("father", "mother", "spouse", "legal_representative")


def _relatives(ws: Workspace, record: dict[str, Any]) -> list[str]:
    pins = [r["pin"] for f in _REFS if (r := record.get(f)) and r.get("pin")]
    pins += [c["pin"] for c in record["children"]]
    if record["household"] is not None:
        pins += [m["pin"] for m in ws.members(record["household"]["id"])]
    return sorted(set(pins) - {record["pin"]})


def _repoint(other: dict[str, Any], old_pin: str, new: dict[str, Any]) -> bool:
    changed = False
    for field in _REFS:
        ref = other.get(field)
        if ref is not None and ref.get("pin") == old_pin:
            other[field] = person_ref(new)
            changed = True
    children = other["children"]
    if any(c["pin"] == old_pin for c in children):
        other["children"] = [
            {"pin": new["pin"], "full_name": new["name"]["full"]} if c["pin"] == old_pin else c
            for c in children
        ]
        changed = True
    ref = other.get("household")
    if ref is not None and ref["head_pin"] == old_pin:
        other["household"] = household_ref(ref["id"], ref["relationship"], new)
        changed = True
    return changed


def correct(ws: Workspace, correction: Correction) -> None:
    """Decide a correction: refuse it, update the record, or cancel and re-issue the PIN."""
    record = ws.living(correction.pin, "/pin")
    old = dict(record)
    if correction.date_of_birth is not None:
        ws.not_future(correction.date_of_birth, "/date_of_birth")
        record["date_of_birth"] = correction.date_of_birth.isoformat()
        record["birth_year"] = correction.date_of_birth.year
    if correction.sex is not None:
        record["sex"] = correction.sex
    name = record["name"]
    if any(v is not None for v in (correction.family, correction.middle, correction.given)):
        fixed = PersonName(
            correction.family if correction.family is not None else name["family"],
            correction.middle if correction.middle is not None else name["middle"],
            correction.given if correction.given is not None else name["given"],
        )
        record["name"] = {"family": fixed.family, "middle": fixed.middle,
                          "given": fixed.given, "full": fixed.full}  # fmt: skip
    if all(record[k] == old[k] for k in ("date_of_birth", "birth_year", "sex", "name")):
        raise EventRefused(
            "CORRECTION_NO_CHANGE", "The correction changes nothing in the record.",
            pointer="/reason", rule="no_change",
        )  # fmt: skip
    new_pin = correction.pin
    if (record["birth_year"], record["sex"]) != (old["birth_year"], old["sex"]):
        new_pin = allocate_pin(
            ws.ledger, ws.ctx.seed, correction.pin[:3], record["birth_year"], record["sex"]
        )
    if new_pin == correction.pin:
        ws.decision.subject = new_pin
        ws.put(record)
        for pin in _relatives(ws, record):
            relative = ws.find(pin)
            if relative is not None and _repoint(relative, correction.pin, record):
                ws.put(relative)
        ws.decision.result = {"pin": new_pin, "cancelled_pin": None}
        return
    today = ws.today.isoformat()
    relatives = _relatives(ws, old)
    record["pin"] = new_pin
    record["pin_history"] = [
        *(old.get("pin_history") or []),
        {"pin": correction.pin, "cancelled_on": today, "reason": correction.reason},
    ]
    if record["id_card"] is not None:
        record["id_card"] = None  # the card carried the old number: a new one must be issued
        record["card_history"] = card_history.revoke_current(record.get("card_history"))
    if record["household"] is not None and record["household"]["head_pin"] == correction.pin:
        record["household"] = household_ref(record["household"]["id"], "head", record)
    tombstone = {
        **old,
        "status": "cancelled",
        "replaced_by": new_pin,
        "pin_cancelled_on": today,
        "household": None,  # the household now lists the new number
        "cmnd": None,  # a CMND lookup finds the new record
    }
    if old["id_card"] is not None:
        tombstone["id_card"] = {**old["id_card"], "status": "revoked"}
        tombstone["card_history"] = card_history.revoke_current(old.get("card_history"))
    ws.decision.subject = new_pin
    ws.put(record)
    ws.put(tombstone)
    for pin in relatives:
        relative = ws.find(pin)
        if relative is not None and _repoint(relative, correction.pin, record):
            ws.put(relative)
    ws.decision.result = {"pin": new_pin, "cancelled_pin": correction.pin}

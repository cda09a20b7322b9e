"""Household bookkeeping shared by deaths and residence changes (hộ gia đình, Luật Cư trú 2020).

When a head leaves (dies, deregisters, moves out), the household chooses a new head; sim06
takes the spouse living in the household, else the eldest adult, else the eldest member [I],
and rewrites every remaining member's relation to the new head.
"""

from __future__ import annotations

from datetime import date
from typing import Any

from sim06.mock_registry.events.workspace import Workspace, household_ref

ADULT_YEARS = 18


def _age_key(record: dict[str, Any]) -> tuple[str, str]:
    return (record["date_of_birth"] or f"{record['birth_year']}-07-01", record["pin"])


def _relation_to(new_head: dict[str, Any], old_head: dict[str, Any], member: dict[str, Any]) -> str:
    if member["pin"] == new_head["pin"]:
        return "head"
    spouse = new_head.get("spouse")
    if spouse is not None and spouse["pin"] == member["pin"]:
        return "spouse"
    mine = {c["pin"] for c in new_head["children"]}
    if member["pin"] in mine:
        return "child"
    for role in ("father", "mother"):
        ref = new_head.get(role)
        if ref is not None and ref["pin"] == member["pin"]:
            return role
    old = member["household"]["relationship"]
    # A child of the old head who is not the new head's child is their sibling or step-child.
    return old if old in ("grandchild", "ward") and old_head is not new_head else "other"


def remove_member(ws: Workspace, leaving: dict[str, Any], today: date) -> str | None:
    """Take ``leaving`` out of their household (its ref is cleared by the caller); the PIN of
    the head afterwards, or None when nobody is left."""
    ref = leaving["household"]
    if ref is None:
        return None
    rest = [m for m in ws.members(ref["id"]) if m["pin"] != leaving["pin"]]
    living = [m for m in rest if m["status"] == "alive"]
    if not living:
        return None
    if ref["head_pin"] != leaving["pin"]:
        return str(ref["head_pin"])
    spouse = leaving.get("spouse")
    adults = [m for m in living if today.year - m["birth_year"] >= ADULT_YEARS]
    chosen = next((m for m in living if spouse and m["pin"] == spouse["pin"]), None)
    if chosen is None:
        chosen = min(adults or living, key=_age_key)
    for member in rest:
        relationship = _relation_to(chosen, leaving, member)
        member["household"] = household_ref(ref["id"], relationship, chosen)
        ws.put(member)
    return str(chosen["pin"])

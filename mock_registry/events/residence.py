"""Residence registration (Luật Cư trú 2020, Decree 62/2021 art. 9): permanent residence
(thường trú) registered or deleted, temporary residence (tạm trú) with an end date, temporary
absence (tạm vắng). The household and CT07 views follow from the records."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

from sim06.mock_registry.address import current_address as address
from sim06.mock_registry.citizen import RELATIONSHIPS
from sim06.mock_registry.events.errors import EventRefused
from sim06.mock_registry.events.households import remove_member
from sim06.mock_registry.events.model import ResidenceChange
from sim06.mock_registry.events.workspace import Workspace, commune_or_refuse, household_ref

MAX_TEMPORARY_YEARS = 2  # a temporary-residence registration lasts at most 2 years (art. 27)
MAX_TEMPORARY_DAYS = 731


def close_residence(record: dict[str, Any], day: date, reason: str) -> None:
    """Delete the permanent and temporary residence, keeping them in the record's history."""
    history = list(record.get("residence_history") or [])
    for kind in ("permanent_residence", "temporary_residence"):
        if record.get(kind) is not None:
            history.append({
                "kind": kind.split("_")[0],
                "address": record[kind],
                "since": record["residence_since"] if kind == "permanent_residence" else None,
                "until": day.isoformat(),
                "reason": reason,
            })  # fmt: skip
    record["residence_history"] = history
    record["permanent_residence"] = None
    record["temporary_residence"] = None
    record["current_residence"] = None
    record["legacy_permanent_residence"] = None
    record["residence_file_number"] = None
    record["household"] = None
    record.pop("temporary_residence_period", None)


def _where(change: ResidenceChange) -> dict[str, Any]:
    if change.commune_code is None or not change.detail:
        raise EventRefused(
            "VALIDATION_FAILED", "Give commune_code and detail (house number, street or hamlet).",
            pointer="/commune_code", rule="required",
        )  # fmt: skip
    return address(commune_or_refuse(change.commune_code, "/commune_code"), change.detail)


def _invalid(detail: str, pointer: str, rule: str) -> EventRefused:
    return EventRefused("EVENT_RESIDENCE_INVALID", detail, pointer=pointer, rule=rule)


def _register_permanent(ws: Workspace, record: dict[str, Any], change: ResidenceChange) -> None:
    day = change.effective_date
    if change.join_household_of is not None:
        host = ws.living(change.join_household_of, "/join_household_of")
        ref = host["household"]
        if ref is None or host["permanent_residence"] is None:
            raise _invalid(
                f"The citizen {host['pin']} has no household to join.",
                "/join_household_of", "no_household",
            )  # fmt: skip
        if ref is not None and record["household"] and record["household"]["id"] == ref["id"]:
            raise _invalid("The citizen is already a member of that household.",
                           "/join_household_of", "same_household")  # fmt: skip
        if change.relationship not in RELATIONSHIPS or change.relationship == "head":
            raise EventRefused(
                "VALIDATION_FAILED",
                f"relationship must be one of {sorted(set(RELATIONSHIPS) - {'head'})}.",
                pointer="/relationship", rule="enum",
            )  # fmt: skip
        head = ws.find(ref["head_pin"]) or host
        remove_member(ws, record, ws.today)
        close_residence(record, day, "moved")
        record["permanent_residence"] = host["permanent_residence"]
        record["residence_file_number"] = host["residence_file_number"]
        record["household"] = household_ref(ref["id"], change.relationship, head)
    else:
        place = _where(change)
        remove_member(ws, record, ws.today)
        close_residence(record, day, "moved")
        household_id = ws.ledger.next_household_id()
        record["permanent_residence"] = place
        record["residence_file_number"] = f"{place['commune_code']}-{household_id:08d}"
        record["household"] = household_ref(household_id, "head", record)
    record["current_residence"] = record["permanent_residence"]
    record["residence_since"] = day.isoformat()


def change_residence(ws: Workspace, change: ResidenceChange) -> None:
    """Decide a residence change: refuse it or stage the citizen's (and household's) records."""
    record = ws.living(change.pin, "/pin")
    ws.not_future(change.effective_date, "/effective_date")
    kind = change.kind
    if kind == "permanent_registration":
        _register_permanent(ws, record, change)
    elif kind == "permanent_deregistration":
        if record["permanent_residence"] is None:
            raise _invalid("The citizen has no permanent residence to delete.", "/kind",
                           "no_permanent_residence")  # fmt: skip
        remove_member(ws, record, ws.today)
        temporary = record["temporary_residence"]
        period = record.get("temporary_residence_period")
        close_residence(record, change.effective_date, change.reason or "deregistered")
        if temporary is not None:  # a temporary residence outlives the deregistration
            record["temporary_residence"] = temporary
            record["temporary_residence_period"] = period
            record["current_residence"] = temporary
    elif kind == "temporary_registration":
        end = _end_date(change)
        place = _where(change)
        record["temporary_residence"] = place
        record["temporary_residence_period"] = {
            "from": change.effective_date.isoformat(), "until": end.isoformat(),
        }  # fmt: skip
        record["current_residence"] = place
    elif kind == "temporary_deregistration":
        if record["temporary_residence"] is None:
            raise _invalid("The citizen has no temporary residence to delete.", "/kind",
                           "no_temporary_residence")  # fmt: skip
        record["temporary_residence"] = None
        record.pop("temporary_residence_period", None)
        record["current_residence"] = record["permanent_residence"]
    else:  # temporary_absence (khai báo tạm vắng)
        end = _end_date(change)
        record["temporary_absence"] = {
            "from": change.effective_date.isoformat(),
            "until": end.isoformat(),
            "reason": change.reason,
            "destination": change.detail,
        }
    ws.decision.subject = change.pin
    ws.put(record)
    ws.decision.result = {
        "pin": change.pin,
        "kind": kind,
        "household_id": record["household"]["id"] if record["household"] else None,
    }


def _end_date(change: ResidenceChange) -> date:
    end = change.end_date
    if end is None or end <= change.effective_date:
        raise EventRefused(
            "VALIDATION_FAILED", "end_date is required and must be after effective_date.",
            pointer="/end_date", rule="after_start",
        )  # fmt: skip
    latest = change.effective_date + timedelta(days=MAX_TEMPORARY_DAYS)
    if change.kind == "temporary_registration" and end > latest:
        raise EventRefused(
            "VALIDATION_FAILED",
            f"A temporary residence is registered for at most {MAX_TEMPORARY_YEARS} years.",
            pointer="/end_date", rule="max_duration",
        )  # fmt: skip
    return end

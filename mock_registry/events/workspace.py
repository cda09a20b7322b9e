"""Read-your-writes over a ledger while an event is decided, and record helpers."""

from __future__ import annotations

import hashlib
from datetime import date, timedelta, timezone
from typing import Any

import orjson

from sim06.mock_registry import admin_units
from sim06.mock_registry.citizen import NATIONALITY_VN, RELATIONSHIPS
from sim06.mock_registry.events.errors import EventRefused
from sim06.mock_registry.events.ledger import Ledger
from sim06.mock_registry.events.model import Decision, EventContext

VIETNAM = timezone(timedelta(hours=7))


def digest(record: dict[str, Any] | None) -> str | None:
    """SHA-256 (hex) of a record's canonical JSON, as audited before and after an event."""
    return None if record is None else hashlib.sha256(orjson.dumps(record)).hexdigest()


def person_ref(record: dict[str, Any]) -> dict[str, Any]:
    """The reference to a citizen that other records carry (father, mother, spouse...)."""
    return {
        "pin": record["pin"],
        "cmnd": record["cmnd"],
        "full_name": record["name"]["full"],
        "nationality": record.get("nationality") or NATIONALITY_VN,
    }


def household_ref(household_id: int, relationship: str, head: dict[str, Any]) -> dict[str, Any]:
    """A record's ``household`` member: id, relation to the head, the head."""
    return {
        "id": household_id,
        "relationship": relationship,
        "relationship_vi": RELATIONSHIPS[relationship],
        "head_pin": head["pin"],
        "head_name": head["name"]["full"],
    }


def commune_or_refuse(code: str, pointer: str) -> admin_units.Commune:
    """The post-2025 commune ``code``, or EVENT_UNKNOWN_COMMUNE."""
    try:
        return admin_units.commune(code)
    except KeyError:
        raise EventRefused(
            "EVENT_UNKNOWN_COMMUNE",
            f"{code!r} is not a commune code of the post-July-2025 units.",
            pointer=pointer,
            rule="unknown_commune",
        ) from None


class Workspace:
    """The records an event reads and stages: staged versions win over the ledger's."""

    def __init__(self, ledger: Ledger, decision: Decision, ctx: EventContext) -> None:
        self.ledger = ledger
        self.decision = decision
        self.ctx = ctx
        self.today: date = ctx.now.astimezone(VIETNAM).date()
        self.stamp = ctx.now.astimezone(VIETNAM).isoformat(timespec="seconds")

    def find(self, pin: str) -> dict[str, Any] | None:
        """The current record of ``pin`` (a private copy), or None."""
        staged = self.decision.records.get(pin)
        if staged is not None:
            return staged
        found = self.ledger.record(pin)
        if found is not None:
            self.decision.before.setdefault(pin, orjson.loads(orjson.dumps(found)))
        return found

    def get(self, pin: str, pointer: str) -> dict[str, Any]:
        """The record of a citizen the event names: CITIZEN_NOT_FOUND or PIN_CANCELLED if not."""
        record = self.find(pin)
        if record is None:
            raise EventRefused(
                "CITIZEN_NOT_FOUND", f"No citizen has the PIN {pin}.", pointer=pointer,
                rule="unknown_pin",
            )  # fmt: skip
        if record["status"] == "cancelled":
            raise EventRefused(
                "PIN_CANCELLED",
                f"The PIN {pin} was cancelled and replaced by {record.get('replaced_by')}.",
                pointer=pointer,
                rule="cancelled_pin",
                extra={"replaced_by": record.get("replaced_by")},
            )
        return record

    def living(self, pin: str, pointer: str) -> dict[str, Any]:
        """The record of a citizen who must be alive: EVENT_CITIZEN_DECEASED otherwise."""
        record = self.get(pin, pointer)
        if record["status"] != "alive":
            raise EventRefused(
                "EVENT_CITIZEN_DECEASED",
                f"The citizen {pin} is recorded as {record['status']}; no event can change "
                "their record.",
                pointer=pointer,
                rule="not_alive",
            )
        return record

    def members(self, household_id: int) -> list[dict[str, Any]]:
        """The household's members now, staged changes included, by PIN."""
        found = {m["pin"]: m for m in self.ledger.household_members(household_id)}
        for pin in found:
            staged = self.decision.records.get(pin)
            if staged is not None:
                found[pin] = staged
            else:
                self.decision.before.setdefault(pin, orjson.loads(orjson.dumps(found[pin])))
        for pin, record in self.decision.records.items():
            ref = record.get("household")
            if ref is not None and ref["id"] == household_id:
                found[pin] = record
        return [
            r
            for _, r in sorted(found.items())
            if r.get("household") is not None and r["household"]["id"] == household_id
        ]

    def put(self, record: dict[str, Any]) -> None:
        """Stage a changed record, stamped with the event's time."""
        record["data_as_of"] = self.stamp
        self.decision.put(record, self.decision.before.get(record["pin"]))

    def not_future(self, day: date, pointer: str) -> None:
        """EVENT_DATE_IN_FUTURE when ``day`` is after today (Vietnam time)."""
        if day > self.today:
            raise EventRefused(
                "EVENT_DATE_IN_FUTURE",
                f"{day.isoformat()} is in the future (today is {self.today.isoformat()}).",
                pointer=pointer,
                rule="not_future",
            )


def diff(before: dict[str, Any] | None, after: dict[str, Any]) -> dict[str, Any]:
    """The top-level fields of ``after`` that differ from ``before`` (all of them if new)."""
    if before is None:
        return {k: v for k, v in after.items() if k != "data_as_of"}
    return {k: v for k, v in after.items() if k != "data_as_of" and before.get(k) != v}

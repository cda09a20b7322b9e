"""Dispatch an event to its logic and build the change-feed item of the decision."""

from __future__ import annotations

import hashlib
from typing import Any

from sim06.mock_registry.events.births import birth_key, register_birth
from sim06.mock_registry.events.corrections import correct
from sim06.mock_registry.events.deaths import register_death
from sim06.mock_registry.events.ledger import Ledger
from sim06.mock_registry.events.marriages import register_divorce, register_marriage
from sim06.mock_registry.events.model import (
    Birth,
    Correction,
    Death,
    Decision,
    Divorce,
    Event,
    EventContext,
    EventType,
    Marriage,
    ResidenceChange,
)
from sim06.mock_registry.events.residence import change_residence
from sim06.mock_registry.events.workspace import Workspace, diff, digest


def event_type(event: Event) -> EventType:
    """The feed type of an event."""
    if isinstance(event, Birth):
        return "birth"
    if isinstance(event, Death):
        return "death"
    if isinstance(event, ResidenceChange):
        return "residence"
    if isinstance(event, Marriage):
        return "marriage"
    if isinstance(event, Divorce):
        return "divorce"
    return "correction"


def named_pins(event: Event) -> list[str]:
    """The PINs an event names (read by every decision: a batch fetches them at once)."""
    if isinstance(event, Birth):
        return [p for p in (event.mother_pin, event.father_pin) if p]
    if isinstance(event, Death | ResidenceChange | Correction):
        extra = event.join_household_of if isinstance(event, ResidenceChange) else None
        return [event.pin, *([extra] if extra else [])]
    return [event.spouse_a_pin, event.spouse_b_pin]


def duplicate_key(event: Event) -> str | None:
    """The duplicate-birth key a birth is checked against (None for other events)."""
    if not isinstance(event, Birth):
        return None
    parent = event.mother_pin or event.father_pin
    return birth_key(parent, event) if parent else None


def decide(ledger: Ledger, event: Event, ctx: EventContext) -> Decision:
    """What ``event`` changes, read through ``ledger``; raises ``EventRefused`` to refuse it."""
    decision = Decision(type=event_type(event), subject="")
    ws = Workspace(ledger, decision, ctx)
    if isinstance(event, Birth):
        register_birth(ws, event)
    elif isinstance(event, Death):
        register_death(ws, event)
    elif isinstance(event, ResidenceChange):
        change_residence(ws, event)
    elif isinstance(event, Marriage):
        register_marriage(ws, event)
    elif isinstance(event, Divorce):
        register_divorce(ws, event)
    else:
        assert isinstance(event, Correction)
        correct(ws, event)
    return decision


def record_digests(decision: Decision, raws: dict[str, bytes]) -> list[dict[str, Any]]:
    """``{pin, before, after}`` SHA-256 digests of every record the event wrote; ``raws`` are
    the records as serialised for the store (the digest is of those very bytes)."""
    return [
        {
            "pin": pin,
            "before": digest(decision.before.get(pin)),
            "after": hashlib.sha256(raws[pin]).hexdigest(),
        }
        for pin in decision.records
    ]


def feed_item(
    decision: Decision, cursor: int, time: str, event_id: str, actor: str
) -> dict[str, Any]:
    """The change-feed item: the subject's changed fields, and each related record's."""
    subject = decision.subject
    return {
        "cursor": str(cursor),
        "type": decision.type,
        "pin": subject,
        "time": time,
        "event_id": event_id,
        "actor": actor,
        "changes": diff(decision.before.get(subject), decision.records[subject]),
        "related": [
            {"pin": pin, "changes": diff(decision.before.get(pin), record)}
            for pin, record in decision.records.items()
            if pin != subject
        ],
    }

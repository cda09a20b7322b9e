"""The write path's storage contract, shared by the SQLite and PostgreSQL backends.

A backend opens one write transaction per batch of events (a group commit) and hands
:func:`run_batch` its reads (:class:`~mock_registry.store.batch.Backend`). Each event, in order:
the idempotency key is looked up first (a retry answers the first result), the event is decided
through its scope (reads see the batch's earlier events and its own writes), then its changed
records, its feed row with the next cursor (commit order, gap-free: writers are serialised) and
its answer under the key are staged; a refused event's scope is dropped. The batch is written
with one statement per table and committed before any answer is given. The seeded ``citizens``
table is never written: a reset empties the overlay tables.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from typing import Any, NamedTuple, Protocol

import orjson

from sim06.mock_registry.events import Event, EventContext, EventRefused, decide
from sim06.mock_registry.events.apply import (
    duplicate_key,
    feed_item,
    named_pins,
    record_digests,
)
from sim06.mock_registry.events.ledger import Ledger
from sim06.mock_registry.store.base import OVERLAY_TABLES
from sim06.mock_registry.store.batch import Backend, BatchTx

__all__ = [
    "OVERLAY_TABLES",
    "Committed",
    "EventTx",
    "Outcome",
    "Pending",
    "commit_one",
    "fingerprint",
    "run_batch",
    "run_event",
    "utc_text",
]


class Committed(NamedTuple):
    """The answer to an event request: the status, the JSON body, whether it was a retry."""

    status: int
    body: bytes
    replayed: bool


class Pending(NamedTuple):
    """One event waiting in a batch: its idempotency key, request fingerprint, event, context."""

    key: str
    fingerprint: str
    event: Event
    ctx: EventContext


Outcome = Committed | EventRefused  # what each event of a batch came to


class EventTx(Ledger, Protocol):
    """One open write transaction of a backend."""

    def remembered(self, key: str) -> tuple[str, int, bytes] | None:
        """``(fingerprint, status, body)`` stored under an idempotency key, or None."""
        ...

    def last_change(self) -> tuple[int, str]:
        """``(cursor, time)`` of the newest feed row, ``(0, "")`` when empty."""
        ...

    def write_record(self, record: dict[str, Any], raw: bytes, seq: int) -> None:
        """Insert or replace the overlay row of ``record`` (serialised as ``raw``)."""
        ...

    def append_change(self, seq: int, kind: str, pin: str, time: str, item: bytes) -> None:
        """Add the feed row ``seq``."""
        ...

    def remember(self, key: str, fingerprint: str, status: int, body: bytes, seq: int) -> None:
        """Keep the answer under the idempotency key."""
        ...

    def index_birth(self, key: str, pin: str) -> None:
        """Index a registered birth against duplicates."""
        ...


def fingerprint(payload: bytes) -> str:
    """What identifies a request body under its idempotency key (SHA-256 hex)."""
    return hashlib.sha256(payload).hexdigest()


def utc_text(moment: datetime) -> str:
    """A feed time: RFC 3339 in UTC with microseconds, so text order is time order."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def commit_one(
    commit_events: Callable[[Sequence[Pending]], list[Outcome]], item: Pending
) -> Committed:
    """``item`` committed alone through a store's ``commit_events``; its refusal raised."""
    outcome = commit_events([item])[0]
    if isinstance(outcome, EventRefused):
        raise outcome
    return outcome


def run_batch(backend: Backend, batch: Sequence[Pending]) -> list[Outcome]:
    """Apply ``batch`` in order through one :class:`BatchTx` over ``backend``'s open
    transaction, then write it (the caller commits): each event's outcome, in order."""
    tx = BatchTx(
        backend,
        [item.key for item in batch],
        [pin for item in batch for pin in named_pins(item.event)],
        [key for item in batch if (key := duplicate_key(item.event)) is not None],
    )
    outcomes: list[Outcome] = []
    for item in batch:
        scope = tx.scope()
        try:
            outcomes.append(run_event(scope, item.key, item.fingerprint, item.event, item.ctx))
        except EventRefused as refused:
            outcomes.append(refused)  # its scope is dropped: nothing of it is written
            continue
        scope.commit()
    tx.flush()
    return outcomes


def run_event(
    tx: EventTx, key: str, request_fingerprint: str, event: Event, ctx: EventContext
) -> Committed:
    """Apply ``event`` under idempotency ``key`` inside ``tx``; EventRefused leaves it unwritten.

    The caller commits on return and rolls back on an exception."""
    seen = tx.remembered(key)
    if seen is not None:
        stored_fingerprint, status, body = seen
        if stored_fingerprint != request_fingerprint:
            raise EventRefused(
                "IDEMPOTENCY_KEY_REUSED",
                "This request id was already used for another request body; use a new one.",
            )
        return Committed(status, body, True)
    decision = decide(tx, event, ctx)
    last_seq, last_time = tx.last_change()
    seq = last_seq + 1
    time = max(utc_text(ctx.now), last_time)  # feed times never go backwards
    event_id = hashlib.sha256(key.encode()).hexdigest()[:24]
    raws = {pin: orjson.dumps(record) for pin, record in decision.records.items()}
    for pin, record in decision.records.items():
        tx.write_record(record, raws[pin], seq)
    item = feed_item(decision, seq, time, event_id, ctx.actor)
    tx.append_change(seq, decision.type, decision.subject, time, orjson.dumps(item))
    if decision.birth_key is not None:
        tx.index_birth(decision.birth_key, decision.subject)
    answer: dict[str, Any] = {
        "event_id": event_id,
        "type": decision.type,
        "cursor": str(seq),
        "time": time,
        **decision.result,
        "records": record_digests(decision, raws),
    }
    body = orjson.dumps(answer)
    tx.remember(key, request_fingerprint, 201, body, seq)
    return Committed(201, body, False)

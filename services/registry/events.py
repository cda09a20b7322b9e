"""The registry's write path without HTTP: civil-status events and the change feed.

Used by the registry's routes and, in process, by the gateway. Requests arrive validated
(``event_schemas``); this module turns them into the core's events, runs them in one store
transaction under their idempotency key and maps a refusal to its problem. The feed is served
from the stored items' bytes (no re-serialisation).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any, Protocol

from pydantic import BaseModel

from mock_registry.events import (
    Birth,
    BirthResidence,
    Correction,
    Death,
    Divorce,
    Event,
    EventContext,
    EventRefused,
    Marriage,
    ResidenceChange,
)
from mock_registry.store.events import Committed, fingerprint, utc_text
from services.common.problems import ProblemError
from services.common.settings import Settings
from services.registry import event_schemas as es

KINDS = ("births", "deaths", "residence-changes", "marriages", "divorces", "corrections")
REQUESTS: dict[str, type[BaseModel]] = {
    "births": es.BirthRequest,
    "deaths": es.DeathRequest,
    "residence-changes": es.ResidenceChangeRequest,
    "marriages": es.MarriageRequest,
    "divorces": es.DivorceRequest,
    "corrections": es.CorrectionRequest,
}


class EventStore(Protocol):
    """What a citizen store offers the write path (SQLite and PostgreSQL)."""

    def commit_event(
        self, key: str, fingerprint: str, event: Event, ctx: EventContext
    ) -> Committed: ...

    def changes(self, after: int, limit: int) -> list[bytes]: ...

    def change_cursor_at(self, time: str) -> int: ...

    def feed_head(self) -> int: ...


def _birth(r: es.BirthRequest) -> Birth:
    c = r.child
    return Birth(
        family=c.name.family, middle=c.name.middle, given=c.name.given, sex=c.sex,
        date_of_birth=c.date_of_birth, place_of_birth=c.place_of_birth,
        registration_commune_code=r.registration_commune_code, mother_pin=r.mother_pin,
        father_pin=r.father_pin, ethnicity_code=c.ethnicity_code, nationality=c.nationality,
        residence=BirthResidence(r.residence.with_pin, r.residence.relationship)
        if r.residence else None,
        registration_number=r.registration_number,
    )  # fmt: skip


def _correction(r: es.CorrectionRequest) -> Correction:
    name = r.name
    return Correction(
        pin=r.pin, reason=r.reason, date_of_birth=r.date_of_birth, sex=r.sex,
        family=name.family if name else None, middle=name.middle if name else None,
        given=name.given if name else None,
    )  # fmt: skip


CONVERT: dict[str, Callable[[Any], Event]] = {
    "births": _birth,
    "deaths": lambda r: Death(**r.model_dump()),
    "residence-changes": lambda r: ResidenceChange(**r.model_dump()),
    "marriages": lambda r: Marriage(**r.model_dump()),
    "divorces": lambda r: Divorce(**r.model_dump()),
    "corrections": _correction,
}


def problem_of(refused: EventRefused) -> ProblemError:
    """The problem+json of a refused event."""
    return ProblemError(refused.code, refused.detail, errors=refused.errors, extra=refused.extra)


class EventService:
    """Registers events and reads the feed over a store with the write path."""

    def __init__(
        self, settings: Settings, store: EventStore, clock: Callable[[], datetime] | None = None
    ) -> None:
        self.settings = settings
        self.store = store
        self.clock = clock or (lambda: datetime.now(UTC))

    def register(
        self, kind: str, request: BaseModel, key: str, *, actor: str = "", officer: str = ""
    ) -> Committed:
        """Apply one event under idempotency ``key``; ProblemError when refused."""
        if not key:
            raise ProblemError(
                "IDEMPOTENCY_KEY_REQUIRED", "Send the request id of this event (Idempotency-Key)."
            )
        event = CONVERT[kind](request)
        # The fingerprint covers what the request means, not how its JSON was spaced.
        digest = fingerprint(kind.encode() + b"\n" + request.model_dump_json().encode())
        ctx = EventContext(
            seed=self.settings.seed, now=self.clock(), actor=actor or "registry", officer=officer
        )
        try:
            return self.store.commit_event(key, digest, event, ctx)
        except EventRefused as refused:
            raise problem_of(refused) from None

    def feed(self, after: str | None, since: str | None, limit: int | None) -> bytes:
        """One page of the change feed as JSON bytes: ``{"items": [...], "next_cursor"}``."""
        most = self.settings.registry_feed_limit
        size = most if limit is None else limit
        if not 1 <= size <= most:
            raise _bad_position("limit", f"limit must be 1 to {most}")
        if after is not None and since is not None:
            raise _bad_position("since", "give after or since, not both")
        position = 0
        if after is not None:
            if not (after.isascii() and after.isdigit() and len(after) <= 18):
                raise _bad_position("after", "after is a cursor from the feed: digits only")
            position = int(after)
            head = self.store.feed_head()
            if position > head:
                raise _bad_position("after", f"cursor {position} is past the newest ({head})")
        elif since is not None:
            try:
                moment = datetime.fromisoformat(since)
            except ValueError:
                raise _bad_position("since", "since is an RFC 3339 date-time") from None
            if moment.tzinfo is None:
                raise _bad_position("since", "since needs a time zone (Z or +07:00)")
            position = self.store.change_cursor_at(utc_text(moment))
        items = self.store.changes(position, size)
        next_cursor = position + len(items)  # cursors are gap-free
        return b'{"items":[' + b",".join(items) + b'],"next_cursor":"%d"}' % next_cursor


def _bad_position(parameter: str, reason: str) -> ProblemError:
    return ProblemError(
        "FEED_INVALID_CURSOR",
        reason,
        errors=[{"parameter": parameter, "in": "query", "rule": "feed_position", "reason": reason}],
    )

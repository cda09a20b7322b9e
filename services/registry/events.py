"""The registry's write path without HTTP: civil-status events and the change feed.

Used by the registry's routes and, in process, by the gateway. Requests arrive validated
(``event_schemas``); this module turns them into the core's events, runs them in one store
transaction under their idempotency key and maps a refusal to its problem. The feed is served
from the stored items' bytes (no re-serialisation).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from typing import Any, Protocol

import anyio.to_thread
from pydantic import BaseModel

from sim06.mock_registry.events import (
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
from sim06.mock_registry.store.events import (
    Committed,
    Outcome,
    Pending,
    commit_one,
    fingerprint,
    utc_text,
)
from sim06.services.common.problems import ProblemError
from sim06.services.common.settings import Settings
from sim06.services.registry import event_schemas as es

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

    def commit_events(self, batch: Sequence[Pending]) -> list[Outcome]: ...

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


MAX_BATCH = 256  # events of one group commit


class GroupCommit:
    """Events that arrive while a commit runs wait and commit together, in arrival order.

    One transaction per batch (each event in its own savepoint), so the cost of a commit (the WAL
    write, PostgreSQL's round trips and fsync) is shared by every request in flight. SQLite
    commits on the event loop (its reads share the connection and must never see an open write
    transaction); a store with ``blocking_writes`` (PostgreSQL) commits on a worker thread. An
    answer is given only after its batch committed: a 2xx survives a killed process.
    """

    def __init__(self, store: EventStore) -> None:
        self.store = store
        self.threaded = bool(getattr(store, "blocking_writes", False))
        self._pending: list[tuple[Pending, asyncio.Future[Outcome]]] = []
        self._task: asyncio.Task[None] | None = None

    async def submit(self, item: Pending) -> Outcome:
        """Queue ``item``; its outcome once its batch committed."""
        loop = asyncio.get_running_loop()
        future: asyncio.Future[Outcome] = loop.create_future()
        self._pending.append((item, future))
        if self._task is None:
            self._task = loop.create_task(self._drain())
        return await future

    async def _drain(self) -> None:
        try:
            while self._pending:
                await asyncio.sleep(0)  # the requests of this loop iteration join the batch
                batch, self._pending = self._pending[:MAX_BATCH], self._pending[MAX_BATCH:]
                items = [item for item, _ in batch]
                try:
                    if self.threaded:
                        outcomes = await anyio.to_thread.run_sync(self.store.commit_events, items)
                    else:
                        outcomes = self.store.commit_events(items)
                except Exception as exc:  # the store failed: every waiter hears of it
                    for _, future in batch:
                        if not future.done():
                            future.set_exception(exc)
                    continue
                for (_, future), outcome in zip(batch, outcomes, strict=True):
                    if not future.done():  # a client that went away still got its event
                        future.set_result(outcome)
        finally:
            self._task = None


class EventService:
    """Registers events and reads the feed over a store with the write path."""

    def __init__(
        self, settings: Settings, store: EventStore, clock: Callable[[], datetime] | None = None
    ) -> None:
        self.settings = settings
        self.store = store
        self.clock = clock or (lambda: datetime.now(UTC))
        self.group = GroupCommit(store)

    def _pending(
        self, kind: str, request: BaseModel, key: str, actor: str, officer: str
    ) -> Pending:
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
        return Pending(key, digest, event, ctx)

    def register(
        self, kind: str, request: BaseModel, key: str, *, actor: str = "", officer: str = ""
    ) -> Committed:
        """Apply one event under idempotency ``key`` now; ProblemError when refused."""
        try:
            return commit_one(
                self.store.commit_events, self._pending(kind, request, key, actor, officer)
            )
        except EventRefused as refused:
            raise problem_of(refused) from None

    async def submit(
        self, kind: str, request: BaseModel, key: str, *, actor: str = "", officer: str = ""
    ) -> Committed:
        """:meth:`register` through the group commit (the services' path)."""
        outcome = await self.group.submit(self._pending(kind, request, key, actor, officer))
        if isinstance(outcome, EventRefused):
            raise problem_of(outcome)
        return outcome

    def feed(self, after: str | None, since: str | None, limit: int | None) -> bytes:
        """One page of the change feed as JSON bytes: ``{"items": [...], "next_cursor"}``."""
        most = self.settings.registry_feed_limit
        size = most if limit is None else limit
        if not 1 <= size <= most:
            raise _bad_position("limit", f"limit must be 1 to {most}")
        position = 0  # after wins over since: a consumer resumes from its cursor
        if after is not None:
            if not (after.isascii() and after.isdigit() and len(after) <= 18):
                raise _bad_position("after", "after is a cursor from the feed: digits only")
            position = int(after)
            head = self.store.feed_head()
            if position > head:
                raise ProblemError(
                    "FEED_CURSOR_AHEAD",
                    f"Cursor {position} is past the newest change ({head}): the feed was reset "
                    "(sim06 reset) or the cursor came from another database. Read from 0 again.",
                    extra={"head": str(head)},
                )
        elif since is not None:
            try:
                moment = datetime.fromisoformat(since.upper())  # RFC 3339 allows "t", "z"
            except ValueError:
                raise _bad_position("since", "since is an RFC 3339 date-time") from None
            if moment.tzinfo is None:
                raise _bad_position("since", "since needs a time zone (Z or +07:00)")
            utc: datetime | None
            try:
                utc = moment.astimezone(UTC)
            except OverflowError:  # year 1 or 9999 with an offset: before or after everything
                utc = datetime.min.replace(tzinfo=UTC) if moment.year < 5000 else None
            if utc is None:
                position = self.store.feed_head()
            elif utc.year >= 1900:  # before 1900 nothing is skipped (4-digit text order)
                position = self.store.change_cursor_at(utc_text(utc))
        items = self.store.changes(position, size)
        next_cursor = position + len(items)  # cursors are gap-free
        return b'{"items":[' + b",".join(items) + b'],"next_cursor":"%d"}' % next_cursor


def _bad_position(parameter: str, reason: str) -> ProblemError:
    return ProblemError(
        "FEED_INVALID_CURSOR",
        reason,
        errors=[{"parameter": parameter, "in": "query", "rule": "feed_position", "reason": reason}],
    )

"""A group commit's transaction: every event of a batch reads through it, writes are buffered.

The events of one batch run one after the other inside one backend transaction. Each runs in a
:class:`EventScope` layered over the batch: its reads see the backend, then the batch's earlier
events, then its own writes; its writes stay in the scope. An event that succeeds merges its
scope into the batch; a refused one is dropped (no savepoint needed). At the end the batch
writes everything with one statement per table (:meth:`Backend.flush`), so a batch costs a few
round trips however many events it holds.

    backend reads ◄── BatchTx (writes of the committed events) ◄── EventScope (this event)
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, NamedTuple, Protocol

import orjson


class Row(NamedTuple):
    """An overlay row to write."""

    pin: int
    cmnd: str | None
    household_id: int | None
    birth_year: int
    record: bytes
    seq: int


@dataclass(slots=True)
class Writes:
    """What a batch (or one event) writes, by table."""

    records: dict[int, Row] = field(default_factory=dict)
    changes: list[tuple[int, str, str, str, bytes]] = field(default_factory=list)
    idempotency: dict[str, tuple[str, int, bytes, int]] = field(default_factory=dict)
    serials: dict[str, int] = field(default_factory=dict)  # head -> next counter
    births: dict[str, str] = field(default_factory=dict)
    next_household_id: int | None = None
    last: tuple[int, str] | None = None  # (cursor, time) of the newest change

    def merge(self, other: Writes) -> None:
        """Take ``other`` (a committed event's writes) in."""
        self.records.update(other.records)
        self.changes.extend(other.changes)
        self.idempotency.update(other.idempotency)
        self.serials.update(other.serials)
        self.births.update(other.births)
        if other.next_household_id is not None:
            self.next_household_id = other.next_household_id
        if other.last is not None:
            self.last = other.last


class Prefetched(NamedTuple):
    """The reads of :meth:`Backend.prefetch`."""

    seen: dict[str, tuple[str, int, bytes]]
    records: dict[str, bytes]
    births: dict[str, str]
    last: tuple[int, str]


class Backend(Protocol):
    """The reads of an open backend transaction, and its one write per batch."""

    def record(self, pin: str) -> dict[str, Any] | None: ...

    def household_members(self, household_id: int) -> list[dict[str, Any]]: ...

    def pin_taken(self, pin: str) -> bool: ...

    def serial(self, head: str) -> int:
        """The next counter of a PIN bucket (0 if unused), without advancing it."""
        ...

    def household_id_base(self) -> int:
        """The next unused household id, without reserving it."""
        ...

    def birth_registered(self, key: str) -> str | None: ...

    def prefetch(self, keys: list[str], pins: list[str], births: list[str]) -> Prefetched:
        """What a batch reads first, at once: the stored answers of those idempotency keys
        that have one, the current records of those PINs that exist, the PINs registered under
        those duplicate-birth keys, and the newest change."""
        ...

    def flush(self, writes: Writes) -> None:
        """Write a batch: overlay upserts, feed rows, answers, counters, births, meta."""
        ...


class BatchTx:
    """The writes of a batch's committed events over ``backend``."""

    def __init__(
        self,
        backend: Backend,
        keys: list[str],
        pins: list[str] | None = None,
        births: list[str] | None = None,
    ) -> None:
        self.backend = backend
        self.writes = Writes()
        # What every event of the batch reads first (its idempotency key, the citizens it
        # names, a birth's duplicate key, the feed's head), read at once, not once per event.
        wanted, duplicates = sorted(set(pins or ())), sorted(set(births or ()))
        first = backend.prefetch(keys, wanted, duplicates)
        self.seen = first.seen
        self.records: dict[str, bytes | None] = {pin: first.records.get(pin) for pin in wanted}
        self.births: dict[str, str | None] = {key: first.births.get(key) for key in duplicates}
        self.writes.last = first.last

    def scope(self) -> EventScope:
        """A scope for the next event."""
        return EventScope(self)

    def flush(self) -> None:
        """Write what the committed events wrote (the caller then commits)."""
        self.backend.flush(self.writes)


class EventScope:
    """One event's view: an :class:`~mock_registry.store.events.EventTx` over the batch."""

    def __init__(self, batch: BatchTx) -> None:
        self.batch = batch
        self.backend = batch.backend
        self.writes = Writes()

    def commit(self) -> None:
        """The event succeeded: its writes join the batch."""
        self.batch.writes.merge(self.writes)

    def _row(self, pin: int) -> Row | None:
        return self.writes.records.get(pin) or self.batch.writes.records.get(pin)

    # -- Ledger ------------------------------------------------------------------------------

    def record(self, pin: str) -> dict[str, Any] | None:
        row = self._row(int(pin))
        raw = row.record if row is not None else self.batch.records.get(pin, b"")
        if raw:
            parsed: dict[str, Any] = orjson.loads(raw)  # a private copy to change
            return parsed
        if raw is None:  # prefetched: no such citizen
            return None
        return self.backend.record(pin)

    def household_members(self, household_id: int) -> list[dict[str, Any]]:
        found = {int(r["pin"]): r for r in self.backend.household_members(household_id)}
        for layer in (self.batch.writes.records, self.writes.records):
            for pin, row in layer.items():
                if pin in found or row.household_id == household_id:
                    found[pin] = orjson.loads(row.record)
        return [
            r
            for _, r in sorted(found.items())
            if r.get("household") is not None and r["household"]["id"] == household_id
        ]

    def pin_taken(self, pin: str) -> bool:
        return self._row(int(pin)) is not None or self.backend.pin_taken(pin)

    def next_serial(self, head: str) -> int:
        n = self.writes.serials.get(head)
        if n is None:
            n = self.batch.writes.serials.get(head)
        if n is None:
            n = self.backend.serial(head)
        self.writes.serials[head] = n + 1
        return n

    def next_household_id(self) -> int:
        found = self.writes.next_household_id or self.batch.writes.next_household_id
        if found is None:
            found = self.backend.household_id_base()
        self.writes.next_household_id = found + 1
        return found

    def birth_registered(self, key: str) -> str | None:
        found = self.writes.births.get(key) or self.batch.writes.births.get(key)
        if found is not None:
            return found
        if key in self.batch.births:
            return self.batch.births[key]
        return self.backend.birth_registered(key)

    # -- EventTx -----------------------------------------------------------------------------

    def remembered(self, key: str) -> tuple[str, int, bytes] | None:
        mine = self.writes.idempotency.get(key) or self.batch.writes.idempotency.get(key)
        if mine is not None:
            return mine[0], mine[1], mine[2]
        return self.batch.seen.get(key)

    def last_change(self) -> tuple[int, str]:
        last = self.writes.last or self.batch.writes.last
        assert last is not None  # read with the batch's prefetch
        return last

    def write_record(self, record: dict[str, Any], raw: bytes, seq: int) -> None:
        household = record.get("household")
        pin = int(record["pin"])
        self.writes.records[pin] = Row(
            pin, record.get("cmnd"), household["id"] if household else None,
            record["birth_year"], raw, seq,
        )  # fmt: skip

    def append_change(self, seq: int, kind: str, pin: str, time: str, item: bytes) -> None:
        self.writes.changes.append((seq, kind, pin, time, item))
        self.writes.last = (seq, time)

    def remember(self, key: str, fingerprint: str, status: int, body: bytes, seq: int) -> None:
        self.writes.idempotency[key] = (fingerprint, status, body, seq)

    def index_birth(self, key: str, pin: str) -> None:
        self.writes.births[key] = pin

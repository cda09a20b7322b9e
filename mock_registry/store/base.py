"""The storage interface of the population database (CSDLQG về dân cư).

Records are stored as the JSON bytes of their wire representation, so a lookup is one indexed
read and no re-serialisation: the registry's hot path hands the bytes straight to the socket.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from typing import TYPE_CHECKING, NamedTuple, Protocol

if TYPE_CHECKING:  # the events package imports the citizen model, which imports this module
    from sim06.mock_registry.events import Event, EventContext
    from sim06.mock_registry.store.events import Committed, Outcome, Pending

# Tables the civil-status events write (emptied by a reset, copied by a snapshot); the seeded
# ``citizens`` table is never among them.
OVERLAY_TABLES = ("overlay", "changes", "idempotency", "pin_serials", "births", "overlay_meta")


class CitizenRow(NamedTuple):
    """One citizen as the store keeps it: the indexed keys plus the JSON record."""

    pin: str  # số định danh cá nhân, 12 digits
    cmnd: str | None  # old 9-digit identity card number
    household_id: int | None
    birth_year: int
    record: bytes  # orjson-encoded citizen record


class AccountRow(NamedTuple):
    """An e-ID account that is not a citizen's: a foreigner's or an organisation's."""

    identifier: str  # foreigner's identification number, or the organisation's tax code
    kind: str  # "foreigner" | "organisation"
    record: bytes  # orjson-encoded account record


class CitizenStore(Protocol):
    """What every backend (SQLite embedded, PostgreSQL at scale) offers."""

    def get(self, pin: str) -> bytes | None:
        """The JSON record of ``pin``, or None."""
        ...

    def get_by_cmnd(self, cmnd: str) -> bytes | None:
        """The JSON record of the citizen holding the old CMND number ``cmnd``, or None."""
        ...

    def household(self, household_id: int) -> list[bytes]:
        """JSON records of every member of a household, ordered by PIN."""
        ...

    def add(self, rows: Iterable[CitizenRow]) -> None:
        """Insert citizens (bulk; used by seeding and personas)."""
        ...

    def finish_load(self) -> None:
        """Build secondary indexes and statistics after a bulk load."""
        ...

    def records(self) -> Iterator[bytes]:
        """Every JSON record, ordered by PIN."""
        ...

    # -- e-ID accounts of foreigners and organisations (mock_registry.eid_subjects) ---------

    def add_accounts(self, rows: Iterable[AccountRow]) -> None:
        """Insert e-ID accounts of foreigners and organisations (seeding)."""
        ...

    def get_account(self, identifier: str) -> bytes | None:
        """The JSON record of the e-ID account ``identifier`` (foreigner's number or tax code)."""
        ...

    def accounts(self) -> Iterator[bytes]:
        """Every e-ID account of a foreigner or an organisation, by identifier."""
        ...

    def count(self) -> int:
        """How many citizens the store holds."""
        ...

    def get_meta(self, key: str) -> str | None:
        """A metadata value (seed, size, as-of date...)."""
        ...

    def set_meta(self, key: str, value: str) -> None:
        """Set a metadata value."""
        ...

    def ping(self) -> bool:
        """True when the store answers."""
        ...

    def close(self) -> None:
        """Release the connection."""
        ...

    # -- the write path (mock_registry.store.events): events over an overlay --------------

    def commit_event(
        self, key: str, fingerprint: str, event: Event, ctx: EventContext
    ) -> Committed:
        """Apply a civil-status event in one transaction under its idempotency key."""
        ...

    def commit_events(self, batch: Sequence[Pending]) -> list[Outcome]:
        """Apply several events in one transaction (group commit), each on its own."""
        ...

    def changes(self, after: int, limit: int) -> list[bytes]:
        """Feed items (JSON) after cursor ``after``, in commit order."""
        ...

    def change_cursor_at(self, time: str) -> int:
        """The cursor just before the first change at or after ``time`` (UTC text)."""
        ...

    def feed_head(self) -> int:
        """The newest cursor (0 when no event was committed)."""
        ...

    def dump_events(self) -> bytes:
        """The overlay tables as JSON (a snapshot)."""
        ...

    def load_events(self, dump: bytes | None) -> None:
        """Replace the overlay with a dump; None empties it (the seeded population)."""
        ...

    def save_snapshot(self, name: str) -> None:
        """Keep the overlay under ``name`` in the database."""
        ...

    def restore_snapshot(self, name: str) -> bool:
        """Bring back the snapshot ``name``; False when there is none."""
        ...

    def snapshot_names(self) -> list[str]:
        """The saved snapshots, by name."""
        ...

"""What the event logic may read and reserve inside the store's open write transaction."""

from __future__ import annotations

from typing import Any, Protocol


class Ledger(Protocol):
    """A store transaction seen by :func:`mock_registry.events.decide` (reads see its writes)."""

    def record(self, pin: str) -> dict[str, Any] | None:
        """The current record of ``pin`` (overlay first, then the seeded base), or None."""
        ...

    def household_members(self, household_id: int) -> list[dict[str, Any]]:
        """The current records of a household's members, by PIN."""
        ...

    def pin_taken(self, pin: str) -> bool:
        """True when ``pin`` was ever issued (seeded, born by an event, or cancelled)."""
        ...

    def next_serial(self, head: str) -> int:
        """The next counter of a PIN bucket (the first 6 digits), then advance it."""
        ...

    def next_household_id(self) -> int:
        """A household id never used by the seeded base or an earlier event."""
        ...

    def birth_registered(self, key: str) -> str | None:
        """The PIN of a child already registered under a duplicate key, or None."""
        ...

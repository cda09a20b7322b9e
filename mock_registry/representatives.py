"""Organisations' legal representatives picked from the generated population.

The rule: living adults with an active level-2 e-ID account, every :data:`STRIDE`-th of them in
generation order. The test is on the record's bytes (no record is parsed but the ones picked),
and it runs where the rows are: in the seeding process, or in the worker that generated them
(which then hands over only the ids of the rows that qualify).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import date
from typing import Any

import orjson

from sim06.mock_registry.store.base import CitizenRow

STRIDE = 7
# A qualifying record's top-level "eid" object and "status", in citizen.record_of's order. Its
# last "eid" key is the top-level one: no nested object has one, and a key cannot occur inside a
# string (a quote there is escaped). Found from the end (about 160 bytes back) rather than by
# searching all of a 2 KB record twice: 1.4 -> 0.4 us a row, a second of a 1M seed's CPU.
_EID_KEY = b'"eid":'
_QUALIFYING = b'"eid":{"level":2,"status":"active"},"status":"alive"'


def born_by(as_of: date) -> int:
    """The latest birth year of a representative (an adult at ``as_of``)."""
    return as_of.year - 20


def candidates(rows: Sequence[CitizenRow], born_by: int, first: int = 0) -> list[int]:
    """The numbers (``first`` for the first row) of the rows that qualify, in order."""
    return [
        first + i
        for i, row in enumerate(rows)
        if row.birth_year <= born_by and qualifies(row.record)
    ]


def qualifies(record: bytes) -> bool:
    """Whether a citizen's record shows a living person with an active level-2 account."""
    return record.startswith(_QUALIFYING, record.rfind(_EID_KEY))


class RepresentativePicker:
    """Takes every :data:`STRIDE`-th qualifying row across the batches or shards it is shown,
    in order, until it has ``wanted``."""

    STRIDE = STRIDE

    def __init__(self, as_of: date, wanted: int) -> None:
        self.born_by = born_by(as_of)
        self.wanted = wanted
        self.seen = 0
        # Only the references are kept, not the records: 50,000 records held through a 10M
        # seed pinned their heap pages in the parent.
        self.references: list[dict[str, Any]] = []

    def scan(self, rows: list[CitizenRow]) -> None:
        """Note the qualifying rows of one batch."""
        if len(self.references) >= self.wanted:
            return
        for i in self.picks(candidates(rows, self.born_by)):
            self.take(rows[i].record)

    def picks(self, qualifying: Iterable[int]) -> list[int]:
        """Which of the next qualifying rows (given by any numbering, in order) are taken; pass
        each one's record to :meth:`take` before the next call."""
        room = self.wanted - len(self.references)
        taken: list[int] = []
        for n in qualifying:
            if len(taken) >= room:
                break
            self.seen += 1
            if self.seen % STRIDE == 0:
                taken.append(n)
        return taken

    def take(self, record: bytes) -> None:
        """Keep the reference of a picked row's record."""
        r = orjson.loads(record)
        self.references.append({"pin": r["pin"], "cmnd": r["cmnd"],
                                "full_name": r["name"]["full"],
                                "nationality": r["nationality"]})  # fmt: skip

    def full(self) -> bool:
        """True once every representative wanted is picked (later rows change nothing)."""
        return len(self.references) >= self.wanted

    def picked(self) -> list[dict[str, Any]]:
        """References (pin, cmnd, full_name, nationality) of the representatives picked."""
        return self.references

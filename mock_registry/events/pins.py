"""PIN allocation for births and corrections: deterministic, never a PIN issued before.

Serials come from the same keyed Feistel permutation as the seeded population, under a key of
its own (so the event stream does not replay the seed's first serials), one counter per bucket
(prefix, century/sex digit, year) kept in the store's transaction. A candidate already issued,
seeded or cancelled, is skipped: the same seed and sequence of events give the same PINs.
"""

from __future__ import annotations

from functools import lru_cache

from sim06.mock_registry.events.errors import EventRefused
from sim06.mock_registry.events.ledger import Ledger
from sim06.mock_registry.ids import SERIAL_SPACE, SerialAllocator, Sex, century_sex_digit

EVENTS_KEY = 0x06E7E115  # salts the seed: the event stream's serials are not the seed's


@lru_cache(maxsize=8)
def _allocator(seed: int) -> SerialAllocator:
    return SerialAllocator(seed ^ EVENTS_KEY)


def allocate_pin(ledger: Ledger, seed: int, prefix: str, birth_year: int, sex: Sex) -> str:
    """A new PIN in the bucket of (prefix, birth year, sex); PIN_SERIALS_EXHAUSTED when full."""
    head = f"{prefix}{century_sex_digit(birth_year, sex)}{birth_year % 100:02d}"
    allocator = _allocator(seed)
    while True:
        n = ledger.next_serial(head)
        if n >= SERIAL_SPACE:
            raise EventRefused(
                "PIN_SERIALS_EXHAUSTED", f"Every serial of the bucket {head} has been issued."
            )
        pin = allocator.pin_at(prefix, birth_year, sex, n)
        if not ledger.pin_taken(pin):
            return pin

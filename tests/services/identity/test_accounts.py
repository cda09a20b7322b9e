"""VNeID accounts: the record cache reads each citizen once per TTL, and checks every time."""

from __future__ import annotations

from typing import Any, cast

import orjson
import pytest

from sim06.mock_registry.store import CitizenStore, SQLiteCitizenStore
from sim06.services.common.settings import Settings
from sim06.services.identity.accounts import Accounts, LoginRefused

ADULT = "001090104217"


class CountingStore:
    def __init__(self, inner: SQLiteCitizenStore) -> None:
        self.inner = inner
        self.reads = 0
        self.override: dict[str, dict[str, Any]] = {}
        self.head = 0

    def feed_head(self) -> int:
        return self.head

    def get(self, pin: str) -> bytes | None:
        self.reads += 1
        if pin in self.override:
            return orjson.dumps(self.override[pin])
        return self.inner.get(pin)


class Clock:
    now = 100.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def counting(settings: Settings) -> Any:
    inner = SQLiteCitizenStore(settings.database, readonly=True)
    yield CountingStore(inner)
    inner.close()


def test_reads_once_per_ttl_and_sees_changes_after_it(counting: CountingStore) -> None:
    clock = Clock()
    accounts = Accounts(cast(CitizenStore, counting), ttl=2.0, clock=clock)
    assert accounts.find(ADULT).level == 2
    assert accounts.find(ADULT).pin == ADULT
    assert counting.reads == 1
    record = orjson.loads(counting.inner.get(ADULT) or b"{}")
    record["eid"]["status"] = "locked"
    counting.override[ADULT] = record
    assert accounts.find(ADULT).level == 2  # still cached
    clock.now += 2.5
    with pytest.raises(LoginRefused, match="locked"):
        accounts.find(ADULT)
    assert counting.reads == 2


def test_refusals_are_checked_on_every_call_and_bad_pins_never_read(
    counting: CountingStore,
) -> None:
    accounts = Accounts(cast(CitizenStore, counting), clock=Clock())
    for _ in range(2):
        with pytest.raises(LoginRefused, match="deceased"):
            accounts.find("040050186692")  # persona deceased
        with pytest.raises(LoginRefused, match="No citizen"):
            accounts.find("001099999999")  # valid shape, unknown
    with pytest.raises(LoginRefused):
        accounts.find("not-a-pin")
    assert counting.reads == 2


def test_the_cache_is_bounded(counting: CountingStore) -> None:
    accounts = Accounts(cast(CitizenStore, counting), size=2, clock=Clock())
    pins = [ADULT, "001195208733", "079078315062"]
    for pin in pins:
        try:
            accounts.find(pin)
        except LoginRefused:
            pass
    accounts.find(ADULT)  # evicted by the third, read again
    assert counting.reads == 4 and len(accounts._records) == 2


def test_an_event_empties_the_cache_at_once(counting: CountingStore) -> None:
    clock = Clock()
    accounts = Accounts(cast(CitizenStore, counting), ttl=60.0, clock=clock)
    assert accounts.find(ADULT).level == 2
    record = orjson.loads(counting.inner.get(ADULT) or b"{}")
    record["status"] = "deceased"
    counting.override[ADULT] = record
    counting.head = 1  # a civil-status event was committed (a death)
    with pytest.raises(LoginRefused):
        accounts.find(ADULT)

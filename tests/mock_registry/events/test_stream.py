"""A seeded random stream of civil-status events over the small population: every event is
applied or refused with a code (never another exception), and the state stays coherent."""

from __future__ import annotations

import random
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import orjson

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
from sim06.mock_registry.events.model import ResidenceKind
from sim06.mock_registry.ids import is_valid_pin
from sim06.mock_registry.store import SQLiteCitizenStore

TODAY = date(2026, 12, 7)
COMMUNES = ["00004", "09706", "25747", "99999"]  # the last one does not exist
KINDS: list[ResidenceKind] = ["permanent_registration", "permanent_deregistration",
                              "temporary_registration", "temporary_deregistration",
                              "temporary_absence"]  # fmt: skip


def _event(rng: random.Random, pins: list[str], store: SQLiteCitizenStore, i: int) -> Event:
    def pin() -> str:
        return rng.choice(pins)

    def day() -> date:
        return TODAY - timedelta(days=rng.randrange(-3, 30_000))  # a few in the future

    k = rng.randrange(6)
    if k == 0:
        mother = pin() if rng.random() < 0.8 else None
        home = BirthResidence(mother) if mother and rng.random() < 0.5 else None
        return Birth("Lê", "Văn", f"R{i}", rng.choice(["male", "female"]), day(), "x",
                     rng.choice(COMMUNES), mother_pin=mother,
                     father_pin=pin() if rng.random() < 0.6 else None, residence=home)  # fmt: skip
    if k == 1:
        return Death(pin(), day(), "x", f"KT{i}", rng.choice([*COMMUNES, None]))
    if k == 2:
        return ResidenceChange(
            pin(), rng.choice(KINDS), day(), rng.choice([*COMMUNES, None]),
            rng.choice(["Số 1", None]), pin() if rng.random() < 0.4 else None,
            rng.choice(["other", "child", "spouse"]), rng.choice([day(), date(2027, 5, 1)]), "r",
        )  # fmt: skip
    if k == 3:
        return Marriage(pin(), pin(), day(), f"KH{i}", rng.choice([*COMMUNES, None]))
    if k == 4:
        a = pin()
        raw = store.get(a)
        spouse = (orjson.loads(raw).get("spouse") or {}).get("pin") if raw else None
        return Divorce(a, spouse or pin(), day(), f"TA{i}")
    return Correction(pin(), "r", day() if rng.random() < 0.5 else None,
                      rng.choice(["male", "female", None]), None, None,
                      rng.choice([None, "Mới"]))  # fmt: skip


def test_a_random_stream_of_events_keeps_the_registry_coherent(events_db: Path) -> None:
    store = SQLiteCitizenStore(events_db)
    pins = [orjson.loads(r)["pin"] for r in store.records()][:400]
    rng = random.Random(15)
    ctx = EventContext(seed=6, now=datetime(2026, 12, 7, 3, tzinfo=UTC), actor="test")
    applied = refused = 0
    for i in range(600):
        event = _event(rng, pins, store, i)
        before = store.feed_head()
        try:
            answer = orjson.loads(store.commit_event(f"k{i}", "f", event, ctx).body)
        except EventRefused as exc:
            refused += 1
            assert exc.code and exc.detail
            assert store.feed_head() == before  # a refusal writes nothing
            continue
        applied += 1
        pins += [r["pin"] for r in answer["records"] if r["pin"] not in pins]
    assert applied > 100 and refused > 100
    head = store.feed_head()
    cursors = [int(orjson.loads(item)["cursor"]) for item in store.changes(0, 10_000)]
    assert cursors == list(range(1, head + 1)) and head == applied
    for raw in store.records():
        record = orjson.loads(raw)
        assert is_valid_pin(record["pin"])
        ref = record["household"]
        if ref is None or record["status"] != "alive":
            continue
        head_raw = store.get(ref["head_pin"])
        assert head_raw is not None, record["pin"]
        assert (orjson.loads(head_raw)["household"] or {}).get("id") == ref["id"], record["pin"]
    store.close()

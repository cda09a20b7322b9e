"""The CitizenStore contract, run against every backend (SQLite and PostgreSQL)."""

from __future__ import annotations

from pathlib import Path

import orjson
import pytest

from sim06.mock_registry.store import CitizenRow, CitizenStore, SQLiteCitizenStore
from tests.mock_registry.store.conftest import SIZE

ADULT = "001090104217"  # persona adult-level2: PIN with leading zeros
LARGE_HOUSEHOLD_HEAD = "036062520156"  # persona large-household-head: 9 members
OLD_CMND_ONLY = "025055731247"  # persona old-cmnd-only


def test_get_returns_the_record_and_none_for_unknown(seeded: CitizenStore) -> None:
    record = seeded.get(ADULT)
    assert record is not None and isinstance(record, bytes)
    assert orjson.loads(record)["pin"] == ADULT
    assert seeded.get("001090104218") is None


def test_get_by_cmnd(seeded: CitizenStore) -> None:
    record = seeded.get(OLD_CMND_ONLY)
    assert record is not None
    cmnd = orjson.loads(record)["cmnd"]
    found = seeded.get_by_cmnd(cmnd)
    assert found == record
    assert seeded.get_by_cmnd("000000000") is None


def test_household_members_by_pin(seeded: CitizenStore) -> None:
    head = seeded.get(LARGE_HOUSEHOLD_HEAD)
    assert head is not None
    household_id = orjson.loads(head)["household"]["id"]
    members = [orjson.loads(r) for r in seeded.household(household_id)]
    pins = [m["pin"] for m in members]
    assert len(members) == 9 and pins == sorted(pins) and LARGE_HOUSEHOLD_HEAD in pins
    assert all(m["household"]["id"] == household_id for m in members)
    assert seeded.household(-1) == []


def test_records_in_pin_order_and_count(seeded: CitizenStore) -> None:
    pins = [orjson.loads(r)["pin"] for r in seeded.records()]
    assert pins == sorted(pins) and len(set(pins)) == len(pins)
    assert len(pins) == seeded.count() == int(seeded.get_meta("citizens") or -1)
    assert seeded.count() > SIZE  # the personas come on top


def test_meta_and_ping(seeded: CitizenStore) -> None:
    assert seeded.get_meta("seed") == "6"
    assert seeded.get_meta("size") == str(SIZE)
    assert seeded.get_meta("no-such-key") is None
    assert seeded.ping() is True


def test_same_seed_same_bytes_on_every_backend(seeded_db: Path, pg_seeded_url: str) -> None:
    from sim06.mock_registry.store.postgres import PostgresCitizenStore

    lite = SQLiteCitizenStore(seeded_db, readonly=True)
    pg = PostgresCitizenStore(pg_seeded_url)
    try:
        left, right = list(lite.records()), list(pg.records())
        assert len(left) == len(right) > SIZE
        assert left == right
        for key in ("seed", "size", "as_of", "personas", "citizens", "generator_version"):
            assert lite.get_meta(key) == pg.get_meta(key), key
    finally:
        lite.close()
        pg.close()


def row(pin: str, cmnd: str | None = None, household: int | None = None) -> CitizenRow:
    return CitizenRow(pin, cmnd, household, 1990, orjson.dumps({"pin": pin, "cmnd": cmnd}))


def test_add_then_read_back(empty: CitizenStore) -> None:
    empty.add([row("079090000002", "123456789", 7), row("001090000001", None, 7)])
    empty.finish_load()
    assert empty.count() == 2
    assert empty.get("001090000001") == orjson.dumps({"pin": "001090000001", "cmnd": None})
    assert [orjson.loads(r)["pin"] for r in empty.household(7)] == [
        "001090000001",
        "079090000002",
    ]
    assert empty.get_by_cmnd("123456789") == empty.get("079090000002")
    empty.set_meta("k", "1")
    empty.set_meta("k", "2")  # overwrite, not a second row
    assert empty.get_meta("k") == "2"


def test_duplicate_pin_is_refused(empty: CitizenStore) -> None:
    empty.add([row("001090000001")])
    with pytest.raises(Exception) as caught:
        empty.add([row("001090000001")])
    assert "unique" in str(caught.value).lower()
    assert empty.count() == 1  # the failed batch left nothing behind


def test_cmnd_shared_by_two_citizens_returns_the_lowest_pin(empty: CitizenStore) -> None:
    # Reissued CMND numbers exist in the real registry; the answer must be deterministic.
    empty.add([row("079090000002", "111111111"), row("001090000001", "111111111")])
    found = empty.get_by_cmnd("111111111")
    assert found is not None and orjson.loads(found)["pin"] == "001090000001"


def test_eid_accounts_of_foreigners_and_organisations(seeded: CitizenStore) -> None:
    # Seeded after the citizens (mock_registry.eid_subjects), outside the population table.
    foreigner, organisation = "410085104217", "0109876518"  # personas: an ID number, a tax code
    raw = seeded.get_account(foreigner)
    assert raw is not None and orjson.loads(raw)["record_type"] == "foreigner"
    raw = seeded.get_account(organisation)
    assert raw is not None and orjson.loads(raw)["organisation"]["tax_code"] == organisation
    assert seeded.get_account("410085999999") is None
    ids = [orjson.loads(r)["pin"] for r in seeded.accounts()]
    assert ids == sorted(ids) and {foreigner, organisation} <= set(ids)
    assert not set(ids) & {orjson.loads(r)["pin"] for r in seeded.records()}

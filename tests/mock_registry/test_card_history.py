"""Identity documents by the law of their issue date, and CMND numbers by issuing area."""

from __future__ import annotations

import random
from datetime import date, timedelta

import pytest

from sim06.mock_registry import admin_units, card_history, cards, cmnd, ids

AS_OF = date(2026, 7, 1)


@pytest.mark.parametrize(
    ("day", "kind"),
    [
        (date(2015, 12, 31), "cmnd"),
        (date(2016, 1, 1), "cccd_barcode"),
        (date(2020, 12, 31), "cccd_barcode"),
        (date(2021, 1, 1), "cccd_chip"),
        (date(2024, 6, 30), "cccd_chip"),
        (date(2024, 7, 1), "can_cuoc"),
    ],
)
def test_the_law_of_the_issue_date_decides_the_document(day: date, kind: str) -> None:
    assert card_history.regime(day) == kind


def test_no_document_before_14_until_the_2024_law_and_none_after_until() -> None:
    rng = random.Random(3)
    seen: set[str] = set()
    for _ in range(20_000):
        birth = date(1930, 1, 1) + timedelta(days=rng.randrange(35_000))
        until = AS_OF - timedelta(days=rng.randrange(3_000))
        dates = card_history.issue_dates(rng, birth, until)
        assert dates == sorted(dates)
        for issued in dates:
            assert issued <= until
            if issued < cards.NEW_CARD_START:
                assert issued >= cards.birthday(birth, 14), (birth, issued)
            seen.add(card_history.regime(issued))
        if dates and card_history.regime(dates[0]) == "cmnd":
            assert all(card_history.regime(d) != "cmnd" for d in dates[1:])  # one CMND kept
    assert seen == {"cmnd", "cccd_barcode", "cccd_chip", "can_cuoc"}


def test_entries_give_states_on_the_as_of_date() -> None:
    birth = date(1980, 5, 10)
    dates = [date(2010, 3, 1), date(2021, 4, 2), date(2025, 6, 1)]
    entries = card_history.entries(birth, dates, "001080000001", AS_OF, ("012345678", "01", "X"))
    assert [e["kind"] for e in entries] == ["cmnd", "cccd_chip", "can_cuoc"]
    assert [e["state"] for e in entries] == ["replaced", "replaced", "active"]
    assert entries[0]["number"] == "012345678" and entries[1]["number"] == "001080000001"
    assert entries[2]["expiry_date"] == "2040-05-10"  # next milestone: 60
    current = card_history.current_card(entries)
    assert current is not None and current["kind"] == "can_cuoc" and current["status"] == "valid"
    # A CMND lost validity on 31 Dec 2024, whatever its printed date.
    only = card_history.entries(birth, dates[:1], "x", AS_OF, ("012345678", "01", "X"))
    assert only[0]["state"] == "expired" and card_history.current_card(only) is None
    before = card_history.entries(birth, dates[:1], "x", date(2019, 4, 1), ("0", "01", "X"))
    assert before[0]["state"] == "active"


def test_no_biometrics_under_six() -> None:
    birth = date(2022, 3, 1)
    entries = card_history.entries(birth, [date(2025, 1, 2)], "001222000001", AS_OF)
    assert entries[0]["biometrics"] is False
    assert card_history.has_biometrics(birth, date(2028, 3, 1))
    assert not card_history.has_biometrics(birth, date(2028, 2, 29))


def test_every_province_has_cmnd_prefixes_that_agree_with_the_ids_table() -> None:
    codes = {p.code for p in admin_units.legacy_provinces()}
    assert set(cmnd.PREFIXES_BY_PROVINCE) == codes
    for name, code in cmnd.AREA_NAME_CODES.items():
        assert cmnd.PREFIXES_BY_PROVINCE[code] == ids.CMND_AREA_PREFIXES[name]
    assert cmnd.PREFIXES_BY_PROVINCE["79"] == ("02",)  # Ho Chi Minh City: 02..., never 79...


def test_every_cmnd_row_says_how_many_copies_it_was_read_in() -> None:
    two_copies = set(cmnd.AREA_NAME_CODES.values()) | {"75"}  # + Đồng Nai (range note)
    assert not cmnd.SINGLE_COPY & two_copies
    assert cmnd.SINGLE_COPY | two_copies == set(cmnd.PREFIXES_BY_PROVINCE)


def test_cmnd_rows_corrected_from_the_table() -> None:
    assert cmnd.PREFIXES_BY_PROVINCE["15"] == ("15",)  # Yên Bái shares Thái Bình's 15
    assert cmnd.PREFIXES_BY_PROVINCE["19"] == ("090", "091")  # Thái Nguyên
    assert cmnd.PREFIXES_BY_PROVINCE["62"] == ("23",)  # Kon Tum
    # Kon Tum's 23 must not take Gia Lai's 230 and 231.
    assert cmnd.prefix_ok("232123456", "62") and cmnd.prefix_ok("233123456", "62")
    assert not cmnd.prefix_ok("230123456", "62") and not cmnd.prefix_ok("231123456", "62")
    assert cmnd.prefix_ok("231123456", "64") and not cmnd.prefix_ok("232123456", "64")


def test_cmnd_numbers_are_unique_and_carry_their_area_prefix() -> None:
    allocator = cmnd.CmndAllocator(6, reserved={"240000000"})
    numbers = []
    for code in cmnd.PREFIXES_BY_PROVINCE:
        for i in range(300):
            number = allocator.allocate(code, i / 300)
            assert number is not None and len(number) == 9 and number.isdigit()
            assert cmnd.prefix_ok(number, code), (code, number)
            numbers.append(number)
    assert len(set(numbers)) == len(numbers)
    assert "240000000" not in numbers
    assert not cmnd.prefix_ok("245123456", "66")  # reads as Đắk Nông's 245, not Đắk Lắk's 24
    assert cmnd.prefix_ok("245123456", "67")
    assert not cmnd.prefix_ok("790000001", "79")


def test_a_prefix_stops_at_its_limit() -> None:
    """A block's end (a shard's share of a prefix) is kept: None, and no counter spent."""
    allocator = cmnd.CmndAllocator(6)
    allocator.counters = {"280": 10}
    allocator.limits = {"280": 12}
    whole = cmnd.CmndAllocator(6)
    whole.counters = {"280": 10}
    expected = [whole.allocate("74", 0.0), whole.allocate("74", 0.0)]
    assert [allocator.allocate("74", 0.0), allocator.allocate("74", 0.0)] == expected
    assert allocator.allocate("74", 0.0) is None
    assert allocator.allocate("74", 0.5) is None
    assert allocator.counters["280"] == 12
    assert allocator.allocate("79", 0.0) == whole.allocate("79", 0.0)  # other prefixes go on


def test_a_death_or_cancelled_pin_revokes_the_document_in_force() -> None:
    birth = date(1980, 5, 10)
    history = card_history.entries(birth, [date(2021, 4, 2), date(2025, 6, 1)], "p", AS_OF)
    revoked = card_history.revoke_current(history)
    assert revoked is not None
    assert [e["state"] for e in revoked] == ["replaced", "revoked"]
    assert history[-1]["state"] == "active"  # a copy: the stored record is not touched
    expired = card_history.entries(birth, [date(2010, 3, 1)], "p", AS_OF, ("0", "01", "X"))
    assert card_history.revoke_current(expired) == expired  # nothing in force to revoke
    assert card_history.revoke_current(None) is None


def test_iso_date_is_isoformat() -> None:
    # Every day of the years the generator writes, the first years (no zero padding in the
    # table), leap days and the calendar's ends.
    spans = [(date(1, 1, 1), date(1100, 1, 1)), (date(1890, 1, 1), date(2130, 12, 31)),
             (date(9990, 1, 1), date(9999, 12, 31))]  # fmt: skip
    for first, last in spans:
        for ordinal in range(first.toordinal(), last.toordinal() + 1):
            day = date.fromordinal(ordinal)
            assert cards.iso_date(day) == day.isoformat()


def _expiry_by_dates(dues: list[date], issued: date) -> date | None:
    """The rule on dates: the next milestone, or the one after it when the next is within two
    years of the issue (Law on Identification 2023, art. 21); None = for life."""
    later = [due for due in dues if due > issued]
    if not later:
        return None
    if later[0] - issued <= timedelta(days=cards.GRACE_DAYS):
        return later[1] if len(later) > 1 else None
    return later[0]


def _birthday_by_constructor(birth: date, years: int) -> date:
    try:
        return date(birth.year + years, birth.month, birth.day)
    except ValueError:
        return date(birth.year + years, 2, 28)


def test_birthday_and_milestones_match_the_date_constructor() -> None:
    # Every day of the birth years the generator draws, the calendar's first years and the last
    # years a milestone still fits in; 29 February lands on common and leap years alike.
    spans = [(date(1, 1, 1), date(500, 12, 31)), (date(1880, 1, 1), date(2130, 12, 31)),
             (date(9900, 1, 1), date(9939, 12, 31))]  # fmt: skip
    for first, last in spans:
        for ordinal in range(first.toordinal(), last.toordinal() + 1):
            birth = date.fromordinal(ordinal)
            expected = [_birthday_by_constructor(birth, age) for age in cards.MILESTONES]
            assert cards.milestone_ordinals(ordinal) == [due.toordinal() for due in expected]
            for years in (1, 10, 15, 60):
                assert cards.birthday(birth, years) == _birthday_by_constructor(birth, years)
    for birth, years in ((date(9999, 12, 31), 1), (date(9960, 2, 29), 40)):
        with pytest.raises(ValueError):
            cards.birthday(birth, years)


def test_ordinal_helpers_match_the_date_functions() -> None:
    # The generator's documents work on ordinals: the same days as the date functions, over the
    # birth years it draws, the calendar's first years and its last.
    spans = [(date(1, 1, 1), date(400, 12, 31)), (date(1880, 1, 1), date(2130, 12, 31)),
             (date(9930, 1, 1), date(9939, 12, 31))]  # fmt: skip
    rng = random.Random(5)
    for first, last in spans:
        for ordinal in range(first.toordinal(), last.toordinal() + 1):
            day = date.fromordinal(ordinal)
            assert cards.ymd(ordinal) == (day.year, day.month, day.day)
            dues = [_birthday_by_constructor(day, age) for age in cards.MILESTONES]
            for years in (6, 15):
                assert (
                    cards.birthday_ordinal(ordinal, years) == cards.birthday(day, years).toordinal()
                )
            issued = day + timedelta(days=rng.randrange(8000, 60 * 365))
            expiry = _expiry_by_dates(dues, issued)
            due_days = cards.milestone_ordinals(ordinal)
            assert cards.expiry_ordinal(due_days, issued.toordinal()) == (
                0 if expiry is None else expiry.toordinal()
            )
            assert cards.card_expiry(day, issued) == expiry
    assert cards.ymd(date.max.toordinal()) == (9999, 12, 31)

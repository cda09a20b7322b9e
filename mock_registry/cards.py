"""Identity cards (thẻ Căn cước công dân gắn chip / thẻ căn cước): kinds, validity, status.

Validity follows the exchange milestones of the Law on Identification 2023 art. 21 (14, 25, 40
and 60 years of age); a card issued within two years before a milestone stays valid until the
next one; after 60 the card is valid for life (domain §4.2, the algorithm there is [I]).
"""

from __future__ import annotations

from datetime import date
from typing import Final

MILESTONES: Final[tuple[int, ...]] = (14, 25, 40, 60)
GRACE_DAYS: Final = 2 * 365  # "within 2 years before" a milestone

CHIP_CARD_START: Final[date] = date(2021, 1, 1)  # chip CCCD (Circular 06/2021) production began
NEW_CARD_START: Final[date] = date(2024, 7, 1)  # thẻ căn cước (Circular 16/2024)

KIND_CCCD: Final = "cccd_chip"  # Căn cước công dân gắn chip, 2021 - 30 Jun 2024
KIND_CAN_CUOC: Final = "can_cuoc"  # Thẻ căn cước, from 1 Jul 2024

AUTHORITY_CCCD: Final = "Cục Cảnh sát quản lý hành chính về trật tự xã hội"
AUTHORITY_CAN_CUOC: Final = "Bộ Công an"

STATUSES = ("valid", "expired", "lost", "revoked")


def birthday(birth: date, years: int) -> date:
    """The date ``years`` after ``birth`` (29 February falls back to 28 February)."""
    year, month, day = birth.year + years, birth.month, birth.day
    if month == 2 and day == 29 and not _leap(year):
        day = 28
    return _from_ordinal(_ordinal(year, month, day))


# Days before the first of each month (index 1-12) in a common year; tuple[int, ...]: mypyc
# boxes a fixed-length tuple type again at each index.
_DAYS_BEFORE_MONTH: Final[tuple[int, ...]] = (
    0, 0, 31, 59, 90, 120, 151, 181, 212, 243, 273, 304, 334,
)  # fmt: skip
# date.fromordinal, bound once: a third cheaper than the date(y, m, d) constructor, whose
# keyword-argument parsing dominates it (several dates a citizen).
_from_ordinal: Final = date.fromordinal


def _leap(year: int) -> bool:
    return year % 4 == 0 and (year % 100 != 0 or year % 400 == 0)


def _ordinal(year: int, month: int, day: int) -> int:
    """``date(year, month, day).toordinal()`` of a valid date, in integer arithmetic."""
    y = year - 1
    days = y * 365 + y // 4 - y // 100 + y // 400 + _DAYS_BEFORE_MONTH[month] + day
    return days + 1 if month > 2 and _leap(year) else days


# "-MM-DD" of every (month, day) at month * 32 + day: iso_date's table
_MONTH_DAY: Final = tuple(f"-{m:02d}-{d:02d}" for m in range(13) for d in range(32))
# Days in each month (index 1-12) of a common year, for ymd.
_DAYS_IN_MONTH: Final[tuple[int, ...]] = (0, 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31)


def ymd(ordinal: int) -> tuple[int, int, int]:
    """``(year, month, day)`` of ``date.fromordinal(ordinal)``, in integer arithmetic (CPython's
    ``ord_to_ymd``): no date object, no attribute reads."""
    n = ordinal - 1
    n400, n = n // 146_097, n % 146_097  # days in 400 years
    n100, n = n // 36_524, n % 36_524  # in 100 years
    n4, n = n // 1461, n % 1461  # in 4 years
    n1, n = n // 365, n % 365
    year = n400 * 400 + 1 + n100 * 100 + n4 * 4 + n1
    if n1 == 4 or n100 == 4:  # the last day of a leap year
        return year - 1, 12, 31
    leap = n1 == 3 and (n4 != 24 or n100 == 3)
    month = (n + 50) >> 5  # the month or the one after it
    preceding = _DAYS_BEFORE_MONTH[month] + (1 if month > 2 and leap else 0)
    if preceding > n:
        month -= 1
        preceding -= _DAYS_IN_MONTH[month] + (1 if month == 2 and leap else 0)
    return year, month, n - preceding + 1


def birthday_ordinal(ordinal: int, years: int) -> int:
    """``birthday(date.fromordinal(ordinal), years).toordinal()``."""
    year, month, day = ymd(ordinal)
    year += years
    if month == 2 and day == 29 and not _leap(year):
        day = 28
    return _ordinal(year, month, day)


def milestone_ordinals(birth: int) -> list[int]:
    """The birthdays of the exchange milestones (14, 25, 40, 60) of the citizen born on
    ``birth``, as day numbers (``date.toordinal``)."""
    year, month, day = ymd(birth)
    if month == 2 and day == 29:  # the rare case: birthday_ordinal knows 28 February
        return [birthday_ordinal(birth, age) for age in MILESTONES]
    a, b, c, d = MILESTONES
    return [_ordinal(year + a, month, day), _ordinal(year + b, month, day),
            _ordinal(year + c, month, day), _ordinal(year + d, month, day)]  # fmt: skip


def expiry_ordinal(dues: list[int], issued: int) -> int:
    """The expiry of a card issued on day ``issued`` to the holder of the milestones ``dues``
    (:func:`milestone_ordinals`): the next milestone, or the one after it when the next is
    within two years; 0 = valid for life."""
    for i, due in enumerate(dues):
        if due > issued:
            if due - issued <= GRACE_DAYS:
                return dues[i + 1] if i + 1 < len(dues) else 0
            return due
    return 0


# The ISO text of each day of 1800-2299, made on first use: a citizen's record and documents
# name several dates, and most days recur across a shard.
_ISO_FIRST: Final = _ordinal(1800, 1, 1)
_ISO_SPAN: Final = _ordinal(2300, 1, 1) - _ISO_FIRST
_ISO: Final[list[str]] = [""] * _ISO_SPAN


def iso_ordinal(ordinal: int) -> str:
    """``date.fromordinal(ordinal).isoformat()``."""
    i = ordinal - _ISO_FIRST
    if 0 <= i < _ISO_SPAN:
        text = _ISO[i]
        if not text:
            text = _ISO[i] = _iso(ordinal)
        return text
    return _iso(ordinal)


def _iso(ordinal: int) -> str:
    year, month, day = ymd(ordinal)
    if year < 1000:  # the table has no zero padding for the year
        return _from_ordinal(ordinal).isoformat()
    return str(year) + _MONTH_DAY[month * 32 + day]


def iso_date(day: date) -> str:
    """``day.isoformat()``, from :func:`iso_ordinal`'s table (the method's printf-style
    formatting costs several times as much, and the generator writes several dates a citizen)."""
    return iso_ordinal(day.toordinal())


def card_expiry(birth: date, issued: date) -> date | None:
    """Expiry of a card issued on ``issued`` to a citizen born on ``birth``; None = for life."""
    expiry = expiry_ordinal(milestone_ordinals(birth.toordinal()), issued.toordinal())
    return _from_ordinal(expiry) if expiry else None


def card_kind(issued: date) -> str:
    """Which card template was issued on ``issued``."""
    return KIND_CAN_CUOC if issued >= NEW_CARD_START else KIND_CCCD


def issuing_authority(kind: str) -> str:
    """The authority printed on the card."""
    return AUTHORITY_CAN_CUOC if kind == KIND_CAN_CUOC else AUTHORITY_CCCD


def card_status(expiry: date | None, as_of: date, flag: str | None = None) -> str:
    """``flag`` ("lost"/"revoked") wins; otherwise valid until the expiry date inclusive."""
    if flag is not None:
        return flag
    if expiry is not None and expiry < as_of:
        return "expired"
    return "valid"


def last_milestone(birth: date, as_of: date) -> date | None:
    """The most recent exchange milestone reached on or before ``as_of`` (None before 14)."""
    last = None
    for age in MILESTONES:
        due = birthday(birth, age)
        if due <= as_of:
            last = due
    return last

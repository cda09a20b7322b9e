"""A citizen's identity documents over time, each issued under the law in force that day.

Regimes by issue date (domain §4.1-4.2):

============================  ===========================================================
before 1 Jan 2016             9-digit CMND (Decree 05/1999: valid 15 years), from age 14
1 Jan 2016 - 31 Dec 2020      barcode CCCD (Law 59/2014), number = PIN, from age 14
1 Jan 2021 - 30 Jun 2024      chip CCCD (Circular 06/2021), number = PIN, from age 14 only
from 1 Jul 2024               identity card (Law 26/2023, Circular 16/2024), any age on
                              request; under 6 without biometrics (no face, no photo)
============================  ===========================================================

CCCD and identity cards expire at the exchange milestones of :mod:`mock_registry.cards`; the
CMND lost validity on 31 Dec 2024 whatever its printed date. A renewed CMND kept its number, so
the history keeps its last (re)issue before 2016. Shares and delays are [I].

Each entry: ``kind``, ``number``, ``issue_date``, ``expiry_date`` (None = for life),
``issuing_authority``, ``issuing_province_code`` (CMND only), ``biometrics`` (face and
fingerprints collected) and ``state`` on the as-of date: ``active``, ``replaced`` (by the next
entry), ``expired``, ``lost`` or ``revoked``.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from datetime import date
from typing import Any, Final

from sim06.mock_registry import cards

KIND_CMND: Final = "cmnd"
KIND_CCCD_BARCODE: Final = "cccd_barcode"
# The cards with a chip (the record's id_card).
CHIP_KINDS: Final[tuple[str, ...]] = (cards.KIND_CCCD, cards.KIND_CAN_CUOC)

BARCODE_START = date(2016, 1, 1)
CMND_INVALID_AFTER = date(2024, 12, 31)  # Law 26/2023 transitional provisions (domain §2.4)
CMND_YEARS: Final = 15
CAMPAIGN_END = date(2022, 12, 31)  # the 2021-2022 drive to exchange old documents for chip cards
BIOMETRICS_FROM_AGE: Final = 6  # Law 26/2023: nothing collected under 6 (domain §3.3, §4.2)

AUTHORITY_BARCODE: Final = "Cục Cảnh sát đăng ký, quản lý cư trú và dữ liệu quốc gia về dân cư"

NEVER_HOLDS: Final = 0.03  # adults who never had any document [I]
CAMPAIGN_SHARE: Final = 0.80  # CMND holders who exchanged in the 2021-2022 drive [I]
BARCODE_CAMPAIGN_SHARE: Final = 0.50  # barcode CCCD holders who did the same [I]
LATE_SHARE: Final = 0.17  # CMND holders who exchanged in 2023-2024, before it lost validity [I]
NOT_RENEWED: Final = 0.03  # cards not exchanged at a milestone: they expire [I]
CHILD_CARD_SHARE: Final = 0.25  # children 6-13 whose parents asked for a card [I]
INFANT_CARD_SHARE: Final = 0.03  # children under 6 [I]


def regime(day: date) -> str:
    """The document issued on ``day``."""
    if day < BARCODE_START:
        return KIND_CMND
    if day < cards.CHIP_CARD_START:
        return KIND_CCCD_BARCODE
    return cards.KIND_CCCD if day < cards.NEW_CARD_START else cards.KIND_CAN_CUOC


def authority(kind: str, cmnd_area: str = "") -> str:
    """The issuing authority printed on a document of ``kind``."""
    if kind == KIND_CMND:
        return f"Công an {cmnd_area}".strip()
    if kind == KIND_CCCD_BARCODE:
        return AUTHORITY_BARCODE
    return cards.issuing_authority(kind)


def has_biometrics(birth: date, issued: date) -> bool:
    """Whether face and fingerprints were collected for a card issued on ``issued``."""
    return issued >= cards.birthday(birth, BIOMETRICS_FROM_AGE)


# The generator works on ordinals (date.toordinal()): integer arithmetic and comparisons instead
# of date objects, their constructors and attribute reads, a dozen times a citizen. 0 = none.
_BARCODE_START: Final[int] = BARCODE_START.toordinal()
_CHIP_START: Final[int] = cards.CHIP_CARD_START.toordinal()
_NEW_CARD_START: Final[int] = cards.NEW_CARD_START.toordinal()
_CAMPAIGN_END: Final[int] = CAMPAIGN_END.toordinal()
_CMND_INVALID_AFTER: Final[int] = CMND_INVALID_AFTER.toordinal()
_from_ordinal: Final = date.fromordinal


def _between(draw: Callable[[], float], low: int, high: int) -> int:
    """A day of ``low..high`` (ordinals, both included)."""
    return low + int(draw() * (high - low + 1))


def issue_dates(rng: random.Random, birth: date, until: date) -> list[date]:
    """Issue dates of a citizen's documents, oldest first, none after ``until``.

    ``until`` is the as-of date, or the date of death or disappearance.
    """
    due_days = cards.milestone_ordinals(birth.toordinal())
    days = issue_ordinals(rng.random, birth.toordinal(), until.toordinal(), due_days)
    return [_from_ordinal(day) for day in days]


def issue_ordinals(draw: Callable[[], float], birth: int, until: int, dues: list[int]) -> list[int]:
    """:func:`issue_dates` on ordinals; ``dues`` the holder's :func:`cards.milestone_ordinals`;
    ``draw`` the generator's ``random`` method, bound once (no method lookup a draw)."""
    t14 = dues[0]
    if until < t14:
        return _child_card(draw, birth, dues, until)
    if draw() < NEVER_HOLDS:
        return []
    first = t14 + int(draw() ** 2 * 3 * 365)  # most apply soon after 14
    if first > until:
        return []
    out: list[int] = []
    nxt = first
    if first < _BARCODE_START:
        # The last (re)issue before 2016: a renewed CMND kept its number.
        years, end = 0, min(_BARCODE_START, until + 1)
        while cards.birthday_ordinal(first, years + CMND_YEARS) < end:
            years += CMND_YEARS
        last = cards.birthday_ordinal(first, years) if years else first
        out.append(last)
        nxt = _after_cmnd(draw, cards.birthday_ordinal(last, CMND_YEARS))
    while nxt and nxt <= until:
        out.append(nxt)
        nxt = _next_card(draw, dues, nxt)
    return out


def _after_cmnd(draw: Callable[[], float], expiry: int) -> int:
    """When a CMND holder got their first card (0: never did)."""
    if expiry < _CHIP_START:
        return expiry + int(draw() * 180)  # renewed when it expired, as a barcode CCCD
    x = draw()
    if x < CAMPAIGN_SHARE:
        return _between(draw, _CHIP_START, min(expiry, _CAMPAIGN_END))
    if x < CAMPAIGN_SHARE + LATE_SHARE:
        return _between(draw, _CAMPAIGN_END + 1, _CMND_INVALID_AFTER)
    return 0


def _next_card(draw: Callable[[], float], dues: list[int], issued: int) -> int:
    """When the card issued on ``issued`` was replaced (0: never, or not yet decided)."""
    expiry = cards.expiry_ordinal(dues, issued)
    # regime(issued) == KIND_CCCD_BARCODE, without the call
    barcode = _BARCODE_START <= issued < _CHIP_START
    if barcode and draw() < BARCODE_CAMPAIGN_SHARE:
        end = _CAMPAIGN_END if not expiry else min(expiry, _CAMPAIGN_END)
        if end >= _CHIP_START:
            return _between(draw, _CHIP_START, end)
    if not expiry or draw() < NOT_RENEWED:
        return 0
    return expiry + int(draw() ** 3 * 365)


def _child_card(draw: Callable[[], float], birth: int, dues: list[int], until: int) -> list[int]:
    """A child under 14 on ``until``: an identity card on request from 1 July 2024."""
    six = cards.birthday_ordinal(birth, BIOMETRICS_FROM_AGE)
    if until >= six:
        share, low = CHILD_CARD_SHARE, max(_NEW_CARD_START, six)
    else:
        share, low = INFANT_CARD_SHARE, max(_NEW_CARD_START, birth + 30)
    if draw() >= share or until <= low:
        return []
    out = [_between(draw, low, until - 1)]
    nxt = _next_card(draw, dues, out[0])
    while nxt and nxt <= until:
        out.append(nxt)
        nxt = _next_card(draw, dues, nxt)
    return out


def entries(
    birth: date,
    dates: list[date],
    pin: str,
    as_of: date,
    cmnd: tuple[str, str, str] | None = None,
    flag: str | None = None,
    dues: tuple[date, ...] | None = None,
) -> list[dict[str, Any]]:
    """The history entries for ``dates``; ``cmnd`` = (number, issuing province code, its name)
    when the first one is a CMND; ``flag`` ("lost"/"revoked") applies to the last document."""
    due_days = (
        cards.milestone_ordinals(birth.toordinal())
        if not dues
        else [due.toordinal() for due in dues]
    )
    days = [day.toordinal() for day in dates]
    return entries_of_ordinals(birth.toordinal(), days, pin, as_of.toordinal(), cmnd, flag,
                               due_days)  # fmt: skip


def entries_of_ordinals(
    birth: int,
    dates: list[int],
    pin: str,
    as_of: int,
    cmnd: tuple[str, str, str] | None,
    flag: str | None,
    dues: list[int],
) -> list[dict[str, Any]]:
    """:func:`entries` on ordinals; ``dues`` the holder's :func:`cards.milestone_ordinals`."""
    out: list[dict[str, Any]] = []
    last = len(dates) - 1
    for i, issued in enumerate(dates):
        province: str | None
        if issued < _BARCODE_START:  # regime(issued) == KIND_CMND
            kind = KIND_CMND
            number, province, area = cmnd if cmnd is not None else ("", None, "")
            expiry = cards.birthday_ordinal(issued, CMND_YEARS)
            issuer = authority(kind, area)
            lapsed = expiry < as_of or as_of > _CMND_INVALID_AFTER
            state = "expired" if lapsed else "active"
        else:
            # On CCCD and identity cards the number is the PIN (domain §4.1).
            if issued < _CHIP_START:
                kind, issuer = KIND_CCCD_BARCODE, AUTHORITY_BARCODE
            elif issued < _NEW_CARD_START:
                kind, issuer = cards.KIND_CCCD, cards.AUTHORITY_CCCD
            else:
                kind, issuer = cards.KIND_CAN_CUOC, cards.AUTHORITY_CAN_CUOC
            number, province = pin, None
            expiry = cards.expiry_ordinal(dues, issued)
            state = "expired" if expiry and expiry < as_of else "active"
        if i < last:
            state = "replaced"
        elif flag is not None:
            state = flag
        out.append({
            "kind": kind,
            "number": number,
            "issue_date": cards.iso_ordinal(issued),
            "expiry_date": cards.iso_ordinal(expiry) if expiry else None,
            "issuing_authority": issuer,
            "issuing_province_code": province,  # CMND only: pre-2025 code of the issuing police
            # On or after the 14th birthday (dues[0]) is after the 6th: no date to compute
            "biometrics": kind != KIND_CMND
            and (issued >= dues[0] or issued >= cards.birthday_ordinal(birth, BIOMETRICS_FROM_AGE)),
            "state": state,
        })  # fmt: skip
    return out


def revoke_current(history: list[dict[str, Any]] | None) -> list[dict[str, Any]] | None:
    """A copy of ``history`` whose document in force is revoked (a death, a cancelled PIN)."""
    if not history or history[-1]["state"] not in ("active", "lost"):
        return history
    return [*history[:-1], {**history[-1], "state": "revoked"}]


def current_card(history: list[dict[str, Any]]) -> dict[str, Any] | None:
    """The record's ``id_card``: the latest document when it is a chip card, else None."""
    if not history or history[-1]["kind"] not in CHIP_KINDS:
        return None
    last = history[-1]
    return {
        "number": last["number"],
        "kind": last["kind"],
        "issue_date": last["issue_date"],
        "expiry_date": last["expiry_date"],
        "issuing_authority": last["issuing_authority"],
        "status": "valid" if (state := last["state"]) == "active" else state,
    }

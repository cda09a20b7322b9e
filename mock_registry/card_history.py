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
from datetime import date, timedelta
from typing import Any

from sim06.mock_registry import cards
from sim06.mock_registry.cards import iso_date

KIND_CMND = "cmnd"
KIND_CCCD_BARCODE = "cccd_barcode"
CHIP_KINDS = (cards.KIND_CCCD, cards.KIND_CAN_CUOC)  # the cards with a chip (record's id_card)

BARCODE_START = date(2016, 1, 1)
CMND_INVALID_AFTER = date(2024, 12, 31)  # Law 26/2023 transitional provisions (domain §2.4)
CMND_YEARS = 15
CAMPAIGN_END = date(2022, 12, 31)  # the 2021-2022 drive to exchange old documents for chip cards
BIOMETRICS_FROM_AGE = 6  # Law 26/2023: nothing collected under 6 (domain §3.3, §4.2)

_ONE_DAY = timedelta(days=1)

AUTHORITY_BARCODE = "Cục Cảnh sát đăng ký, quản lý cư trú và dữ liệu quốc gia về dân cư"

NEVER_HOLDS = 0.03  # adults who never had any document [I]
CAMPAIGN_SHARE = 0.80  # CMND holders who exchanged in the 2021-2022 drive [I]
BARCODE_CAMPAIGN_SHARE = 0.50  # barcode CCCD holders who did the same [I]
LATE_SHARE = 0.17  # CMND holders who exchanged in 2023-2024, before it lost validity [I]
NOT_RENEWED = 0.03  # cards not exchanged at a milestone: they expire [I]
CHILD_CARD_SHARE = 0.25  # children 6-13 whose parents asked for a card [I]
INFANT_CARD_SHARE = 0.03  # children under 6 [I]


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


_AUTHORITIES = {k: authority(k) for k in (KIND_CCCD_BARCODE, *CHIP_KINDS)}


def has_biometrics(birth: date, issued: date) -> bool:
    """Whether face and fingerprints were collected for a card issued on ``issued``."""
    return issued >= cards.birthday(birth, BIOMETRICS_FROM_AGE)


# day + timedelta(n) spelt date.fromordinal(day.toordinal() + n): the same date for a third of
# the cost (timedelta's constructor parses seven optional arguments), a few times a citizen.
_from_ordinal = date.fromordinal


def _plus(day: date, days: int) -> date:
    """``day + timedelta(days)``."""
    return _from_ordinal(day.toordinal() + days)


def _after(rng: random.Random, day: date, days: int) -> date:
    """``day`` plus ``int(random() * days)`` days."""
    return _from_ordinal(day.toordinal() + int(rng.random() * days))


def _between(rng: random.Random, low: date, high: date) -> date:
    first = low.toordinal()  # (high - low).days + 1 days to draw from
    return _from_ordinal(first + int(rng.random() * (high.toordinal() - first + 1)))


def issue_dates(
    rng: random.Random, birth: date, until: date, dues: tuple[date, ...] | None = None
) -> list[date]:
    """Issue dates of a citizen's documents, oldest first, none after ``until``.

    ``until`` is the as-of date, or the date of death or disappearance; ``dues`` the holder's
    :func:`cards.milestone_dates` when the caller has them already.
    """
    dues = dues or cards.milestone_dates(birth)
    t14 = dues[0]
    if until < t14:
        return _child_card(rng, birth, dues, until)
    if rng.random() < NEVER_HOLDS:
        return []
    first = _plus(t14, int(rng.random() ** 2 * 3 * 365))  # most apply soon after 14
    if first > until:
        return []
    out: list[date] = []
    nxt: date | None = first
    if first < BARCODE_START:
        # The last (re)issue before 2016: a renewed CMND kept its number.
        years, end = 0, min(BARCODE_START, until + _ONE_DAY)
        while cards.birthday(first, years + CMND_YEARS) < end:  # a native call, not bound
            years += CMND_YEARS
        last = cards.birthday(first, years) if years else first
        out.append(last)
        nxt = _after_cmnd(rng, cards.birthday(last, CMND_YEARS))
    while nxt is not None and nxt <= until:
        out.append(nxt)
        nxt = _next_card(rng, dues, nxt)
    return out


def _after_cmnd(rng: random.Random, expiry: date) -> date | None:
    """When a CMND holder got their first card (None: never did)."""
    if expiry < cards.CHIP_CARD_START:
        return _after(rng, expiry, 180)  # renewed when it expired, as a barcode CCCD
    x = rng.random()
    if x < CAMPAIGN_SHARE:
        return _between(rng, cards.CHIP_CARD_START, min(expiry, CAMPAIGN_END))
    if x < CAMPAIGN_SHARE + LATE_SHARE:
        return _between(rng, CAMPAIGN_END + timedelta(days=1), CMND_INVALID_AFTER)
    return None


def _next_card(rng: random.Random, dues: tuple[date, ...], issued: date) -> date | None:
    """When the card issued on ``issued`` was replaced (None: never, or not yet decided)."""
    expiry = cards.expiry_from(dues, issued)
    # regime(issued) == KIND_CCCD_BARCODE, without the call
    barcode = BARCODE_START <= issued < cards.CHIP_CARD_START
    if barcode and rng.random() < BARCODE_CAMPAIGN_SHARE:
        end = CAMPAIGN_END if expiry is None else min(expiry, CAMPAIGN_END)
        if end >= cards.CHIP_CARD_START:
            return _between(rng, cards.CHIP_CARD_START, end)
    if expiry is None or rng.random() < NOT_RENEWED:
        return None
    return _plus(expiry, int(rng.random() ** 3 * 365))


def _child_card(rng: random.Random, birth: date, dues: tuple[date, ...], until: date) -> list[date]:
    """A child under 14 on ``until``: an identity card on request from 1 July 2024."""
    six = cards.birthday(birth, BIOMETRICS_FROM_AGE)
    if until >= six:
        share, low = CHILD_CARD_SHARE, max(cards.NEW_CARD_START, six)
    else:
        share, low = INFANT_CARD_SHARE, max(cards.NEW_CARD_START, birth + timedelta(days=30))
    if rng.random() >= share or until <= low:
        return []
    out = [_between(rng, low, until - timedelta(days=1))]
    nxt = _next_card(rng, dues, out[0])
    while nxt is not None and nxt <= until:
        out.append(nxt)
        nxt = _next_card(rng, dues, nxt)
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
    out: list[dict[str, Any]] = []
    dues = dues or cards.milestone_dates(birth)
    six = cards.birthday(birth, BIOMETRICS_FROM_AGE)
    last = len(dates) - 1
    for i, issued in enumerate(dates):
        kind = regime(issued)
        expiry: date | None
        if kind == KIND_CMND:
            number, province, area = cmnd if cmnd is not None else ("", None, "")
            expiry = cards.birthday(issued, CMND_YEARS)
            issuer = authority(kind, area)
            lapsed = expiry < as_of or as_of > CMND_INVALID_AFTER
            state = "expired" if lapsed else "active"
        else:
            # On CCCD and identity cards the number is the PIN (domain §4.1).
            number, province = pin, None
            expiry = cards.expiry_from(dues, issued)
            issuer = _AUTHORITIES[kind]
            state = "expired" if expiry is not None and expiry < as_of else "active"
        if i < last:
            state = "replaced"
        elif flag is not None:
            state = flag
        out.append({
            "kind": kind,
            "number": number,
            "issue_date": iso_date(issued),
            "expiry_date": None if expiry is None else iso_date(expiry),
            "issuing_authority": issuer,
            "issuing_province_code": province,  # CMND only: pre-2025 code of the issuing police
            "biometrics": kind != KIND_CMND and issued >= six,
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
        "status": {"active": "valid"}.get(last["state"], last["state"]),
    }

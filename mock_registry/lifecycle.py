"""Life events and documents of a synthetic citizen: card history (``card_history``), old CMND,
eID account, contact, blood group, death and disappearance. Shares are [I] unless a comment
cites a source."""

from __future__ import annotations

import random
from collections.abc import Callable
from datetime import date, timedelta
from functools import lru_cache
from typing import Final

from sim06.mock_registry import admin_units, card_history, cards, draws
from sim06.mock_registry.citizen import Person
from sim06.mock_registry.cmnd import CmndAllocator
from sim06.mock_registry.names import normalize_for_match

# Mobile prefixes of the Vietnamese carriers (Viettel, VinaPhone, MobiFone, Vietnamobile, Gmobile).
# Typed tuple[str, ...]: a fixed-length tuple type makes mypyc rebuild the tuple at each index.
MOBILE_PREFIXES: Final[tuple[str, ...]] = (
    "032", "033", "034", "035", "036", "037", "038", "039", "086", "096", "097", "098",
    "081", "082", "083", "084", "085", "088", "091", "094", "070", "076", "077", "078",
    "079", "089", "090", "093", "052", "056", "058", "092", "059", "099",
)  # fmt: skip
# Reserved domains: never a real mailbox.
EMAIL_DOMAINS: Final[tuple[str, ...]] = ("example.com", "example.net", "example.org")
BLOOD_GROUPS = ("O", "B", "A", "AB")
BLOOD_CUM = (0.42, 0.72, 0.93, 1.0)
EVENTS_FROM: Final[date] = date(2021, 7, 1)  # population database in service (§1)
YEAR: Final = 365.2425
_BLOOD: Final[tuple[tuple[str, float], ...]] = tuple(zip(BLOOD_GROUPS, BLOOD_CUM, strict=True))
_BARCODE_START: Final[int] = card_history.BARCODE_START.toordinal()
_from_ordinal: Final = date.fromordinal


@lru_cache(maxsize=65536)  # given x family name pairs repeat across a population
def _email_handle(given: str, family: str) -> str:
    """The part of an e-mail address before the number: name without diacritics or spaces."""
    return normalize_for_match(given + family).lower().replace(" ", "")


class Lifecycle:
    """Applies documents and life events to people, from the generator's random stream."""

    def __init__(
        self,
        rng: random.Random,
        as_of: date,
        seed: int,
        reserved_cmnds: frozenset[str] = frozenset(),
    ) -> None:
        self.rng = rng
        # rng.random bound once: a dozen draws a citizen, none with a method lookup
        self.draw: Callable[[], float] = rng.random
        self.as_of = as_of
        self.as_of_ord = as_of.toordinal()
        self.cmnds = CmndAllocator(seed, reserved_cmnds)
        self._area_names: dict[str, str] = {}  # pre-2025 province code -> name (CMND issuer)

    def apply(self, p: Person) -> None:
        """Documents, eID, contact details, blood group, and maybe death or disappearance.

        Death or disappearance is drawn first: no document is issued after it.
        """
        rng = self.rng
        draw = self.draw
        age = int((self.as_of_ord - p.birth_ordinal) / YEAR)
        death_chance = 0.08 if age >= 80 else 0.02 if age >= 60 else 0.001
        x = draw()
        died = missing = None
        if x < death_chance:
            died = max(self.event_date(), p.birth)
        elif age >= 16 and x < death_chance + 0.0002:
            missing = self.event_date()  # mất tích (declared missing)
        self.documents(p, died or missing or self.as_of)
        if p.card is not None:
            p.eid_level, p.eid_status = self.eid(age)
        if draw() < 0.3:
            x = draw()
            for group, cum in _BLOOD:
                if x <= cum:
                    p.blood_group = group
                    break
        if age >= 15 and draw() < 0.92:
            # f"{tail:07d}" without str.format: 10**7 + tail has a leading 1 and the 7 digits
            p.phone = MOBILE_PREFIXES[int(draw() * 34)] + str(10_000_000 + int(draw() * 1e7))[1:]
        if 15 <= age <= 60 and draw() < 0.35:
            handle = _email_handle(p.name.given, p.name.family)
            p.email = f"{handle}{draws.randint(rng, 1, 9999)}@{EMAIL_DOMAINS[draws.below(rng, 3)]}"
        if age < 14 and p.marital_status != "single":
            p.marital_status = "single"
        if died is not None:
            self.die(p, died)
        elif missing is not None:
            p.status = "missing"
            p.missing_date = missing

    def event_date(self) -> date:
        """A date between the database going live and the as-of date (the two years before an
        earlier as-of date), never after the as-of date."""
        start = EVENTS_FROM if self.as_of > EVENTS_FROM + timedelta(days=365) else None
        if start is None:
            start = self.as_of - timedelta(days=2 * 365)
        span = (self.as_of - start).days
        return start + timedelta(days=int(self.draw() * span))

    def die(self, p: Person, when: date) -> None:
        """Record a death: card revoked, eID account locked."""
        p.status = "deceased"
        p.death_date = max(when, p.birth)
        if p.card is not None:
            p.card["status"] = "revoked"
        if p.card_history and p.card_history[-1]["state"] in ("active", "lost"):
            p.card_history[-1]["state"] = "revoked"
        if p.eid_level:
            p.eid_status = "locked"
        p.phone = None
        p.email = None

    def after_household(self, members: list[Person]) -> None:
        """Keep marital status consistent with a spouse's death."""
        for m in members:
            if m.spouse is not None and m.spouse.status == "deceased" and m.status == "alive":
                m.marital_status = "widowed"

    def documents(self, p: Person, until: date) -> None:
        """CMND, CCCD and identity cards issued up to ``until``, by the law of each issue date;
        the record keeps the whole history, ``cmnd`` and the current chip card (``id_card``)."""
        birth = p.birth_ordinal
        dues = cards.milestone_ordinals(birth)  # all on ordinals: no date objects
        dates = card_history.issue_ordinals(self.draw, birth, until.toordinal(), dues)
        if not dates:
            return
        cmnd = None
        if dates[0] < _BARCODE_START:
            area = self.cmnd_area(p, _from_ordinal(dates[0]))
            p.cmnd = self.cmnds.allocate(area, self.draw())
            if p.cmnd is None:
                # The issuing prefix's numbers are used up (a shard's block of a 3-digit prefix;
                # at national scale Bình Dương's 280, a million numbers, has ~1.3M holders): no
                # 9-digit CMND, the cards start with the first issued from 2016 (the PIN's).
                dates = [d for d in dates if d >= _BARCODE_START]
            else:
                name = self._area_names.get(area)
                if name is None:
                    name = self._area_names[area] = admin_units.legacy_province(area).name
                cmnd = (p.cmnd, area, name)
        x = self.draw()
        if not dates:
            return
        flag = "lost" if x < 0.004 else "revoked" if x < 0.005 else None
        p.card_history = card_history.entries_of_ordinals(
            birth, dates, p.pin, self.as_of_ord, cmnd, flag, dues
        )
        p.card = card_history.current_card(p.card_history)

    @staticmethod
    def cmnd_area(p: Person, issued: date) -> str:
        """Pre-2025 province whose police issued a CMND on ``issued``: where the citizen lived
        then (the household's province if they lived there already, else where the birth was
        registered)."""
        legacy = p.legacy_permanent
        if legacy is not None and p.residence_since is not None and p.residence_since <= issued:
            return str(legacy["province_code"])
        return p.birth_registration["pin_code"][1:]

    def eid(self, age: int) -> tuple[int, str | None]:
        """VNeID account level (0 = none, 1, 2) and status (Decree 69/2024 art. 7)."""
        draw = self.draw
        x = draw()
        if age >= 14:
            level = 2 if x < 0.62 else 1 if x < 0.75 else 0
        elif age >= 6:
            level = 2 if x < 0.15 else 1 if x < 0.25 else 0
        else:
            level = 1 if x < 0.10 else 0
        if level == 0:
            return 0, None
        return level, "locked" if draw() < 0.01 else "active"

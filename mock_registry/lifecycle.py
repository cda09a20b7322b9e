"""Life events and documents of a synthetic citizen: card, old CMND, eID account, contact,
blood group, death and disappearance. Shares are [I] unless a comment cites a source."""

from __future__ import annotations

import random
from datetime import date, timedelta

from mock_registry import cards
from mock_registry.citizen import Person
from mock_registry.names import normalize_for_match

# Mobile prefixes of the Vietnamese carriers (Viettel, VinaPhone, MobiFone, Vietnamobile, Gmobile).
MOBILE_PREFIXES = (
    "032", "033", "034", "035", "036", "037", "038", "039", "086", "096", "097", "098",
    "081", "082", "083", "084", "085", "088", "091", "094", "070", "076", "077", "078",
    "079", "089", "090", "093", "052", "056", "058", "092", "059", "099",
)  # fmt: skip
EMAIL_DOMAINS = ("example.com", "example.net", "example.org")  # reserved: never a real mailbox
BLOOD_GROUPS = ("O", "B", "A", "AB")
BLOOD_CUM = (0.42, 0.72, 0.93, 1.0)
CMND_BORN_BY = 2001  # 14 or older before the 12-digit CCCD replaced the 9-digit CMND (2016)
EVENTS_FROM = date(2021, 7, 1)  # population database in service (§1)
YEAR = 365.2425


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
        self.reserved_cmnds = reserved_cmnds
        self.as_of = as_of
        self.cmnd_counters: dict[str, int] = {}
        # Odd, not a multiple of 5: the affine map below is then a bijection on 0..9,999,999.
        self.cmnd_mult = 7_654_321 + 10 * (seed % 1000)
        self.cmnd_offset = (seed * 2_654_435_761) % 10_000_000

    def apply(self, p: Person) -> None:
        """Card, CMND, eID, contact details, blood group, and maybe death or disappearance."""
        rng = self.rng
        age = int((self.as_of - p.birth).days / YEAR)
        if p.birth.year <= CMND_BORN_BY and rng.random() < 0.75:
            p.cmnd = self.cmnd(p.birth_registration["pin_code"])
        p.card = self.card(p, age)
        if p.card is not None:
            p.eid_level, p.eid_status = self.eid(age)
        if rng.random() < 0.3:
            x = rng.random()
            p.blood_group = next(g for g, c in zip(BLOOD_GROUPS, BLOOD_CUM, strict=True) if x <= c)
        if age >= 15 and rng.random() < 0.92:
            p.phone = MOBILE_PREFIXES[int(rng.random() * 34)] + f"{int(rng.random() * 1e7):07d}"
        if 15 <= age <= 60 and rng.random() < 0.35:
            handle = normalize_for_match(p.name.given + p.name.family).lower().replace(" ", "")
            p.email = f"{handle}{rng.randint(1, 9999)}@{EMAIL_DOMAINS[rng.randrange(3)]}"
        if age < 14 and p.marital_status != "single":
            p.marital_status = "single"
        death_chance = 0.08 if age >= 80 else 0.02 if age >= 60 else 0.001
        x = rng.random()
        if x < death_chance:
            self.die(p, self.event_date())
        elif age >= 16 and x < death_chance + 0.0002:
            p.status = "missing"  # mất tích (declared missing)
            p.missing_date = self.event_date()

    def event_date(self) -> date:
        """A date between the database going live and the as-of date."""
        span = (self.as_of - EVENTS_FROM).days
        return EVENTS_FROM + timedelta(days=int(self.rng.random() * max(1, span)))

    def die(self, p: Person, when: date) -> None:
        """Record a death: card revoked, eID account locked."""
        p.status = "deceased"
        p.death_date = max(when, p.birth)
        if p.card is not None:
            p.card["status"] = "revoked"
        if p.eid_level:
            p.eid_status = "locked"
        p.phone = None
        p.email = None

    def after_household(self, members: list[Person]) -> None:
        """Keep marital status consistent with a spouse's death."""
        for m in members:
            if m.spouse is not None and m.spouse.status == "deceased" and m.status == "alive":
                m.marital_status = "widowed"

    def cmnd(self, pin_code: str) -> str:
        """A unique 9-digit CMND: 2-digit issuing-area prefix + 7 digits (sim06 convention)."""
        area = pin_code[1:]
        while True:
            n = self.cmnd_counters.get(area, 0)
            self.cmnd_counters[area] = n + 1
            number = f"{area}{(n * self.cmnd_mult + self.cmnd_offset) % 10_000_000:07d}"
            if number not in self.reserved_cmnds:
                return number

    def card(self, p: Person, age: int) -> dict[str, object] | None:
        """The current identity card, if the citizen has one (mandatory from 14, §4.2)."""
        rng = self.rng
        as_of = self.as_of
        if age >= 14:
            if rng.random() >= 0.97:
                return None
            due = cards.birthday(p.birth, max(m for m in cards.MILESTONES if m <= age))
            low = max(cards.CHIP_CARD_START, due - timedelta(days=cards.GRACE_DAYS - 1))
            if age >= 16 and rng.random() < 0.03 and low > cards.CHIP_CARD_START:
                low, high = cards.CHIP_CARD_START, low  # a card not exchanged in time: expired
            else:
                high = as_of
        elif age >= 6:
            if rng.random() >= 0.25:
                return None
            low, high = max(cards.NEW_CARD_START, cards.birthday(p.birth, 6)), as_of
        else:
            if rng.random() >= 0.03:
                return None
            low, high = max(cards.NEW_CARD_START, p.birth + timedelta(days=30)), as_of
        span = (high - low).days
        if span <= 0:
            return None
        issued = low + timedelta(days=int(rng.random() * span))
        expiry = cards.card_expiry(p.birth, issued)
        x = rng.random()
        flag = "lost" if x < 0.004 else "revoked" if x < 0.005 else None
        kind = cards.card_kind(issued)
        return {
            "number": p.pin,  # on CCCD and căn cước cards the card number is the PIN (§4.1)
            "kind": kind,
            "issue_date": issued.isoformat(),
            "expiry_date": None if expiry is None else expiry.isoformat(),
            "issuing_authority": cards.issuing_authority(kind),
            "status": cards.card_status(expiry, as_of, flag),
        }

    def eid(self, age: int) -> tuple[int, str | None]:
        """VNeID account level (0 = none, 1, 2) and status (Decree 69/2024 art. 7)."""
        x = self.rng.random()
        if age >= 14:
            level = 2 if x < 0.62 else 1 if x < 0.75 else 0
        elif age >= 6:
            level = 2 if x < 0.15 else 1 if x < 0.25 else 0
        else:
            level = 1 if x < 0.10 else 0
        if level == 0:
            return 0, None
        return level, "locked" if self.rng.random() < 0.01 else "active"

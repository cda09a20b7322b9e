"""Deterministic synthetic population of the population database (CSDLQG về dân cư).

``generate(seed, size)`` yields batches of store rows, household by household: the same seed,
size and as-of date give the same citizens byte for byte on any machine (only ``random.Random``
with a fixed call order and data files shipped in the package are used).

Households are built whole (head, spouse, children, elderly parents) so ages, family names,
parents and spouses are consistent; people are placed by the 2019 census population of their
pre-2025 province; addresses carry post-July-2025 commune codes and, for residence registered
before the reform, the historical province/district/commune codes.
"""

from __future__ import annotations

import random
from collections.abc import Iterator
from datetime import date, timedelta
from typing import Final

import orjson

from sim06.mock_registry import accounts, admin_units, cards, census, draws, ethnicity, names
from sim06.mock_registry.address import AddressBook, pre_reform_address
from sim06.mock_registry.citizen import Person, Shared, record_of
from sim06.mock_registry.ids import SERIAL_SPACE, SerialAllocator, Sex, post_2025_prefix
from sim06.mock_registry.lifecycle import Lifecycle
from sim06.mock_registry.shards import Shard
from sim06.mock_registry.store.base import CitizenRow

REFORM_DATE: Final[date] = date(2025, 7, 1)  # two-level local government (§8)

# Household compositions and their shares [I], tuned so that the 2019 census shape comes out:
# about 24% aged 0-14, 68% aged 15-64 and 8% aged 65+, average household size about 3.5.
# Final (variable-length tuple types): compiled code reads constants from C statics, not from the
# module's dict, and a fixed-length tuple type would be rebuilt as a tuple at each use.
HOUSEHOLD_TYPES: Final[tuple[str, ...]] = (
    "single", "couple", "nuclear", "single_parent", "three_generation", "elderly",
)  # fmt: skip
HOUSEHOLD_WEIGHTS: Final[tuple[float, ...]] = (0.10, 0.11, 0.44, 0.07, 0.21, 0.07)
CHILDREN_COUNTS: Final[tuple[int, ...]] = (1, 2, 3, 4)
CHILDREN_WEIGHTS: Final[tuple[float, ...]] = (0.30, 0.45, 0.18, 0.07)
MALE_AT_BIRTH: Final = 0.527  # sex ratio at birth about 111.5 boys per 100 girls (2019 census)
MIGRANT_SHARE: Final = 0.18  # adults whose birth was registered in another province [I]
_from_ordinal: Final = date.fromordinal  # a C static, not a lookup of `date` in the module dict
_REFORM_ORDINAL: Final[int] = REFORM_DATE.toordinal()


def cumulative(weights: tuple[float, ...] | list[float]) -> list[float]:
    """Cumulative weights for ``random.choices``."""
    total = 0.0
    out = []
    for w in weights:
        total += w
        out.append(total)
    return out


class PopulationGenerator:
    """Builds households of citizens from one seeded random stream."""

    def __init__(
        self,
        seed: int,
        as_of: date,
        reserved_pins: frozenset[str] = frozenset(),
        reserved_cmnds: frozenset[str] = frozenset(),
        shard: Shard | None = None,
    ) -> None:
        """``shard``: generate that shard of a larger population (shards.py); None = one
        stream, as shard 0 of a population of one shard."""
        self.shard = shard
        self.rng = random.Random(seed) if shard is None else shard.rng(seed)
        self.as_of = as_of
        self.as_of_ord = as_of.toordinal()
        self.day_before = as_of - timedelta(days=1)
        # Born on or before it: 18 * 365 days old, no legal representative (once a person)
        self.adult_before = as_of - timedelta(days=18 * 365)
        self.data_as_of = f"{as_of.isoformat()}T00:00:00+07:00"
        first, limit = (0, SERIAL_SPACE) if shard is None else shard.serial_range()
        self.pins = SerialAllocator(seed, reserved_pins, first, limit)
        self.addresses = AddressBook()
        self.life = Lifecycle(self.rng, as_of, seed, reserved_cmnds)
        self.draw = self.life.draw  # rng.random, bound once (no method lookup a draw)
        if shard is not None:
            self.life.cmnds.counters = shard.cmnd_counters()
            self.life.cmnds.limits = shard.cmnd_limits()
        self.quota = census.AgeQuota()  # steers free age choices to the 2019 census pyramid
        provinces = admin_units.legacy_provinces()
        self.province_codes = [p.code for p in provinces]
        self.province_cum = cumulative([float(p.census_2019_population) for p in provinces])
        self.household_cum = cumulative(HOUSEHOLD_WEIGHTS)
        self.children_cum = cumulative(CHILDREN_WEIGHTS)
        self.next_household_id = 1 if shard is None else shard.first_household_id

    # -- people -------------------------------------------------------------------------------

    def _person(
        self,
        sex: Sex,
        age: int,
        eth: str,
        home: str,
        family: str | None = None,
        born_here: bool = True,
    ) -> Person:
        rng = self.rng
        self.quota.add(sex, age)
        day = self.as_of_ord - int(age * 365.2425) - int(self.draw() * 365)
        year = cards.ymd(day)[0]
        if day >= _REFORM_ORDINAL:
            new_code = admin_units.new_province_for_legacy(home).code
            prefix = post_2025_prefix(new_code)
            registration = self.addresses.registration_after_reform(new_code, prefix)
        else:
            where = home
            if not born_here and self.draw() < MIGRANT_SHARE:
                where = draws.pick(rng, self.province_codes, self.province_cum)
            prefix = "0" + where
            registration = self.addresses.registration(where)
        name = names.generate_name(rng, sex, eth, year, family)
        person = Person(self.pins.allocate(prefix, year, sex), name, sex, _from_ordinal(day))
        person.birth_registration = registration
        person.ethnicity = self.addresses.ethnicity(eth)
        return person

    def _couple(
        self, wife_age: int, eth: str, home: str, husband_min_age: int = 18
    ) -> tuple[Person, Person]:
        rng = self.rng
        # Husbands are mostly a few years older [I]; within that, the census quota picks.
        low = max(husband_min_age, wife_age - 2)
        husband_age = self.quota.age(rng, "male", min(low, 100), min(100, max(low, wife_age + 8)))
        husband = self._person("male", husband_age, eth, home, born_here=False)
        wife_eth = eth if self.draw() < 0.95 else ethnicity.pick_ethnicity(rng, home)
        wife = self._person("female", wife_age, wife_eth, home, born_here=False)
        husband.spouse, wife.spouse = wife, husband
        husband.marital_status = wife.marital_status = "married"
        return husband, wife

    def _family_ages(self, count: int, low: int, high: int) -> tuple[list[int], int]:
        """Ages of up to ``count`` children (eldest first) and of their mother, in ``low..high``.

        The youngest child's age comes from the census quota, the mother's follows from it:
        the pyramid's base is set by the children the households actually hold.
        """
        rng = self.rng
        ages = [self.quota.any_age(rng, 0, 17)]
        while len(ages) < count:
            ages.append(ages[-1] + draws.randint(rng, 1, 6))
        while ages[-1] + 19 > high and len(ages) > 1:
            ages.pop()  # the eldest would make the mother too old: a smaller family
        # She had her eldest at 19-32; the quota picks where in that span.
        first = max(low, ages[-1] + 19)
        mother = self.quota.age(
            rng, "female", min(first, high), min(high, max(first, ages[-1] + 32))
        )
        ages.reverse()
        return ages, mother

    def _child_ages(self, parent_age: int, count: int, first: tuple[int, int]) -> list[int]:
        """Ages of up to ``count`` children of a parent aged ``parent_age``, eldest first."""
        rng = self.rng
        ages: list[int] = []
        at_birth = draws.randint(rng, first[0], first[1])
        while len(ages) < count and at_birth <= min(parent_age, 45):
            ages.append(parent_age - at_birth)
            at_birth += draws.randint(rng, 1, 6)
        return ages

    def _children(
        self, father: Person | None, mother: Person, ages: list[int], eth: str, home: str
    ) -> list[Person]:
        kids: list[Person] = []
        family = mother.name.family
        if father is not None:
            family = names.inherited_family(eth, father.name, mother.name)
        for age in ages:
            sex: Sex = "male" if self.draw() < MALE_AT_BIRTH else "female"
            kid = self._person(sex, age, eth, home, family)
            kid.father, kid.mother = father, mother
            kids.append(kid)
        mother.children = list(kids)
        if father is not None:
            father.children = list(kids)
        return kids

    # -- households ---------------------------------------------------------------------------

    def household(self, max_size: int) -> list[Person]:
        """One household of at most ``max_size`` members (a single adult when that is 1)."""
        rng = self.rng
        home = draws.pick(rng, self.province_codes, self.province_cum)
        eth = ethnicity.pick_ethnicity(rng, home)
        kind = "single" if max_size < 5 else draws.pick(rng, HOUSEHOLD_TYPES, self.household_cum)
        members: list[Person]
        head: Person
        quota = self.quota
        if kind == "single":
            sex, age = quota.person(rng, 18, 90)
            head = self._person(sex, age, eth, home, born_here=False)
            members = [head]
        elif kind == "elderly" and quota.share(60, 100) < quota.target_share(60, 100):
            sex, age = quota.person(rng, 60, 100)
            head = self._person(sex, age, eth, home, born_here=False)
            head.marital_status = "widowed"
            members = [head]
        elif kind == "couple":
            husband, wife = self._couple(quota.age(rng, "female", 20, 85), eth, home)
            head = husband if self.draw() < 0.8 else wife
            members = [husband, wife]
        elif kind == "single_parent":
            sex = "female" if self.draw() < 0.8 else "male"
            age = quota.age(rng, sex, 25, 60)
            parent = self._person(sex, age, eth, home, born_here=False)
            parent.marital_status = draws.choice(rng, ("divorced", "widowed", "single"))
            count = draws.pick(rng, CHILDREN_COUNTS, self.children_cum)
            if parent.sex == "female":
                ages = self._child_ages(age, min(count, 3), (19, 32))
                kids = self._children(None, parent, ages, eth, home)
            else:
                kids = self._lone_father_children(parent, age, eth, home, min(count, 3))
            head, members = parent, [parent, *kids]
        else:
            three = kind == "three_generation"
            count = draws.pick(rng, CHILDREN_COUNTS, self.children_cum)
            if quota.share(0, 14) > quota.target_share(0, 14):
                count -= 1  # children above their census share: a smaller family this time
            low, high = (24, 60) if three else (22, 58)
            if count:
                ages, wife_age = self._family_ages(count, low, high)
            else:
                ages, wife_age = [], quota.age(rng, "female", low, high)
            # The father is at least 18 years older than the eldest child.
            husband, wife = self._couple(wife_age, eth, home, max(ages, default=0) + 18)
            kids = self._children(husband, wife, ages, eth, home)
            head = husband if self.draw() < 0.8 else wife
            members = [husband, wife, *kids]
            if three:
                members += self._elderly_parents(head, eth, home)
        members = members[:max_size]
        self._register(head, members, home)
        return members

    def _lone_father_children(
        self, father: Person, age: int, eth: str, home: str, count: int
    ) -> list[Person]:
        kids: list[Person] = []
        for kid_age in self._child_ages(age, count, (21, 35)):
            sex: Sex = "male" if self.draw() < MALE_AT_BIRTH else "female"
            kid = self._person(sex, kid_age, eth, home, father.name.family)
            kid.father = father
            kids.append(kid)
        father.children = list(kids)
        return kids

    def _elderly_parents(self, head: Person, eth: str, home: str) -> list[Person]:
        rng = self.rng
        head_age = self.as_of.year - head.birth.year
        father_age = head_age + draws.randint(rng, 22, 36)
        mother_age = father_age - min(10, max(-2, int(rng.gauss(3.0, 3.0))))
        out: list[Person] = []
        quota = self.quota  # grandparents only while their band is short of its census share
        if mother_age <= 99 and mother_age - head_age >= 19 and quota.wanted("female", mother_age):
            mother = self._person("female", mother_age, eth, home, born_here=False)
            mother.children = [head]
            head.mother = mother
            out.append(mother)
        if father_age <= 97 and self.draw() < 0.6 and quota.wanted("male", father_age):
            father = self._person("male", father_age, eth, home, head.name.family, born_here=False)
            father.children = [head]
            head.father = father
            out.append(father)
        if len(out) == 2:
            out[0].spouse, out[1].spouse = out[1], out[0]
            out[0].marital_status = out[1].marital_status = "married"
        else:
            for parent in out:
                parent.marital_status = "widowed"
        return out

    def _register(self, head: Person, members: list[Person], home: str) -> None:
        """Give the household its id, address, residence dates and each member's life events."""
        rng = self.rng
        household_id = self.next_household_id
        self.next_household_id += 1
        place = self.addresses.household_place(rng, home, census_weighted=True)
        adult_from = (
            max(m.birth for m in members if m is head or m.spouse is head)
            if head.spouse
            else head.birth
        )
        earliest = adult_from.toordinal() + 18 * 365
        since = _from_ordinal(max(earliest, self.as_of_ord - draws.randrange(rng, 1, 30 * 365)))
        since = min(since, self.day_before)
        current = place.address
        if self.as_of < REFORM_DATE:  # the registry then knew only the pre-2025 units
            current = pre_reform_address(place.legacy)
        file_number = f"{current['commune_code']}-{household_id:08d}"
        hometown = self.addresses.hometown(rng, home)
        religion = self.addresses.religion(ethnicity.pick_religion(rng, head.ethnicity["code"]))
        for m in members:
            m.household_id = household_id
            m.head = head
            m.relationship = _relationship(head, m)
            m.residence_file_number = file_number
            m.residence_since = max(since, m.birth)
            m.permanent = current
            m.legacy_permanent = place.legacy if m.residence_since < REFORM_DATE else None
            m.hometown = (
                hometown
                if m.father is not None or m is head
                else self.addresses.hometown(rng, home)
            )
            # A household mostly shares one religion; some members differ [I].
            if m is head or self.draw() < 0.9:
                m.religion = religion
            else:
                m.religion = self.addresses.religion(
                    ethnicity.pick_religion(rng, m.ethnicity["code"])
                )
            if m.father is None and m.mother is None or m.birth <= self.adult_before:
                m.representative = None
            else:
                m.representative = m.father or m.mother
        for m in members:
            self.life.apply(m)
            if m.status == "deceased":  # the census counts the living: refill the band
                sex: Sex = "male" if m.sex == "male" else "female"
                self.quota.remove(sex, int((self.as_of - m.birth).days / 365.2425))
        self.life.after_household(members)
        accounts.settle_household(members, self.as_of)

    def generate(self, size: int, batch: int = 5000) -> Iterator[list[CitizenRow]]:
        """Yield store rows for exactly ``size`` citizens, in batches of about ``batch``."""
        rows: list[CitizenRow] = []
        made = 0
        dumps = orjson.dumps
        join = b"".join
        as_of = self.data_as_of
        # CitizenRow._make without its interpreted frame (once a citizen): the same tuple
        new_row = tuple.__new__
        while made < size:
            members = self.household(size - made)
            shared = Shared()  # the household's records share their references to one another
            for p in members:
                # A copy of exactly the record's length: orjson's own buffer left several times
                # the record's size in heap fragments (~90 MB more per 25,000 rows held). Joined
                # to b"" (two parts: no shortcut returning the original), half the cost of
                # bytes(memoryview(...)).
                record = join((dumps(record_of(p, as_of, shared)), b""))
                row = new_row(CitizenRow, (p.pin, p.cmnd, p.household_id, p.birth_year, record))
                rows.append(row)
            made += len(members)
            _release(members)
            if len(rows) >= batch:
                yield rows
                rows = []
        if rows:
            yield rows


def _release(members: list[Person]) -> None:
    """Break a serialised household's reference cycles (spouses, parents and children point
    at one another) so that reference counting frees it at once, not the cyclic garbage
    collector, whose passes over a growing heap cost a worker noticeable time."""
    for m in members:
        m.head = m.father = m.mother = m.spouse = None
        m.representative = m.eid_representative = None
        m.children = []


def _relationship(head: Person, m: Person) -> str:
    if m is head:
        return "head"
    if m is head.spouse:
        return "spouse"
    if m is head.father:
        return "father"
    if m is head.mother:
        return "mother"
    if m.father is head or m.mother is head or m.mother is head.spouse or m.father is head.spouse:
        return "child"
    return "other"

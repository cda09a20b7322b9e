"""Domain-fidelity figures of a population (issue #16): laws by date, census shape, as-of date.

:func:`measure` reads citizen records (as served or exported) and returns the figures and, for
each floor of the issue, whether it holds. ``scripts/check_domain_fidelity.py`` prints them for
an export; ``tests/mock_registry/test_fidelity.py`` asserts them on a small population.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from sim06.mock_registry import admin_units, card_history, cards, census, cmnd
from sim06.mock_registry.address import URBAN_PREFIXES

REFORM_DATE = date(2025, 7, 1)
BAND_TOLERANCE = 0.15  # each band within 15 % (relative) of its census share
OLD_RANGE = (0.07, 0.09)  # 65+
SEX_RATIO_RANGE = (95.0, 105.0)  # men per 100 women in each decade 20-49
URBAN_TOLERANCE = 0.03  # points
SEX_RATIO_DECADES = ((20, 29), (30, 39), (40, 49))


@dataclass
class Figures:
    """What :func:`measure` found; ``floors`` maps each floor to whether it holds."""

    as_of: date
    citizens: int = 0
    alive: int = 0
    cards_under_14_before_2024: int = 0
    cards_under_6: int = 0
    cards_under_6_with_biometrics: int = 0
    cmnds: int = 0
    cmnd_prefix_wrong: int = 0
    band_share: dict[str, float] = field(default_factory=dict)
    band_census: dict[str, float] = field(default_factory=dict)
    band_worst: tuple[str, float] = ("", 0.0)
    old_share: float = 0.0
    sex_ratio: dict[str, float] = field(default_factory=dict)
    urban_share: float = 0.0
    dated_after_as_of: int = 0
    units_after_as_of: int = 0
    examples: list[str] = field(default_factory=list)
    floors: dict[str, bool] = field(default_factory=dict)


def _age(birth: date, day: date) -> int:
    return day.year - birth.year - ((day.month, day.day) < (birth.month, birth.day))


def _birth(r: dict[str, Any]) -> date:
    return date.fromisoformat(r["date_of_birth"] or f"{r['birth_year']}-07-01")


def _urban(r: dict[str, Any]) -> bool | None:
    legacy = r.get("legacy_permanent_residence")
    if legacy:
        return str(legacy["commune_name"]).startswith(URBAN_PREFIXES)
    place = r.get("permanent_residence")
    if not place or not place.get("commune_code"):
        return None
    try:  # after the reform the current commune says: phường (urban) or xã / đặc khu
        return admin_units.commune(place["commune_code"]).division_type == "phường"
    except KeyError:
        return None


def _is_pre_reform_unit(place: dict[str, Any]) -> bool:
    # New commune codes reuse old ones, so the name must match the pre-2025 unit too.
    try:
        old = admin_units.legacy_commune(place["commune_code"])
    except KeyError:
        return False
    return old.name == place.get("commune_name")


def _dates(r: dict[str, Any]) -> Iterable[str]:
    for key in ("date_of_birth", "residence_since", "date_of_death", "date_missing"):
        if r.get(key):
            yield r[key]
    if r.get("id_card"):
        yield r["id_card"]["issue_date"]
    for entry in r.get("card_history") or ():
        yield entry["issue_date"]


def late_dates(r: dict[str, Any], as_of: date) -> list[str]:
    """Dates in the record after ``as_of`` (birth, residence, death, cards)."""
    iso = as_of.isoformat()
    return [d for d in _dates(r) if d > iso]


def late_units(r: dict[str, Any], as_of: date) -> bool:
    """Whether the record shows a post-2025 unit although ``as_of`` is before the reform."""
    if as_of >= REFORM_DATE:
        return False
    units = [r.get(k) for k in ("permanent_residence", "current_residence")]
    if any(u and not _is_pre_reform_unit(u) for u in units):
        return True
    return bool(r["place_of_birth_registration"].get("scheme") == "post_2025")


def postdates(r: dict[str, Any], as_of: date) -> bool:
    """Whether the record holds anything the registry could not know on ``as_of``."""
    return bool(late_dates(r, as_of)) or late_units(r, as_of)


class _Tally:
    def __init__(self, as_of: date) -> None:
        self.f = Figures(as_of)
        self.bands = census.table().bands
        self.by_band = [[0, 0] for _ in self.bands]  # [male, female]
        self.urban = [0, 0]  # [urban, known]

    def note(self, text: str) -> None:
        if len(self.f.examples) < 10:
            self.f.examples.append(text)

    def add(self, r: dict[str, Any]) -> None:
        f = self.f
        f.citizens += 1
        birth = _birth(r)
        self.cards(r, birth)
        self.as_of_dates(r)
        if r["status"] == "deceased" or r.get("record_type", "citizen") != "citizen":
            return
        f.alive += 1
        age = _age(birth, f.as_of)
        self.by_band[census.band_of(age)][r["sex"] != "male"] += 1
        urban = _urban(r)
        if urban is not None:
            self.urban[0] += urban
            self.urban[1] += 1

    def cards(self, r: dict[str, Any], birth: date) -> None:
        f = self.f
        docs = list(r.get("card_history") or ())
        if not docs and r.get("id_card"):  # a record without history: its current card
            docs = [{**r["id_card"], "biometrics": None}]
        for doc in docs:
            issued = date.fromisoformat(doc["issue_date"])
            age = _age(birth, issued)
            if issued < cards.NEW_CARD_START and age < 14:
                f.cards_under_14_before_2024 += 1
                self.note(f"{r['pin']}: {doc['kind']} issued {issued} at {age}")
            if doc["kind"] in card_history.CHIP_KINDS and age < card_history.BIOMETRICS_FROM_AGE:
                f.cards_under_6 += 1
                if doc.get("biometrics"):
                    f.cards_under_6_with_biometrics += 1
                    self.note(f"{r['pin']}: card issued at {age} with biometrics")
            if doc["kind"] == card_history.KIND_CMND:
                f.cmnds += 1
                area = doc.get("issuing_province_code")
                if area is None or not cmnd.prefix_ok(doc["number"], area):
                    f.cmnd_prefix_wrong += 1
                    self.note(f"{r['pin']}: CMND {doc['number']} issued in province {area}")

    def as_of_dates(self, r: dict[str, Any]) -> None:
        f = self.f
        late = late_dates(r, f.as_of)
        if late:
            f.dated_after_as_of += 1
            self.note(f"{r['pin']}: dated after the as-of date: {late}")
        if late_units(r, f.as_of):
            f.units_after_as_of += 1
            self.note(f"{r['pin']}: a post-2025 unit before the reform")

    def finish(self) -> Figures:
        f = self.f
        alive = max(f.alive, 1)
        worst = ("", 0.0)
        for band, (m, w) in zip(self.bands, self.by_band, strict=True):
            share = (m + w) / alive
            target = band.male_share + band.female_share
            f.band_share[band.label] = share
            f.band_census[band.label] = target
            off = abs(share / target - 1)
            if off > worst[1]:
                worst = (band.label, off)
        f.band_worst = worst
        f.old_share = sum(sum(c) for b, c in zip(self.bands, self.by_band, strict=True)
                          if b.low >= 65) / alive  # fmt: skip
        for low, high in SEX_RATIO_DECADES:
            picked = [c for b, c in zip(self.bands, self.by_band, strict=True)
                      if low <= b.low and b.high <= high]  # fmt: skip
            men, women = sum(c[0] for c in picked), sum(c[1] for c in picked)
            f.sex_ratio[f"{low}-{high}"] = 100 * men / max(women, 1)
        f.urban_share = self.urban[0] / max(self.urban[1], 1)
        f.floors = {
            "no card before 1 Jul 2024 under 14": f.cards_under_14_before_2024 == 0,
            "no biometrics on cards issued under 6": f.cards_under_6_with_biometrics == 0,
            "every CMND prefix from its area's table": f.cmnd_prefix_wrong == 0,
            "5-year bands within 15 % of the census": worst[1] <= BAND_TOLERANCE,
            "65+ between 7 % and 9 %": OLD_RANGE[0] <= f.old_share <= OLD_RANGE[1],
            "sex ratio 95-105 in each decade 20-49": all(
                SEX_RATIO_RANGE[0] <= v <= SEX_RATIO_RANGE[1] for v in f.sex_ratio.values()
            ),
            "urban share within 3 points of 34.4 %": abs(f.urban_share - census.table().urban_share)
            <= URBAN_TOLERANCE,
            "nothing dated after the as-of date": f.dated_after_as_of == 0,
            "no post-2025 unit before the reform": f.units_after_as_of == 0,
        }
        return f


def measure(records: Iterable[dict[str, Any]], as_of: date) -> Figures:
    """Every figure and floor over ``records`` (citizen records as the registry serves them)."""
    tally = _Tally(as_of)
    for r in records:
        tally.add(r)
    return tally.finish()

"""Addresses of synthetic citizens: post-2025 communes, pre-2025 codes, hometowns.

Every address carries the post-July-2025 province and commune codes; an address registered
before the reform also has its historical province/district/commune codes (domain §8.1 [I]:
records keep historical codes, current ones were migrated). Dicts are cached per code and shared
between citizens: the JSON encoder does not care, and a million records stay cheap.
"""

from __future__ import annotations

import json
import math
import random
from dataclasses import dataclass
from functools import cache
from importlib import resources
from typing import Any, Final

from sim06.mock_registry import admin_units, census, draws, ethnicity

SOUTH_FROM: Final = 48  # legacy province codes from Đà Nẵng southwards write alleys as "hẻm" / "Ấp"
HOMETOWN_ELSEWHERE: Final = 0.15  # share whose quê quán is not the province they live in [I]
_Communes = tuple[admin_units.LegacyCommune, ...]
# Urban units of the 2019 census: wards and towns.
URBAN_PREFIXES: Final[tuple[str, ...]] = ("Phường", "Thị trấn")


def is_urban(commune: admin_units.LegacyCommune) -> bool:
    """Whether a pre-2025 commune is urban in the census sense (phường or thị trấn)."""
    return commune.name.startswith(URBAN_PREFIXES)


@cache
def urban_weight() -> float:
    """How many times more people live in an urban commune than in a rural one, chosen so that
    the provinces, weighted by their 2019 population, are 34.4 % urban as in the census."""
    rows = []
    for p in admin_units.legacy_provinces():
        communes = admin_units.legacy_communes_of(p.code)
        urban = sum(is_urban(c) for c in communes)
        rows.append((p.census_2019_population, urban, len(communes) - urban))
    total = sum(pop for pop, _, _ in rows)
    target = census.table().urban_share

    def share(w: float) -> float:
        return sum(pop * w * u / (w * u + r) for pop, u, r in rows if u + r) / total

    low, high = 0.01, 100.0
    for _ in range(60):  # bisection: the share grows with the weight
        mid = math.sqrt(low * high)
        low, high = (mid, high) if share(mid) < target else (low, mid)
    return math.sqrt(low * high)


@cache
def streets() -> tuple[str, ...]:
    """Street names (frozen from Faker's vi_VN provider, see scripts/build_streets.py)."""
    text = resources.files("sim06.mock_registry").joinpath("data/streets.json").read_text("utf-8")
    return tuple(json.loads(text)["streets"])


@dataclass(frozen=True, slots=True, init=False)
class Place:
    """Where a household lives: the current address and, if any, its pre-2025 form."""

    commune_code: str
    address: dict[str, Any]
    legacy: dict[str, Any]

    def __init__(self, commune_code: str, address: dict[str, Any], legacy: dict[str, Any]) -> None:
        # The dataclass's __init__ written out: compiled, not generated (once a household).
        object.__setattr__(self, "commune_code", commune_code)
        object.__setattr__(self, "address", address)
        object.__setattr__(self, "legacy", legacy)


class AddressBook:
    """Builds and caches address fragments for the generator and the personas."""

    def __init__(self) -> None:
        self._registration: dict[str, dict[str, str]] = {}
        self._hometown: dict[str, dict[str, str]] = {}
        self._ethnicity: dict[str, dict[str, str]] = {}
        self._religion: dict[str, dict[str, str]] = {}
        self._legacy_communes: dict[str, _Communes] = {}
        # Per legacy province: urban communes, rural communes, chance of an urban household.
        self._urban_rural: dict[str, tuple[_Communes, _Communes, float]] = {}
        # A commune's address with an empty detail, by commune code (current / pre-2025 units):
        # a household's address is a copy with its detail filled in (see _current, _legacy).
        self._current_heads: dict[str, dict[str, Any]] = {}
        self._legacy_heads: dict[str, dict[str, Any]] = {}
        provinces = admin_units.legacy_provinces()
        self._codes = [p.code for p in provinces]
        total = 0.0
        self._cum: list[float] = []
        for p in provinces:
            total += p.census_2019_population
            self._cum.append(total)
        self._streets = streets()

    def registration(self, legacy_code: str) -> dict[str, str]:
        """Place of birth registration (nơi đăng ký khai sinh) in a pre-2025 province."""
        found = self._registration.get(legacy_code)
        if found is None:
            p = admin_units.legacy_province_by_pin_code("0" + legacy_code)
            found = {
                "pin_code": p.pin_code,
                "province_code": p.code,
                "province_name": p.name,
                "scheme": "pre_2025",
            }
            self._registration[legacy_code] = found
        return found

    def registration_after_reform(self, new_code: str, pin_code: str) -> dict[str, str]:
        """Place of birth registration for a birth registered from 1 July 2025."""
        key = "n" + new_code
        found = self._registration.get(key)
        if found is None:
            found = {
                "pin_code": pin_code,
                "province_code": new_code,
                "province_name": admin_units.province(new_code).short_name,
                "scheme": "post_2025",
            }
            self._registration[key] = found
        return found

    def hometown(self, rng: random.Random, home: str) -> dict[str, str]:
        """Quê quán: usually the province the family lives in, sometimes elsewhere."""
        code = home
        if rng.random() < HOMETOWN_ELSEWHERE:
            code = draws.pick(rng, self._codes, self._cum)
        found = self._hometown.get(code)
        if found is None:
            p = admin_units.legacy_province_by_pin_code("0" + code)
            found = {"province_code": p.code, "province_name": p.name, "scheme": "pre_2025"}
            self._hometown[code] = found
        return found

    def ethnicity(self, code: str) -> dict[str, str]:
        """``{code, name}`` of an ethnic group (dân tộc)."""
        found = self._ethnicity.get(code)
        if found is None:
            found = {"code": code, "name": ethnicity.ethnic_group(code).name}
            self._ethnicity[code] = found
        return found

    def religion(self, code: str) -> dict[str, str]:
        """``{code, name}`` of a religion (tôn giáo)."""
        found = self._religion.get(code)
        if found is None:
            found = {"code": code, "name": ethnicity.religion(code).name}
            self._religion[code] = found
        return found

    def household_place(
        self, rng: random.Random, home: str, census_weighted: bool = False
    ) -> Place:
        """A household address in pre-2025 province ``home``, with both code systems.

        ``census_weighted``: urban communes weigh more, so that households are urban in the
        2019 census share (the generator); otherwise every commune is equally likely (the
        personas, whose addresses are pinned).
        """
        if census_weighted:
            communes = self._census_communes(rng, home)
        else:
            communes = self._legacy_communes.get(home) or admin_units.legacy_communes_of(home)
            self._legacy_communes[home] = communes
        old = communes[int(rng.random() * len(communes))]
        if old.new_commune_code is not None:
            new = admin_units.commune(old.new_commune_code)
        else:
            options = admin_units.new_communes_for_legacy_province(home)
            new = options[draws.below(rng, len(options))]
        detail = self.detail(rng, new.division_type, int(home))
        return Place(new.code, self._current(new, detail), self._legacy(old, detail))

    def _current(self, commune: admin_units.Commune, detail: str) -> dict[str, Any]:
        """:func:`current_address`, from a copy of the commune's (no lookups, no key inserts)."""
        head = self._current_heads.get(commune.code)
        if head is None:
            head = self._current_heads[commune.code] = current_address(commune, "")
        found = head.copy()
        found["detail"] = detail
        found["full"] = detail + head["full"]  # ", commune, province" after an empty detail
        return found

    def _legacy(self, commune: admin_units.LegacyCommune, detail: str) -> dict[str, Any]:
        """:func:`legacy_address`, from a copy of the commune's."""
        head = self._legacy_heads.get(commune.code)
        if head is None:
            head = self._legacy_heads[commune.code] = legacy_address(commune, "")
        found = head.copy()
        found["detail"] = detail
        return found

    def _census_communes(self, rng: random.Random, home: str) -> _Communes:
        split = self._urban_rural.get(home)
        if split is None:
            everything = admin_units.legacy_communes_of(home)
            urban = tuple(c for c in everything if is_urban(c))
            rural = tuple(c for c in everything if not is_urban(c))
            w = urban_weight() * len(urban)
            split = (urban, rural, w / (w + len(rural)))
            self._urban_rural[home] = split
        urban, rural, urban_chance = split
        return urban if rng.random() < urban_chance and urban or not rural else rural

    def detail(self, rng: random.Random, division_type: str, legacy_code: int) -> str:
        """House number and street, or hamlet, in the local style (chi tiết địa chỉ)."""
        south = legacy_code >= SOUTH_FROM
        if division_type == "phường":
            street = self._streets[int(rng.random() * len(self._streets))]
            number = draws.randint(rng, 1, 420)
            if rng.random() < 0.35:
                alley = draws.randint(rng, 2, 250)
                return (
                    f"{alley}/{number} {street}" if south else f"Số {number}, ngõ {alley} {street}"
                )
            return f"Số {number} {street}"
        hamlet = "Ấp" if south else ("Bản" if legacy_code in _MOUNTAIN else "Thôn")
        return f"{hamlet} {draws.randint(rng, 1, 15)}"

    def current_address(self, commune: admin_units.Commune, detail: str) -> dict[str, Any]:
        """Address in post-2025 units (province + commune, no district)."""
        return current_address(commune, detail)


def current_address(commune: admin_units.Commune, detail: str) -> dict[str, Any]:
    """Address in post-2025 units (province + commune, no district): the record's shape."""
    province = admin_units.province(commune.province_code)
    return {
        "country": "VN",
        "province_code": province.code,
        "province_name": province.short_name,
        "commune_code": commune.code,
        "commune_name": commune.name,
        "detail": detail,
        "full": f"{detail}, {commune.name}, {province.short_name}",
    }


def pre_reform_address(legacy: dict[str, Any]) -> dict[str, Any]:
    """A pre-2025 address in the record's current-address shape: what the registry showed
    before 1 July 2025 (province and commune codes of the 63-province units)."""
    return {
        "country": "VN",
        "province_code": legacy["province_code"],
        "province_name": legacy["province_name"],
        "commune_code": legacy["commune_code"],
        "commune_name": legacy["commune_name"],
        "detail": legacy["detail"],
        "full": ", ".join(
            (legacy["detail"], legacy["commune_name"], legacy["district_name"],
             legacy["province_name"])
        ),
    }  # fmt: skip


def legacy_address(commune: admin_units.LegacyCommune, detail: str) -> dict[str, Any]:
    """Address in pre-2025 units (province, district, commune: 2/3/5-digit statistics codes)."""
    district = admin_units.legacy_district(commune.district_code)
    province = admin_units.legacy_province_by_pin_code("0" + commune.province_code)
    return {
        "country": "VN",
        "province_code": province.code,
        "province_name": province.name,
        "district_code": district.code,
        "district_name": district.name,
        "commune_code": commune.code,
        "commune_name": commune.name,
        "detail": detail,
    }


# Northern mountain provinces (pre-2025 codes) where villages are "bản".
_MOUNTAIN: Final[set[int]] = {2, 4, 6, 8, 10, 11, 12, 14, 15, 17, 20}

"""Vietnamese administrative units (đơn vị hành chính), before and after 1 July 2025.

Reads ``mock_registry/data/admin_units.json`` (built by ``scripts/build_admin_units.py`` from the
statistics-office catalogue) once, lazily, and answers lookups from dictionaries.

Two generations coexist in population records (domain file §8):

- current units: 34 provinces/centrally-run cities and 3,321 communes (xã, phường, đặc khu);
  the district level no longer exists;
- legacy units: 63 provinces, 696 districts and 10,051 communes. Historical addresses keep
  these codes, and the first three digits of a personal ID number are ``"0"`` + the legacy
  province code of birth registration (Circular 07/2016 Appendix I). New province codes reuse
  old codes of *different* territories, so never read an ID prefix as a current province.

All codes are zero-padded strings ("01", "001", "00004"); unknown codes raise ``KeyError``.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import cache
from importlib.resources import files
from typing import Any, TypeVar

__all__ = [
    "Commune",
    "LegacyCommune",
    "LegacyDistrict",
    "LegacyProvince",
    "Province",
    "birth_registration_pin_codes",
    "commune",
    "communes_of",
    "legacy_commune",
    "legacy_communes_of",
    "legacy_district",
    "legacy_districts_of",
    "legacy_province",
    "legacy_province_by_pin_code",
    "legacy_provinces",
    "new_communes_for_legacy_province",
    "new_province_for_legacy",
    "province",
    "provinces",
]

_DATA_FILE = "admin_units.json"
_T = TypeVar("_T")


@dataclass(frozen=True, slots=True)
class Province:
    """A provincial unit in force since 1 July 2025 (tỉnh / thành phố trực thuộc trung ương)."""

    code: str  # 2 digits, statistics-office code
    name: str  # "Thành phố Hà Nội"
    short_name: str  # "Hà Nội"
    division_type: str  # "tỉnh" or "thành phố trung ương", as in the catalogue


@dataclass(frozen=True, slots=True)
class Commune:
    """A commune-level unit in force since 1 July 2025 (xã, phường, đặc khu)."""

    code: str  # 5 digits
    name: str
    division_type: str  # "xã", "phường" or "đặc khu"
    province_code: str


@dataclass(frozen=True, slots=True)
class LegacyProvince:
    """One of the 63 provinces before 1 July 2025; its pin_code prefixes personal ID numbers."""

    code: str  # 2 digits
    pin_code: str  # 3 digits, "0" + code: birth-registration prefix of the personal ID number
    name: str
    new_province_codes: tuple[str, ...]  # current province(s) holding its territory, main first
    census_2019_population: int


@dataclass(frozen=True, slots=True)
class LegacyDistrict:
    """A district-level unit before 1 July 2025 (quận, huyện, thị xã, thành phố thuộc tỉnh)."""

    code: str  # 3 digits
    name: str
    province_code: str  # legacy province


@dataclass(frozen=True, slots=True)
class LegacyCommune:
    """A commune-level unit before 1 July 2025 (xã, phường, thị trấn)."""

    code: str  # 5 digits
    name: str
    district_code: str
    province_code: str  # legacy province
    new_commune_code: str | None  # current commune containing it; None if the mapping lacks it


@dataclass(frozen=True, slots=True)
class _Tables:
    provinces: dict[str, Province]
    communes: dict[str, Commune]
    communes_by_province: dict[str, tuple[Commune, ...]]
    legacy_provinces: dict[str, LegacyProvince]
    legacy_by_pin_code: dict[str, LegacyProvince]
    legacy_districts: dict[str, LegacyDistrict]
    legacy_districts_by_province: dict[str, tuple[LegacyDistrict, ...]]
    legacy_communes: dict[str, LegacyCommune]
    legacy_communes_by_province: dict[str, tuple[LegacyCommune, ...]]
    new_communes_by_legacy_province: dict[str, tuple[Commune, ...]]


def _group(items: list[_T], key: str, keys: list[str]) -> dict[str, tuple[_T, ...]]:
    groups: dict[str, list[_T]] = {k: [] for k in keys}
    for item in items:
        groups[getattr(item, key)].append(item)
    return {k: tuple(v) for k, v in groups.items()}


@cache
def _tables() -> _Tables:
    raw: dict[str, Any] = json.loads(
        files("sim06.mock_registry").joinpath("data", _DATA_FILE).read_text(encoding="utf-8")
    )
    provinces = [
        Province(r["code"], r["name"], r["short_name"], r["division_type"])
        for r in raw["provinces"]
    ]
    communes = [
        Commune(r["code"], r["name"], r["division_type"], r["province_code"])
        for r in raw["communes"]
    ]
    legacy = [
        LegacyProvince(
            r["code"],
            r["pin_code"],
            r["name"],
            tuple(r["new_province_codes"]),
            r["census_2019_population"],
        )
        for r in raw["legacy_provinces"]
    ]
    districts = [
        LegacyDistrict(r["code"], r["name"], r["province_code"]) for r in raw["legacy_districts"]
    ]
    legacy_communes = [
        LegacyCommune(
            r["code"], r["name"], r["district_code"], r["province_code"], r["new_commune_code"]
        )
        for r in raw["legacy_communes"]
    ]
    commune_index = {c.code: c for c in communes}
    legacy_codes = [p.code for p in legacy]

    # Which current communes hold territory of each legacy province: the reverse of the
    # commune-level mapping, sorted by code.
    new_codes: dict[str, set[str]] = {code: set() for code in legacy_codes}
    for lc in legacy_communes:
        if lc.new_commune_code is not None:
            new_codes[lc.province_code].add(lc.new_commune_code)

    return _Tables(
        provinces={p.code: p for p in provinces},
        communes=commune_index,
        communes_by_province=_group(communes, "province_code", [p.code for p in provinces]),
        legacy_provinces={p.code: p for p in legacy},
        legacy_by_pin_code={p.pin_code: p for p in legacy},
        legacy_districts={d.code: d for d in districts},
        legacy_districts_by_province=_group(districts, "province_code", legacy_codes),
        legacy_communes={c.code: c for c in legacy_communes},
        legacy_communes_by_province=_group(legacy_communes, "province_code", legacy_codes),
        new_communes_by_legacy_province={
            code: tuple(commune_index[c] for c in sorted(codes))
            for code, codes in new_codes.items()
        },
    )


def _lookup(table: dict[str, _T], code: str, what: str) -> _T:
    try:
        return table[code]
    except KeyError:
        raise KeyError(f"unknown {what} code {code!r}") from None


def provinces() -> tuple[Province, ...]:
    """The 34 current provincial units, sorted by code."""
    return tuple(_tables().provinces.values())


def province(code: str) -> Province:
    """The current province with this 2-digit code."""
    return _lookup(_tables().provinces, code, "province")


def communes_of(province_code: str) -> tuple[Commune, ...]:
    """The current communes of a current province, sorted by code."""
    return _lookup(_tables().communes_by_province, province_code, "province")


def commune(code: str) -> Commune:
    """The current commune with this 5-digit code."""
    return _lookup(_tables().communes, code, "commune")


def legacy_provinces() -> tuple[LegacyProvince, ...]:
    """The 63 pre-2025 provinces, sorted by code."""
    return tuple(_tables().legacy_provinces.values())


def legacy_province(code: str) -> LegacyProvince:
    """The pre-2025 province with this 2-digit code."""
    return _lookup(_tables().legacy_provinces, code, "legacy province")


def legacy_province_by_pin_code(pin_code: str) -> LegacyProvince:
    """The pre-2025 province for a 3-digit ID-number prefix (mã tỉnh nơi đăng ký khai sinh)."""
    return _lookup(_tables().legacy_by_pin_code, pin_code, "birth-registration")


def birth_registration_pin_codes() -> frozenset[str]:
    """The 63 valid province prefixes of personal ID numbers ("001" … "096")."""
    return frozenset(_tables().legacy_by_pin_code)


def legacy_district(code: str) -> LegacyDistrict:
    """The pre-2025 district with this 3-digit code."""
    return _lookup(_tables().legacy_districts, code, "legacy district")


def legacy_districts_of(legacy_province_code: str) -> tuple[LegacyDistrict, ...]:
    """The pre-2025 districts of a pre-2025 province, sorted by code.

    A few island districts (e.g. Côn Đảo, Bạch Long Vĩ) had no communes.
    """
    return _lookup(_tables().legacy_districts_by_province, legacy_province_code, "legacy province")


def legacy_commune(code: str) -> LegacyCommune:
    """The pre-2025 commune with this 5-digit code."""
    return _lookup(_tables().legacy_communes, code, "legacy commune")


def legacy_communes_of(legacy_province_code: str) -> tuple[LegacyCommune, ...]:
    """The pre-2025 communes of a pre-2025 province, sorted by code."""
    return _lookup(_tables().legacy_communes_by_province, legacy_province_code, "legacy province")


def new_province_for_legacy(legacy_code: str) -> Province:
    """The current province holding (most of) a pre-2025 province's territory."""
    legacy = legacy_province(legacy_code)
    return province(legacy.new_province_codes[0])


def new_communes_for_legacy_province(legacy_code: str) -> tuple[Commune, ...]:
    """Current communes containing territory of a pre-2025 province, sorted by code.

    Useful to give a citizen registered in old province X a plausible current address.
    """
    return _lookup(_tables().new_communes_by_legacy_province, legacy_code, "legacy province")

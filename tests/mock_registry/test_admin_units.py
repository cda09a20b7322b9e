"""Tests for mock_registry/admin_units.py and its shipped data file."""

from __future__ import annotations

import ast
import dataclasses
import json
import time
import unicodedata
from collections import Counter
from pathlib import Path

import pytest

import sim06.mock_registry as mock_registry
from sim06.mock_registry import admin_units as au

PACKAGE_DIR = Path(mock_registry.__file__).parent
DATA_FILE = PACKAGE_DIR / "data" / "admin_units.json"


# --- counts ---------------------------------------------------------------------------


def test_current_units_counts() -> None:
    assert len(au.provinces()) == 34
    all_communes = [c for p in au.provinces() for c in au.communes_of(p.code)]
    assert len(all_communes) == 3321
    assert Counter(c.division_type for c in all_communes) == {
        "xã": 2621,
        "phường": 687,
        "đặc khu": 13,
    }
    assert {p.division_type for p in au.provinces()} == {"tỉnh", "thành phố trung ương"}


def test_legacy_units_counts() -> None:
    legacy = au.legacy_provinces()
    assert len(legacy) == 63
    legacy_communes = [c for p in legacy for c in au.legacy_communes_of(p.code)]
    assert len(legacy_communes) == 10051
    districts = [d for p in legacy for d in au.legacy_districts_of(p.code)]
    assert len(districts) == 696
    # Island districts without a commune level (Bạch Long Vĩ, Cồn Cỏ, Hoàng Sa, Lý Sơn, Côn Đảo).
    without_communes = {d.code for d in districts} - {c.district_code for c in legacy_communes}
    assert without_communes == {"318", "471", "498", "536", "755"}


def test_results_are_sorted_by_code() -> None:
    codes = [p.code for p in au.provinces()]
    assert codes == sorted(codes) and codes[0] == "01" and codes[-1] == "96"
    hanoi = [c.code for c in au.communes_of("01")]
    assert hanoi == sorted(hanoi) and len(hanoi) == 126
    assert len(au.communes_of("79")) == 168
    assert [p.code for p in au.legacy_provinces()] == sorted(p.code for p in au.legacy_provinces())


# --- referential integrity ------------------------------------------------------------


def test_every_commune_belongs_to_an_existing_province() -> None:
    for p in au.provinces():
        for c in au.communes_of(p.code):
            assert c.province_code == p.code
            assert au.commune(c.code) == c
            assert len(c.code) == 5 and c.code.isdigit()


def test_legacy_hierarchy_and_new_commune_codes_exist() -> None:
    unmapped = 0
    for p in au.legacy_provinces():
        for d in au.legacy_districts_of(p.code):
            assert au.legacy_district(d.code) == d and d.province_code == p.code
        for c in au.legacy_communes_of(p.code):
            assert au.legacy_district(c.district_code).province_code == p.code
            if c.new_commune_code is None:
                unmapped += 1
                continue
            new = au.commune(c.new_commune_code)  # raises KeyError if dangling
            assert new.province_code in p.new_province_codes
    # The package's conversion table lacks a few communes merged just before the reform.
    assert unmapped < 50


def test_legacy_province_fields() -> None:
    for p in au.legacy_provinces():
        assert p.pin_code == "0" + p.code
        assert p.new_province_codes, p
        for code in p.new_province_codes:
            au.province(code)


def test_every_current_province_has_legacy_predecessors() -> None:
    targets = {code for p in au.legacy_provinces() for code in p.new_province_codes}
    assert targets == {p.code for p in au.provinces()}


# --- the domain file's examples (§2.3, §8.2) ------------------------------------------


@pytest.mark.parametrize(
    ("pin_code", "legacy_name", "new_code", "new_short_name"),
    [
        ("064", "Tỉnh Gia Lai", "52", "Gia Lai"),  # old Gia Lai -> new Gia Lai (old Bình Định code)
        ("052", "Tỉnh Bình Định", "52", "Gia Lai"),
        ("074", "Tỉnh Bình Dương", "79", "Hồ Chí Minh"),
        ("026", "Tỉnh Vĩnh Phúc", "25", "Phú Thọ"),
        ("001", "Thành phố Hà Nội", "01", "Hà Nội"),
        ("082", "Tỉnh Tiền Giang", "82", "Đồng Tháp"),
    ],
)
def test_legacy_to_new_province(
    pin_code: str, legacy_name: str, new_code: str, new_short_name: str
) -> None:
    legacy = au.legacy_province_by_pin_code(pin_code)
    assert legacy.name == legacy_name
    new = au.new_province_for_legacy(legacy.code)
    assert (new.code, new.short_name) == (new_code, new_short_name)


def test_trap_new_code_is_not_old_territory() -> None:
    # New Gia Lai reuses Bình Định's code 52; legacy 52 is not old Gia Lai.
    assert au.province("52").short_name == "Gia Lai"
    assert au.legacy_province_by_pin_code("052").name == "Tỉnh Bình Định"


def test_domain_sample_commune_luong_hoa() -> None:
    old = au.legacy_commune("09106")
    assert old.name == "Xã Lũng Hoà"
    assert au.legacy_district(old.district_code).name == "Huyện Vĩnh Tường"
    assert old.province_code == "26"  # Vĩnh Phúc
    assert old.new_commune_code == "09106"
    new = au.commune("09106")
    assert (new.name, new.province_code) == ("Xã Vĩnh Thành", "25")


def test_new_communes_for_legacy_province() -> None:
    vinh_phuc = au.new_communes_for_legacy_province("26")
    assert au.commune("09106") in vinh_phuc
    assert {c.province_code for c in vinh_phuc} == {"25"}
    # Phú Thọ now also holds old Phú Thọ and Hòa Bình: Vĩnh Phúc is only part of it.
    assert 0 < len(vinh_phuc) < len(au.communes_of("25"))
    codes = [c.code for c in vinh_phuc]
    assert codes == sorted(codes)
    # Old Bình Dương now lies in Hồ Chí Minh City only.
    assert {c.province_code for c in au.new_communes_for_legacy_province("74")} == {"79"}


def test_pin_codes() -> None:
    pins = au.birth_registration_pin_codes()
    assert len(pins) == 63
    assert {"001", "002", "064", "096"} <= pins
    assert "003" not in pins and "079" in pins and "097" not in pins


# --- lookups --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("func", "code"),
    [
        (au.province, "02"),  # Hà Giang no longer exists as a province
        (au.province, "1"),  # codes are zero-padded strings
        (au.commune, "4"),
        (au.communes_of, "99"),
        (au.legacy_province_by_pin_code, "64"),
        (au.legacy_district, "999"),
        (au.legacy_commune, "99999"),
        (au.legacy_communes_of, "03"),
        (au.legacy_districts_of, "03"),
        (au.new_province_for_legacy, "03"),
        (au.new_communes_for_legacy_province, "99"),
    ],
)
def test_unknown_codes_raise_key_error(func: object, code: str) -> None:
    assert callable(func)
    with pytest.raises(KeyError, match=repr(code)):
        func(code)


def test_province_names() -> None:
    hanoi = au.province("01")
    assert (hanoi.name, hanoi.short_name) == ("Thành phố Hà Nội", "Hà Nội")
    assert hanoi.division_type == "thành phố trung ương"
    assert au.province("79").short_name == "Hồ Chí Minh"
    assert au.province("96").name == "Tỉnh Cà Mau"


def test_dataclasses_are_frozen_and_slotted() -> None:
    p = au.province("01")
    assert not hasattr(p, "__dict__")
    with pytest.raises(dataclasses.FrozenInstanceError):
        p.name = "x"  # type: ignore[misc]
    assert isinstance(au.legacy_province("82").new_province_codes, tuple)


def test_first_load_is_fast() -> None:
    au._tables.cache_clear()
    start = time.perf_counter()
    au.provinces()
    elapsed = time.perf_counter() - start
    assert elapsed < 0.5
    assert au._tables() is au._tables()  # loaded once


# --- data file ------------------------------------------------------------------------


def test_census_2019_totals() -> None:
    total = sum(p.census_2019_population for p in au.legacy_provinces())
    assert abs(total - 96_208_984) < 10_000  # published national total of the 2019 census
    assert au.legacy_province("79").census_2019_population == 8_993_082
    assert au.legacy_province("06").census_2019_population == 313_905  # smallest
    assert min(au.legacy_provinces(), key=lambda p: p.census_2019_population).code == "06"


def test_data_file_is_nfc_sorted_and_cited() -> None:
    text = DATA_FILE.read_text(encoding="utf-8")
    assert unicodedata.normalize("NFC", text) == text
    raw = json.loads(text)
    assert "danhmuchanhchinh.nso.gov.vn" in raw["source"]["administrative_units"]
    assert raw["source"]["data_version"]
    assert raw["notes"]
    for key in ("provinces", "communes", "legacy_provinces", "legacy_districts"):
        codes = [r["code"] for r in raw[key]]
        assert codes == sorted(codes) and len(set(codes)) == len(codes), key
    # One record per line, so that diffs stay readable.
    assert text.count("\n") > 14_000


def test_names_are_nfc() -> None:
    names = [p.name for p in au.provinces()] + [p.name for p in au.legacy_provinces()]
    names += [c.name for p in au.provinces() for c in au.communes_of(p.code)]
    names += [c.name for p in au.legacy_provinces() for c in au.legacy_communes_of(p.code)]
    assert all(unicodedata.normalize("NFC", n) == n for n in names)
    assert all(n == n.strip() and n for n in names)


def test_no_gpl_package_imported_by_mock_registry() -> None:
    offenders = []
    for path in PACKAGE_DIR.rglob("*.py"):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                modules = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom):
                modules = [node.module or ""]
            else:
                continue
            if any(m.split(".")[0] == "vietnam_provinces" for m in modules):
                offenders.append(str(path))
    assert offenders == []

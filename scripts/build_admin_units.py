"""Build ``mock_registry/data/admin_units.json`` from the ``vietnam-provinces`` package.

Build-time only: the package is GPL-3.0-or-later, so nothing under ``mock_registry/`` or
``services/`` may import it. This script extracts the facts (official statistics-office codes
and names) into a plain JSON file that the simulator ships and reads with the standard library.

How to run (the 2026.x data needs Python >= 3.12; use a throwaway venv outside the repo)::

    /root/.pyenv/versions/3.12.1/bin/python3.12 -m venv /tmp/vp312
    /tmp/vp312/bin/pip install vietnam-provinces==2026.9.0
    /tmp/vp312/bin/python scripts/build_admin_units.py          # writes the JSON
    /tmp/vp312/bin/python scripts/build_admin_units.py --check  # exit 1 if the file is stale

The script fails (exit 2) if counts or the legacy -> 2025 province mapping disagree with the
domain file (§2.3, §8), and prints informational notes where names differ.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
import unicodedata
from collections import Counter
from pathlib import Path
from typing import Any

import vietnam_provinces
from vietnam_provinces import Province, Ward
from vietnam_provinces.legacy import (
    District as LegacyDistrict,
    Province as LegacyProvince,
    Ward as LegacyWard,
)

PACKAGE_VERSION = "2026.9.0"
OUTPUT = Path(__file__).resolve().parent.parent / "mock_registry" / "data" / "admin_units.json"

# Domain file §2.3 (Circular 07/2016 Appendix I): legacy code -> (name, post-2025 province).
# Tiền Giang (82) maps to Đồng Tháp only: the package's extra Tây Ninh entry comes from one
# Long An ward (27691, Phường 4, Tân An) mislabelled as province 82 in its conversion table.
DOMAIN_TABLE: dict[str, tuple[str, str]] = {
    "01": ("Hà Nội", "01"), "02": ("Hà Giang", "08"), "04": ("Cao Bằng", "04"),
    "06": ("Bắc Kạn", "19"), "08": ("Tuyên Quang", "08"), "10": ("Lào Cai", "15"),
    "11": ("Điện Biên", "11"), "12": ("Lai Châu", "12"), "14": ("Sơn La", "14"),
    "15": ("Yên Bái", "15"), "17": ("Hòa Bình", "25"), "19": ("Thái Nguyên", "19"),
    "20": ("Lạng Sơn", "20"), "22": ("Quảng Ninh", "22"), "24": ("Bắc Giang", "24"),
    "25": ("Phú Thọ", "25"), "26": ("Vĩnh Phúc", "25"), "27": ("Bắc Ninh", "24"),
    "30": ("Hải Dương", "31"), "31": ("Hải Phòng", "31"), "33": ("Hưng Yên", "33"),
    "34": ("Thái Bình", "33"), "35": ("Hà Nam", "37"), "36": ("Nam Định", "37"),
    "37": ("Ninh Bình", "37"), "38": ("Thanh Hóa", "38"), "40": ("Nghệ An", "40"),
    "42": ("Hà Tĩnh", "42"), "44": ("Quảng Bình", "44"), "45": ("Quảng Trị", "44"),
    "46": ("Thừa Thiên Huế", "46"), "48": ("Đà Nẵng", "48"), "49": ("Quảng Nam", "48"),
    "51": ("Quảng Ngãi", "51"), "52": ("Bình Định", "52"), "54": ("Phú Yên", "66"),
    "56": ("Khánh Hòa", "56"), "58": ("Ninh Thuận", "56"), "60": ("Bình Thuận", "68"),
    "62": ("Kon Tum", "51"), "64": ("Gia Lai", "52"), "66": ("Đắk Lắk", "66"),
    "67": ("Đắk Nông", "68"), "68": ("Lâm Đồng", "68"), "70": ("Bình Phước", "75"),
    "72": ("Tây Ninh", "80"), "74": ("Bình Dương", "79"), "75": ("Đồng Nai", "75"),
    "77": ("Bà Rịa – Vũng Tàu", "79"), "79": ("Hồ Chí Minh City", "79"),
    "80": ("Long An", "80"), "82": ("Tiền Giang", "82"), "83": ("Bến Tre", "86"),
    "84": ("Trà Vinh", "86"), "86": ("Vĩnh Long", "86"), "87": ("Đồng Tháp", "82"),
    "89": ("An Giang", "91"), "91": ("Kiên Giang", "91"), "92": ("Cần Thơ", "92"),
    "93": ("Hậu Giang", "92"), "94": ("Sóc Trăng", "92"), "95": ("Bạc Liêu", "96"),
    "96": ("Cà Mau", "96"),
}  # fmt: skip

# Population on 1 April 2019 by province (GSO, 2019 Population and Housing Census, completed
# results, Dec 2019). National total published: 96,208,984.
CENSUS_2019: dict[str, int] = {
    "01": 8053663, "02": 854679, "04": 530341, "06": 313905, "08": 784811, "10": 730420,
    "11": 598856, "12": 460196, "14": 1248415, "15": 821030, "17": 854131, "19": 1286751,
    "20": 781655, "22": 1320324, "24": 1803950, "25": 1463726, "26": 1154154, "27": 1368840,
    "30": 1892254, "31": 2028514, "33": 1252731, "34": 1860447, "35": 852800, "36": 1780393,
    "37": 982487, "38": 3640128, "40": 3327791, "42": 1288866, "44": 895430, "45": 632375,
    "46": 1128620, "48": 1134310, "49": 1495812, "51": 1231697, "52": 1486918, "54": 872964,
    "56": 1231107, "58": 590467, "60": 1230808, "62": 540438, "64": 1513847, "66": 1869322,
    "67": 622168, "68": 1296606, "70": 994679, "72": 1169165, "74": 2426561, "75": 3097107,
    "77": 1148313, "79": 8993082, "80": 1688547, "82": 1764185, "83": 1288463, "84": 1009168,
    "86": 1022791, "87": 1599504, "89": 1908352, "91": 1723067, "92": 1235171, "93": 733017,
    "94": 1199653, "95": 907236, "96": 1194476,
}  # fmt: skip
CENSUS_2019_NATIONAL_TOTAL = 96_208_984

SOURCE = {
    "administrative_units": (
        "Official administrative-unit catalogue of the National Statistics Office "
        "(Cục Thống kê, danhmuchanhchinh.nso.gov.vn), as packaged by the PyPI package "
        f"vietnam-provinces {PACKAGE_VERSION} (repository sunshine-tech/VietnamProvinces, "
        "GPL-3.0-or-later; used only by scripts/build_admin_units.py, never imported at run time)."
    ),
    "data_version": vietnam_provinces.__data_version__,
    "legacy_to_2025_mapping": (
        "Ward conversion table shipped with the same package (Ward.search_from_legacy), "
        "effective 2025-07-01."
    ),
    "pin_codes": (
        "Circular 07/2016/TT-BCA Appendix I (province codes of birth registration), "
        "domain file §2.3: pin_code = '0' + the 2-digit statistics-office province code."
    ),
    "census_2019_population": (
        "General Statistics Office (Tổng cục Thống kê), 2019 Viet Nam Population and Housing "
        "Census, completed results (population at 00:00 on 1 April 2019, by province); "
        "national total 96,208,984."
    ),
}

NOTES = [
    "Codes are zero-padded strings: provinces 2 digits, districts 3, communes 5.",
    "provinces/communes: units in force since 1 July 2025 (34 provincial, 3,321 commune-level; "
    "no district level). division_type is copied from the data: the 2026 catalogue lists "
    "Quảng Ninh, Bắc Ninh and Đồng Nai as centrally-run cities (domain §8.1, unconfirmed).",
    "legacy_*: units before 1 July 2025 (63 provinces, 696 districts, 10,051 communes). Names are "
    "those of the last pre-reform catalogue (e.g. legacy 46 is 'Thành phố Huế', formerly "
    "Thừa Thiên Huế; old spellings such as 'Hoà' are kept as published).",
    "legacy_communes.new_commune_code: the post-2025 commune containing the old commune. When "
    "an old commune was split across several new ones, the new commune that reused the old "
    "code is chosen, else the first listed by the package. null when the package has no entry "
    "(28 communes, mostly merged or renamed shortly before the reform).",
    "legacy_provinces.new_province_codes: provinces of the new communes of the province's old "
    "communes, most communes first. The package's province table also lists Tây Ninh (80) for "
    "Tiền Giang (82); that comes from one Long An ward (27691) mislabelled as province 82, so "
    "it is not repeated here (Tiền Giang merged into Đồng Tháp as a whole).",
    "census_2019_population: the 63 provincial figures sum to 2,700 more than the published "
    "national total; the discrepancy was not resolved.",
]


def _nfc(text: str) -> str:
    return unicodedata.normalize("NFC", text)


def _short_name(name: str) -> str:
    return re.sub(r"^(Thành phố|Tỉnh) ", "", name)


def _loose(name: str) -> str:
    """Compare names ignoring prefix, tone-mark placement, dashes and diacritics."""
    name = _short_name(name).removesuffix(" City").replace("–", "-")
    stripped = unicodedata.normalize("NFD", name).replace("đ", "d").replace("Đ", "D")
    return "".join(c for c in stripped if not unicodedata.combining(c)).lower()


def _code(value: Any, width: int) -> str:
    return str(int(value)).zfill(width)


def _primary_new_commune(old_code: int) -> tuple[str | None, list[str]]:
    """Return (primary new commune code, all new commune codes) for an old commune."""
    candidates = [_code(hit.ward.code, 5) for hit in Ward.search_from_legacy(code=old_code)]
    if not candidates:
        return None, []
    own = _code(old_code, 5)
    return (own if own in candidates else candidates[0]), candidates


def build() -> tuple[dict[str, Any], list[str]]:
    """Extract all tables; return the document and a list of problems (empty if consistent)."""
    problems: list[str] = []
    provinces = sorted(
        (
            {
                "code": _code(p.code, 2),
                "name": _nfc(p.name),
                "short_name": _nfc(_short_name(p.name)),
                "division_type": str(p.division_type.value),
                "codename": p.codename,
                "phone_code": int(p.phone_code),
            }
            for p in Province.iter_all()
        ),
        key=lambda r: r["code"],
    )
    communes = sorted(
        (
            {
                "code": _code(w.code, 5),
                "name": _nfc(w.name),
                "division_type": str(w.division_type.value),
                "province_code": _code(w.province_code, 2),
            }
            for w in Ward.iter_all()
        ),
        key=lambda r: r["code"],
    )
    legacy_districts = sorted(
        (
            {
                "code": _code(d.code, 3),
                "name": _nfc(d.name),
                "province_code": _code(d.province_code, 2),
            }
            for d in LegacyDistrict.iter_all()
        ),
        key=lambda r: r["code"],
    )
    district_province = {d["code"]: d["province_code"] for d in legacy_districts}
    commune_province = {c["code"]: c["province_code"] for c in communes}

    legacy_communes: list[dict[str, Any]] = []
    new_province_counts: dict[str, Counter[str]] = {}
    for w in LegacyWard.iter_all():
        district_code = _code(w.district_code, 3)
        province_code = district_province[district_code]
        primary, candidates = _primary_new_commune(int(w.code))
        counts = new_province_counts.setdefault(province_code, Counter())
        for candidate in candidates:
            counts[commune_province[candidate]] += 1
        legacy_communes.append(
            {
                "code": _code(w.code, 5),
                "name": _nfc(w.name),
                "district_code": district_code,
                "province_code": province_code,
                "new_commune_code": primary,
            }
        )
    legacy_communes.sort(key=lambda r: r["code"])

    legacy_provinces: list[dict[str, Any]] = []
    for p in LegacyProvince.iter_all():
        code = _code(p.code, 2)
        counts = new_province_counts.get(code, Counter())
        new_codes = [c for c, _ in sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))]
        legacy_provinces.append(
            {
                "code": code,
                "pin_code": "0" + code,
                "name": _nfc(p.name),
                "new_province_codes": new_codes,
                "census_2019_population": CENSUS_2019[code],
            }
        )
        domain_name, domain_new = DOMAIN_TABLE[code]
        if new_codes != [domain_new]:
            problems.append(f"legacy {code}: derived {new_codes}, domain §2.3 says [{domain_new}]")
        package_new = sorted(
            _code(h.province.code, 2) for h in Province.search_from_legacy(code=int(code))
        )
        if package_new != sorted(new_codes):
            print(
                f"note: legacy {code}: package province table {package_new}, communes {new_codes}"
            )
        if _loose(p.name) != _loose(domain_name):
            print(f"note: legacy {code}: package name {p.name!r}, domain §2.3 {domain_name!r}")
    legacy_provinces.sort(key=lambda r: r["code"])

    expected = {
        "provinces": 34,
        "communes": 3321,
        "legacy_provinces": 63,
        "legacy_districts": 696,
        "legacy_communes": 10051,
    }
    tables = {
        "provinces": provinces,
        "communes": communes,
        "legacy_provinces": legacy_provinces,
        "legacy_districts": legacy_districts,
        "legacy_communes": legacy_communes,
    }
    for name, count in expected.items():
        if len(tables[name]) != count:
            problems.append(f"{name}: {len(tables[name])} records, expected {count}")
    if set(DOMAIN_TABLE) != {p["code"] for p in legacy_provinces}:
        problems.append("legacy province codes differ from domain §2.3")
    census_total = sum(CENSUS_2019.values())
    if abs(census_total - CENSUS_2019_NATIONAL_TOTAL) > 10_000:
        problems.append(f"census total {census_total} too far from {CENSUS_2019_NATIONAL_TOTAL}")
    unmapped = sum(1 for c in legacy_communes if c["new_commune_code"] is None)
    print(f"legacy communes without a 2025 commune: {unmapped}")

    document: dict[str, Any] = {"source": SOURCE, "notes": NOTES, **tables}
    return document, problems


def render(document: dict[str, Any]) -> str:
    """Serialise with one record per line so that diffs stay readable."""
    lines = ["{"]
    keys = list(document)
    for index, key in enumerate(keys):
        comma = "," if index < len(keys) - 1 else ""
        value = document[key]
        if isinstance(value, list) and value and isinstance(value[0], dict):
            lines.append(f"  {json.dumps(key)}: [")
            rows = [json.dumps(row, ensure_ascii=False) for row in value]
            lines.extend(f"    {row}," for row in rows[:-1])
            lines.append(f"    {rows[-1]}")
            lines.append(f"  ]{comma}")
        else:
            dumped = json.dumps(value, ensure_ascii=False, indent=2).replace("\n", "\n  ")
            lines.append(f"  {json.dumps(key)}: {dumped}{comma}")
    lines.append("}")
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--output", type=Path, default=OUTPUT)
    parser.add_argument("--check", action="store_true", help="compare instead of writing")
    args = parser.parse_args(argv)

    if vietnam_provinces.__version__ != PACKAGE_VERSION:
        print(
            f"warning: expected vietnam-provinces {PACKAGE_VERSION},"
            f" got {vietnam_provinces.__version__}"
        )
    document, problems = build()
    for problem in problems:
        print(f"error: {problem}", file=sys.stderr)
    if problems:
        return 2
    text = render(document)
    json.loads(text)  # the hand-rolled layout must still be valid JSON
    if args.check:
        current = args.output.read_text(encoding="utf-8") if args.output.exists() else ""
        if current != text:
            print(f"{args.output} is stale; rerun without --check", file=sys.stderr)
            return 1
        print(f"{args.output} is up to date")
        return 0
    args.output.write_text(text, encoding="utf-8")
    print(f"wrote {args.output} ({len(text.encode()):,} bytes)")
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""E-ID accounts of foreigners and organisations (Decree 69/2024/NĐ-CP art. 7, domain §5.1).

They are not in the population database: the electronic identification system keeps them
(``eid_accounts`` table of the store, seeded after the citizens; lookups by identifier).

Identifiers (domain §2.4):

- **Foreigner** — "identification number of foreigners" [V that it exists; structure U]. sim06
  uses 12 digits [I]: ISO 3166-1 numeric code of the nationality (3), the citizens' century/sex
  digit (1), the last two digits of the year of birth (2) and a serial (6). Only nationalities
  whose numeric code is above 096 are drawn, so the number is never a citizen's PIN (whose first
  three digits are a province code 001–096) and the registry tells the two apart.
- **Organisation** — the electronic identification code is the tax code (mã số thuế) [V]; if
  none, the system assigns a number [V] (not generated). sim06 issues 10-digit enterprise tax
  codes [I]: tax department (2: 01 Hà Nội, 02 Hải Phòng, 03 Hồ Chí Minh City, 04 Đà Nẵng),
  serial (7) and the check digit 10 − (Σ dᵢ·wᵢ mod 11) with weights 31 29 23 19 17 13 7 5 3
  (a serial whose check would be 10 is never issued).

Shares [I]: ``FOREIGNER_SHARE`` accounts of foreigners and ``ORGANISATION_SHARE`` candidate tax
codes (10 in 11 are valid) per generated citizen. Levels: foreigners from 6 with a residence card
get level 1, level 2 on request; under 6 level 1 only (on request). An organisation has one
account and no levels (domain §5.1); it is registered by its legal representative from a
level-2 account, and sim06 records it as level 2 (all features) [I].
"""

from __future__ import annotations

import random
from collections.abc import Iterable
from datetime import date, timedelta
from typing import Any, NamedTuple

import orjson

from sim06.mock_registry.address import AddressBook
from sim06.mock_registry.store.base import AccountRow

__all__ = [
    "ACCOUNT_TYPE",
    "FOREIGNER_SHARE",
    "ORGANISATION_SHARE",
    "PERSONAS",
    "AccountRow",
    "SubjectPersona",
    "account_rows",
    "foreigner_id",
    "is_foreigner_id",
    "is_tax_code",
    "kind_of_identifier",
    "tax_code",
]

FOREIGNER_SHARE = 0.001  # accounts of foreigners per generated citizen [I]
ORGANISATION_SHARE = 0.005  # candidate organisation accounts per generated citizen [I]
ACCOUNT_TYPE = {"citizen": "1", "foreigner": "2", "organisation": "3"}  # LoaiTaiKhoan [I]

# ISO 3166-1 numeric, alpha-2, Vietnamese name, weight [I], name order, families, given names.
_NATIONS: tuple[tuple[str, str, str, float, str, tuple[str, ...], tuple[str, ...]], ...] = (
    ("410", "KR", "Hàn Quốc", 0.30, "family-first", ("Kim", "Lee", "Park", "Choi", "Jung"),
     ("Min Jun", "Seo Yeon", "Ji Hoon", "Ha Eun", "Hyun Woo")),
    ("156", "CN", "Trung Quốc", 0.22, "family-first", ("Wang", "Li", "Zhang", "Liu", "Chen"),
     ("Wei", "Fang", "Jun", "Li Na", "Hao")),
    ("392", "JP", "Nhật Bản", 0.14, "family-first", ("Sato", "Suzuki", "Takahashi", "Tanaka"),
     ("Haruto", "Yui", "Ren", "Aoi", "Sota")),
    ("158", "TW", "Đài Loan", 0.10, "family-first", ("Chen", "Lin", "Huang", "Chang"),
     ("Chia Hao", "Yu Ting", "Po Han", "Hsin Yi")),
    ("840", "US", "Hoa Kỳ", 0.07, "given-first", ("Smith", "Johnson", "Brown", "Miller"),
     ("James", "Emily", "Michael", "Sarah", "David")),
    ("764", "TH", "Thái Lan", 0.06, "given-first", ("Saetang", "Srisuk", "Wongsa"),
     ("Somchai", "Malee", "Anan", "Nattaya")),
    ("250", "FR", "Pháp", 0.05, "given-first", ("Martin", "Bernard", "Dubois", "Moreau"),
     ("Louis", "Camille", "Hugo", "Chloé")),
    ("418", "LA", "Lào", 0.06, "given-first", ("Phommachanh", "Vongsa", "Keomany"),
     ("Bounmy", "Souksavanh", "Khamla", "Vilayphone")),
)  # fmt: skip
_NATION_CUM = tuple(sum(n[3] for n in _NATIONS[: i + 1]) for i in range(len(_NATIONS)))
_TAX_OFFICES = (("01", "01", 0.40), ("03", "79", 0.40), ("02", "31", 0.10), ("04", "48", 0.10))
_TAX_WEIGHTS = (31, 29, 23, 19, 17, 13, 7, 5, 3)
_ORG_FORMS = (("Công ty TNHH", "limited_liability"), ("Công ty Cổ phần", "joint_stock"),
              ("Hợp tác xã", "cooperative"), ("Doanh nghiệp tư nhân", "private"))  # fmt: skip
_ORG_WORDS = ("Thương mại", "Xây dựng", "Công nghệ", "Dịch vụ", "Sản xuất", "Vận tải", "Du lịch")
_ORG_NAMES = ("Minh Phát", "Hoàng Long", "Sao Việt", "An Khang", "Thành Công", "Đại Dương",
              "Phú Quý", "Hưng Thịnh", "Bình Minh", "Trường Sơn")  # fmt: skip
_FOREIGN_HOMES = (("01", 0.35), ("79", 0.35), ("31", 0.10), ("48", 0.10), ("74", 0.10))


class SubjectPersona(NamedTuple):
    """A fixed foreigner or organisation account (the identifier never changes)."""

    key: str
    identifier: str
    kind: str
    name: str
    description: str


PERSONAS: tuple[SubjectPersona, ...] = (
    SubjectPersona("foreigner-account", "410085104217", "foreigner", "Kim Min Jun",
                   "Korean resident with a temporary residence card and a level-2 e-ID account "
                   "(foreigner's identification number; LoaiTaiKhoan 2)."),
    SubjectPersona("organisation-account", "0109876518", "organisation",
                   "Công ty TNHH Phần mềm Sao Mai",
                   "Company's e-ID account (identifier = tax code; LoaiTaiKhoan 3), registered "
                   "by its legal representative adult-level2."),
)  # fmt: skip
BY_KEY = {p.key: p for p in PERSONAS}


def century_digit(year: int, sex: str) -> int:
    """The century/sex digit of the citizens' PIN structure (domain §2.2)."""
    return 2 * ((year - 1900) // 100) + (0 if sex == "male" else 1)


def foreigner_id(nation: str, year: int, sex: str, serial: int) -> str:
    """A foreigner's 12-digit identification number (sim06 structure [I])."""
    return f"{nation}{century_digit(year, sex)}{year % 100:02d}{serial:06d}"


_FOREIGN_NATIONS = frozenset(n[0] for n in _NATIONS)


def is_foreigner_id(value: str) -> bool:
    """True for the shape of a foreigner's identification number as sim06 issues it."""
    return len(value) == 12 and value.isdigit() and value[:3] in _FOREIGN_NATIONS


def _tax_check(first9: str) -> int | None:
    rest = sum(int(d) * w for d, w in zip(first9, _TAX_WEIGHTS, strict=True)) % 11
    digit = 10 - rest
    return None if digit == 10 else digit % 10


def tax_code(office: str, serial: int) -> str | None:
    """The 10-digit tax code of ``office`` and ``serial``; None when its check would be 10."""
    first9 = f"{office}{serial:07d}"
    check = _tax_check(first9)
    return None if check is None else f"{first9}{check}"


def is_tax_code(value: str) -> bool:
    """True for a 10-digit tax code whose check digit is right."""
    return len(value) == 10 and value.isdigit() and _tax_check(value[:9]) == int(value[9])


def kind_of_identifier(value: str) -> str | None:
    """``foreigner``, ``organisation`` or None, from the identifier's shape."""
    if is_foreigner_id(value):
        return "foreigner"
    if is_tax_code(value):
        return "organisation"
    return None


def _blank_citizen_fields() -> dict[str, Any]:
    # The claims code reads citizens' fields; an account of another kind has none of them.
    return {
        "cmnd": None, "place_of_birth_registration": None, "hometown": None, "ethnicity": None,
        "religion": None, "blood_group": None, "marital_status": None,
        "permanent_residence": None, "temporary_residence": None, "household": None,
        "father": None, "mother": None, "spouse": None, "legal_representative": None,
        "children": [], "id_card": None, "date_of_death": None, "date_missing": None,
    }  # fmt: skip


def foreigner_record(
    rng: random.Random, identifier_serial: int, as_of: date, book: AddressBook, stamp: str
) -> dict[str, Any]:
    """One foreigner's account record drawn from ``rng``."""
    pick = rng.random() * _NATION_CUM[-1]
    nation = next(n for n, c in zip(_NATIONS, _NATION_CUM, strict=True) if pick <= c)
    code, alpha2, _, _, order, families, givens = nation
    sex = "male" if rng.random() < 0.6 else "female"
    age = rng.randint(0, 17) if rng.random() < 0.08 else int(rng.triangular(18, 70, 34))
    birth = as_of - timedelta(days=int(age * 365.2425) + rng.randrange(365))
    family, given = rng.choice(families), rng.choice(givens)
    full = f"{family} {given}" if order == "family-first" else f"{given} {family}"
    pick = rng.random()
    home = next(h for h, c in _cumulate(_FOREIGN_HOMES) if pick <= c)
    place = book.household_place(rng, home).address
    permanent = rng.random() < 0.1  # thẻ thường trú; else thẻ tạm trú (2 years here [I])
    issued = as_of - timedelta(days=rng.randrange(30, 700))
    level = 1 if age < 6 or rng.random() >= 0.3 else 2
    return {
        "record_type": "foreigner",
        "pin": foreigner_id(code, birth.year, sex, identifier_serial),
        "name": {"family": family, "middle": "", "given": given, "full": full},
        "date_of_birth": birth.isoformat(),
        "birth_year": birth.year,
        "sex": sex,
        "nationality": alpha2,
        **_blank_citizen_fields(),
        "permanent_residence": place if permanent else None,
        "temporary_residence": None if permanent else place,
        "current_residence": place,
        "residence_card": {
            "kind": "permanent" if permanent else "temporary",
            "issue_date": issued.isoformat(),
            "expiry_date": (issued + timedelta(days=(3650 if permanent else 730))).isoformat(),
        },
        "passport": {"country": alpha2, "number": f"{alpha2[0]}{rng.randrange(10**7):07d}"},
        "eid": {"level": level, "status": "locked" if rng.random() < 0.01 else "active"},
        "status": "alive",
        "phone": None if age < 15 else f"09{rng.randrange(10**8):08d}",
        "email": None,
        "data_as_of": stamp,
    }


def organisation_record(
    rng: random.Random, code: str, home: str, representative: dict[str, Any],
    as_of: date, book: AddressBook, stamp: str,
) -> dict[str, Any]:  # fmt: skip
    """One organisation's account record drawn from ``rng``."""
    form, kind = _ORG_FORMS[min(3, int(rng.random() ** 1.5 * 4))]
    name = f"{form} {rng.choice(_ORG_WORDS)} {rng.choice(_ORG_NAMES)}"
    place = book.household_place(rng, home).address
    established = as_of - timedelta(days=rng.randrange(200, 30 * 365))
    return {
        "record_type": "organisation",
        "pin": code,
        "name": {"family": "", "middle": "", "given": name, "full": name},
        "date_of_birth": None,
        "birth_year": None,
        "sex": None,
        "nationality": "VN",
        **_blank_citizen_fields(),
        "current_residence": place,
        "organisation": {
            "tax_code": code,
            "name": name,
            "form": kind,
            "established": established.isoformat(),
            "address": place,
            "legal_representative": representative,
        },
        "eid": {"level": 2, "status": "active"},
        "status": "operating",
        "phone": None,
        "email": None,
        "data_as_of": stamp,
    }


def _cumulate(pairs: Iterable[tuple[str, float]]) -> list[tuple[str, float]]:
    out, total = [], 0.0
    for key, weight in pairs:
        total += weight
        out.append((key, total))
    return out


def _serials(seed: int, modulus: int, salt: int) -> Iterable[int]:
    # An affine bijection of 0..modulus-1: unique serials that do not look sequential.
    mult = 7_654_321 + 10 * ((seed + salt) % 1000)
    offset = (seed * 2_654_435_761 + salt) % modulus
    return ((i * mult + offset) % modulus for i in range(modulus))


def account_rows(
    seed: int, size: int, as_of: date, representatives: list[dict[str, Any]]
) -> list[AccountRow]:
    """The generated accounts of foreigners and organisations, then the personas' accounts.

    ``representatives``: references (pin, cmnd, full_name, nationality) of living adults with an
    active level-2 account, from whom organisations' legal representatives are drawn."""
    rng = random.Random(f"{seed}:eid-accounts")
    book = AddressBook()
    stamp = f"{as_of.isoformat()}T00:00:00+07:00"
    personas = persona_rows(as_of, book, stamp)
    taken = {p.identifier for p in personas}
    rows: list[AccountRow] = []
    serials = iter(_serials(seed, 1_000_000, 1))
    for _ in range(round(size * FOREIGNER_SHARE)):
        record = foreigner_record(rng, next(serials), as_of, book, stamp)
        while record["pin"] in taken:
            record["pin"] = record["pin"][:6] + f"{next(serials):06d}"
        taken.add(record["pin"])
        rows.append(AccountRow(record["pin"], "foreigner", orjson.dumps(record)))
    offices = _cumulate((o, w) for o, _, w in _TAX_OFFICES)
    homes = {o: h for o, h, _ in _TAX_OFFICES}
    org_serials = iter(_serials(seed, 10_000_000, 2))
    for i in range(round(size * ORGANISATION_SHARE) if representatives else 0):
        pick = rng.random()
        office = next(o for o, c in offices if pick <= c)
        code = tax_code(office, next(org_serials))
        if code is None or code in taken:
            continue  # never issued (check digit 10) or a persona's
        taken.add(code)
        rep = representatives[i % len(representatives)]
        record = organisation_record(rng, code, homes[office], rep, as_of, book, stamp)
        rows.append(AccountRow(code, "organisation", orjson.dumps(record)))
    return personas + rows


def persona_rows(as_of: date, book: AddressBook, stamp: str) -> list[AccountRow]:
    """The fixed foreigner and organisation accounts."""
    foreigner = foreigner_record(random.Random("persona:foreigner-account"), 104217, as_of,
                                 book, stamp)  # fmt: skip
    foreigner.update({
        "pin": BY_KEY["foreigner-account"].identifier,
        "name": {"family": "Kim", "middle": "", "given": "Min Jun", "full": "Kim Min Jun"},
        "date_of_birth": "1985-04-12", "birth_year": 1985, "sex": "male", "nationality": "KR",
        "passport": {"country": "KR", "number": "M7712045"},
        "eid": {"level": 2, "status": "active"}, "phone": "0912104217",
    })  # fmt: skip
    foreigner["residence_card"] = {"kind": "temporary", "issue_date": "2025-09-01",
                                   "expiry_date": "2027-08-31"}  # fmt: skip
    adult = {"pin": "001090104217", "cmnd": None, "full_name": "Nguyễn Văn An", "nationality": "VN"}
    code = BY_KEY["organisation-account"].identifier
    organisation = organisation_record(random.Random("persona:organisation-account"), code, "01",
                                       adult, as_of, book, stamp)  # fmt: skip
    name = BY_KEY["organisation-account"].name
    organisation["name"] = {"family": "", "middle": "", "given": name, "full": name}
    organisation["organisation"].update({"name": name, "form": "limited_liability",
                                         "established": "2016-03-21"})  # fmt: skip
    return [
        AccountRow(foreigner["pin"], "foreigner", orjson.dumps(foreigner)),
        AccountRow(code, "organisation", orjson.dumps(organisation)),
    ]

"""Named test personas with fixed PINs: the edge cases integrators build their tests on.

The PINs are part of sim06's contract and never change between releases (a test guards them).
Each persona lives in the same database as the seeded population; the generator never issues
their PINs or CMND numbers to anyone else.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from datetime import date
from typing import Literal

from sim06.mock_registry import accounts, admin_units, cards
from sim06.mock_registry.address import AddressBook, Place
from sim06.mock_registry.citizen import Person
from sim06.mock_registry.ids import Sex
from sim06.mock_registry.names import PersonName

HOUSEHOLD_BASE = 900_000_000  # persona households never collide with generated ones (1, 2, ...)
CardPlan = Literal["valid", "none", "lost", "revoked"]


@dataclass(frozen=True)
class Persona:
    """One fixed citizen. ``listed`` personas are documented; the others fill their households."""

    key: str
    pin: str
    name: PersonName
    sex: Sex
    birth: date
    home: str  # pre-2025 province code (2 digits) of the household's address
    household: str | None  # household key; None = not in any household
    relationship: str = "head"
    description: str = ""
    listed: bool = True
    ethnicity: str = "01"
    religion: str = "00"
    eid_level: int = 2
    eid_status: str | None = "active"
    card: CardPlan = "valid"
    card_issued: date = date(2021, 6, 15)
    cmnd: str | None = None
    birth_year_only: bool = False
    status: Literal["alive", "deceased", "missing", "cancelled"] = "alive"
    event_date: date | None = None
    marital_status: str = "single"
    spouse: str | None = None
    father: str | None = None
    mother: str | None = None
    representative: str | None = None
    temporary_in: str | None = None  # pre-2025 province code of a temporary residence
    not_migrated: bool = False
    tags: tuple[str, ...] = field(default=())
    # The 2024 law's other subjects (mock_registry.persona_records): a holder of an identity
    # certificate instead of a card; a cancelled PIN (status "cancelled") and its replacement.
    record_type: Literal["citizen", "identity_certificate"] = "citizen"
    replaced_by: str | None = None  # key of the persona the cancelled PIN was re-issued to
    event_reason: str = ""


def _n(family: str, middle: str, given: str, clan_last: bool = False) -> PersonName:
    return PersonName(family, middle, given, clan_last)


M: Sex = "male"
F: Sex = "female"
D = date

PERSONAS: tuple[Persona, ...] = (
    Persona("adult-level2", "001090104217", _n("Nguyễn", "Văn", "An"), M, D(1990, 5, 12), "01", "hn-nguyen",
            description="Adult with a level-2 VNeID account and a valid chip card; household head.",
            marital_status="married", spouse="level1-only", cmnd=None),
    Persona("level1-only", "001195208733", _n("Trần", "Thị", "Bình"), F, D(1995, 8, 21), "01", "hn-nguyen",
            relationship="spouse", description="Adult whose VNeID account is level 1 only (asks for level 2 fail).",
            eid_level=1, marital_status="married", spouse="adult-level2"),
    Persona("child-under-14", "001216531774", _n("Nguyễn", "Minh", "Khôi"), M, D(2016, 9, 3), "01", "hn-nguyen",
            relationship="child", description="Child under 14 without a card or eID account; parents are personas.",
            eid_level=0, eid_status=None, card="none", father="adult-level2", mother="level1-only",
            representative="adult-level2"),
    Persona("no-eid", "079078315062", _n("Lê", "Văn", "Cường"), M, D(1978, 11, 30), "79", "hcm-le",
            description="Adult with a valid card but no VNeID account.", eid_level=0, eid_status=None,
            cmnd="025873164", marital_status="divorced"),
    Persona("locked-account", "031188420981", _n("Phạm", "Thị", "Dung"), F, D(1988, 2, 2), "31", "hp-pham",
            description="Level-2 VNeID account that is locked.", eid_status="locked"),
    Persona("card-due-renewal", "001301642018", _n("Đào", "Thị Thanh", "Huyền"), F, D(2001, 7, 20), "01", "hn-dao",
            description="Card issued at 19 expires on her 25th birthday, 19 days after the default as-of date.",
            card_issued=D(2021, 4, 10)),
    Persona("expired-card", "048086753329", _n("Huỳnh", "Văn", "Phát"), M, D(1986, 3, 15), "48", "dn-huynh",
            description="Card expired at 40 (15 Mar 2026) and was not exchanged.", card_issued=D(2021, 5, 1)),
    Persona("lost-card", "092192864410", _n("Lâm", "Thị", "Kiều"), F, D(1992, 6, 6), "92", "ct-lam",
            description="Card reported lost: chip verification must refuse it.", card="lost"),
    Persona("revoked-card", "038080975501", _n("Lê", "Đình", "Hải"), M, D(1980, 1, 25), "38", "th-le",
            description="Card revoked (thu hồi).", card="revoked"),
    Persona("deceased", "040050186692", _n("Hồ", "Văn", "Thắng"), M, D(1950, 4, 18), "40", "na-ho",
            description="Died on 2 Nov 2024: a record with status deceased, not an error.",
            status="deceased", event_date=D(2024, 11, 2), card="revoked", eid_status="locked",
            cmnd="186543219", marital_status="married"),
    Persona("missing", "042183297783", _n("Phan", "Thị", "Ngọc"), F, D(1983, 10, 9), "42", "ht-phan",
            description="Declared missing (mất tích) since 20 Aug 2023.", status="missing",
            event_date=D(2023, 8, 20), eid_status="locked"),
    Persona("temporary-residence-only", "060099308874", _n("Nguyễn", "Văn", "Sơn"), M, D(1999, 12, 1), "60", None,
            description="No permanent residence; temporary residence in Hồ Chí Minh City; no household.",
            temporary_in="79", eid_level=1),
    Persona("moved-across-merger", "074185419965", _n("Đặng", "Thị Mỹ", "Linh"), F, D(1985, 7, 7), "74", "bd-dang",
            description="Registered in old Bình Dương (074); since July 2025 her commune belongs to "
                        "Hồ Chí Minh City; her card (2021) still prints the old address."),
    Persona("post-reform-newborn", "079325507221", _n("Đặng", "Ngọc", "Hân"), F, D(2025, 9, 15), "74", "bd-dang",
            relationship="child", description="Born after the 2025 reform: PIN prefix from the new province "
            "(policy [U], default 0 + new code).", eid_level=0, eid_status=None, card="none",
            mother="moved-across-merger", representative="moved-across-merger"),
    Persona("large-household-head", "036062520156", _n("Bùi", "Văn", "Hùng"), M, D(1962, 3, 3), "36", "nd-bui",
            description="Head of a three-generation household of 9.", marital_status="married",
            spouse="bui-wife", cmnd="160233457", mother="bui-mother"),
    Persona("married-apart-husband", "034091631247", _n("Vũ", "Đức", "Thịnh"), M, D(1991, 9, 9), "33", "hy-vu",
            description="Married, living in a different household from his wife.",
            marital_status="married", spouse="married-apart-wife"),
    Persona("married-apart-wife", "027193742338", _n("Ngô", "Thị", "Hằng"), F, D(1993, 12, 12), "27", "bn-ngo",
            description="Married, living in a different household from her husband.",
            marital_status="married", spouse="married-apart-husband"),
    Persona("name-collision-a", "001185853429", _n("Nguyễn", "Thị", "Lan"), F, D(1985, 2, 14), "01", "hn-lan",
            description="Same name and date of birth as name-collision-b: match on the PIN, never on the name."),
    Persona("name-collision-b", "079185964510", _n("Nguyễn", "Thị", "Lan"), F, D(1985, 2, 14), "79", "hcm-lan",
            description="Same name and date of birth as name-collision-a."),
    Persona("five-word-name", "046196175601", _n("Tôn Nữ", "Thị Minh", "Hương"), F, D(1996, 1, 28), "46", "hue-ton",
            description="Five-word name with a compound family name (Tôn Nữ).", religion="02"),
    Persona("nfd-name", "079187286792", _n("Nguyễn", "Thị Ánh", "Tuyết"), F, D(1987, 5, 30), "79", "hcm-tuyet",
            description="Stored in NFC; callers often send the name in NFD (decomposed): it must still match.",
            religion="01"),
    Persona("ethnic-hmong", "002094397883", _n("Giàng", "A", "Páo"), M, D(1994, 2, 17), "02", "hg-giang",
            description="HMông name (clan Giàng, male middle A), Hà Giang, level 1.", ethnicity="08", eid_level=1),
    Persona("ethnic-ede", "066089408974", _n("Niê Kdăm", "Y", "Ngông", clan_last=True), M, D(1989, 11, 11), "66",
            "dl-nie", description="Ê-đê name: male prefix Y, clan last (Y Ngông Niê Kdăm).", ethnicity="12",
            religion="03"),
    Persona("ethnic-khmer", "094197519065", _n("Thạch", "Thị", "Sa Phia"), F, D(1997, 4, 14), "94", "st-thach",
            description="Khơ-me name (Thạch Thị Sa Phia), Sóc Trăng.", ethnicity="05", religion="02"),
    Persona("birth-year-only", "017142620156", _n("Bùi", "Thị", "Nhài"), F, D(1942, 1, 1), "17", "hb-bui",
            description="Only the year of birth (1942) is recorded; date_of_birth is null.", ethnicity="06",
            birth_year_only=True, eid_level=0, eid_status=None, marital_status="widowed"),
    Persona("old-cmnd-only", "025055731247", _n("Đặng", "Văn", "Tư"), M, D(1955, 8, 19), "25", "pt-dang",
            description="Holds only the old 9-digit CMND (never got a chip card); no eID.", cmnd="131524689",
            card="none", eid_level=0, eid_status=None, marital_status="widowed"),
    Persona("legacy-address-not-migrated", "035170842338", _n("Trương", "Thị", "Thủy"), F, D(1970, 6, 1), "35",
            "hnam-truong", description="Permanent residence still only in pre-2025 codes: commune_code is null.",
            not_migrated=True, cmnd="168245731"),
    Persona("guardian", "004158164510", _n("Nông", "Thị", "Lụa"), F, D(1958, 5, 5), "04", "cb-nong",
            description="Grandmother and legal guardian of ward-minor.", ethnicity="02", marital_status="widowed",
            cmnd="080536412"),
    Persona("ward-minor", "004212953429", _n("Nông", "Văn", "Phúc"), M, D(2012, 10, 20), "04", "cb-nong",
            relationship="ward", description="Minor whose legal representative is his grandmother (guardian).",
            ethnicity="02", card="none", eid_level=0, eid_status=None, representative="guardian"),
    Persona("twin-a", "087211275601", _n("Trần", "Minh", "Khang"), M, D(2011, 4, 9), "87", "dt-tran",
            relationship="child", description="Twin of twin-b: same parents and date of birth.",
            card_issued=D(2025, 3, 2), eid_level=1, father="twins-father", mother="twins-mother",
            representative="twins-father"),
    Persona("twin-b", "087311386792", _n("Trần", "Minh", "Thư"), F, D(2011, 4, 9), "87", "dt-tran",
            relationship="child", description="Twin of twin-a.", card="none", eid_level=0, eid_status=None,
            father="twins-father", mother="twins-mother", representative="twins-father"),
    Persona("centenarian", "052123497883", _n("Lê", "Thị", "Bảy"), F, D(1923, 1, 10), "52", "bd2-le",
            description="Born 1923: over 100, card valid for life.", eid_level=0, eid_status=None,
            marital_status="widowed", card_issued=D(2021, 9, 1), cmnd="210045367", religion="02"),
    # Accounts by rule and the 2024 law's other subjects (issue 16).
    Persona("account-representative", "079188530417", _n("Võ", "Thị Kim", "Oanh"), F, D(1988, 10, 4), "79",
            "hcm-vo", description="Mother with a level-2 account who registered her son's account "
            "(child-account) from it.", marital_status="divorced", card_issued=D(2022, 3, 8)),
    Persona("child-account", "079215530418", _n("Võ", "Gia", "Huy"), M, D(2015, 3, 14), "79", "hcm-vo",
            relationship="child", description="Child under 14 with a level-1 VNeID account registered by "
            "his mother's level-2 account (eid.representative).", eid_level=1, card_issued=D(2024, 8, 1),
            mother="account-representative", representative="account-representative"),
    Persona("teen-level2", "079309530419", _n("Võ", "Minh", "Thư"), F, D(2009, 6, 20), "79", "hcm-vo",
            relationship="child", description="Minor of 17 with her own level-2 account (registered in person "
            "at 14+): procedures refer minors for a parent's consent.", card_issued=D(2023, 7, 11),
            mother="account-representative", representative="account-representative"),
    Persona("pin-reissued", "001093725107", _n("Trịnh", "Văn", "Long"), M, D(1993, 3, 8), "01", "hn-trinh",
            description="Year of birth corrected from 1994 to 1993 on 6 Oct 2025: the PIN was re-established; "
            "the old one is cancelled-pin (pin_history).", card_issued=D(2025, 11, 3)),
    Persona("cancelled-pin", "001094725106", _n("Trịnh", "Văn", "Long"), M, D(1994, 3, 8), "01", None,
            description="Cancelled PIN (số định danh đã hủy): lookups and verification answer 410 "
            "PIN_CANCELLED with replaced_by = pin-reissued.", status="cancelled", card="revoked",
            event_date=D(2025, 10, 6), replaced_by="pin-reissued",
            event_reason="Cải chính năm sinh (1994 → 1993) / birth year corrected"),
    Persona("identity-certificate", "087179640213", _n("Nguyễn", "Thị", "Sương"), F, D(1979, 5, 20), "87",
            "dt-nguyen", description="Person of Vietnamese origin whose nationality is undetermined: holds an "
            "identity certificate (giấy chứng nhận căn cước), not a card; record_type identity_certificate.",
            record_type="identity_certificate", card="none", eid_level=0, eid_status=None,
            card_issued=D(2024, 9, 10)),
    # Unlisted members that complete the households above.
    Persona("bui-wife", "036165620157", _n("Đinh", "Thị", "Nga"), F, D(1965, 7, 1), "36", "nd-bui",
            relationship="spouse", listed=False, marital_status="married", spouse="large-household-head"),
    Persona("bui-son", "036088620158", _n("Bùi", "Văn", "Tuấn"), M, D(1988, 4, 4), "36", "nd-bui",
            relationship="child", listed=False, marital_status="married", spouse="bui-daughter-in-law",
            father="large-household-head", mother="bui-wife"),
    Persona("bui-daughter-in-law", "036190620159", _n("Lý", "Thị", "Thu"), F, D(1990, 9, 9), "36", "nd-bui",
            relationship="other", listed=False, marital_status="married", spouse="bui-son"),
    Persona("bui-daughter", "036196620160", _n("Bùi", "Thị", "Mai"), F, D(1996, 2, 29), "36", "nd-bui",
            relationship="child", listed=False, father="large-household-head", mother="bui-wife"),
    Persona("bui-grandson", "036214620161", _n("Bùi", "Minh", "Quân"), M, D(2014, 8, 8), "36", "nd-bui",
            relationship="grandchild", listed=False, card="none", eid_level=0, eid_status=None,
            father="bui-son", mother="bui-daughter-in-law", representative="bui-son"),
    Persona("bui-granddaughter", "036318620162", _n("Bùi", "Ngọc", "Hân"), F, D(2018, 12, 1), "36", "nd-bui",
            relationship="grandchild", listed=False, card="none", eid_level=0, eid_status=None,
            father="bui-son", mother="bui-daughter-in-law", representative="bui-son"),
    Persona("bui-grandson-2", "036222620163", _n("Bùi", "Gia", "Bảo"), M, D(2022, 6, 15), "36", "nd-bui",
            relationship="grandchild", listed=False, card="none", eid_level=0, eid_status=None,
            father="bui-son", mother="bui-daughter-in-law", representative="bui-son"),
    Persona("bui-mother", "036138620164", _n("Trần", "Thị", "Tý"), F, D(1938, 11, 11), "36", "nd-bui",
            relationship="mother", listed=False, marital_status="widowed", eid_level=0, eid_status=None),
    Persona("twins-father", "087082386793", _n("Trần", "Văn", "Lộc"), M, D(1982, 3, 3), "87", "dt-tran",
            listed=False, marital_status="married", spouse="twins-mother"),
    Persona("twins-mother", "087185386794", _n("Phạm", "Thị", "Diễm"), F, D(1985, 5, 5), "87", "dt-tran",
            relationship="spouse", listed=False, marital_status="married", spouse="twins-father"),
)  # fmt: skip

BY_KEY = {p.key: p for p in PERSONAS}


def listed() -> tuple[Persona, ...]:
    """The documented personas (the ones ``sim06 personas`` prints)."""
    return tuple(p for p in PERSONAS if p.listed)


def reserved_pins() -> frozenset[str]:
    """Every persona PIN: the population generator must not issue them."""
    return frozenset(p.pin for p in PERSONAS)


def reserved_cmnds() -> frozenset[str]:
    """Every persona CMND number."""
    return frozenset(p.cmnd for p in PERSONAS if p.cmnd)


def build(as_of: date) -> list[Person]:
    """Persona citizens with their households, links and documents, as of ``as_of``."""
    book = AddressBook()
    people = {p.key: _person(p, book) for p in PERSONAS}
    households: dict[str, list[Persona]] = {}
    for p in PERSONAS:
        if p.household is not None:
            households.setdefault(p.household, []).append(p)
    for index, (hh_key, members) in enumerate(households.items(), start=1):
        head_spec = next(m for m in members if m.relationship == "head")
        rng = random.Random(f"persona-household:{hh_key}")
        place = book.household_place(rng, head_spec.home)
        for m in members:
            person = people[m.key]
            person.household_id = HOUSEHOLD_BASE + index
            person.head = people[head_spec.key]
            person.relationship = m.relationship
            person.residence_file_number = f"{place.commune_code}-{HOUSEHOLD_BASE + index:08d}"
            _place(person, m, place, as_of)
    for p in PERSONAS:
        _link(p, people, book, as_of)
    for p in PERSONAS:
        person = people[p.key]
        for child in PERSONAS:
            if child.father == p.key or child.mother == p.key:
                person.children.append(people[child.key])
    accounts.settle_household(people.values(), as_of)
    return [people[p.key] for p in PERSONAS]


def _person(p: Persona, book: AddressBook) -> Person:
    person = Person(p.pin, p.name, p.sex, p.birth)
    person.birth_year_only = p.birth_year_only
    if p.birth >= date(2025, 7, 1):
        new = admin_units.new_province_for_legacy(p.home).code
        person.birth_registration = book.registration_after_reform(new, p.pin[:3])
    else:
        person.birth_registration = book.registration(p.pin[1:3])
    person.hometown = (
        book.hometown(random.Random(0), p.pin[1:3]) if p.birth < date(2025, 7, 1) else None
    )
    person.ethnicity = book.ethnicity(p.ethnicity)
    person.religion = book.religion(p.religion)
    person.cmnd = p.cmnd
    person.marital_status = p.marital_status
    person.eid_level = p.eid_level
    person.eid_status = p.eid_status if p.eid_level else None
    person.status = p.status
    if p.status == "deceased":
        person.death_date = p.event_date
    elif p.status == "missing":
        person.missing_date = p.event_date
    if p.status == "alive" and (date(2026, 1, 1) - p.birth).days > 15 * 365:
        person.phone = "09" + p.pin[-8:]
        person.email = f"{p.key.replace('-', '.')}@example.com"
    return person


def _place(person: Person, p: Persona, place: Place, as_of: date) -> None:
    since = max(p.birth, date(2015, 3, 1))
    person.residence_since = since
    person.permanent = place.address
    person.legacy_permanent = place.legacy if since < date(2025, 7, 1) else None
    if p.not_migrated:
        person.permanent = {**place.address, "commune_code": None, "commune_name": None}
    del as_of


def _link(p: Persona, people: dict[str, Person], book: AddressBook, as_of: date) -> None:
    person = people[p.key]
    person.spouse = people[p.spouse] if p.spouse else None
    person.father = people[p.father] if p.father else None
    person.mother = people[p.mother] if p.mother else None
    person.representative = people[p.representative] if p.representative else None
    if p.temporary_in is not None:
        rng = random.Random(f"persona-temporary:{p.key}")
        person.temporary = book.household_place(rng, p.temporary_in).address
        person.residence_since = date(2022, 9, 1)
    if p.card != "none":
        expiry = cards.card_expiry(p.birth, p.card_issued)
        kind = cards.card_kind(p.card_issued)
        flag = None if p.card == "valid" else p.card
        person.card = {
            "number": p.pin,
            "kind": kind,
            "issue_date": p.card_issued.isoformat(),
            "expiry_date": None if expiry is None else expiry.isoformat(),
            "issuing_authority": cards.issuing_authority(kind),
            "status": cards.card_status(expiry, as_of, flag),
        }

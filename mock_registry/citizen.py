"""A citizen of the population database and its wire record.

``Person`` is the mutable working form the generator and the personas fill in; ``record_of``
turns it into the JSON record the registry serves (field order fixed, so output is
byte-identical for the same input). Field names are English; ``WIRE_NAMES_VI`` maps them to the
Vietnamese element names observed in integrators' code for the real lookup service (domain
§3.1 and §6.3, [P]).
"""

from __future__ import annotations

from datetime import date
from typing import Any, Final

from sim06.mock_registry.cards import iso_date, iso_ordinal
from sim06.mock_registry.names import PersonName
from sim06.mock_registry.store.base import CitizenRow

NATIONALITY_VN: Final = "VN"

RELATIONSHIPS: Final[dict[str, str]] = {
    "head": "Chủ hộ",
    "spouse": "Vợ/Chồng",
    "child": "Con",
    "father": "Bố",
    "mother": "Mẹ",
    "grandchild": "Cháu",
    "ward": "Người được giám hộ",
    "other": "Khác",
}

# English record field -> element name observed in the real lookup (TraCuuThongTinCongDan) [P].
WIRE_NAMES_VI = {
    "pin": "SoDinhDanh",
    "cmnd": "SoCMND",
    "name": "HoVaTen{Ho, ChuDem, Ten}",
    "date_of_birth": "NgayThangNamSinh.NgayThangNam (yyyymmdd)",
    "birth_year": "NgayThangNamSinh.Nam (yyyy)",
    "sex": "GioiTinh",
    "place_of_birth_registration": "NoiDangKyKhaiSinh",
    "hometown": "QueQuan",
    "ethnicity": "DanToc",
    "religion": "TonGiao",
    "nationality": "QuocTich",
    "blood_group": "NhomMau",
    "marital_status": "TinhTrangHonNhan",
    "permanent_residence": "ThuongTru",
    "current_residence": "NoiOHienTai",
    "father": "Cha",
    "mother": "Me",
    "spouse": "VoChong",
    "legal_representative": "NguoiDaiDien",
    "household": "ChuHo{QuanHe, SoDinhDanh, SoCMND, HoVaTen}",
    "residence_file_number": "SoSoHoKhau (legacy household-book number)",
    "data_as_of": "ThoiDiemDuLieu",
}


class Person:
    """A citizen being built; plain attributes for speed (1M of these are made per seed)."""

    __slots__ = (
        "pin", "cmnd", "name", "full_name", "sex", "birth", "birth_ordinal", "birth_year",
        "birth_year_only", "birth_registration",
        "hometown", "ethnicity", "religion", "blood_group", "marital_status",
        "permanent", "temporary", "legacy_permanent", "residence_since", "household_id",
        "relationship", "head", "father", "mother", "spouse", "representative", "children",
        "card", "eid_level", "eid_status", "status", "death_date", "missing_date", "phone",
        "email", "residence_file_number", "eid_representative", "card_history",
    )  # fmt: skip

    def __init__(self, pin: str, name: PersonName, sex: str, birth: date) -> None:
        self.pin = pin
        self.cmnd: str | None = None
        self.name = name
        self.full_name = name.full  # computed once: it appears in several records
        self.sex = sex
        self.birth = birth
        # Read several times a citizen by the generator: a date's method and attribute cost more
        self.birth_ordinal = birth.toordinal()
        self.birth_year = birth.year
        self.birth_year_only = False
        self.birth_registration: dict[str, str] = {}
        self.hometown: dict[str, Any] | None = None
        self.ethnicity: dict[str, str] = {}
        self.religion: dict[str, str] = {}
        self.blood_group: str | None = None
        self.marital_status = "single"
        self.permanent: dict[str, Any] | None = None
        self.temporary: dict[str, Any] | None = None
        self.legacy_permanent: dict[str, Any] | None = None
        self.residence_since: date | None = None
        self.household_id: int | None = None
        self.relationship = "head"
        self.head: Person | None = None
        self.father: Person | None = None
        self.mother: Person | None = None
        self.spouse: Person | None = None
        self.representative: Person | None = None
        self.children: list[Person] = []
        self.card: dict[str, Any] | None = None
        # Every identity document held, oldest first (mock_registry.card_history); None = unknown.
        self.card_history: list[dict[str, Any]] | None = None
        self.eid_level = 0
        self.eid_status: str | None = None
        # Who registered a child's account with their level-2 account (mock_registry.accounts).
        self.eid_representative: Person | None = None
        self.status = "alive"
        self.death_date: date | None = None
        self.missing_date: date | None = None
        self.phone: str | None = None
        self.email: str | None = None
        self.residence_file_number: str | None = None


class Shared:
    """Sub-dicts shared between the records of one household, serialised together and never
    mutated (the generator): a parent's reference, a child's entry and the household block are
    built once, not once per record naming them. One instance per household: the household
    block is keyed by relationship alone (the members share the household and its head)."""

    __slots__ = ("refs", "kids", "households")

    def __init__(self) -> None:
        self.refs: dict[Person, dict[str, Any]] = {}
        self.kids: dict[Person, dict[str, Any]] = {}
        self.households: dict[str, dict[str, Any]] = {}

    def ref(self, person: Person | None) -> dict[str, Any] | None:
        """A reference to ``person`` (pin, CMND, full name, nationality), one dict each time."""
        if person is None:
            return None
        found = self.refs.get(person)
        if found is None:
            found = self.refs[person] = {
                "pin": person.pin,
                "cmnd": person.cmnd,
                "full_name": person.full_name,
                "nationality": NATIONALITY_VN,
            }
        return found

    def kid(self, child: Person) -> dict[str, Any]:
        """A child's entry in a parent's ``children``, the same dict each time."""
        found = self.kids.get(child)
        if found is None:
            found = self.kids[child] = {"pin": child.pin, "full_name": child.full_name}
        return found

    def household(self, p: Person) -> dict[str, Any] | None:
        """The ``household`` block of ``p``'s record, shared by members of one relationship."""
        if p.household_id is None:
            return None
        found = self.households.get(p.relationship)
        if found is None:
            head = p.head
            found = self.households[p.relationship] = {
                "id": p.household_id,
                "relationship": p.relationship,
                "relationship_vi": RELATIONSHIPS[p.relationship],
                "head_pin": head.pin if head is not None else p.pin,
                "head_name": head.full_name if head is not None else p.full_name,
            }
        return found


def record_of(p: Person, data_as_of: str, shared: Shared | None = None) -> dict[str, Any]:
    """The wire record of a citizen (the population database's view of them).

    ``shared``: the :class:`Shared` of the household being serialised; None = nothing shared
    (records that may be edited afterwards, such as the personas')."""
    if shared is None:
        shared = Shared()
    current = p.temporary if p.temporary is not None else p.permanent
    return {
        "pin": p.pin,
        "cmnd": p.cmnd,
        "name": {
            "family": p.name.family,
            "middle": p.name.middle,
            "given": p.name.given,
            "full": p.full_name,
        },
        "date_of_birth": None if p.birth_year_only else iso_ordinal(p.birth_ordinal),
        "birth_year": p.birth_year,
        "sex": p.sex,
        "place_of_birth_registration": p.birth_registration,
        "hometown": p.hometown,
        "ethnicity": p.ethnicity,
        "religion": p.religion,
        "nationality": NATIONALITY_VN,
        "blood_group": p.blood_group,
        "marital_status": p.marital_status,
        "permanent_residence": p.permanent,
        "temporary_residence": p.temporary,
        "current_residence": current,
        "legacy_permanent_residence": p.legacy_permanent,
        "residence_since": None if p.residence_since is None else iso_date(p.residence_since),
        "residence_file_number": p.residence_file_number,
        "household": shared.household(p),
        "father": shared.ref(p.father),
        "mother": shared.ref(p.mother),
        "spouse": shared.ref(p.spouse),
        "legal_representative": shared.ref(p.representative),
        "children": [shared.kid(c) for c in p.children],
        "id_card": p.card,
        "card_history": p.card_history,
        "eid": {"level": p.eid_level, "status": p.eid_status}
        if p.eid_representative is None
        else {
            "level": p.eid_level,
            "status": p.eid_status,
            "representative": shared.ref(p.eid_representative),
        },
        "status": p.status,
        "date_of_death": None if p.death_date is None else iso_date(p.death_date),
        "date_missing": None if p.missing_date is None else iso_date(p.missing_date),
        "phone": p.phone,
        "email": p.email,
        "data_as_of": data_as_of,
    }


def row_of(p: Person, record: bytes) -> CitizenRow:
    """The store row of a citizen whose record was serialised to ``record``."""
    return CitizenRow(
        pin=p.pin,
        cmnd=p.cmnd,
        household_id=p.household_id,
        birth_year=p.birth.year,
        record=record,
    )

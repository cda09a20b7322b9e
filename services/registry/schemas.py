"""Wire shapes of the registry API. Inputs forbid unknown fields; outputs document the record.

Records are served as stored bytes (no re-validation on the hot path); these models publish their
shape in the OpenAPI contract, and the tests validate real responses against it.
"""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any, Literal

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field

from sim06.mock_registry.citizen import WIRE_NAMES_VI
from sim06.mock_registry.ids import PIN_PREFIX_CODES

# The 63 birth-registration province codes (Circular 07/2016/TT-BCA, Appendix I) + 9 digits.
PIN_PATTERN = "^(?:" + "|".join(sorted(PIN_PREFIX_CODES)) + ")[0-9]{9}$"
CMND_PATTERN = r"^[0-9]{9}$"
Sex = Literal["male", "female"]
FieldOutcome = Literal["match", "match_year_only", "mismatch", "not_provided"]


def _wire(field: str, text: str) -> str:
    name = WIRE_NAMES_VI.get(field)
    return f"{text} Observed wire name: `{name}`." if name else text


class Out(BaseModel):
    """Base of response models (documentation only)."""

    model_config = ConfigDict(extra="forbid")


class PersonName(Out):
    family: str = Field(description="Họ (family name).")
    middle: str = Field(description="Chữ đệm (middle name); may be empty.")
    given: str = Field(description="Tên (given name).")
    full: str = Field(description="Full name in the order written on the card, NFC.")


class Coded(Out):
    code: str
    name: str


class BirthRegistration(Out):
    pin_code: str = Field(description="3-digit code that prefixes the PIN.")
    province_code: str
    province_name: str
    scheme: Literal["pre_2025", "post_2025"] = Field(
        description="Whether province_code is a pre-July-2025 (63 provinces) or a post-2025 code."
    )


class Hometown(Out):
    province_code: str
    province_name: str
    scheme: Literal["pre_2025"]


class Address(Out):
    country: str = Field(examples=["VN"])
    province_code: str = Field(
        description="Province code of the units in force on the as-of date: post-July-2025 "
        "(34 units), or the 63 pre-2025 provinces when the as-of date is before 1 July 2025."
    )
    province_name: str
    commune_code: str | None = Field(
        description="Post-2025 commune code; null when the record was not migrated."
    )
    commune_name: str | None
    detail: str = Field(description="House number and street, or hamlet (chi tiết).")
    full: str


class LegacyAddress(Out):
    country: str
    province_code: str = Field(description="Pre-2025 statistics-office province code.")
    province_name: str
    district_code: str
    district_name: str
    commune_code: str
    commune_name: str
    detail: str


class HouseholdRef(Out):
    id: int
    relationship: Literal[
        "head", "spouse", "child", "father", "mother", "grandchild", "ward", "other"
    ]
    relationship_vi: str
    head_pin: str
    head_name: str


class PersonRef(Out):
    pin: str | None
    cmnd: str | None
    full_name: str
    nationality: str


class ChildRef(Out):
    pin: str
    full_name: str


class IdCard(Out):
    number: str = Field(description="Card number: equals the PIN on CCCD and căn cước cards.")
    kind: Literal["cccd_chip", "can_cuoc"]
    issue_date: date
    expiry_date: date | None = Field(description="Null: valid for life (issued after 58).")
    issuing_authority: str
    status: Literal["valid", "expired", "lost", "revoked"]


class CardHistoryEntry(Out):
    kind: Literal["cmnd", "cccd_barcode", "cccd_chip", "can_cuoc"] = Field(
        description="cmnd: 9-digit CMND (before 2016); cccd_barcode: barcode CCCD (2016-2020); "
        "cccd_chip: chip CCCD (2021 - 30 Jun 2024, from age 14); can_cuoc: identity card "
        "(from 1 Jul 2024, any age on request)."
    )
    number: str = Field(description="The CMND number, or the PIN on CCCD and identity cards.")
    issue_date: date
    expiry_date: date | None = Field(description="Null: valid for life.")
    issuing_authority: str
    issuing_province_code: str | None = Field(
        description="CMND only: pre-2025 code of the province whose police issued it (the "
        "number starts with that province's CMND prefix)."
    )
    biometrics: bool = Field(
        description="Face image and fingerprints collected: false under 6 (Law 26/2023), so "
        "such a card has no photo and its chip no DG2."
    )
    state: Literal["active", "replaced", "expired", "lost", "revoked"] = Field(
        description="On the as-of date; replaced = superseded by the next entry."
    )


class EidAccount(Out):
    level: Literal[0, 1, 2] = Field(description="VNeID account level; 0 = no account.")
    status: Literal["active", "locked"] | None
    representative: PersonRef | None = Field(
        default=None,
        description="Accounts of children under 14 only: the legal representative (parent or "
        "guardian) who registered the account from their own level-2 account (Decree 69/2024 "
        "art. 7). Absent on other accounts.",
    )


class IdentityCertificate(Out):
    """Giấy chứng nhận căn cước (Law on Identification 2023 art. 30)."""

    number: str = Field(description="The certificate's number: the holder's identification number.")
    issue_date: date
    expiry_date: date | None = Field(description="Null: the validity rule is not simulated [U].")
    issuing_authority: str
    status: Literal["valid", "lost", "revoked"]


class CivilRegistration(Out):
    number: str = Field(description="Registration number (số đăng ký).")
    date: date
    commune_code: str | None
    commune_name: str | None = None
    registered_by: str = Field(description="Agency code that registered it.")


class Divorce(Out):
    judgment: str = Field(description="The court judgment's reference.")
    effective_date: date


class Period(Out):
    from_: date = Field(alias="from")
    until: date


class TemporaryAbsence(Out):
    from_: date = Field(alias="from")
    until: date
    reason: str | None
    destination: str | None


class ResidenceHistoryEntry(Out):
    kind: Literal["permanent", "temporary"]
    address: Address
    since: date | None
    until: date
    reason: str


class CancelledPin(Out):
    pin: str
    cancelled_on: date
    reason: str


class CitizenRecord(Out):
    """A citizen of the population database (CSDLQG về dân cư)."""

    pin: str = Field(pattern=PIN_PATTERN, description=_wire("pin", "Số định danh cá nhân."))
    cmnd: str | None = Field(description=_wire("cmnd", "Old 9-digit identity card number."))
    name: PersonName = Field(description=_wire("name", "Họ, chữ đệm và tên khai sinh."))
    date_of_birth: date | None = Field(
        description=_wire("date_of_birth", "Null when only the year of birth is recorded.")
    )
    birth_year: int = Field(description=_wire("birth_year", "Year of birth."))
    sex: Sex = Field(description=_wire("sex", "Giới tính."))
    place_of_birth_registration: BirthRegistration = Field(
        description=_wire("place_of_birth_registration", "Nơi đăng ký khai sinh.")
    )
    hometown: Hometown | None = Field(description=_wire("hometown", "Quê quán."))
    ethnicity: Coded = Field(description=_wire("ethnicity", "Dân tộc (1979 code order)."))
    religion: Coded = Field(description=_wire("religion", "Tôn giáo (sim06 codes; 00 = none)."))
    nationality: str = Field(description=_wire("nationality", "Quốc tịch."))
    blood_group: Literal["A", "B", "AB", "O"] | None = Field(
        description=_wire("blood_group", "Nhóm máu.")
    )
    marital_status: Literal["single", "married", "divorced", "widowed"] = Field(
        description=_wire("marital_status", "Tình trạng hôn nhân.")
    )
    permanent_residence: Address | None = Field(
        description=_wire("permanent_residence", "Nơi thường trú.")
    )
    temporary_residence: Address | None = Field(description="Nơi tạm trú.")
    current_residence: Address | None = Field(
        description=_wire("current_residence", "Nơi ở hiện tại.")
    )
    legacy_permanent_residence: LegacyAddress | None = Field(
        description="The permanent residence in pre-July-2025 units, if registered before then."
    )
    residence_since: date | None
    residence_file_number: str | None = Field(
        description=_wire("residence_file_number", "Số hồ sơ cư trú.")
    )
    household: HouseholdRef | None = Field(description=_wire("household", "Hộ gia đình."))
    father: PersonRef | None = Field(description=_wire("father", "Cha."))
    mother: PersonRef | None = Field(description=_wire("mother", "Mẹ."))
    spouse: PersonRef | None = Field(description=_wire("spouse", "Vợ/chồng."))
    legal_representative: PersonRef | None = Field(
        description=_wire("legal_representative", "Người đại diện hợp pháp.")
    )
    children: list[ChildRef]
    id_card: IdCard | None = Field(description="Thẻ căn cước / CCCD gắn chip.")
    card_history: list[CardHistoryEntry] | None = Field(
        default=None,
        description="Every identity document the citizen held, oldest first, each issued under "
        "the law in force on its issue date (Law 2023 art. 9 items 13-14); the last one is "
        "id_card when it has a chip. Null when unknown.",
    )
    eid: EidAccount = Field(description="VNeID account (tài khoản định danh điện tử).")
    status: Literal["alive", "deceased", "missing"]
    date_of_death: date | None
    date_missing: date | None
    phone: str | None
    email: str | None
    data_as_of: str = Field(description=_wire("data_as_of", "When the data was current."))
    # Written by civil-status events (absent from records no event touched).
    place_of_birth: str | None = Field(default=None, description="Nơi sinh.")
    birth_registration: CivilRegistration | None = Field(
        default=None, description="The birth registration (đăng ký khai sinh) that issued the PIN."
    )
    place_of_death: str | None = None
    death_registration: CivilRegistration | None = Field(
        default=None, description="The death registration (đăng ký khai tử)."
    )
    marriage_registration: CivilRegistration | None = Field(
        default=None, description="The current marriage's registration (đăng ký kết hôn)."
    )
    divorce: Divorce | None = None
    temporary_residence_period: Period | None = Field(
        default=None, description="Thời hạn tạm trú: from and until."
    )
    temporary_absence: TemporaryAbsence | None = Field(
        default=None, description="Khai báo tạm vắng."
    )
    residence_history: list[ResidenceHistoryEntry] | None = Field(
        default=None, description="Residences deleted by events (CT07 history)."
    )
    pin_history: list[CancelledPin] | None = Field(
        default=None,
        description="Earlier PINs of this citizen, cancelled by a correction (a lookup of one "
        "answers 410 PIN_CANCELLED with replaced_by).",
    )
    # The 2024 law's other subjects (absent from citizens' records).
    record_type: Literal["citizen", "identity_certificate"] = Field(
        default="citizen",
        description="Absent: a Vietnamese citizen. identity_certificate: a person of Vietnamese "
        "origin whose nationality is undetermined (người gốc Việt Nam chưa xác định được quốc "
        "tịch), who holds an identity certificate instead of a card; nationality is XX "
        "(undetermined), id_card is null and identity_certificate is set.",
    )
    identity_certificate: IdentityCertificate | None = Field(
        default=None,
        description="Giấy chứng nhận căn cước, when record_type is identity_certificate.",
    )


def _iso_date(value: object) -> object:
    # JSON has no date type: accept the ISO string only (pydantic would take 0 as 1970-01-01).
    if value is not None and not isinstance(value, str | date):
        raise ValueError("a date must be a string YYYY-MM-DD")
    return value


def _json_integer(value: object) -> object:
    # JSON Schema integers include 1850.0 but not "1850" or true.
    if isinstance(value, bool) or isinstance(value, str):
        raise ValueError("must be a JSON integer")
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return value


class VerifyRequest(BaseModel):
    """What the citizen declared; give the PIN or the old CMND, and what else you know."""

    # The PIN/CMND patterns are published for clients; the service checks them itself so that
    # a malformed number gets INVALID_PIN / INVALID_CMND naming the exact rule it breaks.
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "anyOf": [
                {"required": ["pin"], "properties": {"pin": {"type": "string"}}},
                {"required": ["cmnd"], "properties": {"cmnd": {"type": "string"}}},
            ]
        },
    )

    pin: str | None = Field(
        default=None,
        description="12-digit PIN.",
        examples=["001090104217"],
        json_schema_extra={"pattern": PIN_PATTERN},
    )
    cmnd: str | None = Field(
        default=None,
        description="Old 9-digit CMND.",
        examples=["131524689"],
        json_schema_extra={"pattern": CMND_PATTERN},
    )
    full_name: Annotated[str, Field(min_length=1, max_length=200)] | None = Field(
        default=None, description="Compared case-, diacritics- and space-insensitively."
    )
    date_of_birth: Annotated[date, BeforeValidator(_iso_date)] | None = Field(
        default=None, description="YYYY-MM-DD."
    )
    birth_year: Annotated[int, Field(ge=1850, le=2400), BeforeValidator(_json_integer)] | None = (
        None
    )
    sex: Sex | None = None


class FieldResults(Out):
    pin: FieldOutcome
    cmnd: FieldOutcome
    full_name: FieldOutcome
    date_of_birth: FieldOutcome
    sex: FieldOutcome


class VerifyResult(Out):
    verdict: Literal["match", "mismatch", "not_found"]
    matched: bool
    fields: FieldResults | None = Field(description="Per-field outcome; null when not found.")
    citizen_status: Literal["alive", "deceased", "missing"] | None
    record_type: Literal["citizen", "identity_certificate"] | None = Field(
        default=None,
        description="What the number belongs to: citizen, or identity_certificate (a person of "
        "Vietnamese origin with undetermined nationality, not a citizen: a declared nationality "
        "of VN does not match). Null when not found.",
    )


class BatchRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    items: list[dict[str, Any]] = Field(
        description=(
            "Up to 1,000 VerifyRequest objects. Each item is checked on its own: an item that is "
            "not a valid VerifyRequest gets an error entry and does not fail the batch."
        ),
        json_schema_extra={
            "items": {"anyOf": [{"$ref": "#/components/schemas/VerifyRequest"}, {"type": "object"}]}
        },
    )


class Problem(Out):
    """RFC 9457 problem details with sim06's stable code (contracts/errors.yaml)."""

    model_config = ConfigDict(extra="allow")

    type: str
    title: str
    title_vi: str
    status: int
    detail: str
    code: str
    instance: str | None = None
    errors: list[dict[str, Any]] | None = None


class BatchItem(Out):
    index: int
    result: VerifyResult | None
    error: Problem | None


class BatchResult(Out):
    count: int
    results: list[BatchItem]


class HouseholdMember(Out):
    pin: str
    full_name: str
    relationship: str
    relationship_vi: str
    date_of_birth: date | None
    birth_year: int
    sex: Sex
    status: Literal["alive", "deceased", "missing"]


class Household(Out):
    """Replaces the household book (sổ hộ khẩu), invalid since 1 Jan 2023 (Decree 104/2022)."""

    household_id: int
    residence_file_number: str | None
    address: Address | None
    head_pin: str
    head_name: str
    count: int
    members: list[HouseholdMember]


class ConfirmationDocument(Out):
    form: Literal["CT07"]
    title_vi: str
    title: str
    number: str
    issued_on: date
    valid_until: date
    issuing_authority: str
    legal_basis: str


class ResidenceConfirmation(Out):
    """The data of a residence confirmation (xác nhận thông tin về cư trú, form CT07)."""

    document: ConfirmationDocument
    citizen: dict[str, Any]
    permanent_residence: Address | None
    temporary_residence: Address | None
    current_residence: Address | None
    residence_since: date | None
    household: Household | None


class Health(Out):
    status: Literal["ok", "ready"]
    citizens: int | None = None

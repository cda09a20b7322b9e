"""Wire shapes of the civil-status events and the change feed (registry and gateway).

Requests use the record's own vocabulary, so that a birth and a lookup read alike: the child's
``name.{family,middle,given}``, ``sex``, ``date_of_birth``; parents as ``mother_pin`` /
``father_pin``; the commune of birth registration as ``registration_commune_code``. Inputs forbid
unknown fields; every date is ``YYYY-MM-DD``.
"""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any, Literal

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field

from sim06.services.registry.schemas import PIN_PATTERN, Out, Sex, _iso_date

Day = Annotated[date, BeforeValidator(_iso_date)]
Pin = Annotated[str, Field(pattern=PIN_PATTERN, description="12-digit PIN.")]
CommuneCode = Annotated[
    str, Field(pattern=r"^[0-9]{5}$", description="Post-July-2025 commune code (5 digits).")
]
Text = Annotated[str, Field(min_length=1, max_length=200)]
Reference = Annotated[str, Field(min_length=1, max_length=64, pattern=r"^[\w./-]+$")]
NamePart = Annotated[str, Field(max_length=60)]


class In(BaseModel):
    model_config = ConfigDict(extra="forbid")


class ChildName(In):
    family: Annotated[str, Field(min_length=1, max_length=60)] = Field(description="Họ.")
    middle: NamePart = Field(default="", description="Chữ đệm; may be empty.")
    given: Annotated[str, Field(min_length=1, max_length=60)] = Field(description="Tên.")


class Child(In):
    name: ChildName
    sex: Sex
    date_of_birth: Day
    place_of_birth: Text = Field(description="Nơi sinh, e.g. the maternity hospital.")
    ethnicity_code: str | None = Field(
        default=None, pattern=r"^[0-9]{2}$", description="Dân tộc; default: the mother's."
    )
    nationality: Literal["VN"] = "VN"


class BirthResidenceIn(In):
    with_pin: Pin = Field(description="The parent whose household the child joins.")
    relationship: Literal["child", "grandchild", "ward", "other"] = Field(
        default="child", description="The child's relation to that household's head."
    )


class BirthRequest(In):
    """Đăng ký khai sinh: the population database issues the child's PIN."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={"anyOf": [{"required": ["mother_pin"]}, {"required": ["father_pin"]}]},
    )

    child: Child
    mother_pin: Pin | None = None
    father_pin: Pin | None = None
    registration_commune_code: CommuneCode = Field(
        description="Nơi đăng ký khai sinh: its province gives the PIN's first 3 digits."
    )
    residence: BirthResidenceIn | None = Field(
        default=None, description="Register the child's permanent residence (thường trú) too."
    )
    registration_number: Reference | None = Field(
        default=None, description="Số đăng ký khai sinh; made up when absent."
    )


class DeathRequest(In):
    """Đăng ký khai tử: deletes the permanent residence, revokes the card, locks VNeID."""

    pin: Pin
    date_of_death: Day
    place_of_death: Text
    registration_reference: Reference = Field(description="Số đăng ký khai tử.")
    registration_commune_code: CommuneCode | None = None


class ResidenceChangeRequest(In):
    """Đăng ký / xóa thường trú, đăng ký / xóa tạm trú, khai báo tạm vắng."""

    pin: Pin
    kind: Literal[
        "permanent_registration", "permanent_deregistration", "temporary_registration",
        "temporary_deregistration", "temporary_absence",
    ]  # fmt: skip
    effective_date: Day
    commune_code: CommuneCode | None = Field(
        default=None, description="Where: registrations founding a household, tạm trú."
    )
    detail: Text | None = Field(
        default=None, description="House number and street, or hamlet (or tạm vắng destination)."
    )
    join_household_of: Pin | None = Field(
        default=None, description="permanent_registration: join this citizen's household."
    )
    relationship: Literal["spouse", "child", "father", "mother", "grandchild", "ward", "other"] = (
        "other"
    )
    end_date: Day | None = Field(default=None, description="tạm trú (≤ 2 years) and tạm vắng.")
    reason: Text | None = None


class MarriageRequest(In):
    """Đăng ký kết hôn (Law on Marriage and Family 2014)."""

    spouse_a_pin: Pin
    spouse_b_pin: Pin
    date_of_marriage: Day
    registration_reference: Reference
    registration_commune_code: CommuneCode | None = None


class DivorceRequest(In):
    """Ghi chú ly hôn: a divorce by a court's final judgment."""

    spouse_a_pin: Pin
    spouse_b_pin: Pin
    effective_date: Day
    judgment_reference: Reference


class CorrectionRequest(In):
    """Cải chính hộ tịch / xác định lại giới tính; give at least one corrected field."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={"anyOf": [{"required": [f]} for f in ("date_of_birth", "sex", "name")]},
    )

    pin: Pin
    reason: Text
    date_of_birth: Day | None = None
    sex: Sex | None = None
    name: ChildName | None = None


class RecordDigest(Out):
    pin: str
    before: str | None = Field(description="SHA-256 of the record before; null for a new PIN.")
    after: str = Field(description="SHA-256 of the record after the event.")


class EventResult(Out):
    """The answer to an event: replayed as is for a retry with the same request id."""

    model_config = ConfigDict(extra="allow")

    event_id: str
    type: Literal["birth", "death", "residence", "marriage", "divorce", "correction"]
    cursor: str = Field(description="The event's position in the change feed.")
    time: str
    pin: str | None = Field(default=None, description="The subject's PIN (a birth: the child's).")
    records: list[RecordDigest]


class RelatedChange(Out):
    pin: str
    changes: dict[str, Any]


class FeedItem(Out):
    cursor: str
    type: Literal["birth", "death", "residence", "marriage", "divorce", "correction"]
    pin: str
    time: str = Field(description="Commit time, RFC 3339 UTC.")
    event_id: str = Field(description="The same on every delivery: deduplicate on it.")
    actor: str = Field(description="Agency code that registered the event.")
    changes: dict[str, Any] = Field(description="The subject's changed record fields, new values.")
    related: list[RelatedChange] = Field(description="Other records the event changed.")


class FeedPage(Out):
    items: list[FeedItem]
    next_cursor: str = Field(description="Pass as `after` to read on; equals `after` at the end.")


class SnapshotRequest(In):
    name: str = Field(pattern=r"^[A-Za-z0-9._-]{1,64}$")

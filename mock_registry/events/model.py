"""The civil-status events, their context and the decision the logic returns.

The service validates requests at the edge and builds these; the core trusts their types
(dates are dates, sexes are ``male``/``female``) and checks the facts against the records.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any, Literal

from sim06.mock_registry.ids import Sex

EventType = Literal["birth", "death", "residence", "marriage", "divorce", "correction"]
EVENT_TYPES: tuple[EventType, ...] = (
    "birth", "death", "residence", "marriage", "divorce", "correction",
)  # fmt: skip

HouseholdRole = Literal["child", "grandchild", "ward", "other"]


@dataclass(frozen=True, slots=True)
class BirthResidence:
    """Register the newborn's permanent residence with a parent's household (thường trú)."""

    with_pin: str  # the parent whose household the child joins
    relationship: HouseholdRole = "child"  # relation to the household head


@dataclass(frozen=True, slots=True)
class Birth:
    """Birth registration (đăng ký khai sinh): allocates the child's PIN."""

    family: str
    middle: str
    given: str
    sex: Sex
    date_of_birth: date
    place_of_birth: str  # nơi sinh, e.g. the maternity hospital
    registration_commune_code: str  # nơi đăng ký khai sinh (post-2025 commune)
    mother_pin: str | None = None
    father_pin: str | None = None
    ethnicity_code: str | None = None  # default: the mother's, else the father's
    nationality: str = "VN"
    residence: BirthResidence | None = None
    registration_number: str | None = None  # số đăng ký khai sinh; made up when absent


@dataclass(frozen=True, slots=True)
class Death:
    """Death registration (đăng ký khai tử): deletes the permanent residence, revokes the card."""

    pin: str
    date_of_death: date
    place_of_death: str
    registration_reference: str  # số đăng ký khai tử
    registration_commune_code: str | None = None


ResidenceKind = Literal[
    "permanent_registration", "permanent_deregistration", "temporary_registration",
    "temporary_deregistration", "temporary_absence",
]  # fmt: skip


@dataclass(frozen=True, slots=True)
class ResidenceChange:
    """A residence registration (Luật Cư trú 2020): thường trú, tạm trú, tạm vắng."""

    pin: str
    kind: ResidenceKind
    effective_date: date
    commune_code: str | None = None  # where (registrations)
    detail: str | None = None  # house number and street, or hamlet
    join_household_of: str | None = None  # permanent: join the household of this PIN
    relationship: str = "other"  # relation to the head when joining
    end_date: date | None = None  # temporary residence or absence
    reason: str | None = None  # deregistration or absence reason


@dataclass(frozen=True, slots=True)
class Marriage:
    """Marriage registration (đăng ký kết hôn)."""

    spouse_a_pin: str
    spouse_b_pin: str
    date_of_marriage: date
    registration_reference: str
    registration_commune_code: str | None = None


@dataclass(frozen=True, slots=True)
class Divorce:
    """A divorce recorded from a court's final judgment (ghi chú ly hôn)."""

    spouse_a_pin: str
    spouse_b_pin: str
    effective_date: date
    judgment_reference: str


@dataclass(frozen=True, slots=True)
class Correction:
    """A correction of civil-status data (cải chính hộ tịch / xác định lại giới tính).

    A new birth date or sex that changes the PIN's century/sex digit or year cancels the PIN and
    issues a new one (Law on Identification 2023 art. 12, Decree 70/2024)."""

    pin: str
    reason: str
    date_of_birth: date | None = None
    sex: Sex | None = None
    family: str | None = None
    middle: str | None = None
    given: str | None = None


Event = Birth | Death | ResidenceChange | Marriage | Divorce | Correction


@dataclass(frozen=True, slots=True)
class EventContext:
    """Who registers the event, when, and the population's seed (PIN allocation)."""

    seed: int
    now: datetime  # aware; the event's commit time
    actor: str = ""  # agency code (or "registry" for direct calls)
    officer: str = ""


@dataclass(slots=True)
class Decision:
    """What an event changes: records to write (pin -> record), the feed item and the answer.

    ``records`` keeps the order of first change; ``before`` holds each record as it was (None for
    a new PIN). ``birth_key`` indexes a birth against duplicates.
    """

    type: EventType
    subject: str
    records: dict[str, dict[str, Any]] = field(default_factory=dict)
    before: dict[str, dict[str, Any] | None] = field(default_factory=dict)
    result: dict[str, Any] = field(default_factory=dict)
    birth_key: str | None = None

    def put(self, record: dict[str, Any], before: dict[str, Any] | None) -> None:
        """Stage ``record``; the first ``before`` seen for its PIN is kept."""
        pin = record["pin"]
        self.records[pin] = record
        self.before.setdefault(pin, before)

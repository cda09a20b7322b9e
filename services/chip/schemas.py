"""Wire shapes of the chip card service.

The chip files travel as the vendor wrapper of the C06 verification service names them
(``idNumber``, ``comData``, ``dg1Data`` ... ``sodData``, base64; domain §4.7, [P]): the reader
endpoint answers exactly the body the verify endpoint takes, so a test can post one to the other.
"""

from __future__ import annotations

import base64
import re
from collections.abc import Callable
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from sim06.mock_registry.passive_auth import CHECKS, REASONS
from sim06.services.registry.schemas import PIN_PATTERN

# Each field's published pattern is exact; the model enforces a looser one and the service
# checks the rest, so that what gets through is reported with its own code (INVALID_PIN,
# INVALID_CHIP_FILE, INVALID_FACE_IMAGE, INVALID_QR_PAYLOAD) and the rule it breaks.
DIGITS_12 = r"^[0-9]{12}$"
B64_CHARS = r"^[A-Za-z0-9+/\r\n]*(?:=[\r\n]*){0,2}$"
# Standard base64, padded, as decode_base64 takes it: line breaks anywhere are dropped first.
_B64 = r"[A-Za-z0-9+/][\r\n]*"
B64_PATTERN = rf"^[\r\n]*(?:(?:{_B64}){{4}})*(?:(?:{_B64}){{2}}=[\r\n]*=|(?:{_B64}){{3}}=)?[\r\n]*$"
# The card QR (mock_registry/qr.py): 7 fields, or 10 with cancelled PINs, father and mother.
_DATE = "(?:[0-9]{8}|[0-9]{4})"
QR_PATTERN = (
    rf"^[\r\n]*[0-9]{{12}}\|(?:[0-9]{{9}})?\|[^|]*[^|\s\x1c-\x1f][^|]*\|{_DATE}\|(?:Nam|Nữ)\|"
    rf"[^|]*\|{_DATE}(?:\|,*(?:[0-9]{{12}},+)*(?:[0-9]{{12}})?,*\|[^|]*\|[^|]*)?[\r\n]*$"
)
QR_TEXT = re.compile(QR_PATTERN)
MAX_FILE_B64 = 200_000  # a DG2 with a large JPEG2000 portrait stays far below this
Defect = Literal[
    "tampered_dg", "untrusted_signer", "expired_signer", "revoked_signer", "lost", "moved"
]


def decode_base64(value: str) -> bytes:
    """The bytes of padded standard base64 (B64_PATTERN); ``ValueError`` otherwise.

    ``b64decode(validate=True)`` alone also takes surplus padding after a full group."""
    text = value.replace("\n", "").replace("\r", "")
    if len(text) % 4 or len(text) - len(text.rstrip("=")) > 2:
        raise ValueError("base64 must come in groups of 4 characters, with at most 2 '='")
    return base64.b64decode(text, validate=True)


def published(pattern: str) -> Callable[[dict[str, Any]], None]:
    """``json_schema_extra`` that publishes ``pattern`` in place of the enforced one (in the
    string branch of an optional field: two patterns at once defeat test generators)."""

    def update(schema: dict[str, Any]) -> None:
        branches = [b for b in schema.get("anyOf", ()) if b.get("type") == "string"]
        (branches[0] if branches else schema)["pattern"] = pattern

    return update


def b64_field(description: str, *, optional: bool = False, max_length: int = MAX_FILE_B64) -> Any:
    """A base64 field: the alphabet enforced here, the padding by :func:`decode_base64`."""
    return Field(
        default=None if optional else ...,
        pattern=B64_CHARS,
        max_length=max_length,
        json_schema_extra=published(B64_PATTERN),
        description=description,
    )


def pin_field(description: str) -> Any:
    """A PIN: 12 digits enforced here; the province code is the service's (INVALID_PIN)."""
    return Field(
        pattern=DIGITS_12, json_schema_extra=published(PIN_PATTERN), description=description
    )


class ChipFilesIn(BaseModel):
    """Chip files as read over NFC, base64 (standard alphabet). COM, DG2, DG14 and DG15 may be
    left out (some readers skip them); any file sent must be covered by the SOD."""

    model_config = ConfigDict(extra="forbid")

    # 12 digits: the verdict, not the edge, says when it is no PIN of the registry.
    idNumber: str = Field(pattern=DIGITS_12, description="12-digit PIN of the card holder.")
    comData: str | None = b64_field("EF.COM.", optional=True)
    dg1Data: str = b64_field("DG1 (MRZ).")
    dg2Data: str | None = b64_field("DG2 (face).", optional=True)
    dg13Data: str = b64_field("DG13.")
    dg14Data: str | None = b64_field("DG14.", optional=True)
    dg15Data: str | None = b64_field("DG15.", optional=True)
    sodData: str = b64_field("EF.SOD.")


class Out(BaseModel):
    model_config = ConfigDict(extra="forbid")


class ChipFilesOut(Out):
    """The files of one card (every file present)."""

    idNumber: str
    comData: str
    dg1Data: str
    dg2Data: str = Field(
        description="DG2 (face). Empty for a card issued before the holder turned 6: no face "
        "is collected then (Law 26/2023), the chip has no DG2 and EF.COM does not list it."
    )
    dg13Data: str
    dg14Data: str
    dg15Data: str
    sodData: str


class CheckResult(Out):
    passed: bool | None = Field(description="True, False, or null when skipped.")
    reason: str | None = Field(description="Stable reason code when the check failed.")
    detail: str


class FailedCheck(Out):
    check: str = Field(description="Name of the check, a key of `checks`.")
    reason: str
    detail: str


class Verdict(Out):
    """The verdict. Observed C06 names: verifyRequestId, verifyC06, c06VerifySignature."""

    verify_request_id: str
    id_number: str
    valid: bool
    reason: str | None = Field(
        description="The first failed check's reason (all of them: `failed`): "
        + ", ".join(sorted(REASONS))
        + "."
    )
    failed: list[FailedCheck] = Field(
        description="Every failed check in check order, each with its reason (empty if valid)."
    )
    checks: dict[str, CheckResult] = Field(description="In order: " + ", ".join(CHECKS) + ".")
    document_signer: str | None = Field(description="Subject DN of the DS certificate in the SOD.")
    verified_at: str = Field(description="The simulated date the verdict speaks for (SIM06_AS_OF).")
    signature: str = Field(
        description="Compact JWS (JWT) over the verdict by the simulated C06 key; keys at "
        "/v1/chip/jwks."
    )


class QRText(Out):
    pin: str
    layout: Literal["cccd_7_field", "can_cuoc_extended"]
    text: str


class QRParseIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    text: str = Field(
        min_length=1,
        max_length=2000,
        json_schema_extra=published(QR_PATTERN),  # the service names the field that breaks it
        description="The QR's text, one line: PIN|CMND|full name|date of birth|Nam or "
        "Nữ|address|issue date (ddmmyyyy, or the year alone), plus |cancelled PINs|father|mother "
        "on the 2024 card.",
    )


class QRParsed(Out):
    layout: str
    fields: dict[str, Any]
    registry_match: bool | None = Field(description="null when the PIN is not in the database.")
    mismatched_fields: list[str]


class JWKS(Out):
    keys: list[dict[str, Any]]


FaceDecision = Literal["match", "no_match", "liveness_failed", "poor_quality"]
ProbeKind = Literal["genuine", "impostor", "replay", "poor_quality"]


class FaceMatchIn(BaseModel):
    """A face capture to compare with the chip photo of the citizen's card."""

    model_config = ConfigDict(extra="forbid")

    pin: str = pin_field("12-digit PIN of the card holder.")
    image: str = Field(
        pattern=B64_CHARS,
        min_length=1,
        max_length=1_400_000,
        json_schema_extra=published(B64_PATTERN),
        description="The capture, base64 JPEG or PNG, frontal, framed like the chip photo (3:4).",
    )
    dg2Data: str | None = b64_field(
        "DG2 as read from the chip (base64); default: the DG2 of the current card.",
        optional=True,
    )
    threshold: float | None = Field(
        default=None,
        ge=0.0,
        le=1.0,
        description="A stricter threshold than SIM06_FACE_MATCH_THRESHOLD; a lower one is "
        "refused (422 FACE_THRESHOLD_BELOW_FLOOR).",
    )


class Liveness(Out):
    passed: bool
    method: Literal["screen_replay_banding"]
    replay_signal: float = Field(description="Share of the row spectrum in a 2.5-8 px band peak.")
    threshold: float = Field(description="Replay signals at or above this fail liveness.")


class FaceQuality(Out):
    passed: bool
    width: int
    height: int
    sharpness: float = Field(description="Variance of the Laplacian on the 120x160 frame.")
    brightness: float = Field(description="Mean grey level (0-255) on the 120x160 frame.")
    contrast: float = Field(description="Standard deviation of the grey level.")
    face_found: bool
    issues: list[
        Literal[
            "low_resolution", "blurred", "too_dark", "too_bright", "low_contrast", "face_not_found"
        ]
    ]


class FaceMatchOut(Out):
    """Decision order: poor_quality, then liveness_failed, then match / no_match by score."""

    pin: str
    decision: FaceDecision
    matched: bool
    score: float | None = Field(description="0..1, deterministic; null when no face was measured.")
    threshold: float
    detail: str
    reference: Literal["card_dg2", "submitted_dg2"]
    liveness: Liveness
    quality: FaceQuality

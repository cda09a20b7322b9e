"""Wire shapes of the chip card service.

The chip files travel as the vendor wrapper of the C06 verification service names them
(``idNumber``, ``comData``, ``dg1Data`` ... ``sodData``, base64; domain §4.7, [P]): the reader
endpoint answers exactly the body the verify endpoint takes, so a test can post one to the other.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from mock_registry.passive_auth import CHECKS, REASONS

PIN_PATTERN = r"^[0-9]{12}$"
B64_PATTERN = r"^[A-Za-z0-9+/\r\n]*={0,2}$"
MAX_FILE_B64 = 200_000  # a DG2 with a large JPEG2000 portrait stays far below this
Defect = Literal[
    "tampered_dg", "untrusted_signer", "expired_signer", "revoked_signer", "lost", "moved"
]
B64Field = Field(default=None, pattern=B64_PATTERN, max_length=MAX_FILE_B64)


class ChipFilesIn(BaseModel):
    """Chip files as read over NFC, base64 (standard alphabet). COM, DG2, DG14 and DG15 may be
    left out (some readers skip them); any file sent must be covered by the SOD."""

    model_config = ConfigDict(extra="forbid")

    idNumber: str = Field(pattern=PIN_PATTERN, description="12-digit PIN of the card holder.")
    comData: str | None = B64Field
    dg1Data: str = Field(pattern=B64_PATTERN, max_length=MAX_FILE_B64, description="DG1 (MRZ).")
    dg2Data: str | None = B64Field
    dg13Data: str = Field(pattern=B64_PATTERN, max_length=MAX_FILE_B64, description="DG13.")
    dg14Data: str | None = B64Field
    dg15Data: str | None = B64Field
    sodData: str = Field(pattern=B64_PATTERN, max_length=MAX_FILE_B64, description="EF.SOD.")


class Out(BaseModel):
    model_config = ConfigDict(extra="forbid")


class ChipFilesOut(Out):
    """The files of one card (every file present)."""

    idNumber: str
    comData: str
    dg1Data: str
    dg2Data: str
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

    text: str = Field(min_length=1, max_length=2000, description="The QR's text, one line.")


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

    pin: str = Field(pattern=PIN_PATTERN, description="12-digit PIN of the card holder.")
    image: str = Field(
        pattern=B64_PATTERN,
        min_length=1,
        max_length=1_400_000,
        description="The capture, base64 JPEG or PNG, frontal, framed like the chip photo (3:4).",
    )
    dg2Data: str | None = Field(
        default=None,
        pattern=B64_PATTERN,
        max_length=MAX_FILE_B64,
        description="DG2 as read from the chip (base64); default: the DG2 of the current card.",
    )
    threshold: float | None = Field(
        default=None, ge=0.0, le=1.0, description="Overrides SIM06_FACE_MATCH_THRESHOLD."
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

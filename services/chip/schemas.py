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


class Verdict(Out):
    """The verdict. Observed C06 names: verifyRequestId, verifyC06, c06VerifySignature."""

    verify_request_id: str
    id_number: str
    valid: bool
    reason: str | None = Field(
        description="First failed check's reason: " + ", ".join(sorted(REASONS)) + "."
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

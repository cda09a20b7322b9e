"""The chip card operations without HTTP: reader simulation, C06-style verification, QR code.

The verdict is signed as a JWT (compact JWS) by a simulated C06 key kept in
``DATA_DIR/keys/chip`` so the caller can keep it as evidence (domain §4.7: ``c06VerifySignature``).
Verification speaks for the simulated date ``settings.as_of`` (the date card statuses in the
database describe), never the wall clock, so verdicts are reproducible.
"""

from __future__ import annotations

import base64
import hashlib
import time
import uuid
from datetime import datetime, timedelta, timezone
from typing import Any

import jwt
import orjson

from sim06.mock_registry import chip, qr
from sim06.mock_registry.ids import is_valid_pin
from sim06.mock_registry.passive_auth import TrustAnchors, verify
from sim06.mock_registry.pki import Pki
from sim06.mock_registry.store import CitizenStore
from sim06.services.chip import schemas
from sim06.services.common.keys import KeyStore
from sim06.services.common.problems import ProblemError
from sim06.services.common.settings import Settings
from sim06.services.registry.service import invalid_pin

ICT = timezone(timedelta(hours=7))  # Indochina Time: the registry's dates are local
ISSUER = "urn:sim06:c06:chip-verification"
_FILE_FIELDS = {
    "com": "comData",
    "dg1": "dg1Data",
    "dg2": "dg2Data",
    "dg13": "dg13Data",
    "dg14": "dg14Data",
    "dg15": "dg15Data",
    "sod": "sodData",
}


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


class ChipService:
    """Reader simulation, verification and QR over a citizen store and the simulated PKI."""

    def __init__(self, settings: Settings, store: CitizenStore, pki: Pki | None = None) -> None:
        self.settings = settings
        self.store = store
        self.pki = pki if pki is not None else Pki(settings.keys_dir / "pki")
        self.keys = KeyStore(settings.keys_dir / "chip", alg=settings.chip_attestation_alg)
        self.anchors = TrustAnchors([self.pki.csca], [self.pki.crl])
        self.at = datetime(
            settings.as_of.year, settings.as_of.month, settings.as_of.day, 12, tzinfo=ICT
        )

    def _lookup(self, pin: str) -> dict[str, Any] | None:
        raw = self.store.get(pin)
        return None if raw is None else orjson.loads(raw)

    def record(self, pin: str) -> dict[str, Any]:
        """A citizen record (422 for a malformed PIN, 404 if unknown)."""
        if not is_valid_pin(pin):
            raise invalid_pin(pin)
        record = self._lookup(pin)
        if record is None:
            raise ProblemError("CITIZEN_NOT_FOUND", f"No citizen has the PIN {pin}.")
        return record

    def card_record(self, pin: str) -> dict[str, Any]:
        """A citizen record with a chip card (404 NO_CHIP_CARD otherwise)."""
        record = self.record(pin)
        if not record.get("id_card"):
            raise ProblemError(
                "NO_CHIP_CARD", f"The citizen {pin} holds no chip card; there is no chip to read."
            )
        return record

    def read(self, pin: str, defect: str | None = None) -> dict[str, str]:
        """The files of the citizen's card as an NFC reader hands them over (base64)."""
        files = chip.issue(
            self.card_record(pin), self.pki, defect, self.settings.mrz_lifelong_expiry
        )
        out = {"idNumber": pin}
        # A card issued under 6 has no DG2: its dg2Data is empty (Law 26/2023, no face).
        out.update({w: _b64(getattr(files, n) or b"") for n, w in _FILE_FIELDS.items()})
        return out

    def verify(self, body: schemas.ChipFilesIn) -> dict[str, Any]:
        """Passive authentication + registry match; the verdict, signed."""
        files: dict[str, bytes] = {}
        for name, wire in _FILE_FIELDS.items():
            value = getattr(body, wire)
            if not value:  # not read (an empty dg2Data: the card holds no face)
                continue
            try:
                files[name] = schemas.decode_base64(value)
            except ValueError as exc:  # binascii.Error is one
                raise ProblemError(
                    "INVALID_CHIP_FILE",
                    f"{wire} is not valid base64.",
                    errors=[{"pointer": f"/{wire}", "rule": "base64", "reason": str(exc)}],
                ) from exc
        verdict = verify(files, body.idNumber, self.anchors, self._lookup, self.at)
        request_id = str(uuid.uuid4())
        checks = {c.name: c.as_dict() for c in verdict.checks}
        result: dict[str, Any] = {
            "verify_request_id": request_id,
            "id_number": body.idNumber,
            "valid": verdict.valid,
            "reason": verdict.reason,
            "failed": [
                {"check": c.name, "reason": c.reason, "detail": c.detail} for c in verdict.failed
            ],
            "checks": checks,
            "document_signer": verdict.signer_subject,
            "verified_at": self.at.date().isoformat(),
        }
        result["signature"] = self._attest(result, files.get("sod", b""))
        return result

    def _attest(self, verdict: dict[str, Any], sod: bytes) -> str:
        key = self.keys.current
        claims = {
            "iss": ISSUER,
            "sub": verdict["id_number"],
            "jti": verdict["verify_request_id"],
            "iat": int(time.time()),
            "valid": verdict["valid"],
            "reason": verdict["reason"],
            "failed": [f["reason"] for f in verdict["failed"]],
            "checks": {
                n: c["reason"] or ("ok" if c["passed"] else "skipped")
                for n, c in verdict["checks"].items()
            },
            "verified_at": verdict["verified_at"],
            # Binds the verdict to the exact card read: the SOD covers every data group.
            "sod_sha256": hashlib.sha256(sod).hexdigest(),
        }
        return jwt.encode(claims, key.private_key, algorithm=key.alg, headers={"kid": key.kid})

    def jwks(self) -> dict[str, Any]:
        """Public keys that verify verdict signatures."""
        return self.keys.jwks()

    def qr_text(self, pin: str, layout: str | None = None) -> dict[str, str]:
        """The text of the card's QR code."""
        record = self.card_record(pin)
        chosen = layout or qr.layout_of(record)
        return {"pin": pin, "layout": chosen, "text": qr.encode(record, chosen)}

    def qr_parse(self, text: str) -> dict[str, Any]:
        """Parse QR text and compare it with the database."""
        try:
            parsed = qr.decode(text)
        except qr.QRError as exc:
            raise ProblemError(
                "INVALID_QR_PAYLOAD",
                str(exc),
                errors=[{"pointer": "/text", "rule": exc.field, "reason": str(exc)}],
            ) from exc
        if schemas.QR_TEXT.fullmatch(text) is None:  # e.g. non-ASCII digits, which \d takes
            reason = "digits must be ASCII 0-9 (the published pattern)"
            raise ProblemError(
                "INVALID_QR_PAYLOAD",
                reason,
                errors=[{"pointer": "/text", "rule": "pattern", "reason": reason}],
            )
        record = self._lookup(parsed.pin) if is_valid_pin(parsed.pin) else None
        mismatched = qr.compare(parsed, record) if record is not None else []
        fields = {k: v for k, v in parsed.__dict__.items() if k != "layout"}
        fields["cancelled_pins"] = list(parsed.cancelled_pins)
        return {
            "layout": parsed.layout,
            "fields": fields,
            "registry_match": None if record is None else not mismatched,
            "mismatched_fields": mismatched,
        }

"""Examples of the identity contract: the QR test API, chip cards, face match and health.

The OAuth/OIDC endpoints declare their examples inline (RFC 6749 shapes); these cover the rest.
Chip files and QR texts come from the real encoders over the persona adult-level2; what depends
on the installation's keys (DG2's photo, DG14, DG15, EF.SOD, signatures) is shortened or hashed,
as the example summaries say.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
from datetime import UTC, date, datetime
from functools import cache
from typing import Any

from sim06.mock_registry import chip, lds, personas, qr
from sim06.mock_registry.mrz import compose_td1
from sim06.mock_registry.passive_auth import CHECKS
from sim06.services.common.keys import public_jwk
from sim06.services.common.openapi_docs import (
    External,
    ServiceExamples,
    demo_jwt,
    example_key,
    problem_of,
)
from sim06.services.common.problems import ProblemError
from sim06.services.common.settings import DEFAULT_AS_OF, Settings
from sim06.services.registry.examples import ADULT, persona_service

__all__ = ["examples"]

JSON = "application/json"
TXN = "Qm9ZcW5tX3Y0dEl4aEJ1c2Nr"  # a transaction id as QrLogins.start makes them (18 bytes)
UNKNOWN_PIN = "001090000001"
NO_CARD_PIN = personas.BY_KEY["child-under-14"].pin
SHORTENED = "DG2, DG14, DG15 and EF.SOD shortened (the installation's keys sign them)"
# A 120x160 flat grey PNG, as a camera sends when the frame is blank: small, and the matcher
# really answers it (poor_quality), so a tool replaying the example gets the documented answer.
BLANK_PNG = (
    "iVBORw0KGgoAAAANSUhEUgAAAHgAAACgCAAAAADiYvdMAAAAXElEQVR42u3NMQEAAAwCIKMb3RjbAQVIj0QsFovFYrFY"
    "LBaLxWKxWCwWi8VisVgsFovFYrFYLBaLxWKxWCwWi8VisVgsFovFYrFYLBaLxWKxWCwWi8VisVgs/hcPZgWCLOlY74gA"
    "AAAASUVORK5CYII="
)
LEVEL1_REFUSED = (
    "Level 2 is required but this VNeID account is level 1; verify it in person at a police "
    "office to reach level 2."
)
VERIFIED_AT = datetime(2026, 7, 1, 9, 30, tzinfo=UTC)
KID = "20260701-c06a11ce"
_SETTING = Settings.model_fields  # defaults only: the environment must not change the contract


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def chip_files(record: dict[str, Any]) -> dict[str, str]:
    """The files a reader hands over for ``record``'s card: COM, DG1 and DG13 in full (the real
    encoders), the key-dependent files cut to their first bytes."""
    name, card = record["name"], record["id_card"]
    mrz = compose_td1(
        record["pin"],
        name["family"],
        f"{name['middle']} {name['given']}",
        date.fromisoformat(record["date_of_birth"]),
        record["sex"],
        date.fromisoformat(card["expiry_date"]),
    )
    dg1 = lds.tlv(lds.DG_TAGS[1], lds.tlv(0x5F1F, mrz.replace("\n", "").encode("ascii")))
    return {
        "idNumber": record["pin"],
        "comData": _b64(lds.ef_com(list(chip.DG_NUMBERS))),
        "dg1Data": _b64(dg1),
        "dg2Data": "dYII1X9hggjQAgEBf2CCCMihD4ACAQGBAQKHAgEBiAIACF8uggiyRkFDADAx",
        "dg13Data": _b64(chip.encode_dg13(chip.dg13_items(record))),
        "dg14Data": "boGVMYGSMA8GCgQAfwAHAgIDAgICAQEwFwYGZ4EIAQEFAgEBBgoEAH8ABwEB",
        "dg15Data": "b1swWTATBgcqhkjOPQIBBggqhkjOPQMBBwNCAAQEfCgjxhAXUEU2NeESCoCL",
        "sodData": "d4IFMDCCBSwGCSqGSIb3DQEHAqCCBR0wggUZAgEDMQ8wDQYJYIZIAWUDBAIB",
    }


_CHECK_DETAILS = {
    "files": "DG1, DG2, DG13, DG14, DG15 and EF.SOD read",
    "sod_signature": "CMS SignedData verifies with the DS certificate",
    "signer_chain": "issued by CN=CSCA Viet Nam SIMULATED,OU=sim06 test PKI - not a real CSCA,"
    "O=Bộ Công an (SIMULATED - sim06),C=VN",
    "signer_validity": "valid until 2041-01-01",
    "signer_revocation": "not on the CSCA's CRL",
    "dg_hashes": "5 data groups match (sha256)",
    "ef_com": "lists DG1, DG2, DG13, DG14, DG15, as read and signed",
    "mrz": "TD1 check digits valid",
    "id_number": "PIN, MRZ and DG13 agree",
    "registry_record": "citizen found",
    "card_status": "current card, valid",
    "registry_data": "name, date of birth and sex match",
    "registry_residence": "permanent residence matches",
    "citizen_status": "alive",
}


def verdict(request_id: str, failed: dict[str, tuple[str, str]]) -> dict[str, Any]:
    """A verdict as ``ChipService.verify`` answers it; ``failed``: check → (reason, detail)."""
    checks = {
        name: {
            "passed": name not in failed,
            "reason": failed[name][0] if name in failed else None,
            "detail": failed[name][1] if name in failed else _CHECK_DETAILS[name],
        }
        for name in CHECKS
    }
    failures = [{"check": n, "reason": r, "detail": d} for n, (r, d) in failed.items()]
    claims = {
        "iss": "urn:sim06:c06:chip-verification",
        "sub": ADULT,
        "jti": request_id,
        "iat": int(VERIFIED_AT.timestamp()),
        "valid": not failed,
        "reason": failures[0]["reason"] if failures else None,
        "failed": [f["reason"] for f in failures],
        "checks": {n: c["reason"] or "ok" for n, c in checks.items()},
        "verified_at": DEFAULT_AS_OF.isoformat(),
        "sod_sha256": hashlib.sha256(b"EF.SOD of the card read").hexdigest(),
    }
    return {
        "verify_request_id": request_id,
        "id_number": ADULT,
        "valid": not failed,
        "reason": claims["reason"],
        "failed": failures,
        "checks": checks,
        "document_signer": "CN=Document Signer current SIMULATED,OU=sim06 test PKI - document "
        "signer,O=Bộ Công an (SIMULATED - sim06),C=VN",
        "verified_at": DEFAULT_AS_OF.isoformat(),
        "signature": demo_jwt({"alg": "ES256", "kid": KID, "typ": "JWT"}, claims),
    }


def _qr_parsed(text: str) -> dict[str, Any]:
    parsed = qr.decode(text)
    record = persona_service().record(parsed.pin)
    fields = {k: v for k, v in parsed.__dict__.items() if k != "layout"}
    fields["cancelled_pins"] = list(parsed.cancelled_pins)
    mismatched = qr.compare(parsed, record)
    return {
        "layout": parsed.layout,
        "fields": fields,
        "registry_match": not mismatched,
        "mismatched_fields": mismatched,
    }


def _bad_qr(text: str) -> ProblemError:
    try:
        qr.decode(text)
    except qr.QRError as exc:
        errors = [{"pointer": "/text", "rule": exc.field, "reason": str(exc)}]
        return ProblemError("INVALID_QR_PAYLOAD", str(exc), errors=errors)
    raise AssertionError(f"{text!r} is a valid card QR")


def _bad_base64(value: str) -> ProblemError:
    try:
        base64.b64decode(value, validate=True)
    except binascii.Error as exc:
        errors = [{"pointer": "/dg1Data", "rule": "base64", "reason": str(exc)}]
        return ProblemError("INVALID_CHIP_FILE", "dg1Data is not valid base64.", errors=errors)
    raise AssertionError(f"{value!r} is valid base64")


def _face(
    decision: str, score: float | None, detail: str, signal: float, quality: dict[str, Any]
) -> dict[str, Any]:
    """A face-match answer; the figures are what the matcher answers for the captures named."""
    return {
        "pin": ADULT,
        "decision": decision,
        "matched": decision == "match",
        "score": score,
        "threshold": float(_SETTING["face_match_threshold"].default),
        "detail": detail,
        "reference": "card_dg2",
        "liveness": {
            "passed": signal < 0.35,
            "method": "screen_replay_banding",
            "replay_signal": signal,
            "threshold": 0.35,
        },
        "quality": quality,
    }


def _quality(
    size: tuple[int, int], sharpness: float, brightness: float, contrast: float, *issues: str
) -> dict[str, Any]:
    return {
        "passed": not issues,
        "width": size[0],
        "height": size[1],
        "sharpness": sharpness,
        "brightness": brightness,
        "contrast": contrast,
        "face_found": "face_not_found" not in issues,
        "issues": list(issues),
    }


FACE_ANSWERS = {
    # The probe images of GET /v1/biometrics/probes/{pin}?kind=genuine and ?kind=replay.
    "genuine": _face(
        "match", 0.9919, "score 0.9919 ≥ threshold 0.8", 0.0699,
        _quality((240, 320), 520.86, 205.86, 26.82),
    ),
    "replay": _face(
        "liveness_failed", 0.9936, "screen replay banding detected", 0.9889,
        _quality((240, 320), 4618.03, 191.75, 30.16),
    ),
    "blank-frame": _face(  # BLANK_PNG
        "poor_quality", None, "capture unusable: blurred, low_contrast, face_not_found", 0.0,
        _quality((120, 160), 0.0, 128.0, 0.0, "blurred", "low_contrast", "face_not_found"),
    ),
}  # fmt: skip


def _qr_problems() -> dict[str, ProblemError]:
    return {
        "NOT_FOUND": ProblemError("NOT_FOUND", "The QR test API is off."),
        "MALFORMED_BODY": ProblemError("MALFORMED_BODY", "The body is not JSON."),
        "VALIDATION_FAILED": ProblemError(
            "VALIDATION_FAILED",
            'Send {"persona": key} or {"pin": PIN}.',
            errors=[
                {
                    "pointer": "/persona",
                    "rule": "required",
                    "reason": "a persona key or a 12-digit PIN",
                }
            ],
        ),
    }


@cache
def examples() -> ServiceExamples:
    """The identity service's examples (built once)."""
    record = persona_service().record(ADULT)
    files = chip_files(record)
    text = qr.encode(record)
    answer = {"persona": {"persona": "adult-level2"}, "pin": {"pin": ADULT}}
    max_image = int(_SETTING["face_max_image_bytes"].default)
    return ServiceExamples(
        requests={
            "test-qr-approve": {JSON: answer},
            "test-qr-deny": {JSON: answer},
            "chip-verify": {JSON: {"adult-level2": files}},
            "chip-qr-parse": {JSON: {"adult-level2": {"text": text}}},
            "biometrics-face-match": {JSON: {"blank-frame": {"pin": ADULT, "image": BLANK_PNG}}},
        },
        responses={
            "test-qr-approve": {"200": {JSON: {"approved": {"txn": TXN, "decision": "approved"}}}},
            "test-qr-deny": {"200": {JSON: {"denied": {"txn": TXN, "decision": "denied"}}}},
            "health-live": {"200": {JSON: {"live": {"status": "ok"}}}},
            "chip-read": {"200": {JSON: {"adult-level2": files}}},
            "chip-verify": {
                "200": {
                    JSON: {
                        "valid": verdict("5f0c2b7e-8d1a-4c3e-9b6f-2a7d4e1c0b93", {}),
                        "tampered_dg": verdict(
                            "c41e9a20-6b3d-4f85-a7e2-90d1b5c38f46",
                            {
                                "dg_hashes": ("DG_HASH_MISMATCH", "DG13 altered after signing"),
                                "registry_data": (
                                    "DATA_MISMATCH",
                                    "DG13 tags [2] differ from the database",
                                ),
                            },
                        ),
                    }
                }
            },
            "chip-jwks": {
                "200": {JSON: {"c06": {"keys": [public_jwk(example_key("c06"), KID, "ES256")]}}}
            },
            "chip-qr": {
                "200": {
                    JSON: {
                        "adult-level2": {"pin": ADULT, "layout": qr.layout_of(record), "text": text}
                    },
                    "image/png": {"png": External(f"/v1/cards/{ADULT}/qr?format=png")},
                    "image/svg+xml": {"svg": External(f"/v1/cards/{ADULT}/qr?format=svg")},
                }
            },
            "chip-qr-parse": {"200": {JSON: {"adult-level2": _qr_parsed(text)}}},
            "biometrics-face-match": {"200": {JSON: FACE_ANSWERS}},
            "biometrics-probe": {
                "200": {
                    "image/jpeg": {
                        kind: External(f"/v1/biometrics/probes/{ADULT}?kind={kind}")
                        for kind in ("genuine", "impostor", "replay", "poor_quality")
                    },
                    "image/png": {"genuine": External(f"/v1/biometrics/probes/{ADULT}?format=png")},
                }
            },
        },
        problems={
            "INVALID_PIN": problem_of(lambda: persona_service().record_bytes("003090104217")),
            "CITIZEN_NOT_FOUND": ProblemError(
                "CITIZEN_NOT_FOUND", f"No citizen has the PIN {UNKNOWN_PIN}."
            ),
            "NO_CHIP_CARD": ProblemError(
                "NO_CHIP_CARD",
                f"The citizen {NO_CARD_PIN} holds no chip card; there is no chip to read.",
            ),
            "INVALID_CHIP_FILE": _bad_base64("YV1fH1pJRA"),
            "INVALID_QR_PAYLOAD": _bad_qr(f"{ADULT}|Nguyễn Văn An"),
            "INVALID_FACE_IMAGE": ProblemError(
                "INVALID_FACE_IMAGE",
                "image: not a JPEG or PNG image",
                errors=[
                    {"pointer": "/image", "rule": "format", "reason": "not a JPEG or PNG image"}
                ],
            ),
            "FACE_IMAGE_TOO_LARGE": ProblemError(
                "FACE_IMAGE_TOO_LARGE",
                f"image is {max_image + 181_203} bytes; at most {max_image}.",
            ),
            "IDENTITY_QR_NOT_FOUND": ProblemError(
                "IDENTITY_QR_NOT_FOUND", "No such QR login transaction."
            ),
            "IDENTITY_QR_EXPIRED": ProblemError("IDENTITY_QR_EXPIRED", "This QR code has expired."),
            "IDENTITY_QR_USED": ProblemError(
                "IDENTITY_QR_USED", "This QR code was already answered."
            ),
            "IDENTITY_QR_ACCOUNT_REFUSED": ProblemError(
                "IDENTITY_QR_ACCOUNT_REFUSED", LEVEL1_REFUSED
            ),
        },
        operation_problems={"test-qr-approve": _qr_problems(), "test-qr-deny": _qr_problems()},
        path_values={"txn": TXN},
        problem_paths={
            "INVALID_PIN": {"pin": "003090104217"},
            "CITIZEN_NOT_FOUND": {"pin": UNKNOWN_PIN},
            "NO_CHIP_CARD": {"pin": NO_CARD_PIN},
        },
    )

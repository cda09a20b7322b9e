"""Face match against the chip photo (DG2), as banks do under Decision 2345/QĐ-NHNN (domain §4.8).

Order of the gates, as a bank's eKYC flow applies them: an unusable capture is ``poor_quality``
(nothing else can be judged), a screen replay is ``liveness_failed``, then the score decides
``match`` or ``no_match`` against the threshold: ``SIM06_FACE_MATCH_THRESHOLD``, or a stricter one
the request asks for (a lower one is refused: 422 ``FACE_THRESHOLD_BELOW_FLOOR``).
"""

from __future__ import annotations

from functools import lru_cache
from typing import Any

from sim06.mock_registry import chip, face, face_match, face_probe
from sim06.mock_registry.lds import TLVError
from sim06.services.chip import schemas
from sim06.services.chip.service import ChipService
from sim06.services.common.problems import ProblemError

EXPECTED = {
    "genuine": "match",
    "impostor": "no_match",
    "replay": "liveness_failed",
    "poor_quality": "poor_quality",
}


def _b64(value: str, pointer: str, code: str) -> bytes:
    try:
        return schemas.decode_base64(value)
    except ValueError as exc:  # binascii.Error is one
        raise ProblemError(
            code,
            f"{pointer[1:]} is not valid base64.",
            errors=[{"pointer": pointer, "rule": "base64", "reason": str(exc)}],
        ) from exc


@lru_cache(maxsize=4096)
def _reference_of_card(pin: str, sex: str) -> tuple[float, ...] | None:
    """Features of the photo in the DG2 of the citizen's card (the chip's own JPEG)."""
    jpeg = face.jpeg_of_dg2(face.dg2(face.face_jpeg(pin), sex))
    return face_match.features(face_match.canonical(face_match.decode(jpeg)))


class FaceMatcher:
    """Face match and probe images over the chip service's registry access."""

    def __init__(self, chip: ChipService) -> None:
        self.chip = chip
        self.threshold = chip.settings.face_match_threshold
        self.max_bytes = chip.settings.face_max_image_bytes

    def probe(self, pin: str, kind: str, fmt: str) -> bytes:
        """The synthetic probe image of ``kind`` for the card holder ``pin``."""
        self.chip.card_record(pin)
        return face_probe.probe_bytes(pin, kind, fmt)

    def _decode(self, data: bytes, pointer: str, code: str) -> Any:
        if len(data) > self.max_bytes:
            raise ProblemError(
                "FACE_IMAGE_TOO_LARGE",
                f"{pointer[1:]} is {len(data)} bytes; at most {self.max_bytes}.",
            )
        try:
            return face_match.decode(data)
        except face_match.ImageError as exc:
            problem = "FACE_IMAGE_TOO_LARGE" if exc.rule == "too_large" else code
            raise ProblemError(
                problem,
                f"{pointer[1:]}: {exc}",
                errors=[{"pointer": pointer, "rule": exc.rule, "reason": str(exc)}],
            ) from exc

    def _reference(self, body: schemas.FaceMatchIn, record: dict[str, Any]) -> tuple[Any, str]:
        if body.dg2Data is None:
            if not chip.has_face(record):
                raise ProblemError(
                    "CARD_HAS_NO_FACE",
                    f"The card of {body.pin} was issued before the holder turned 6: no face "
                    "image was collected (Law 26/2023), so its chip has no DG2 to match against.",
                )
            return _reference_of_card(body.pin, record["sex"]), "card_dg2"
        raw = _b64(body.dg2Data, "/dg2Data", "INVALID_CHIP_FILE")
        try:
            jpeg = face.jpeg_of_dg2(raw)
        except (TLVError, ValueError, IndexError) as exc:
            raise ProblemError(
                "INVALID_CHIP_FILE",
                f"dg2Data is not an ICAO 9303 DG2 with a facial record: {exc}",
                errors=[{"pointer": "/dg2Data", "rule": "dg2", "reason": str(exc)}],
            ) from exc
        img = self._decode(jpeg, "/dg2Data", "INVALID_CHIP_FILE")
        return face_match.features(face_match.canonical(img)), "submitted_dg2"

    def _threshold(self, requested: float | None) -> float:
        # The service's threshold is a floor: a caller may ask for a stricter match, never a
        # weaker one (a threshold of 0 would match anyone's face).
        if requested is None:
            return self.threshold
        if requested < self.threshold:
            raise ProblemError(
                "FACE_THRESHOLD_BELOW_FLOOR",
                f"threshold {requested} is below the service's {self.threshold}; "
                "a caller may only raise it.",
                errors=[{"pointer": "/threshold", "rule": "minimum",
                         "reason": f"must be at least {self.threshold}"}],
            )  # fmt: skip
        return requested

    def match(self, body: schemas.FaceMatchIn) -> dict[str, Any]:
        """Quality, liveness and similarity of the probe against the chip photo; the decision."""
        threshold = self._threshold(body.threshold)
        record = self.chip.card_record(body.pin)
        image = self._decode(
            _b64(body.image, "/image", "INVALID_FACE_IMAGE"), "/image", "INVALID_FACE_IMAGE"
        )
        reference, source = self._reference(body, record)
        probe = face_match.analyse(image)
        score = (
            face_match.similarity(reference, probe.features)
            if reference is not None and probe.features is not None
            else None
        )
        q = probe.quality
        if not q.passed:
            decision, detail = "poor_quality", "capture unusable: " + ", ".join(q.issues)
        elif not probe.live:
            decision, detail = "liveness_failed", "screen replay banding detected"
        elif score is None:
            decision, detail = "no_match", "no face could be measured in the chip photo"
        elif score >= threshold:
            decision, detail = "match", f"score {score} ≥ threshold {threshold}"
        else:
            decision, detail = "no_match", f"score {score} < threshold {threshold}"
        return {
            "pin": body.pin,
            "decision": decision,
            "matched": decision == "match",
            "score": score,
            "threshold": threshold,
            "detail": detail,
            "reference": source,
            "liveness": {
                "passed": probe.live,
                "method": "screen_replay_banding",
                "replay_signal": probe.replay_signal,
                "threshold": face_match.REPLAY_THRESHOLD,
            },
            "quality": {
                "passed": q.passed,
                "width": q.width,
                "height": q.height,
                "sharpness": q.sharpness,
                "brightness": q.brightness,
                "contrast": q.contrast,
                "face_found": q.face_found,
                "issues": q.issues,
            },
        }

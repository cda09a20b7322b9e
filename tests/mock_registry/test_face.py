"""The synthetic face, its probes and the matcher that measures them."""

from __future__ import annotations

import hashlib
import io
import random

import pytest
from PIL import Image

from sim06.mock_registry import face, face_match, face_probe

PINS = [f"{random.Random(i).randrange(10**11, 10**12):012d}" for i in range(12)]


def analyse(data: bytes) -> face_match.Analysis:
    return face_match.analyse(face_match.decode(data))


def test_chip_photo_bytes_are_stable() -> None:
    # The DG2 photo is hashed into every SOD: a change here changes every card.
    digest = hashlib.sha256(face.face_jpeg("001090104217")).hexdigest()
    assert digest.startswith("83c915f8d9dc")


@pytest.mark.parametrize("pin", PINS)
def test_outcomes_separate_for_many_citizens(pin: str) -> None:
    ref = analyse(face.face_jpeg(pin))
    assert ref.quality.passed and ref.live and ref.features is not None
    genuine = analyse(face_probe.probe_bytes(pin, "genuine"))
    impostor = analyse(face_probe.probe_bytes(pin, "impostor"))
    replay = analyse(face_probe.probe_bytes(pin, "replay"))
    poor = analyse(face_probe.probe_bytes(pin, "poor_quality"))
    assert genuine.quality.passed and genuine.live and genuine.features is not None
    assert face_match.similarity(ref.features, genuine.features) >= 0.9
    assert impostor.quality.passed and impostor.live and impostor.features is not None
    assert face_match.similarity(ref.features, impostor.features) < 0.3
    assert replay.quality.passed and not replay.live and replay.features is not None
    assert face_match.similarity(ref.features, replay.features) >= 0.85
    assert not poor.quality.passed and {"blurred", "low_contrast"} <= set(poor.quality.issues)
    assert poor.live


def test_probes_are_deterministic_and_distinct() -> None:
    pin = PINS[0]
    images = [face_probe.probe_bytes(pin, kind) for kind in face_probe.KINDS]
    assert images == [face_probe.probe_bytes(pin, kind) for kind in face_probe.KINDS]
    assert len(set(images)) == len(images)
    assert face_probe.impostor_traits(pin) != face.traits_of(pin)
    with pytest.raises(ValueError, match="unknown probe kind"):
        face_probe.probe(pin, "twin")


def test_similarity_is_symmetric_and_one_for_itself() -> None:
    a = analyse(face.face_jpeg(PINS[1])).features
    b = analyse(face.face_jpeg(PINS[2])).features
    assert a is not None and b is not None
    assert face_match.similarity(a, a) == 1.0
    assert face_match.similarity(a, b) == face_match.similarity(b, a) < 1.0


def _encode(img: Image.Image, fmt: str = "PNG") -> bytes:
    out = io.BytesIO()
    img.save(out, fmt)
    return out.getvalue()


def test_decode_refuses_what_is_not_a_usable_image() -> None:
    cases = {
        b"plain text": "format",
        _encode(Image.new("RGB", (80, 80)), "GIF"): "format",
        _encode(Image.new("RGB", (63, 200))): "too_small",
        _encode(Image.new("L", (4097, 64))): "too_large",
        _encode(Image.new("RGB", (300, 400)))[:200]: "format",
    }
    for data, rule in cases.items():
        with pytest.raises(face_match.ImageError) as info:
            face_match.decode(data)
        assert info.value.rule == rule


def test_a_blank_or_non_face_image_is_poor_quality() -> None:
    grey = analyse(_encode(Image.new("RGB", (240, 320), (128, 128, 128))))
    assert grey.features is None and "face_not_found" in grey.quality.issues
    assert grey.replay_signal == 0.0


def test_exif_orientation_is_applied() -> None:
    img = Image.open(io.BytesIO(face_probe.probe_bytes(PINS[3], "genuine")))
    turned = img.rotate(90, expand=True)
    exif = Image.Exif()
    exif[0x0112] = 6  # "rotate 90° clockwise to view": undoes the rotation above
    out = io.BytesIO()
    turned.save(out, "JPEG", quality=92, exif=exif)
    ref = analyse(face.face_jpeg(PINS[3])).features
    probe = analyse(out.getvalue()).features
    assert ref is not None and probe is not None
    assert face_match.similarity(ref, probe) >= 0.9

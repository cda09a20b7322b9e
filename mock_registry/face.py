"""The chip photo: a synthetic face (never a real person) wrapped as ICAO 9303 DG2.

The image is drawn from a hash of the PIN, so the same citizen always gets the same JPEG. DG2
follows ICAO 9303 part 10 §4.7.2: a Biometric Information Template group (``7F61``) holding one
template (``7F60``) whose header (``A1``) says "facial features, ISO/IEC 19794-5" and whose data
block (``5F2E``) is an ISO/IEC 19794-5:2005 facial record with the JPEG inside.
"""

from __future__ import annotations

import hashlib
import io
import struct
from dataclasses import dataclass

from PIL import Image, ImageDraw

from sim06.mock_registry.lds import DG_TAGS, child, tlv, unwrap

WIDTH, HEIGHT = 120, 160
SKIN = ((241, 205, 170), (224, 180, 140), (198, 150, 110), (160, 115, 80))
HAIR = ((20, 16, 14), (45, 30, 20), (90, 70, 50), (200, 200, 200))


@dataclass(frozen=True)
class FaceTraits:
    """The hidden traits the drawing is made from (face-match compares them)."""

    skin: int
    hair: int
    face_width: int
    eye_gap: int
    mouth_width: int
    background: int

    def vector(self) -> tuple[float, ...]:
        """Traits scaled to [0, 1]."""
        return (
            self.skin / 3,
            self.hair / 3,
            (self.face_width - 70) / 20,
            (self.eye_gap - 22) / 12,
            (self.mouth_width - 18) / 14,
            self.background / 40,
        )


def traits_from(seed: str) -> FaceTraits:
    """Deterministic face traits drawn from a hash of ``seed``."""
    h = hashlib.sha256(seed.encode()).digest()
    return FaceTraits(
        skin=h[0] % 4,
        hair=h[1] % 4,
        face_width=70 + h[2] % 21,
        eye_gap=22 + h[3] % 13,
        mouth_width=18 + h[4] % 15,
        background=h[5] % 41,
    )


def traits_of(pin: str) -> FaceTraits:
    """Deterministic traits of a citizen's synthetic face."""
    return traits_from(f"sim06-face|{pin}")


def draw(
    t: FaceTraits, scale: int = 1, background: tuple[int, int, int] | None = None
) -> Image.Image:
    """The portrait of ``t`` at ``scale`` times 120x160 (ICAO frontal framing, face centred)."""
    bg = 215 + t.background
    img = Image.new(
        "RGB", (WIDTH * scale, HEIGHT * scale), background or (bg, bg, min(255, bg + 10))
    )
    d = ImageDraw.Draw(img)

    def box(x0: float, y0: float, x1: float, y1: float) -> tuple[float, float, float, float]:
        return (x0 * scale, y0 * scale, x1 * scale, y1 * scale)

    cx, cy = WIDTH // 2, 78
    half_w, half_h = t.face_width // 2, 46
    d.ellipse(box(cx - 52, 150, cx + 52, 230), fill=(40, 60, 110))  # shoulders
    d.rectangle(box(cx - 12, cy + 36, cx + 12, cy + 70), fill=SKIN[t.skin])  # neck
    d.ellipse(box(cx - half_w - 4, cy - half_h - 10, cx + half_w + 4, cy + 10), fill=HAIR[t.hair])
    d.ellipse(box(cx - half_w, cy - half_h, cx + half_w, cy + half_h), fill=SKIN[t.skin])
    eye_y, g = cy - 8, t.eye_gap // 2
    for ex in (cx - g, cx + g):
        d.ellipse(box(ex - 6, eye_y - 3, ex + 6, eye_y + 3), fill=(250, 250, 250))
        d.ellipse(box(ex - 3, eye_y - 3, ex + 3, eye_y + 3), fill=(30, 25, 20))
        d.line(box(ex - 7, eye_y - 8, ex + 7, eye_y - 9), fill=HAIR[t.hair], width=2 * scale)
    d.line(box(cx, eye_y + 2, cx - 3, cy + 12), fill=(120, 80, 60), width=scale)  # nose
    m = t.mouth_width // 2
    d.arc(box(cx - m, cy + 12, cx + m, cy + 26), 20, 160, fill=(150, 60, 60), width=2 * scale)
    return img


def face_jpeg(pin: str, quality: int = 70) -> bytes:
    """A small frontal face portrait (JPEG, 120x160) unique to ``pin``."""
    out = io.BytesIO()
    draw(traits_of(pin)).save(out, "JPEG", quality=quality, optimize=False)
    return out.getvalue()


def iso19794_5(jpeg: bytes, sex: str) -> bytes:
    """An ISO/IEC 19794-5:2005 facial record with one frontal JPEG image, no feature points."""
    gender = {"male": 1, "female": 2}.get(sex, 0)
    facial_info = struct.pack(
        ">HBBB3sH3s3s",
        0,  # number of feature points
        gender,
        0,  # eye colour: unspecified
        0,  # hair colour: unspecified
        b"\x00\x00\x00",  # feature mask
        0,  # expression: unspecified
        b"\x00\x00\x00",  # pose angle yaw/pitch/roll
        b"\x00\x00\x00",  # pose angle uncertainty
    )
    # Face image type 1 (full frontal), data type 0 (JPEG), colour space 1 (24-bit RGB),
    # source type 2 (digital still camera), device type 0, quality 0 (unspecified).
    image_info = struct.pack(">BBHHBBHH", 1, 0, WIDTH, HEIGHT, 1, 2, 0, 0)
    block = facial_info + image_info + jpeg
    block = struct.pack(">I", 4 + len(block)) + block
    header_len = 4 + 4 + 4 + 2
    return b"FAC\x00" + b"010\x00" + struct.pack(">IH", header_len + len(block), 1) + block


def jpeg_of_record(record: bytes) -> bytes:
    """The image bytes inside an ISO/IEC 19794-5 facial record."""
    if record[:4] != b"FAC\x00" or len(record) < 46:
        raise ValueError("not an ISO/IEC 19794-5 facial record")
    (block_len,) = struct.unpack(">I", record[14:18])
    # 14-byte general header, 20-byte facial information, 12-byte image information.
    return record[46 : 14 + block_len]


def dg2(jpeg: bytes, sex: str) -> bytes:
    """DG2: biometric information template group with one facial template."""
    header = (
        tlv(0x80, b"\x01\x01")  # ICAO header version 1.1
        + tlv(0x81, b"\x02")  # biometric type: facial features
        + tlv(0x87, b"\x01\x01")  # format owner: ISO/IEC JTC 1/SC 37
        + tlv(0x88, b"\x00\x08")  # format type: face image (19794-5)
    )
    template = tlv(0x7F60, tlv(0xA1, header) + tlv(0x5F2E, iso19794_5(jpeg, sex)))
    return tlv(DG_TAGS[2], tlv(0x7F61, tlv(0x02, b"\x01") + template))


def jpeg_of_dg2(data: bytes) -> bytes:
    """The face image inside a DG2 file."""
    group = child(unwrap(data, DG_TAGS[2]), 0x7F61)
    return jpeg_of_record(child(child(group, 0x7F60), 0x5F2E))

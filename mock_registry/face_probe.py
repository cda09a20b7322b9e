"""Synthetic probe images ("selfies") for testing face match, one kind per outcome.

Each probe is a 240x320 capture drawn from the same hidden traits as the chip photo (or another
person's), with a capture's differences: another background, exposure, sensor noise. All noise
comes from a PRNG seeded by the PIN and kind, so a probe is the same bytes every time.

    genuine       the card holder, well lit and sharp                   → match
    impostor      a different synthetic person, clearly distinct traits → no_match
    replay        the genuine capture photographed off a screen: 4-px horizontal refresh
                  banding (the liveness signal, see ``face_match``)      → liveness_failed
    poor_quality  the genuine capture, out of focus and underexposed    → poor_quality
"""

from __future__ import annotations

import hashlib
import io
import math
import random

from PIL import Image, ImageChops, ImageFilter

from sim06.mock_registry.face import FaceTraits, draw, traits_from, traits_of

KINDS = ("genuine", "impostor", "replay", "poor_quality")
SCALE = 2
_BACKGROUNDS = ((196, 206, 222), (214, 222, 214), (226, 218, 204), (205, 205, 212))


def _distance(a: FaceTraits, b: FaceTraits) -> float:
    return math.dist(a.vector()[:5], b.vector()[:5])


def impostor_traits(pin: str) -> FaceTraits:
    """Someone else's face: the first candidate whose traits are clearly not the holder's."""
    own = traits_of(pin)
    for i in range(1000):
        other = traits_from(f"sim06-impostor|{pin}|{i}")
        if (other.skin != own.skin or other.hair != own.hair) and _distance(own, other) > 0.8:
            return other
    raise AssertionError("unreachable: 1000 candidates all look alike")  # pragma: no cover


def _rng(pin: str, kind: str) -> random.Random:
    return random.Random(hashlib.sha256(f"sim06-probe|{pin}|{kind}".encode()).digest())


def _expose(img: Image.Image, gain: float, rng: random.Random, noise: int) -> Image.Image:
    """Exposure ``gain`` plus uniform sensor noise of ±``noise`` levels (same on each channel)."""
    out = Image.eval(img, lambda v: min(255, int(v * gain)))
    levels = bytes(
        rng.randrange(2 * noise + 1) + 128 - noise for _ in range(out.width * out.height)
    )
    grain = Image.frombytes("L", out.size, levels)
    return ImageChops.add(out, Image.merge("RGB", (grain, grain, grain)), 1.0, -128)


def probe(pin: str, kind: str) -> Image.Image:
    """The probe image of ``kind`` for the card holder ``pin``."""
    if kind not in KINDS:
        raise ValueError(f"unknown probe kind {kind!r}; use one of {KINDS}")
    rng = _rng(pin, kind)
    traits = impostor_traits(pin) if kind == "impostor" else traits_of(pin)
    img = draw(traits, SCALE, _BACKGROUNDS[rng.randrange(len(_BACKGROUNDS))])
    if kind == "poor_quality":
        img = _expose(img.filter(ImageFilter.GaussianBlur(5)), 0.3, rng, 2)
        return img
    img = _expose(img, 0.9 + rng.random() * 0.12, rng, 5)
    if kind == "replay":
        phase = rng.random() * 2 * math.pi
        # A screen's rows beat against the camera's: luminance bands with a 4-pixel period.
        bands = Image.new("L", img.size)
        bands.putdata(
            [
                int(128 + 28 * math.sin(2 * math.pi * y / 4 + phase))
                for y in range(img.height)
                for _ in range(img.width)
            ]
        )
        img = ImageChops.add(img, Image.merge("RGB", (bands, bands, bands)), 1.0, -128)
    return img


def probe_bytes(pin: str, kind: str, fmt: str = "jpeg") -> bytes:
    """The probe encoded as JPEG (quality 92) or PNG."""
    out = io.BytesIO()
    if fmt == "png":
        probe(pin, kind).save(out, "PNG", optimize=False)
    else:
        probe(pin, kind).save(out, "JPEG", quality=92, optimize=False)
    return out.getvalue()

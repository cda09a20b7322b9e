"""Face match of a probe image against the chip photo: quality, liveness, similarity.

A simulated matcher, but every number is measured from the pixels; nothing is looked up.

- **Framing.** Probes are frontal portraits in the chip photo's framing (ICAO 9303 part 10 §4.7:
  face centred, 3:4). The image is centre-cropped to 3:4 and scaled to the chip's 120x160 frame.
- **Features.** Five landmark measurements, each invariant to exposure: skin chromaticity at
  both cheeks, hair-to-skin luminance ratio, face width at the eye-to-mouth midline, distance
  between the pupil centroids and mouth width. Score = ``exp(-d²)`` of the scaled distance.
- **Quality** (ISO/IEC 29794-5 in spirit): resolution, sharpness as the variance of the
  Laplacian, mean brightness, contrast (standard deviation) and whether the landmarks were found.
- **Liveness.** A photo of a screen (replay attack) shows horizontal refresh banding: a strong,
  narrow peak in the spectrum of the row profile of the high-passed image, with a period of 2.5
  to 8 pixels. The spectral share of that peak is the replay signal; genuine captures stay far
  below the threshold, the simulator's ``replay`` probe far above.
"""

from __future__ import annotations

import io
import math
from dataclasses import dataclass, field
from functools import lru_cache

from PIL import Image, ImageChops, ImageFilter, ImageOps, ImageStat

from sim06.mock_registry.face import HEIGHT, WIDTH

FORMATS = ("JPEG", "PNG")
MIN_SIDE = 64  # below this there is no face to speak of: refused outright
MAX_SIDE = 4096
MAX_PIXELS = 12_000_000
# Quality gates, measured on the 120x160 canonical frame (calibrated on the synthetic captures).
GOOD_SIDE = 120
MIN_SHARPNESS = 250.0
BRIGHTNESS = (60.0, 235.0)
MIN_CONTRAST = 18.0
REPLAY_THRESHOLD = 0.35
# Feature scales: one unit ≈ the difference between neighbouring synthetic traits.
_SCALES = (0.012, 0.012, 0.08, 4.0, 3.0, 3.0)
_CX, _CY = WIDTH // 2, 78
BOX = Image.Resampling.BOX


class ImageError(ValueError):
    """The bytes are not an acceptable image; ``rule`` says why (format, too_small, too_large)."""

    def __init__(self, rule: str, message: str) -> None:
        super().__init__(message)
        self.rule = rule


@dataclass(frozen=True)
class Quality:
    width: int
    height: int
    sharpness: float
    brightness: float
    contrast: float
    face_found: bool
    issues: list[str] = field(default_factory=list)

    @property
    def passed(self) -> bool:
        return not self.issues


@dataclass(frozen=True)
class Analysis:
    """Everything measured from one image."""

    quality: Quality
    replay_signal: float
    features: tuple[float, ...] | None

    @property
    def live(self) -> bool:
        return self.replay_signal < REPLAY_THRESHOLD


def decode(data: bytes) -> Image.Image:
    """Decode a JPEG or PNG (EXIF orientation applied), refusing non-images and bad sizes."""
    try:
        img = Image.open(io.BytesIO(data), formats=FORMATS)
    except (OSError, ValueError, Image.DecompressionBombError) as exc:
        raise ImageError("format", "not a JPEG or PNG image") from exc
    w, h = img.size  # known from the header: check before decoding the pixels
    if w > MAX_SIDE or h > MAX_SIDE or w * h > MAX_PIXELS:
        raise ImageError("too_large", f"{w}x{h} pixels; at most {MAX_SIDE} a side, 12 MP")
    if min(w, h) < MIN_SIDE:
        raise ImageError("too_small", f"{w}x{h} pixels; at least {MIN_SIDE} a side")
    try:
        img.load()
        oriented = ImageOps.exif_transpose(img)
    except (OSError, ValueError, SyntaxError) as exc:
        raise ImageError("format", f"the image data is corrupt: {exc}") from exc
    return (oriented if oriented is not None else img).convert("RGB")


def canonical(img: Image.Image) -> Image.Image:
    """Centre crop to 3:4 and scale to the chip photo's 120x160 frame."""
    return ImageOps.fit(img, (WIDTH, HEIGHT), method=BOX)


def _mean(img: Image.Image, x0: int, y0: int, x1: int, y1: int) -> tuple[float, float, float]:
    r, g, b = ImageStat.Stat(img.crop((x0, y0, x1, y1))).mean[:3]
    return r, g, b


def _luma(c: tuple[float, float, float]) -> float:
    return 0.299 * c[0] + 0.587 * c[1] + 0.114 * c[2]


def _grey(gray: Image.Image, x: int, y: int) -> float:
    value = gray.getpixel((x, y))
    assert isinstance(value, int | float)
    return float(value)


def _rgb(img: Image.Image, x: int, y: int) -> tuple[int, int, int]:
    value = img.getpixel((x, y))
    assert isinstance(value, tuple)
    return value[0], value[1], value[2]


def _dist(a: tuple[float, ...], b: tuple[float, ...]) -> float:
    return math.dist(a, b)


def _edge(strip: list[tuple[int, int, int]], skin: tuple[float, ...], step: int) -> float | None:
    """Sub-pixel x where the face ends, walking out from the centre of the midline ``strip``."""
    outside = strip[2 if step < 0 else WIDTH - 3]
    half = _dist(outside, skin) / 2
    if half < 12:
        return None
    prev = 0.0
    for x in range(_CX + 6 * step, (-1 if step < 0 else WIDTH), step):
        d = _dist(strip[x], skin)
        if d > half:
            return x - step * (d - half) / max(d - prev, 1e-6)
        prev = d
    return None


def _pupil(gray: Image.Image, x0: int, x1: int, eye_y: int) -> float | None:
    """Centroid of the darkest pixels on the eye row between x0 and x1."""
    row = [_grey(gray, x, y) for y in (eye_y - 1, eye_y, eye_y + 1) for x in range(x0, x1)]
    lo, hi = min(row), max(row)
    if hi - lo < 40:
        return None
    cut = lo + (hi - lo) * 0.35
    n = x1 - x0
    xs = [x0 + i % n for i, v in enumerate(row) if v <= cut]
    return sum(xs) / len(xs)


def _mouth(gray: Image.Image, skin_luma: float) -> float | None:
    """Width of the lips: columns below the nose darker than the skin by half the peak or more.

    Luminance, not colour: JPEG keeps colour at half resolution, which blurs thin lips.
    """
    columns = [
        max(skin_luma - _grey(gray, x, y) for y in range(_CY + 14, _CY + 30))
        for x in range(_CX - 22, _CX + 23)
    ]
    peak = max(columns)
    if peak < 20:
        return None
    wide = [i for i, v in enumerate(columns) if v > peak / 2]
    return float(wide[-1] - wide[0] + 1)


def features(img: Image.Image) -> tuple[float, ...] | None:
    """The landmark measurements of a canonical-frame image, or None if no face is found."""
    left = _mean(img, _CX - 25, _CY, _CX - 19, _CY + 5)
    right = _mean(img, _CX + 19, _CY, _CX + 25, _CY + 5)
    if _dist(left, right) > 30:
        return None  # the cheeks disagree: no face (or not in the frame)
    skin = ((left[0] + right[0]) / 2, (left[1] + right[1]) / 2, (left[2] + right[2]) / 2)
    total = max(sum(skin), 1.0)
    hair = _mean(img, _CX - 3, _CY - 54, _CX + 4, _CY - 49)
    # Four rows averaged: cancels row-periodic patterns (the replay banding) on the midline.
    row = img.crop((0, _CY - 2, WIDTH, _CY + 2)).resize((WIDTH, 1), BOX)
    strip = [_rgb(row, x, 0) for x in range(WIDTH)]
    edges = (_edge(strip, skin, -1), _edge(strip, skin, 1))
    gray = img.convert("L")
    pupils = (_pupil(gray, _CX - 24, _CX - 4, _CY - 8), _pupil(gray, _CX + 4, _CX + 25, _CY - 8))
    mouth = _mouth(gray, _luma(skin))
    left_eye, right_eye = pupils
    if edges[0] is None or edges[1] is None or left_eye is None or right_eye is None:
        return None
    if mouth is None:
        return None
    return (
        skin[0] / total,
        skin[1] / total,
        _luma(hair) / max(_luma(skin), 1.0),
        edges[1] - edges[0],
        right_eye - left_eye,
        mouth,
    )


@lru_cache(maxsize=16)
def _twiddles(n: int) -> tuple[list[float], list[float]]:
    """cos and sin of 2πj/n: the DFT reads them by index instead of calling trig n² times."""
    return (
        [math.cos(2 * math.pi * j / n) for j in range(n)],
        [math.sin(2 * math.pi * j / n) for j in range(n)],
    )


def replay_signal(img: Image.Image) -> float:
    """Share of the row-profile spectrum in its strongest bin of period 2.5–8 px (0..1)."""
    gray = img.convert("L")
    w, h = gray.size
    if h > 512:  # the banding is periodic: a central strip shows it as well as the whole
        gray = gray.crop((0, (h - 512) // 2, w, (h + 512) // 2))
        h = 512
    high = ImageChops.subtract(gray, gray.filter(ImageFilter.BoxBlur(4)), 1.0, 128)
    strip = high.resize((1, h), BOX)
    profile = [_grey(strip, 0, y) for y in range(h)]
    mean = sum(profile) / h
    centred = [v - mean for v in profile]
    cos, sin = _twiddles(h)
    powers = []
    for k in range(1, h // 2 + 1):
        re = sum(v * cos[k * i % h] for i, v in enumerate(centred))
        im = sum(v * sin[k * i % h] for i, v in enumerate(centred))
        powers.append((k, re * re + im * im))
    total = sum(p for _, p in powers)
    if total <= 1e-9:
        return 0.0
    band = [p for k, p in powers if 2.5 <= h / k <= 8.0]
    # Spectral leakage spreads a tone over neighbouring bins: count the peak with its two sides.
    best = max(
        (sum(band[max(i - 1, 0) : i + 2]) for i in range(len(band))),
        default=0.0,
    )
    return round(best / total, 4)


def quality(original: Image.Image, frame: Image.Image, found: bool) -> Quality:
    """Measured capture quality and the gates it fails."""
    gray = frame.convert("L")
    lap = gray.filter(ImageFilter.Kernel((3, 3), (0, 1, 0, 1, -4, 1, 0, 1, 0), 1, 128))
    stat = ImageStat.Stat(gray)
    w, h = original.size
    q = {
        "sharpness": round(ImageStat.Stat(lap).var[0], 2),
        "brightness": round(stat.mean[0], 2),
        "contrast": round(stat.stddev[0], 2),
    }
    issues = []
    if min(w * 4, h * 3) < GOOD_SIDE * 4:
        issues.append("low_resolution")
    if q["sharpness"] < MIN_SHARPNESS:
        issues.append("blurred")
    if q["brightness"] < BRIGHTNESS[0]:
        issues.append("too_dark")
    if q["brightness"] > BRIGHTNESS[1]:
        issues.append("too_bright")
    if q["contrast"] < MIN_CONTRAST:
        issues.append("low_contrast")
    if not found:
        issues.append("face_not_found")
    return Quality(w, h, q["sharpness"], q["brightness"], q["contrast"], found, issues)


def analyse(img: Image.Image) -> Analysis:
    """Quality, liveness signal and features of a decoded image."""
    frame = canonical(img)
    found = features(frame)
    return Analysis(quality(img, frame, found is not None), replay_signal(img), found)


def similarity(a: tuple[float, ...], b: tuple[float, ...]) -> float:
    """Similarity in [0, 1] of two feature vectors (1: identical measurements)."""
    d2 = sum(((x - y) / s) ** 2 for x, y, s in zip(a, b, _SCALES, strict=True))
    return round(math.exp(-d2 / len(_SCALES)), 4)

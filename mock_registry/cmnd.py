"""Old 9-digit identity card numbers (chứng minh nhân dân, CMND) by the area that issued them.

A CMND number starts with the 2- or 3-digit prefix of the provincial police that issued it
(the province of permanent residence at the time), not with the birth-registration code that
prefixes the 12-digit PIN: a Ho Chi Minh City holder's CMND starts ``02``, never ``79``.

:data:`PREFIXES_BY_PROVINCE` maps each of the 63 pre-2025 provinces (statistics-office code)
to its prefixes. All 63 rows were checked against the published table (vi.wikipedia "Chứng
minh nhân dân", as republished by vilado.vn and nhankiet.vn) [P]:

- the 34 provinces that :data:`mock_registry.ids.CMND_AREA_PREFIXES` names (taken from it by
  name; a test keeps the two in step) and Đồng Nai were read in two copies: the stored page
  http://vilado.vn/vi/w148/Ma-so-CMND-cua-cac-tinh-thanh.html, which breaks off after Bình
  Thuận (its note on the range 271450001-271500000, issued by both Bà Rịa – Vũng Tàu and Đồng
  Nai, puts Đồng Nai on ``27``), and the file ``cmnd_provin_code.txt`` of the GitHub
  repository tungct/cmnd_correction (commit a29ebc0b), scraped from
  http://nhankiet.vn/en/w1278/Ma-so-CMND-cua-cac-tinh-thanh.html;
- the other 28 (:data:`SINGLE_COPY`) were read in that file only. It overturned three values
  that had been filled in from memory: Yên Bái ``15`` (was ``06``), Thái Nguyên ``090`` and
  ``091`` (was also ``092``), Kon Tum ``23`` (was ``233``).

Several provinces share a prefix (e.g. Nghệ An and Hà Tĩnh, ``18``; Thái Bình and Yên Bái,
``15``). The table's Hà Tây row (``11``) has no province here: Hà Tây is part of Hà Nội since
2008.
"""

from __future__ import annotations

from collections.abc import Iterable
from types import MappingProxyType
from typing import Final

from sim06.mock_registry.ids import CMND_AREA_PREFIXES, CMND_LENGTH

# Pre-2025 province code -> CMND prefixes (first one is the usual one).
PREFIXES_BY_PROVINCE: Final = MappingProxyType({
    "01": ("01",), "02": ("07",), "04": ("08",), "06": ("095",), "08": ("07",), "10": ("06",),
    "11": ("04",), "12": ("04",), "14": ("05",), "15": ("15",), "17": ("11",),
    "19": ("090", "091"), "20": ("08",), "22": ("10",), "24": ("12",), "25": ("13",),
    "26": ("13",), "27": ("12",), "30": ("14",), "31": ("03",), "33": ("14",), "34": ("15",),
    "35": ("16",), "36": ("16",), "37": ("16",), "38": ("17",), "40": ("18",), "42": ("18",),
    "44": ("19",), "45": ("19",), "46": ("19",), "48": ("20",), "49": ("20",), "51": ("21",),
    "52": ("21",), "54": ("22",), "56": ("22",), "58": ("26",), "60": ("26",), "62": ("23",),
    "64": ("230", "231"), "66": ("24",), "67": ("245",), "68": ("25",), "70": ("285",),
    "72": ("29",), "74": ("280",), "75": ("27",), "77": ("27",), "79": ("02",), "80": ("30",),
    "82": ("31",), "83": ("32",), "84": ("33",), "86": ("33",), "87": ("34",), "89": ("35",),
    "91": ("37",), "92": ("36",), "93": ("36",), "94": ("36",), "95": ("38",), "96": ("38",),
})  # fmt: skip

# Names used by ids.CMND_AREA_PREFIXES -> pre-2025 province code (for the consistency test).
AREA_NAME_CODES: Final = MappingProxyType({
    "Hà Nội": "01", "Hồ Chí Minh": "79", "Hải Phòng": "31", "Sơn La": "14", "Hà Giang": "02",
    "Quảng Ninh": "22", "Hòa Bình": "17", "Bắc Ninh": "27", "Bắc Giang": "24",
    "Phú Thọ": "25", "Hải Dương": "30", "Hưng Yên": "33", "Hà Nam": "35", "Hà Tĩnh": "42",
    "Quảng Bình": "44", "Quảng Trị": "45", "Quảng Nam": "49", "Quảng Ngãi": "51",
    "Bình Định": "52", "Phú Yên": "54", "Khánh Hòa": "56", "Gia Lai": "64", "Ninh Thuận": "58",
    "Bình Thuận": "60", "Bà Rịa – Vũng Tàu": "77", "Bình Dương": "74", "Bình Phước": "70",
    "Tây Ninh": "72", "Bến Tre": "83", "An Giang": "89", "Hậu Giang": "93", "Sóc Trăng": "94",
    "Bạc Liêu": "95", "Bắc Kạn": "06",
})  # fmt: skip
# Provinces whose row was read in one copy of the table only (see the module docstring).
SINGLE_COPY: Final = frozenset(
    "04 08 10 11 12 15 19 20 26 34 36 37 38 40 46 48 62 66 67 68 80 82 84 86 87 91 92 96".split()
)
_LONG: Final = frozenset(p for ps in PREFIXES_BY_PROVINCE.values() for p in ps if len(p) == 3)
assert all(
    PREFIXES_BY_PROVINCE[code] == CMND_AREA_PREFIXES[name] for name, code in AREA_NAME_CODES.items()
)
# 10 ** (CMND_LENGTH - len(prefix)) by the prefix's length: no power computed a number
_SPACES: Final[tuple[int, ...]] = tuple(10 ** (CMND_LENGTH - k) for k in range(CMND_LENGTH))


def prefix_ok(number: str, province_code: str) -> bool:
    """Whether a CMND ``number`` starts with a prefix of the province that issued it (and, for
    a 2-digit prefix, does not read as another province's 3-digit one)."""
    prefixes = PREFIXES_BY_PROVINCE[province_code]
    if not number.startswith(prefixes):
        return False
    return any(len(p) == 3 for p in prefixes) or number[:3] not in _LONG


class CmndAllocator:
    """Unique CMND numbers per prefix: an affine bijection of a counter, so no retries.

    ``counters`` (next counter of each prefix, from 0) and ``limits`` (the counter a prefix
    stops at; by default its whole space) bound the block a shard owns (:mod:`.shards`)."""

    def __init__(self, seed: int, reserved: Iterable[str] = ()) -> None:
        self.reserved = frozenset(reserved)
        self.counters: dict[str, int] = {}
        self.limits: dict[str, int] = {}
        # Odd and not a multiple of 5: coprime with every power of ten, so the map below is a
        # bijection on 0..10**k - 1 for the 6- and 7-digit tails alike.
        self.mult = 7_654_321 + 10 * (seed % 1000)
        self.offset = seed * 2_654_435_761

    def allocate(self, province_code: str, pick: float) -> str | None:
        """A new number issued in ``province_code``; ``pick`` in [0, 1) chooses among shared
        prefixes (Thái Nguyên and Gia Lai had more than one). None once the chosen prefix's
        numbers (its block, in a shard) are used up: a 3-digit prefix has a million."""
        prefixes = PREFIXES_BY_PROVINCE[province_code]
        prefix = prefixes[int(pick * len(prefixes))]
        space = _SPACES[len(prefix)]
        limit = self.limits.get(prefix, space)
        while True:
            n = self.counters.get(prefix, 0)
            if n >= limit:
                return None
            self.counters[prefix] = n + 1
            # The tail zero-padded to its width, without str.format: space + tail (< 2 * space)
            # has one digit more than the width, a leading 1.
            number = prefix + str(space + (n * self.mult + self.offset) % space)[1:]
            # "24" (Đắk Lắk) must not make a number that reads as "245" (Đắk Nông).
            if number not in self.reserved and (len(prefix) == 3 or number[:3] not in _LONG):
                return number

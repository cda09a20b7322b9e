"""Personal identification numbers (số định danh cá nhân) and old CMND numbers.

Structure (Decree 137/2015/NĐ-CP art. 13; Circular 07/2016/TT-BCA appendices I and III;
Law on Identification 2023 art. 12)::

     PPP  C  YY  RRRRRR
     │    │  │   └── 6 digits: random range ("khoảng số ngẫu nhiên"); no check digit
     │    │  └────── last two digits of the year of birth
     │    └───────── century of birth + sex: 0/1 = 1900s male/female, 2/3 = 2000s, ... 8/9
     └────────────── province of BIRTH REGISTRATION (nơi đăng ký khai sinh), or country
                     code when the birth was registered abroad (that list is unknown: pass
                     it as ``extra_prefixes``)

The prefix never changes for an existing person, so all 63 legacy codes stay valid forever.
Trap: the 34 provinces of 1 July 2025 reuse old statistics codes of *different* territories
(new Gia Lai is 52, which was Bình Định's code; prefix 064 means old Gia Lai). Never read a
prefix as a new province code. Which prefix births registered after 1 July 2025 get is
unknown [U]; ``post_2025_prefix`` implements the inferred default ``"0" + new_code`` [I].

Old CMND (chứng minh nhân dân): 9 digits, unrelated to the PIN; the 12-digit CMND of
Circular 27/2012/TT-BCA (~2012-2016) kept its number as the PIN, so a 12-digit number cannot
be told apart from a PIN by shape (see ``classify_document_number``). Both lost validity on
31 Dec 2024 (Law 26/2023, transitional provisions).

Exceptions::

    ValueError
     ├── InvalidPersonalId      (parse_pin; carries .problems)
     └── SerialsExhausted       (SerialAllocator.allocate)
"""

from __future__ import annotations

import random
import unicodedata
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from functools import lru_cache
from types import MappingProxyType
from typing import Final, Literal

__all__ = [
    "BIRTH_REGISTRATION_PROVINCES",
    "CMND_AREA_PREFIXES",
    "PIN_PREFIX_CODES",
    "DocumentKind",
    "IdProblem",
    "InvalidPersonalId",
    "PersonalId",
    "SerialAllocator",
    "SerialsExhausted",
    "Sex",
    "century_sex_digit",
    "classify_document_number",
    "is_valid_pin",
    "make_cmnd",
    "make_pin",
    "parse_pin",
    "post_2025_prefix",
    "validate_cmnd",
    "validate_pin",
]

Sex = Literal["male", "female"]
DocumentKind = Literal["pin", "cmnd9", "cmnd12_or_pin", "invalid"]

PIN_LENGTH: Final = 12
CMND_LENGTH: Final = 9
SERIAL_SPACE: Final = 1_000_000
MIN_BIRTH_YEAR: Final = 1900
MAX_BIRTH_YEAR: Final = 2399
# A CMND12 was issued 2012-2016 to people aged 14+, so anyone born later holds only a PIN. [I]
_LAST_CMND12_BIRTH_YEAR: Final = 2002

# Circular 07/2016/TT-BCA Appendix I: legacy code -> pre-2025 province name. [V]
BIRTH_REGISTRATION_PROVINCES: Final[Mapping[str, str]] = MappingProxyType({
    "001": "Hà Nội", "002": "Hà Giang", "004": "Cao Bằng", "006": "Bắc Kạn",
    "008": "Tuyên Quang", "010": "Lào Cai", "011": "Điện Biên", "012": "Lai Châu",
    "014": "Sơn La", "015": "Yên Bái", "017": "Hòa Bình", "019": "Thái Nguyên",
    "020": "Lạng Sơn", "022": "Quảng Ninh", "024": "Bắc Giang", "025": "Phú Thọ",
    "026": "Vĩnh Phúc", "027": "Bắc Ninh", "030": "Hải Dương", "031": "Hải Phòng",
    "033": "Hưng Yên", "034": "Thái Bình", "035": "Hà Nam", "036": "Nam Định",
    "037": "Ninh Bình", "038": "Thanh Hóa", "040": "Nghệ An", "042": "Hà Tĩnh",
    "044": "Quảng Bình", "045": "Quảng Trị", "046": "Thừa Thiên Huế", "048": "Đà Nẵng",
    "049": "Quảng Nam", "051": "Quảng Ngãi", "052": "Bình Định", "054": "Phú Yên",
    "056": "Khánh Hòa", "058": "Ninh Thuận", "060": "Bình Thuận", "062": "Kon Tum",
    "064": "Gia Lai", "066": "Đắk Lắk", "067": "Đắk Nông", "068": "Lâm Đồng",
    "070": "Bình Phước", "072": "Tây Ninh", "074": "Bình Dương", "075": "Đồng Nai",
    "077": "Bà Rịa – Vũng Tàu", "079": "Hồ Chí Minh", "080": "Long An", "082": "Tiền Giang",
    "083": "Bến Tre", "084": "Trà Vinh", "086": "Vĩnh Long", "087": "Đồng Tháp",
    "089": "An Giang", "091": "Kiên Giang", "092": "Cần Thơ", "093": "Hậu Giang",
    "094": "Sóc Trăng", "095": "Bạc Liêu", "096": "Cà Mau",
})  # fmt: skip
PIN_PREFIX_CODES: Final[frozenset[str]] = frozenset(BIRTH_REGISTRATION_PROVINCES)

# Statistics codes of the 34 provinces from 1 July 2025 (vietnam-provinces data) [P].
_NEW_PROVINCE_CODES_2025: Final = frozenset(
    "01 04 08 11 12 14 15 19 20 22 24 25 31 33 37 38 40 42 44 46 48 51 52 56 66 68 75 79 80 "
    "82 86 91 92 96".split()
)

# Leading digits of 9-digit CMND numbers by issuing police (công an tỉnh). [P] Source:
# http://vilado.vn/vi/w148/Ma-so-CMND-cua-cac-tinh-thanh.html (itself quoting vi.wikipedia).
# The rows that copy shows (it breaks off after "Bình Thuận"); every province's prefixes, read
# in a full copy too, are in mock_registry.cmnd.PREFIXES_BY_PROVINCE, which takes these rows by
# name. Prefixes have 2 or 3 digits and some are shared; the number followed the place of
# permanent residence, so it changed when a person moved province.
CMND_AREA_PREFIXES: Final[Mapping[str, tuple[str, ...]]] = MappingProxyType({
    "Hà Nội": ("01",), "Hồ Chí Minh": ("02",), "Hải Phòng": ("03",), "Sơn La": ("05",),
    "Hà Giang": ("07",), "Quảng Ninh": ("10",), "Hà Tây": ("11",), "Hòa Bình": ("11",),
    "Bắc Ninh": ("12",), "Bắc Giang": ("12",), "Phú Thọ": ("13",), "Hải Dương": ("14",),
    "Hưng Yên": ("14",), "Hà Nam": ("16",), "Hà Tĩnh": ("18",), "Quảng Bình": ("19",),
    "Quảng Trị": ("19",), "Quảng Nam": ("20",), "Quảng Ngãi": ("21",), "Bình Định": ("21",),
    "Phú Yên": ("22",), "Khánh Hòa": ("22",), "Gia Lai": ("230", "231"),
    "Ninh Thuận": ("26",), "Bình Thuận": ("26",), "Bà Rịa – Vũng Tàu": ("27",),
    "Bình Dương": ("280",), "Bình Phước": ("285",), "Tây Ninh": ("29",), "Bến Tre": ("32",),
    "An Giang": ("35",), "Hậu Giang": ("36",), "Sóc Trăng": ("36",), "Bạc Liêu": ("38",),
    "Bắc Kạn": ("095",),
})  # fmt: skip

_SEX_VI: Final = {"male": "nam", "female": "nữ"}


@dataclass(frozen=True, slots=True)
class IdProblem:
    """One thing wrong with an identifier; ``code`` is stable and machine-readable."""

    code: str
    message: str
    message_vi: str
    position: int | None = None  # 0-based index of the offending character, if any


class InvalidPersonalId(ValueError):
    """Raised by :func:`parse_pin`; ``problems`` lists everything that is wrong."""

    def __init__(self, problems: tuple[IdProblem, ...]) -> None:
        super().__init__("; ".join(p.message for p in problems))
        self.problems = problems


class SerialsExhausted(ValueError):
    """All 10^6 serials of a (prefix, century/sex, year) bucket have been used."""


@dataclass(frozen=True, slots=True)
class PersonalId:
    """A parsed personal identification number (Decree 137/2015 art. 13)."""

    value: str
    province_code: str  # place of birth registration (or a configured country code)
    century_sex_digit: int
    birth_year: int
    sex: Sex
    serial: str

    @property
    def province_name(self) -> str | None:
        """Pre-2025 province name; None for a configured (abroad) country code."""
        return BIRTH_REGISTRATION_PROVINCES.get(self.province_code)


def century_sex_digit(birth_year: int, sex: Sex) -> int:
    """Digit 4 of the PIN (Circular 07/2016 Appendix III): ``2*(century-20) + (sex==female)``."""
    if not MIN_BIRTH_YEAR <= birth_year <= MAX_BIRTH_YEAR:
        raise ValueError(f"birth year {birth_year} is outside the encodable range 1900–2399")
    if sex not in ("male", "female"):
        raise ValueError(f"sex must be 'male' or 'female', got {sex!r}")
    return 2 * (birth_year // 100 - 19) + (sex == "female")


def make_pin(prefix: str, birth_year: int, sex: Sex, serial: int) -> str:
    """Compose a PIN without validation (hot path of the generator).

    Callers must pass a 3-digit prefix, a year in 1900–2399 and ``0 <= serial < 10**6``.
    """
    c = 2 * (birth_year // 100 - 19) + (sex == "female")
    return f"{prefix}{c}{birth_year % 100:02d}{serial:06d}"


def is_valid_pin(text: str) -> bool:
    """Fast shape + legacy-prefix check for hot paths; see :func:`validate_pin` for details."""
    return (
        len(text) == PIN_LENGTH
        and text.isascii()
        and text.isdigit()
        and text[:3] in PIN_PREFIX_CODES
    )


def post_2025_prefix(new_province_code: str) -> str:
    """Prefix for births registered after 1 July 2025 in a new province [U/I].

    The real policy is unknown (domain §2.3); the default inferred here reuses the legacy code
    that the new province inherited, ``"0" + new_code``. Example: new Gia Lai ``"52"`` gives
    ``"052"``, which in the legacy table means Bình Định.
    """
    if new_province_code not in _NEW_PROVINCE_CODES_2025:
        raise ValueError(f"{new_province_code!r} is not one of the 34 province codes of 2025")
    return "0" + new_province_code


def _describe_char(ch: str) -> str:
    # Name the character: full-width digits and stray whitespace are the usual culprits.
    name = unicodedata.name(ch, "") or unicodedata.category(ch)
    kind = ", whitespace" if ch.isspace() else ", a non-ASCII digit" if ch.isdigit() else ""
    return f"{ch!r} (U+{ord(ch):04X} {name}{kind})"


def _structure_problems(text: str, length: int, label: str, label_vi: str) -> list[IdProblem]:
    if not text:
        return [IdProblem("empty", f"the {label} is empty", f"{label_vi} bị để trống")]
    problems: list[IdProblem] = []
    if len(text) != length:
        problems.append(IdProblem(
            "wrong_length",
            f"expected {length} digits, got {len(text)} characters",
            f"{label_vi} phải gồm {length} chữ số, nhưng nhận được {len(text)} ký tự",
            length if len(text) > length else None,
        ))  # fmt: skip
    bad = [i for i, ch in enumerate(text) if not ("0" <= ch <= "9")]
    if bad:
        first = bad[0]
        more = f" ({len(bad) - 1} more non-digit characters follow)" if len(bad) > 1 else ""
        more_vi = f" (còn {len(bad) - 1} ký tự không phải chữ số khác)" if len(bad) > 1 else ""
        what = _describe_char(text[first])
        problems.append(IdProblem(
            "not_digits",
            f"character {first + 1} is {what}; only ASCII digits 0-9 are allowed{more}",
            f"ký tự thứ {first + 1} là {what}; chỉ được dùng chữ số 0-9 (ASCII){more_vi}",
            first,
        ))  # fmt: skip
    return problems


def _century_text(c: int) -> tuple[str, str, str]:
    start = 1900 + 100 * (c // 2)
    sex_en = "male" if c % 2 == 0 else "female"
    return sex_en, _SEX_VI[sex_en], f"{start}–{start + 99}"


def validate_pin(
    text: str,
    *,
    sex: Sex | None = None,
    birth_year: int | None = None,
    as_of_year: int | None = None,
    extra_prefixes: Mapping[str, str] | None = None,
) -> tuple[IdProblem, ...]:
    """Every problem with ``text`` as a PIN (domain §2.5); an empty tuple means valid.

    Structural problems (empty, length, non-digits) stop the check. Sex and birth year are
    compared only when given: omit them for the lenient mode of lookup services, since real
    records carry corrected birth years. ``extra_prefixes`` maps country codes of births
    registered abroad to names (that list is not public).
    """
    structural = _structure_problems(text, PIN_LENGTH, "personal identification number",
                                     "số định danh cá nhân")  # fmt: skip
    if structural:
        return tuple(structural)
    problems: list[IdProblem] = []
    prefix = text[:3]
    if prefix not in PIN_PREFIX_CODES and (extra_prefixes is None or prefix not in extra_prefixes):
        problems.append(IdProblem(
            "unknown_province_code",
            f"digits 1-3 are {prefix!r}, which is neither one of the 63 birth-registration "
            "province codes (Circular 07/2016 Appendix I) nor a configured country code",
            f"ba chữ số đầu {prefix!r} không phải mã tỉnh, thành phố nơi đăng ký khai sinh "
            "(Phụ lục I Thông tư 07/2016/TT-BCA) hoặc mã quốc gia đã cấu hình",
            0,
        ))  # fmt: skip
    c = ord(text[3]) - 48
    encoded_year = 1900 + 100 * (c // 2) + int(text[4:6])
    sex_en, sex_vi, years = _century_text(c)
    if sex is not None and sex != sex_en:
        problems.append(IdProblem(
            "sex_mismatch",
            f"digit 4 is {c} ({sex_en}, born {years}) but the declared sex is {sex}",
            f"chữ số thứ 4 là {c} ({sex_vi}, sinh {years}) nhưng giới tính khai báo là "
            f"{_SEX_VI.get(sex, sex)}",
            3,
        ))  # fmt: skip
    if birth_year is not None and birth_year != encoded_year:
        # Point at the first digit that disagrees: the century digit, else a year digit.
        declared_yy = f"{birth_year % 100:02d}"
        if birth_year // 100 != encoded_year // 100:
            position = 3
        else:
            position = 4 if text[4] != declared_yy[0] else 5
        problems.append(IdProblem(
            "birth_year_mismatch",
            f"digits 4-6 are {text[3:6]!r}, meaning born in {encoded_year}, "
            f"but the declared birth year is {birth_year}",
            f"chữ số 4-6 là {text[3:6]!r}, tức năm sinh {encoded_year}, "
            f"nhưng năm sinh khai báo là {birth_year}",
            position,
        ))  # fmt: skip
    if as_of_year is not None and encoded_year > as_of_year:
        problems.append(IdProblem(
            "birth_year_in_future",
            f"digits 4-6 are {text[3:6]!r}, meaning born in {encoded_year}, "
            f"which is after the reference year {as_of_year}",
            f"chữ số 4-6 là {text[3:6]!r}, tức năm sinh {encoded_year}, "
            f"sau năm tham chiếu {as_of_year}",
            3,
        ))  # fmt: skip
    return tuple(problems)


def parse_pin(
    text: str,
    *,
    sex: Sex | None = None,
    birth_year: int | None = None,
    as_of_year: int | None = None,
    extra_prefixes: Mapping[str, str] | None = None,
) -> PersonalId:
    """Parse a PIN (Decree 137/2015 art. 13), raising :class:`InvalidPersonalId` if invalid."""
    problems = validate_pin(text, sex=sex, birth_year=birth_year, as_of_year=as_of_year,
                            extra_prefixes=extra_prefixes)  # fmt: skip
    if problems:
        raise InvalidPersonalId(problems)
    c = ord(text[3]) - 48
    return PersonalId(
        value=text,
        province_code=text[:3],
        century_sex_digit=c,
        birth_year=1900 + 100 * (c // 2) + int(text[4:6]),
        sex="male" if c % 2 == 0 else "female",
        serial=text[6:],
    )


@lru_cache(maxsize=16)
def _feistel_tables(seed: int) -> tuple[list[int], ...]:
    """Round functions of the PIN permutation: random tables, doubled so that ``table[r + key]``
    needs no modulo. Shared (never mutated) by the allocators of one seed's shards."""
    rng = random.Random(seed)
    return tuple([rng.randrange(1000) for _ in range(1000)] * 2 for _ in range(4))


_Keys = tuple[int, int, int, int, str]


# A bucket's slot in its prefix's list: (year - 1900) * 2 + (sex == "female"), 1000 slots. A list
# index, not a dict keyed by an int or a tuple (hashed and compared generically, once a person).
_SLOTS: Final = (MAX_BIRTH_YEAR - MIN_BIRTH_YEAR + 1) * 2


def _slot(birth_year: int, sex: Sex) -> int:
    """The bucket's slot; -1 when the year or sex cannot be encoded (_bucket_keys says why)."""
    slot = (birth_year - MIN_BIRTH_YEAR) * 2 + (0 if sex == "male" else 1)
    return slot if 0 <= slot < _SLOTS and (sex == "male" or sex == "female") else -1


# ~12,600 buckets in use (63 prefixes x 100 years x 2): a worker computes each once, not once a
# shard. Lists, not an lru_cache on _bucket_keys: its calls cost a key tuple and a hash each.
@lru_cache(maxsize=16)
def _seed_keys(seed: int) -> dict[str, list[_Keys | None]]:  # noqa: ARG001 (the cache's key)
    """The :func:`_bucket_keys` of one seed computed so far, by prefix and :func:`_slot`:
    filled by the allocators of the seed's shards in this process, which share it."""
    return {}


def _bucket_keys(seed: int, prefix: str, birth_year: int, sex: Sex) -> _Keys:
    """Round keys and the first six digits of a bucket: a function of the seed and the bucket
    only, so every shard generated in one process shares them."""
    # Validation lives here so that it runs once per bucket, not once per call.
    if len(prefix) != 3 or not prefix.isascii() or not prefix.isdigit():
        raise ValueError(f"prefix must be 3 ASCII digits, got {prefix!r}")
    head = f"{prefix}{century_sex_digit(birth_year, sex)}{birth_year % 100:02d}"
    h = _mix64(seed * 1_000_000_007 + int(head))
    return h % 1000, (h >> 16) % 1000, (h >> 32) % 1000, (h >> 48) % 1000, head


def _mix64(x: int) -> int:
    # splitmix64 finaliser: deterministic across processes, unlike hash() on str.
    x = (x + 0x9E3779B97F4A7C15) & 0xFFFFFFFFFFFFFFFF
    x = ((x ^ (x >> 30)) * 0xBF58476D1CE4E5B9) & 0xFFFFFFFFFFFFFFFF
    x = ((x ^ (x >> 27)) * 0x94D049BB133111EB) & 0xFFFFFFFFFFFFFFFF
    return x ^ (x >> 31)


class _Bucket:
    """A bucket's next counter, its round keys and the first six digits of its PINs."""

    __slots__ = ("counter", "head", "k0", "k1", "k2", "k3")

    def __init__(self, counter: int, keys: _Keys) -> None:
        self.counter = counter
        self.k0, self.k1, self.k2, self.k3, self.head = keys


class SerialAllocator:
    """Deterministic, collision-free allocation of the 6-digit random part of PINs.

    One counter per (prefix, century/sex digit, YY) bucket; counter ``n`` maps to a serial
    through a 4-round Feistel permutation of 0..999,999 (two base-1000 halves, modular
    addition), keyed by the seed and the bucket. So serials look random, never repeat within a
    bucket, and no issued number is stored. Output depends only on the seed and the order of
    calls within each bucket. The real allocation algorithm is unknown [U].
    """

    __slots__ = ("_buckets", "_first", "_keys", "_limit", "_reserved", "_seed", "_tables")

    def __init__(
        self, seed: int, reserved: Iterable[str] = (), first: int = 0, limit: int = SERIAL_SPACE
    ) -> None:
        # A shard of a parallel seed owns counters first..limit-1 of every bucket (shards.py).
        if not 0 <= first < limit <= SERIAL_SPACE:
            raise ValueError(f"counter range {first}..{limit} is not within 0..{SERIAL_SPACE}")
        self._first, self._limit = first, limit
        self._seed = seed
        self._tables = _feistel_tables(seed)
        self._keys = _seed_keys(seed)
        self._reserved = frozenset(reserved)
        bad = sorted(p for p in self._reserved if len(p) != PIN_LENGTH or not p.isdigit())
        if bad:
            raise ValueError(f"reserved PINs must be 12 digits: {bad[:5]}")
        # prefix -> buckets by _slot(year, sex), None until first used
        self._buckets: dict[str, list[_Bucket | None]] = {}

    def _bucket(self, prefix: str, birth_year: int, sex: Sex) -> _Bucket:
        """The bucket's counter and keys, made on first use."""
        slot = _slot(birth_year, sex)
        if slot < 0:  # the year or the sex cannot be encoded: _bucket_keys raises ValueError
            _bucket_keys(self._seed, prefix, birth_year, sex)
            raise AssertionError(f"no bucket for {birth_year}, {sex!r}")
        years = self._buckets.get(prefix)
        if years is None:
            years = self._buckets[prefix] = [None] * _SLOTS
        bucket = years[slot]
        if bucket is None:
            known = self._keys.get(prefix)
            if known is None:
                known = self._keys[prefix] = [None] * _SLOTS
            keys = known[slot]
            if keys is None:
                keys = known[slot] = _bucket_keys(self._seed, prefix, birth_year, sex)
            bucket = years[slot] = _Bucket(self._first, keys)
        return bucket

    def allocate(self, prefix: str, birth_year: int, sex: Sex) -> str:
        """Return a new, never-issued PIN; :class:`SerialsExhausted` when the bucket is full."""
        bucket = self._bucket(prefix, birth_year, sex)
        k0, k1, k2, k3 = bucket.k0, bucket.k1, bucket.k2, bucket.k3
        t0, t1, t2, t3 = self._tables
        while True:
            n = bucket.counter
            if n >= self._limit:
                raise SerialsExhausted(
                    f"all serials for prefix {prefix}, birth year {birth_year}, {sex} are used"
                    + ("" if self._limit == SERIAL_SPACE else " (in this shard's range)")
                )
            bucket.counter = n + 1
            left, right = n // 1000, n % 1000  # divmod(n, 1000), without its tuple
            left, right = right, (left + t0[right + k0]) % 1000
            left, right = right, (left + t1[right + k1]) % 1000
            left, right = right, (left + t2[right + k2]) % 1000
            left, right = right, (left + t3[right + k3]) % 1000
            # f"{head}{serial:06d}" without str.format: 10**6 + serial has seven digits, the
            # last six are the serial zero-padded.
            pin = bucket.head + str(1_000_000 + left * 1000 + right)[1:]
            if pin not in self._reserved:
                return pin

    def pin_at(self, prefix: str, birth_year: int, sex: Sex, n: int) -> str:
        """The PIN that counter ``n`` of the bucket maps to (no counter is advanced).

        The civil-status write path keeps its counters in the store's transaction and asks for
        the serial of each; the permutation is the one :meth:`allocate` walks."""
        bucket = self._bucket(prefix, birth_year, sex)
        k0, k1, k2, k3, head = bucket.k0, bucket.k1, bucket.k2, bucket.k3, bucket.head
        t0, t1, t2, t3 = self._tables
        left, right = divmod(n, 1000)
        left, right = right, (left + t0[right + k0]) % 1000
        left, right = right, (left + t1[right + k1]) % 1000
        left, right = right, (left + t2[right + k2]) % 1000
        left, right = right, (left + t3[right + k3]) % 1000
        return f"{head}{left * 1000 + right:06d}"


def validate_cmnd(text: str) -> tuple[IdProblem, ...]:
    """Problems with ``text`` as a 9-digit CMND number (Decree 05/1999/NĐ-CP); () if valid.

    Only the shape is checked: the table of issuing prefixes is incomplete.
    """
    if len(text) == PIN_LENGTH and text.isascii() and text.isdigit():
        return (IdProblem(
            "wrong_length",
            "expected 9 digits, got 12: a 12-digit number is a CMND12 or a personal "
            "identification number, check it with validate_pin",
            "số chứng minh nhân dân 9 số phải gồm 9 chữ số; số 12 chữ số là CMND 12 số "
            "hoặc số định danh cá nhân",
            CMND_LENGTH,
        ),)  # fmt: skip
    return tuple(_structure_problems(text, CMND_LENGTH, "CMND number", "số chứng minh nhân dân"))


def classify_document_number(text: str) -> DocumentKind:
    """Which identity document a bare number can be (domain §4.1).

    9 digits: ``"cmnd9"``. 12 digits with a valid PIN shape: ``"cmnd12_or_pin"``, since a
    CMND12 (~2012-2016) kept its number as the PIN and shape cannot tell them apart, unless
    the encoded birth year is after 2002 (too young for a CMND12), then ``"pin"`` [I].
    """
    if len(text) == CMND_LENGTH and text.isascii() and text.isdigit():
        return "cmnd9"
    if not is_valid_pin(text):
        return "invalid"
    c = ord(text[3]) - 48
    year = 1900 + 100 * (c // 2) + int(text[4:6])
    return "pin" if year > _LAST_CMND12_BIRTH_YEAR else "cmnd12_or_pin"


def make_cmnd(rng: random.Random, issuing_area: str) -> str:
    """A synthetic 9-digit CMND number issued in ``issuing_area``.

    ``issuing_area`` is a name in :data:`CMND_AREA_PREFIXES` (one of its prefixes is drawn
    from ``rng``) or an explicit 2- or 3-digit prefix; the remaining digits are uniform.
    """
    if issuing_area in CMND_AREA_PREFIXES:
        prefix = rng.choice(CMND_AREA_PREFIXES[issuing_area])
    elif len(issuing_area) in (2, 3) and issuing_area.isascii() and issuing_area.isdigit():
        prefix = issuing_area
    else:
        raise ValueError(
            f"unknown CMND issuing area {issuing_area!r}: use a name from CMND_AREA_PREFIXES "
            "or a 2- or 3-digit prefix"
        )
    rest = CMND_LENGTH - len(prefix)
    return f"{prefix}{rng.randrange(10**rest):0{rest}d}"

"""TD1 machine-readable zone of the identity card (ICAO 9303 part 5, 3 lines of 30 characters).

Vietnam's profile (domain §4.1 and §4.6, [P]): document code ``ID``, issuing state ``VNM``, the
document-number field holds the **last 9 digits** of the PIN and the optional data of line 1 holds
the full 12-digit PIN. The character closing line 1 is, on observed samples, a digit; we write the
ICAO check digit of the 12-digit PIN there ([I]).

Cards valid for life (issued from 58, domain §4.2) have no expiry date, and how the real chip
writes that is [U]. Two encodings are offered (``LIFELONG_EXPIRY``, setting
``SIM06_MRZ_LIFELONG_EXPIRY``):

- ``sentinel`` (default): ``681231``, 31 December 2068, a real date with its check digit, so a
  standard TD1 checker (the PyPI ``mrz`` package, readers deriving the BAC key from the expiry
  date) accepts it and no verifier finds the card expired. It is the last date that two-digit
  year parsing reads as 20xx (Python's ``%y`` pivot: 69-99 are 1969-1999): ``991231`` would
  read as 1999 and fail the "expiry after birth" check for holders born in 1900-1925;
- ``fillers``: ``<<<<<<`` (ICAO 9303 part 3 §4.2.2 fillers, check digit of the fillers): what
  "no date" looks like in the MRZ grammar, but standard checkers refuse it as a date.
"""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass
from datetime import date

LINE = 30
_WEIGHTS = (7, 3, 1)


class MRZError(ValueError):
    """The MRZ is malformed or a check digit is wrong; ``code`` names the rule."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code


def char_value(ch: str) -> int:
    """ICAO 9303 part 3 §4.9: digits are their value, A-Z are 10-35, the filler is 0."""
    if ch.isdigit():
        return int(ch)
    if "A" <= ch <= "Z":
        return ord(ch) - ord("A") + 10
    if ch == "<":
        return 0
    raise MRZError("invalid_character", f"{ch!r} is not an MRZ character")


def check_digit(field: str) -> str:
    """The check digit of ``field``: weights 7, 3, 1 repeated, sum modulo 10."""
    return str(sum(char_value(c) * _WEIGHTS[i % 3] for i, c in enumerate(field)) % 10)


def transliterate(text: str) -> str:
    """Upper-case ASCII letters for the MRZ: diacritics dropped, Đ→D, spaces → ``<``."""
    text = text.replace("Đ", "D").replace("đ", "d")
    bare = "".join(
        c for c in unicodedata.normalize("NFD", text) if unicodedata.category(c) != "Mn"
    ).upper()
    return "".join(c if "A" <= c <= "Z" else "<" for c in bare if c.isalpha() or c in " -")


LIFELONG_EXPIRY = {"sentinel": "681231", "fillers": "<<<<<<"}


def _yymmdd(day: date | int | None, none: str = "<<<<<<") -> str:
    # An int is a birth year alone (date unknown): month and day are fillers (part 3 §4.2.2).
    if isinstance(day, int):
        return f"{day % 100:02d}<<<<"
    return none if day is None else day.strftime("%y%m%d")


def _pad(text: str, width: int) -> str:
    return (text + "<" * width)[:width]


def name_field(family: str, given_names: str) -> str:
    """Line 3: primary identifier (family name) ``<<`` secondary identifier, cut to 30."""
    primary, secondary = (transliterate(" ".join(n.split())) for n in (family, given_names))
    return _pad(f"{primary}<<{secondary}", LINE)


def compose_td1(
    pin: str,
    family: str,
    given_names: str,
    birth: date | int | None,
    sex: str,
    expiry: date | None,
    lifelong: str = "sentinel",
) -> str:
    """The three lines (joined by ``\\n``) of a Vietnamese identity card's TD1 MRZ; ``lifelong``
    names the encoding of a card without expiry (:data:`LIFELONG_EXPIRY`)."""
    number = pin[-9:]
    optional = _pad(pin + "<<" + check_digit(pin), 15)
    line1 = "IDVNM" + number + check_digit(number) + optional
    dob, exp = _yymmdd(birth), _yymmdd(expiry, LIFELONG_EXPIRY[lifelong])
    sex_code = {"male": "M", "female": "F"}.get(sex, "<")
    line2_head = dob + check_digit(dob) + sex_code + exp + check_digit(exp) + "VNM"
    optional2 = "<" * 11
    composite = line1[5:30] + line2_head[0:7] + line2_head[8:15] + optional2
    line2 = line2_head + optional2 + check_digit(composite)
    line3 = name_field(family, given_names)
    return "\n".join((line1, line2, line3))


@dataclass(frozen=True)
class TD1:
    """The fields of a TD1 MRZ, as read (check digits already verified)."""

    document_code: str
    issuing_state: str
    document_number: str
    optional_data: str
    birth: str  # YYMMDD or <<<<<<
    sex: str
    expiry: str
    nationality: str
    optional_data_2: str
    primary_name: str
    secondary_name: str

    @property
    def pin(self) -> str:
        """The 12-digit PIN of Vietnam's optional data (empty if absent)."""
        candidate = self.optional_data[:12]
        return candidate if candidate.isdigit() else ""


def parse_td1(text: str) -> TD1:
    """Parse a TD1 MRZ and verify every check digit; ``MRZError`` names the first broken rule."""
    lines = text.replace("\r", "").strip("\n").split("\n")
    if len(lines) != 3 or any(len(line) != LINE for line in lines):
        raise MRZError("layout", "a TD1 MRZ has 3 lines of 30 characters")
    l1, l2, l3 = lines
    for ch in l1 + l2 + l3:
        char_value(ch)
    checks = (
        ("document_number", l1[5:14], l1[14]),
        ("date_of_birth", l2[0:6], l2[6]),
        ("date_of_expiry", l2[8:14], l2[14]),
        ("composite", l1[5:30] + l2[0:7] + l2[8:15] + l2[18:29], l2[29]),
    )
    for name, field, digit in checks:
        if check_digit(field) != digit:
            raise MRZError("check_digit", f"the {name} check digit is wrong")
    primary, _, secondary = l3.partition("<<")
    return TD1(
        document_code=l1[0:2].rstrip("<"),
        issuing_state=l1[2:5],
        document_number=l1[5:14].rstrip("<"),
        optional_data=l1[15:30].rstrip("<"),
        birth=l2[0:6],
        sex=l2[7],
        expiry=l2[8:14],
        nationality=l2[15:18],
        optional_data_2=l2[18:29].rstrip("<"),
        primary_name=primary.replace("<", " ").strip(),
        secondary_name=secondary.replace("<", " ").strip(),
    )

"""Vietnamese personal names (họ, chữ đệm, tên) for the synthetic population.

A name is drawn from a *naming pattern* chosen by ethnic group (1979 codes, see
``ethnicity``): Kinh (birth-cohort aware), HMông clans, Thái, Tày/Nùng, Dao, Mường,
Khơ-me, Hoa, Chăm, Ê-đê (clan last), Gia-rai (clan first) and a generic Central Highlands
pattern. Data, weights and sources (mostly [I]): ``data/names.json``.

All draws use precomputed cumulative weights, so :func:`generate_name` costs a few
microseconds. Output is always NFC.
"""

from __future__ import annotations

import json
import random
import unicodedata
from dataclasses import dataclass
from importlib import resources
from typing import Any, Final

from sim06.mock_registry.ethnicity import _Weighted

__all__ = [
    "PersonName",
    "generate_name",
    "inherited_family",
    "naming_pattern",
    "normalize_for_match",
    "strip_diacritics",
    "to_nfc",
    "to_nfd",
]

_SEXES: Final[dict[str, int]] = {"male": 0, "female": 1}
_COHORTS: Final = 3  # born < 1990, 1990–2004, >= 2005


@dataclass(frozen=True, slots=True, init=False)
class PersonName:
    """Family name, middle name(s) and given name; ``middle`` may be empty.

    For clan-last patterns (Ê-đê) ``family`` holds the clan and ``clan_last`` is true, so
    ``full`` renders "Y Ngông Niê Kdăm". A middle ending in an apostrophe (the Ê-đê/Gia-rai
    female prefix H') is joined to the given name without a space: "H'Hen Niê".
    """

    family: str
    middle: str
    given: str
    clan_last: bool = False

    def __init__(self, family: str, middle: str, given: str, clan_last: bool = False) -> None:
        # The dataclass's own __init__, written out: generated at run time, it stays
        # interpreted when the module is compiled (a name is made once a citizen).
        object.__setattr__(self, "family", family)
        object.__setattr__(self, "middle", middle)
        object.__setattr__(self, "given", given)
        object.__setattr__(self, "clan_last", clan_last)

    @property
    def full(self) -> str:
        """The name as written on documents: single spaces, NFC."""
        m, g = self.middle, self.given
        personal = m + g if m.endswith("'") else (f"{m} {g}" if m else g)
        first, last = (personal, self.family) if self.clan_last else (self.family, personal)
        return f"{first} {last}" if first and last else first or last  # the non-empty parts

    @property
    def words(self) -> int:
        """Number of space-separated words in :attr:`full`."""
        return len(self.full.split())


# --- text normalisation ---------------------------------------------------------------

# NFD splits every Vietnamese letter into base + combining marks (U+0300–U+036F); đ/Đ
# have no decomposition and are mapped by hand. Typographic apostrophes fold to ASCII so
# "H’Hen" and "H'Hen" match.
_FOLD: Final[dict[int, str | None]] = dict.fromkeys(range(0x300, 0x370))
_FOLD.update({ord("đ"): "d", ord("Đ"): "D", 0x2019: "'", 0x02BC: "'"})


def to_nfc(text: str) -> str:
    """Unicode NFC (composed) form, the form sim06 stores and emits."""
    return unicodedata.normalize("NFC", text)


def to_nfd(text: str) -> str:
    """Unicode NFD (decomposed) form, as some clients send."""
    return unicodedata.normalize("NFD", text)


def strip_diacritics(text: str) -> str:
    """Remove Vietnamese diacritics (đ → d), keeping case and spacing: "Khơ-me" → "Kho-me"."""
    return unicodedata.normalize("NFD", text).translate(_FOLD)


def normalize_for_match(text: str) -> str:
    """Form compared by the real services (domain §6.3): no diacritics, upper case, one space.

    NFC/NFD-insensitive; ``đ``/``Đ`` become ``D``; whitespace runs collapse and the ends are
    stripped: ``"  nguyễn   văn ĐỨC "`` → ``"NGUYEN VAN DUC"``.
    """
    return " ".join(unicodedata.normalize("NFD", text).translate(_FOLD).upper().split())


# --- data ------------------------------------------------------------------------------

Tables = tuple[tuple[_Weighted, ...], ...]  # [sex][cohort]


@dataclass(frozen=True, slots=True)
class _Pattern:
    name: str
    family: _Weighted
    middle: Tables
    given: Tables
    second: Tables | None  # extra middle word (4-word names); Kinh only
    second_p: tuple[float, ...]
    second_after_thi_p: float
    no_middle_p: float
    clan_last: bool
    matrilineal: bool
    bare_families: frozenset[str]  # prefixes such as "A"/"Y" that take no middle name


def _cohort_tables(rows: list[list[Any]]) -> tuple[_Weighted, ...]:
    if len(rows[0]) == 2:  # plain [name, weight]: same table for every cohort
        table = _Weighted.of({r[0]: r[1] for r in rows})
        return (table,) * _COHORTS
    return tuple(
        _Weighted.of({r[0]: r[1 + c] for r in rows if r[1 + c] > 0}) for c in range(_COHORTS)
    )


def _compile(name: str, raw: dict[str, Any], kinh: _Pattern | None) -> _Pattern:
    def tables(key: str) -> Tables:
        out = []
        for s, sex in enumerate(("male", "female")):
            rows = raw[f"{key}_{sex}"]
            if rows == "kinh":
                assert kinh is not None
                out.append((kinh.given if key == "given" else kinh.middle)[s])
            else:
                out.append(_cohort_tables(rows))
        return tuple(out)

    second = None
    if "second_middle_probability" in raw:
        # A second middle word never repeats the generic Văn/Thị: "Ngọc Bảo", "Thị Minh".
        second = tuple(
            _cohort_tables([r for r in raw[f"middle_{sex}"] if r[0] not in ("", "Văn", "Thị")])
            for sex in ("male", "female")
        )
    return _Pattern(
        name=name,
        family=_Weighted.of({r[0]: r[1] for r in raw["family"]}),
        middle=tables("middle"),
        given=tables("given"),
        second=second,
        second_p=tuple(raw.get("second_middle_probability", (0.0,) * _COHORTS)),
        second_after_thi_p=raw.get("second_middle_after_thi_probability", 0.0),
        no_middle_p=raw.get("no_middle_probability", 0.0),
        clan_last=raw.get("clan_last", False),
        matrilineal=raw.get("matrilineal", False),
        bare_families=frozenset(raw.get("bare_families", ())),
    )


def _load() -> tuple[dict[str, _Pattern], _Pattern, dict[str, tuple[str, str]]]:
    text = resources.files("sim06.mock_registry").joinpath("data/names.json").read_text("utf-8")
    data = json.loads(unicodedata.normalize("NFC", text))
    raw = data["patterns"]
    kinh = _compile("kinh", raw["kinh"], None)
    patterns = {"kinh": kinh} | {n: _compile(n, p, kinh) for n, p in raw.items() if n != "kinh"}
    by_ethnicity = {code: patterns[name] for code, name in data["ethnicity_patterns"].items()}
    sex_forms: dict[str, tuple[str, str]] = {}
    for male, female in data["sex_forms"]:
        sex_forms[male] = sex_forms[female] = (male, female)
    return by_ethnicity, kinh, sex_forms


# Finals: compiled code reads them from C statics, not from the module's dict (a few times a name).
_LOADED = _load()
_BY_ETHNICITY: Final = _LOADED[0]
_KINH: Final = _LOADED[1]
_SEX_FORMS: Final = _LOADED[2]
_normalize: Final = unicodedata.normalize


# --- generation --------------------------------------------------------------------------


def naming_pattern(ethnicity_code: str) -> str:
    """Name of the naming pattern used for a 1979 ethnic code (``"kinh"`` by default)."""
    return _BY_ETHNICITY.get(ethnicity_code, _KINH).name


def inherited_family(ethnicity_code: str, father: PersonName, mother: PersonName) -> str:
    """Family name a child inherits: the father's, or the mother's clan for matrilineal groups.

    Ê-đê, Gia-rai (and the groups mapped to their patterns: Mnông, Ra-glai, Chu-ru) are
    matrilineal [I]. Lineage names with a female form (Tôn Nữ, Néang, ...) come back in
    their base form; :func:`generate_name` adapts them to the child's sex.
    """
    p = _BY_ETHNICITY.get(ethnicity_code, _KINH)
    family = mother.family if p.matrilineal else father.family
    forms = _SEX_FORMS.get(family)
    return family if forms is None else forms[0]


def generate_name(
    rng: random.Random,
    sex: str,
    ethnicity_code: str,
    birth_year: int,
    family: str | None = None,
) -> PersonName:
    """Draw a name for a person of ``sex`` ("male"/"female"), 1979 ethnic code and birth year.

    ``family`` forces the family name (or clan), e.g. from :func:`inherited_family`.
    Deterministic for a given ``rng`` state.
    """
    try:
        s = _SEXES[sex]
    except KeyError:
        raise ValueError(f"sex must be 'male' or 'female', not {sex!r}") from None
    p = _BY_ETHNICITY.get(ethnicity_code, _KINH)
    c = 0 if birth_year < 1990 else 1 if birth_year < 2005 else 2
    fam = p.family.pick(rng) if family is None else _normalize("NFC", family)
    forms = _SEX_FORMS.get(fam)
    if forms is not None:
        fam = forms[s]

    if (p.no_middle_p and rng.random() < p.no_middle_p) or fam in p.bare_families:
        middle = ""
    else:
        middle = p.middle[s][c].pick(rng)
        if p.second is not None and middle:
            chance = p.second_after_thi_p if middle == "Thị" else p.second_p[c]
            if rng.random() < chance:
                extra = p.second[s][c].pick(rng)
                if extra != middle:
                    middle = f"{middle} {extra}"

    given_table = p.given[s][c]
    given = given_table.pick(rng)
    # "Minh Minh" style repeats are rare in reality; redraw a couple of times.
    for _ in range(2):
        if not middle.endswith(given):
            break
        given = given_table.pick(rng)
    return PersonName(fam, middle, given, p.clan_last)

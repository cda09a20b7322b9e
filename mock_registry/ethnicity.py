"""Ethnic groups (dân tộc) and religions (tôn giáo) for the synthetic population.

Code tables (domain §3.4, §3.5):

- ``"1979"`` (default): Decision 121-TCTK/PPCĐ order, 54 groups + ``"55"`` foreigner.
- ``"2008"``: Decision 1019/QĐ-TCTK order; only codes 01–20 are verified, so the table
  holds those 20 groups and nothing else.

Which order the population database really uses is unknown; only ``"01"`` = Kinh was
observed, and it is the same in both. Codes returned by the ``pick_*`` functions are 1979
codes; use :func:`recode` to translate.

Religion codes are sim06's own (the real ``TonGiao`` list is unknown; ``"00"`` = none is
the only observed value). Data and sources: ``data/ethnicity.json``.
"""

from __future__ import annotations

import json
import random
import unicodedata
from dataclasses import dataclass
from importlib import resources
from itertools import accumulate
from typing import Any, Final

from sim06.mock_registry.draws import bisect_floats

__all__ = [
    "DEFAULT_TABLE",
    "TABLES",
    "EthnicGroup",
    "Religion",
    "census_share",
    "ethnic_group",
    "ethnic_groups",
    "pick_ethnicity",
    "pick_religion",
    "recode",
    "religion",
    "religions",
]

DEFAULT_TABLE: Final = "1979"
_CENSUS_2019_TOTAL = 96_208_984  # national total incl. foreigners, 1 April 2019
TABLES = ("1979", "2008")


@dataclass(frozen=True, slots=True)
class EthnicGroup:
    """One ethnic group under one code table."""

    code: str
    name: str
    name_ascii: str


@dataclass(frozen=True, slots=True)
class Religion:
    """One religion under sim06's own code list."""

    code: str
    name: str


@dataclass(frozen=True, slots=True)
class _Weighted:
    """Precomputed cumulative weights: one ``rng.random()`` and one bisect per draw."""

    values: tuple[str, ...]
    cum: list[float]  # a list: draws.bisect_floats walks it as C doubles
    total: float

    @classmethod
    def of(cls, weights: dict[str, float]) -> _Weighted:
        cum = list(accumulate(weights.values()))
        return cls(tuple(weights), cum, cum[-1])

    def pick(self, rng: random.Random) -> str:
        cum = self.cum
        return self.values[bisect_floats(cum, rng.random() * self.total, len(cum))]


def _load() -> dict[str, Any]:
    text = resources.files("sim06.mock_registry").joinpath("data/ethnicity.json").read_text("utf-8")
    data: dict[str, Any] = json.loads(unicodedata.normalize("NFC", text))
    return data


_DATA = _load()
_GROUPS: dict[str, dict[str, EthnicGroup]] = {t: {} for t in TABLES}
_CENSUS: dict[str, int] = {}
_TO_1979: dict[str, dict[str, str]] = {t: {} for t in TABLES}
for _row in _DATA["ethnic_groups"]:
    for _tab in TABLES:
        _code = _row[f"code_{_tab}"]
        if _code is not None:
            _GROUPS[_tab][_code] = EthnicGroup(_code, _row["name"], _row["name_ascii"])
            _TO_1979[_tab][_code] = _row["code_1979"]
    if _row["census_2019"] is not None:
        _CENSUS[_row["code_1979"]] = _row["census_2019"]
del _row, _tab, _code
_FROM_1979 = {t: {v: k for k, v in m.items()} for t, m in _TO_1979.items()}

_RELIGIONS: Final[dict[str, Religion]] = {
    r["code"]: Religion(r["code"], r["name"]) for r in _DATA["religions"]
}


def _with_kinh_remainder(shares: dict[str, float]) -> dict[str, float]:
    # The data lists minority shares only; Kinh ("01") takes what is left of the province.
    return {"01": 1.0 - sum(shares.values()), **shares}


_PROVINCE_PICKERS: Final[dict[str, _Weighted]] = {
    code: _Weighted.of(_with_kinh_remainder(shares))
    for code, shares in _DATA["province_ethnicity_weights"].items()
}
_DEFAULT_PROVINCE: Final = _PROVINCE_PICKERS.pop("_default")
_RELIGION_PICKERS: Final[dict[str, _Weighted]] = {
    code: _Weighted.of(w) for code, w in _DATA["religion_weights_by_ethnicity"].items()
}
_DEFAULT_RELIGION: Final = _RELIGION_PICKERS.pop("_default")


def _table(table: str) -> dict[str, EthnicGroup]:
    try:
        return _GROUPS[table]
    except KeyError:
        raise ValueError(f"unknown ethnic code table {table!r}; expected one of {TABLES}") from None


def ethnic_group(code: str, table: str = DEFAULT_TABLE) -> EthnicGroup:
    """Return the group with ``code`` in ``table``; ``KeyError`` if the code is not defined."""
    try:
        return _table(table)[code]
    except KeyError:
        raise KeyError(f"no ethnic group {code!r} in table {table!r}") from None


def ethnic_groups(table: str = DEFAULT_TABLE) -> tuple[EthnicGroup, ...]:
    """All groups of ``table`` in code order (the 2008 table holds only codes 01–20)."""
    groups = _table(table)
    return tuple(groups[c] for c in sorted(groups))


def recode(code: str, from_table: str = DEFAULT_TABLE, to_table: str = "2008") -> str | None:
    """Translate an ethnic code between tables; ``None`` when the target code is unknown."""
    _table(from_table), _table(to_table)  # validate both table names
    code_1979 = _TO_1979[from_table].get(code)
    if code_1979 is None:
        raise KeyError(f"no ethnic group {code!r} in table {from_table!r}")
    return _FROM_1979[to_table].get(code_1979)


def census_share(code: str) -> float:
    """2019 census share of the national population for a 1979 code (0.0 for foreigner)."""
    return _CENSUS.get(code, 0) / _CENSUS_2019_TOTAL


def religion(code: str) -> Religion:
    """Return the religion with sim06 code ``code``."""
    try:
        return _RELIGIONS[code]
    except KeyError:
        raise KeyError(f"no religion {code!r}") from None


def religions() -> tuple[Religion, ...]:
    """All religions in code order; ``"00"`` is none, ``"99"`` other."""
    return tuple(_RELIGIONS[c] for c in sorted(_RELIGIONS))


def pick_ethnicity(rng: random.Random, legacy_province_code: str) -> str:
    """Draw a 1979 ethnic code for a person born in a legacy (pre-2025) province.

    ``legacy_province_code`` is the 2-digit statistics-office code (``"02"`` Hà Giang); the
    3-digit PIN prefix form (``"002"``) is accepted too. Unknown codes use a mostly-Kinh
    default mix. Foreigner (``"55"``) is never drawn.
    """
    picker = _PROVINCE_PICKERS.get(legacy_province_code[-2:], _DEFAULT_PROVINCE)
    return picker.pick(rng)


def pick_religion(rng: random.Random, ethnicity_code: str) -> str:
    """Draw a sim06 religion code given a 1979 ethnic code (e.g. Khmer mostly Buddhist)."""
    return _RELIGION_PICKERS.get(ethnicity_code, _DEFAULT_RELIGION).pick(rng)

"""The 2019 census age-sex structure and the quota that makes the generator follow it.

``data/census_2019_age_sex.json`` holds the 2019 Population and Housing Census table by
five-year age band and sex (its ``source`` block says which figures are verified). The
generator builds whole households, so ages of spouses, children and grandparents follow from
one another; :class:`AgeQuota` steers the free choices (the age of a household's first adult,
the sex of a lone adult) towards the bands that are furthest below their census share, which
keeps the pyramid on the table whatever the household mix produces.
"""

from __future__ import annotations

import json
import random
from dataclasses import dataclass
from functools import cache
from importlib.resources import files
from typing import Final

from sim06.mock_registry.ids import Sex

MAX_AGE: Final = 100
_FLOOR: Final = 1e-4  # a band at or above its share can still be drawn, rarely


@dataclass(frozen=True, slots=True)
class Band:
    """One five-year age band of the census table (the last one is open: 80+)."""

    label: str
    low: int
    high: int
    male_share: float  # of the whole population
    female_share: float


@dataclass(frozen=True, slots=True)
class CensusTable:
    """The table: bands in age order, and the urban share."""

    bands: tuple[Band, ...]
    urban_share: float


@cache
def table() -> CensusTable:
    """The 2019 census table (read once)."""
    raw = json.loads(
        files("sim06.mock_registry").joinpath("data", "census_2019_age_sex.json").read_text("utf-8")
    )
    bands = []
    for row in raw["bands"]:
        total = row["percent"] / 100
        male = total * row["sex_ratio"] / (100 + row["sex_ratio"])
        bands.append(Band(row["band"], row["low"], row["high"], male, total - male))
    return CensusTable(tuple(bands), raw["urban_percent"] / 100)


@cache
def _band_index() -> tuple[int, ...]:
    out = []
    for i, band in enumerate(table().bands):
        out.extend([i] * (band.high - band.low + 1))
    return tuple(out)


def band_of(age: int) -> int:
    """Index of the band holding ``age`` (ages above 100 count in the last band)."""
    index = _band_index()
    return index[min(max(age, 0), len(index) - 1)]


class AgeQuota:
    """Running count of generated people by sex and band, and draws that fill the gaps."""

    def __init__(self) -> None:
        bands = table().bands
        self._bands = bands
        self._target = {
            "male": [b.male_share for b in bands],
            "female": [b.female_share for b in bands],
        }
        self._count = {"male": [0] * len(bands), "female": [0] * len(bands)}
        self.total = 0
        self._span_cache: dict[tuple[int, int], tuple[tuple[int, int, int, float], ...]] = {}
        self._index = _band_index()  # band_of without its calls: add/remove run once a person
        self._last = len(self._index) - 1
        self._target_shares: dict[tuple[int, int], float] = {}

    def add(self, sex: Sex, age: int) -> None:
        """Count one generated person."""
        self._count[sex][self._index[min(max(age, 0), self._last)]] += 1
        self.total += 1

    def remove(self, sex: Sex, age: int) -> None:
        """Uncount one person (who died: the census table counts the living)."""
        self._count[sex][self._index[min(max(age, 0), self._last)]] -= 1
        self.total -= 1

    def _spans(self, low: int, high: int) -> tuple[tuple[int, int, int, float], ...]:
        """(band index, low, high, share of the band) of the bands overlapping ``low..high``."""
        key = (low, high)
        found = self._span_cache.get(key)
        if found is None:
            found = tuple(
                (i, max(low, b.low), min(high, b.high),
                 (min(high, b.high) - max(low, b.low) + 1) / (b.high - b.low + 1))
                for i, b in enumerate(self._bands)
                if max(low, b.low) <= min(high, b.high)
            )  # fmt: skip
            self._span_cache[key] = found
        return found

    def _weights(self, sex: Sex, spans: tuple[tuple[int, int, int, float], ...]) -> list[float]:
        """Weight of each band of ``spans`` for ``sex``: how far it is below its census share,
        in proportion to the part of it that lies in the range."""
        target = self._target[sex]
        count = self._count[sex]
        expected = self.total + 1
        # max(gap, _FLOOR) spelt as a conditional (no call), the same float either way
        return [
            (gap if (gap := target[i] * expected - count[i]) >= _FLOOR else _FLOOR) * part
            for i, _, _, part in spans
        ]

    @staticmethod
    def _draw(
        rng: random.Random, spans: tuple[tuple[int, int, int, float], ...], weights: list[float]
    ) -> int:
        """A band by weight, then an age in the part of it within the range."""
        x = rng.random() * sum(weights)
        for i in range(len(weights)):  # by index: no zip object, no tuple an item
            x -= weights[i]
            if x < 0:
                _, lo, hi, _ = spans[i]
                return lo + int(rng.random() * (hi - lo + 1))
        return spans[-1][2]

    def age(self, rng: random.Random, sex: Sex, low: int, high: int) -> int:
        """An age in ``low..high`` for a person of ``sex``, favouring under-filled bands."""
        spans = self._spans(low, high)
        return self._draw(rng, spans, self._weights(sex, spans))

    def person(self, rng: random.Random, low: int, high: int) -> tuple[Sex, int]:
        """Sex and age of a lone adult in ``low..high``, favouring under-filled bands."""
        spans = self._spans(low, high)
        male_weights = self._weights("male", spans)
        female_weights = self._weights("female", spans)
        male, female = sum(male_weights), sum(female_weights)
        if rng.random() * (male + female) < male:
            return "male", self._draw(rng, spans, male_weights)
        return "female", self._draw(rng, spans, female_weights)

    def any_age(self, rng: random.Random, low: int, high: int) -> int:
        """An age in ``low..high`` for a person whose sex is drawn later (both sexes' gaps)."""
        spans = self._spans(low, high)
        weights = self._weights("male", spans)
        female = self._weights("female", spans)
        for i in range(len(weights)):  # the sum of both, in place: no zip, no second list
            weights[i] += female[i]
        return self._draw(rng, spans, weights)

    def wanted(self, sex: Sex, age: int) -> bool:
        """Whether the band of ``age`` is still below its census share for ``sex``."""
        i = band_of(age)
        return self._count[sex][i] < self._target[sex][i] * (self.total + 1)

    def share(self, low: int, high: int) -> float:
        """Share of the people counted so far aged ``low..high`` (whole bands only)."""
        first, last = band_of(low), band_of(high)
        n = sum(sum(c[first : last + 1]) for c in self._count.values())
        return n / self.total if self.total else 0.0

    def target_share(self, low: int, high: int) -> float:
        """Census share of ages ``low..high`` (whole bands only)."""
        found = self._target_shares.get((low, high))
        if found is None:  # a constant of the table: asked once a household, computed once
            first, last = band_of(low), band_of(high)
            found = sum(b.male_share + b.female_share for b in self._bands[first : last + 1])
            self._target_shares[low, high] = found
        return found

"""Shards of a population: independent slices that any number of processes generate alike.

A population of ``size`` citizens is cut into shards of :data:`SHARD_SIZE` citizens (the last
one shorter), fixed by the size alone, never by the worker count. Shard ``i`` draws from its
own random stream and owns a disjoint block of every numbering space, so shards never collide
and their rows, concatenated in shard order, are the same population whoever generated them:

- PIN serials: counters ``i*K .. (i+1)*K - 1`` of every (prefix, year, sex) bucket, ``K`` =
  1,000,000 / number of shards;
- old CMND numbers: the same split of each prefix's counter space (once a shard's block of a
  prefix is used up, its later holders get no 9-digit CMND:
  :meth:`Lifecycle.documents <mock_registry.lifecycle.Lifecycle.documents>`);
- household ids: from ``first + 1`` (a shard has at most as many households as citizens).

Shard 0 keeps the generator's original stream (``random.Random(seed)``, counters from 0), so a
population of at most one shard is byte for byte what the single-stream generator made.
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass

from sim06.mock_registry.cmnd import PREFIXES_BY_PROVINCE
from sim06.mock_registry.ids import CMND_LENGTH, SERIAL_SPACE

SHARD_SIZE = 25_000  # citizens; also bounds a worker's message (about 60 MB of records)

CMND_PREFIXES = tuple(sorted({p for ps in PREFIXES_BY_PROVINCE.values() for p in ps}))


@dataclass(frozen=True, slots=True)
class Shard:
    """Citizens ``first .. first + count - 1`` of a population cut into ``of`` shards."""

    index: int
    first: int
    count: int
    of: int

    def rng(self, seed: int) -> random.Random:
        """The shard's random stream (shard 0: the generator's original one)."""
        if self.index == 0:
            return random.Random(seed)
        # A string seed is hashed (SHA-512) by random.Random: independent streams per shard.
        return random.Random(f"sim06-shard:{seed}:{self.index}")

    def serial_range(self) -> tuple[int, int]:
        """The PIN serial counters this shard owns in every bucket (first, limit)."""
        block = SERIAL_SPACE // self.of
        return self.index * block, (self.index + 1) * block

    def cmnd_counters(self) -> dict[str, int]:
        """First CMND counter of every prefix for this shard."""
        return {p: self.index * (_cmnd_space(p) // self.of) for p in CMND_PREFIXES}

    def cmnd_limits(self) -> dict[str, int]:
        """The CMND counter of every prefix where this shard's block ends (the next shard's
        first)."""
        return {p: (self.index + 1) * (_cmnd_space(p) // self.of) for p in CMND_PREFIXES}

    @property
    def first_household_id(self) -> int:
        """The id of the shard's first household."""
        return self.first + 1


def _cmnd_space(prefix: str) -> int:
    return int(10 ** (CMND_LENGTH - len(prefix)))


def plan(size: int, shard_size: int = SHARD_SIZE) -> list[Shard]:
    """The shards of a population of ``size`` citizens (none for an empty one)."""
    if shard_size < 1:
        raise ValueError("shard_size must be at least 1")
    of = math.ceil(size / shard_size)
    if of > SERIAL_SPACE // 10:
        raise ValueError(f"{size} citizens in shards of {shard_size}: too many shards ({of})")
    return [Shard(i, i * shard_size, min(shard_size, size - i * shard_size), of) for i in range(of)]

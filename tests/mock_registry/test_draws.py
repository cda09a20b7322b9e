"""mock_registry.draws: the same values as random.Random's methods, and the stream left alike."""

from __future__ import annotations

import bisect
import itertools
import random

import pytest

from sim06.mock_registry import draws

SEEDS = (0, 6, 2024, "sim06-shard:6:3")
# Powers of two and their neighbours: where getrandbits(k) needs redraws, or never does.
WIDTHS = (1, 2, 3, 4, 5, 6, 7, 8, 9, 15, 16, 17, 250, 420, 1000, 9999, 10950, 2**31 + 1)


def pair(seed: int | str) -> tuple[random.Random, random.Random]:
    return random.Random(seed), random.Random(seed)


@pytest.mark.parametrize("seed", SEEDS)
def test_below_and_randrange_are_the_method(seed: int | str) -> None:
    ours, theirs = pair(seed)
    for n in WIDTHS * 20:
        assert draws.below(ours, n) == theirs.randrange(n)
        assert draws.randrange(ours, -n, n + 3) == theirs.randrange(-n, n + 3)
    assert ours.getstate() == theirs.getstate()


@pytest.mark.parametrize("seed", SEEDS)
def test_randint_is_the_method(seed: int | str) -> None:
    ours, theirs = pair(seed)
    for a, b in [(1, 6), (19, 32), (21, 35), (22, 36), (1, 420), (2, 250), (1, 15), (1, 9999),
                 (5, 5), (-3, 3)] * 50:  # fmt: skip
        assert draws.randint(ours, a, b) == theirs.randint(a, b)
    assert ours.getstate() == theirs.getstate()


@pytest.mark.parametrize("seed", SEEDS)
def test_choice_is_the_method(seed: int | str) -> None:
    ours, theirs = pair(seed)
    for seq in [("divorced", "widowed", "single"), ("a",), tuple(range(17)), list("abcdefgh")] * 50:
        assert draws.choice(ours, seq) == theirs.choice(seq)
    assert ours.getstate() == theirs.getstate()


@pytest.mark.parametrize("seed", SEEDS)
def test_pick_is_choices_with_cumulative_weights(seed: int | str) -> None:
    ours, theirs = pair(seed)
    tables: list[tuple[tuple[object, ...], list[float]]] = [
        (("x", "y", "z"), [0.1, 0.1, 1.0]),  # a zero weight: bisect must step over it
        (tuple("abcdef"), [0.10, 0.21, 0.65, 0.72, 0.93, 1.0]),
        ((1, 2, 3, 4), [3, 7, 9, 10]),  # integer weights: the method converts the total
        (("only",), [2.5]),
        (tuple(range(63)), [float(i * i + 1) for i in range(1, 64)]),
    ]
    for population, cum in tables * 200:
        got = draws.pick(ours, population, cum)
        assert got == theirs.choices(population, cum_weights=cum)[0]
    assert ours.getstate() == theirs.getstate()


def test_below_rejects_an_empty_range() -> None:
    with pytest.raises(ValueError, match="empty range"):
        draws.below(random.Random(1), 0)
    with pytest.raises(ValueError, match="empty range"):
        draws.randrange(random.Random(1), 5, 5)


def test_bisect_floats_is_bisect_right() -> None:
    rng = random.Random(3)
    for _ in range(2000):
        n = rng.randrange(1, 40)
        cum = list(itertools.accumulate(rng.choice((0.0, 0.5, 1.0, 2.25)) for _ in range(n)))
        x = rng.choice((rng.random() * cum[-1], *cum))  # ties with every step too
        hi = rng.randrange(0, n + 1)
        assert draws.bisect_floats(cum, x, hi) == bisect.bisect_right(cum, x, 0, hi)

"""The ``random.Random`` draws the generator makes most, as plain functions.

Each is CPython's own algorithm (Lib/random.py of 3.11: ``_randbelow_with_getrandbits``,
``randrange``, ``randint``, ``choice``, ``choices`` with ``cum_weights`` and ``k=1``): the same
calls to the generator (``random()``, ``getrandbits(k)``) in the same order with the same
arithmetic, so the stream is consumed alike and the value is the same;
tests/mock_registry/test_draws.py compares them with the methods. Why: the methods are
interpreted Python two or three frames deep (about a tenth of the compiled generator's time);
these run compiled, in one C call. ``rng`` must be a plain ``random.Random`` (a subclass that
overrides ``random()`` only draws integers differently).
"""

from __future__ import annotations

import random
from bisect import bisect_right
from collections.abc import Sequence
from typing import Final, TypeVar

T = TypeVar("T")
# A Final: compiled code reads it from a C static, an imported name from the module's dict.
_bisect_right: Final = bisect_right


def below(rng: random.Random, n: int) -> int:
    """``rng.randrange(n)``: an integer in ``0 .. n - 1``, for ``n > 0``."""
    if n <= 0:
        raise ValueError("empty range for randrange()")
    k = n.bit_length()  # as CPython: not (n - 1), since n can be 1
    r = rng.getrandbits(k)
    while r >= n:
        r = rng.getrandbits(k)
    return r


def randrange(rng: random.Random, start: int, stop: int) -> int:
    """``rng.randrange(start, stop)``: an integer in ``start .. stop - 1``."""
    return start + below(rng, stop - start)


def randint(rng: random.Random, a: int, b: int) -> int:
    """``rng.randint(a, b)``: an integer in ``a .. b``, both included."""
    return a + below(rng, b + 1 - a)


def choice(rng: random.Random, seq: Sequence[T]) -> T:
    """``rng.choice(seq)`` of a non-empty sequence."""
    return seq[below(rng, len(seq))]


def pick(rng: random.Random, population: Sequence[T], cum_weights: Sequence[float]) -> T:
    """``rng.choices(population, cum_weights=cum_weights)[0]``; the caller ensures what the
    method checks (as many positive, finite cumulative weights as items)."""
    x = rng.random() * (cum_weights[-1] + 0.0)  # + 0.0: the method's conversion to float
    if isinstance(cum_weights, list):
        return population[bisect_floats(cum_weights, x, len(population) - 1)]
    return population[_bisect_right(cum_weights, x, 0, len(population) - 1)]


def bisect_floats(a: list[float], x: float, hi: int) -> int:
    """``bisect.bisect_right(a, x, 0, hi)``: the same steps and comparisons, compiled to a loop
    over C doubles (the module's function costs a call, argument parsing and a generic
    comparison a step; a few times a citizen)."""
    lo = 0
    while lo < hi:
        mid = (lo + hi) // 2
        if x < a[mid]:
            hi = mid
        else:
            lo = mid + 1
    return lo

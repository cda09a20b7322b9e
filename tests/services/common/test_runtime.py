"""The GC settings of a server process."""

from __future__ import annotations

import gc
from collections.abc import Iterator

import pytest

from sim06.services.common.runtime import YOUNG_THRESHOLD, tune_gc


@pytest.fixture
def restored_gc() -> Iterator[None]:
    threshold = gc.get_threshold()
    try:
        yield
    finally:
        gc.unfreeze()
        gc.set_threshold(*threshold)


@pytest.mark.usefixtures("restored_gc")
def test_what_exists_is_frozen_and_young_collections_are_rarer() -> None:
    kept = {"an": ["object", "built", "before", "serving"]}
    middle, old = gc.get_threshold()[1:]
    tune_gc()
    assert gc.get_freeze_count() > 0
    assert gc.get_threshold() == (YOUNG_THRESHOLD, middle, old)
    assert gc.is_tracked(kept)
    assert all(o is not kept for o in gc.get_objects())  # frozen: in no generation collected

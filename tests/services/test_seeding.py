"""The seeding progress bar: it counts, and runs no thread that would keep workers from forking."""

from __future__ import annotations

import threading

import pytest

from sim06.services.seeding import progress_bar


def test_the_bar_counts_without_a_monitor_thread(capsys: pytest.CaptureFixture[str]) -> None:
    before = set(threading.enumerate())
    with progress_bar(100) as advance:
        advance(40)
        advance(60)
        assert set(threading.enumerate()) == before  # tqdm's monitor would be one more
    assert "100/100" in capsys.readouterr().err

"""Micro-benchmarks of the chip card: building a card's files and passive authentication.

pytest benchmarks/bench_chip.py --benchmark-enable --benchmark-only
"""

from __future__ import annotations

import dataclasses
from datetime import UTC, date, datetime
from typing import Any

import orjson
import pytest

from sim06.mock_registry import chip
from sim06.mock_registry.passive_auth import TrustAnchors, verify
from sim06.mock_registry.pki import Pki
from sim06.mock_registry.seed import seed_store
from sim06.mock_registry.store import SQLiteCitizenStore

ADULT = "001090104217"
AT = datetime(2026, 7, 1, 5, tzinfo=UTC)


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> tuple[SQLiteCitizenStore, Pki]:
    root = tmp_path_factory.mktemp("chip")
    store = SQLiteCitizenStore(root / "population.db")
    seed_store(store, seed=6, size=200, as_of=date(2026, 7, 1))
    return store, Pki(root / "pki")


def _record(store: SQLiteCitizenStore, pin: str) -> dict[str, Any]:
    parsed: dict[str, Any] = orjson.loads(store.get(pin) or b"{}")
    return parsed


def test_chip_generation(benchmark: Any, world: tuple[SQLiteCitizenStore, Pki]) -> None:
    store, pki = world
    record = _record(store, ADULT)
    files = benchmark(chip.issue, record, pki)
    assert files.sod[:1] == b"\x77"


def test_passive_authentication(benchmark: Any, world: tuple[SQLiteCitizenStore, Pki]) -> None:
    store, pki = world
    files = dataclasses.asdict(chip.issue(_record(store, ADULT), pki))
    anchors = TrustAnchors([pki.csca], [pki.crl])

    def lookup(pin: str) -> dict[str, Any] | None:
        raw = store.get(pin)
        return None if raw is None else orjson.loads(raw)

    verdict = benchmark(verify, files, ADULT, anchors, lookup, AT)
    assert verdict.valid


def test_face_match_analysis(benchmark: Any) -> None:
    """Decode, quality, liveness and features of one 240x320 JPEG probe, then the score."""
    from sim06.mock_registry import face, face_match, face_probe

    probe = face_probe.probe_bytes(ADULT, "genuine")
    ref = face_match.features(face_match.canonical(face_match.decode(face.face_jpeg(ADULT))))
    assert ref is not None

    def match() -> float:
        found = face_match.analyse(face_match.decode(probe)).features
        assert found is not None
        return face_match.similarity(ref, found)

    assert benchmark(match) >= 0.9

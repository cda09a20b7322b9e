"""Micro-benchmarks of the domain core and the registry's in-process operations.

pytest benchmarks/bench_core.py --benchmark-enable --benchmark-only -o python_files='bench_*.py'
"""

from __future__ import annotations

import unicodedata
from datetime import date
from pathlib import Path
from typing import Any

import orjson
import pytest

from sim06.mock_registry import ids, names
from sim06.mock_registry.citizen import record_of
from sim06.mock_registry.population import PopulationGenerator
from sim06.mock_registry.seed import seed_store
from sim06.mock_registry.store import SQLiteCitizenStore
from sim06.services.common.settings import Settings
from sim06.services.registry.schemas import VerifyRequest
from sim06.services.registry.service import RegistryService

AS_OF = date(2026, 7, 1)
ADULT = "001090104217"


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> SQLiteCitizenStore:
    path: Path = tmp_path_factory.mktemp("core") / "population.db"
    s = SQLiteCitizenStore(path)
    seed_store(s, seed=6, size=20_000, as_of=AS_OF)
    return s


def test_is_valid_pin(benchmark: Any) -> None:
    assert benchmark(ids.is_valid_pin, ADULT)


def test_validate_pin_with_problems(benchmark: Any) -> None:
    assert benchmark(ids.validate_pin, "003X9010421", sex="female", birth_year=1990)


def test_normalize_name(benchmark: Any) -> None:
    nfd = unicodedata.normalize("NFD", "  Nguyễn   Thị Ánh Tuyết ")
    assert benchmark(names.normalize_for_match, nfd) == "NGUYEN THI ANH TUYET"


def test_generate_household_and_serialise(benchmark: Any) -> None:
    gen = PopulationGenerator(6, AS_OF)

    def one_household() -> int:
        return sum(len(orjson.dumps(record_of(p, "x"))) for p in gen.household(10))

    assert benchmark(one_household) > 0


def test_store_get(benchmark: Any, store: SQLiteCitizenStore) -> None:
    assert benchmark(store.get, ADULT) is not None


def test_registry_verify(benchmark: Any, store: SQLiteCitizenStore) -> None:
    service = RegistryService(Settings(), store)
    request = VerifyRequest(pin=ADULT, full_name="NGUYEN VAN AN", date_of_birth=date(1990, 5, 12))
    assert benchmark(service.verify, request)["verdict"] == "match"

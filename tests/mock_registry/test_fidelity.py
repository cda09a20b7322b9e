"""The floors of issue #16 on a generated population: laws by date, the 2019 census, as-of."""

from __future__ import annotations

from datetime import date
from typing import Any

import orjson
import pytest

from sim06.mock_registry import fidelity, personas
from sim06.mock_registry.population import PopulationGenerator


def generate(seed: int, size: int, as_of: date) -> list[dict[str, Any]]:
    gen = PopulationGenerator(seed, as_of, personas.reserved_pins(), personas.reserved_cmnds())
    return [orjson.loads(row.record) for batch in gen.generate(size) for row in batch]


@pytest.fixture(scope="module")
def today() -> fidelity.Figures:
    return fidelity.measure(generate(11, 20_000, date(2026, 7, 1)), date(2026, 7, 1))


@pytest.fixture(scope="module")
def census_day() -> fidelity.Figures:
    return fidelity.measure(generate(11, 10_000, date(2019, 4, 1)), date(2019, 4, 1))


def test_every_floor_holds_today(today: fidelity.Figures) -> None:
    assert today.floors and all(today.floors.values()), (today.floors, today.examples)
    assert today.cmnds > 5000 and today.cards_under_6 > 0  # the floors were not vacuous


def test_shape_follows_the_2019_census(today: fidelity.Figures) -> None:
    assert today.band_worst[1] <= 0.15, today.band_worst
    assert 0.07 <= today.old_share <= 0.09
    assert all(95 <= v <= 105 for v in today.sex_ratio.values()), today.sex_ratio
    assert abs(today.urban_share - 0.344) <= 0.03


def test_as_of_the_census_day_nothing_comes_from_the_future(census_day: fidelity.Figures) -> None:
    assert census_day.floors and all(census_day.floors.values()), census_day.examples
    assert census_day.dated_after_as_of == 0 and census_day.units_after_as_of == 0
    assert census_day.cmnds > 0


def _record(**changes: Any) -> dict[str, Any]:
    record: dict[str, Any] = {
        "pin": "001210000001", "date_of_birth": "2010-05-01", "birth_year": 2010, "sex": "male",
        "status": "alive", "place_of_birth_registration": {"scheme": "pre_2025"},
        "permanent_residence": None, "current_residence": None, "id_card": None,
        "card_history": [], "residence_since": "2015-01-01",
    }  # fmt: skip
    record.update(changes)
    return record


def test_the_checker_catches_each_violation() -> None:
    as_of = date(2019, 4, 1)
    chip_at_12 = {"kind": "cccd_chip", "number": "x", "issue_date": "2022-06-01"}
    face_at_2 = {"kind": "can_cuoc", "number": "x", "issue_date": "2024-08-01", "biometrics": True}
    hcm_cmnd = {"kind": "cmnd", "number": "790000001", "issue_date": "2014-01-01",
                "issuing_province_code": "79"}  # fmt: skip
    future = _record(pin="2", residence_since="2020-01-01")
    new_unit = _record(pin="3", permanent_residence={"commune_code": "00004", "commune_name": "?"})
    f = fidelity.measure(
        [
            _record(card_history=[chip_at_12]),
            _record(pin="1", date_of_birth="2022-07-01", birth_year=2022, card_history=[face_at_2]),
            _record(pin="4", date_of_birth="1980-01-01", birth_year=1980, card_history=[hcm_cmnd]),
            future,
            new_unit,
        ],
        as_of,
    )
    assert f.cards_under_14_before_2024 == 1
    assert f.cards_under_6_with_biometrics == 1
    assert f.cmnd_prefix_wrong == 1
    assert f.dated_after_as_of == 3  # the residence date and both cards
    assert f.units_after_as_of == 1
    failed = {name for name, ok in f.floors.items() if not ok}
    assert {
        "no card before 1 Jul 2024 under 14",
        "no biometrics on cards issued under 6",
        "every CMND prefix from its area's table",
        "nothing dated after the as-of date",
        "no post-2025 unit before the reform",
        "5-year bands within 15 % of the census",
    } <= failed

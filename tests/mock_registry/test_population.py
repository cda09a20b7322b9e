"""The synthetic population: determinism, valid PINs, consistent households, realistic shape."""

from __future__ import annotations

from collections import Counter
from datetime import date
from typing import Any

import orjson
import pytest

from sim06.mock_registry import admin_units, ids, names, personas
from sim06.mock_registry.population import PopulationGenerator

AS_OF = date(2026, 7, 1)


def generate(seed: int, size: int) -> list[dict[str, Any]]:
    gen = PopulationGenerator(seed, AS_OF, personas.reserved_pins(), personas.reserved_cmnds())
    return [orjson.loads(row.record) for batch in gen.generate(size) for row in batch]


@pytest.fixture(scope="module")
def people() -> list[dict[str, Any]]:
    return generate(11, 20_000)


def test_same_seed_same_bytes() -> None:
    def raw(seed: int) -> list[bytes]:
        gen = PopulationGenerator(seed, AS_OF)
        return [row.record for batch in gen.generate(2000) for row in batch]

    assert raw(5) == raw(5)
    assert raw(5) != raw(6)


def test_exact_size_and_unique_keys(people: list[dict[str, Any]]) -> None:
    assert len(people) == 20_000
    pins = [p["pin"] for p in people]
    assert len(set(pins)) == len(pins)
    assert not set(pins) & personas.reserved_pins()
    cmnds = [p["cmnd"] for p in people if p["cmnd"]]
    assert len(set(cmnds)) == len(cmnds)
    assert not set(cmnds) & personas.reserved_cmnds()


def test_every_pin_is_valid_and_consistent(people: list[dict[str, Any]]) -> None:
    for p in people:
        problems = ids.validate_pin(p["pin"], sex=p["sex"], birth_year=p["birth_year"])
        assert problems == (), (p["pin"], problems)
        assert p["pin"][:3] == p["place_of_birth_registration"]["pin_code"]


def test_households_are_consistent(people: list[dict[str, Any]]) -> None:
    by_pin = {p["pin"]: p for p in people}
    checked = 0
    for p in people:
        for parent_key in ("father", "mother"):
            ref = p[parent_key]
            if ref is None:
                continue
            parent = by_pin[ref["pin"]]
            assert parent["birth_year"] - p["birth_year"] <= -15, (parent["pin"], p["pin"])
            assert p["pin"] in [c["pin"] for c in parent["children"]]
            checked += 1
        if p["spouse"] is not None:
            assert by_pin[p["spouse"]["pin"]]["spouse"]["pin"] == p["pin"]
        hh = p["household"]
        head = by_pin[hh["head_pin"]]
        assert head["household"]["id"] == hh["id"]
        assert head["household"]["relationship"] == "head"
        if p["father"] is not None and p["ethnicity"]["code"] == "01":  # Kinh: father's name
            father = by_pin[p["father"]["pin"]]["name"]["family"]
            # Royal lineages have a female form of the family name (Tôn Thất -> Tôn Nữ,
            # Nguyễn Phúc -> Công Tằng Tôn Nữ): compare the base forms.
            base = names._SEX_FORMS.get(p["name"]["family"], (p["name"]["family"],))[0]
            assert base.split()[0] == father.split()[0]
    assert checked > 5000


def test_addresses_use_post_2025_codes(people: list[dict[str, Any]]) -> None:
    for p in people[:3000]:
        addr = p["permanent_residence"]
        commune = admin_units.commune(addr["commune_code"])
        assert commune.province_code == addr["province_code"]
        legacy = p["legacy_permanent_residence"]
        if legacy is not None:
            assert (
                admin_units.legacy_commune(legacy["commune_code"]).province_code
                == legacy["province_code"]
            )


def test_population_shape_is_realistic(people: list[dict[str, Any]]) -> None:
    ages = [AS_OF.year - p["birth_year"] for p in people]
    n = len(ages)
    young = sum(a <= 14 for a in ages) / n
    old = sum(a >= 65 for a in ages) / n
    assert 0.18 <= young <= 0.30, young
    assert 0.05 <= old <= 0.13, old
    males = sum(p["sex"] == "male" for p in people) / n
    assert 0.47 <= males <= 0.53
    families = Counter(p["name"]["family"] for p in people if p["ethnicity"]["code"] == "01")
    kinh = sum(families.values())
    assert 0.33 <= families["Nguyễn"] / kinh <= 0.43
    kinh_share = sum(p["ethnicity"]["code"] == "01" for p in people) / n
    assert 0.80 <= kinh_share <= 0.90
    statuses = Counter(p["status"] for p in people)
    assert statuses["deceased"] > 0
    levels = Counter(p["eid"]["level"] for p in people)
    assert levels[2] > levels[1] > 0 and levels[0] > 0
    cards = Counter((p["id_card"] or {}).get("status") for p in people)
    assert cards["valid"] > cards["expired"] > 0


def test_cards_follow_the_age_rules(people: list[dict[str, Any]]) -> None:
    for p in people:
        card = p["id_card"]
        age = AS_OF.year - p["birth_year"]
        if card is None or age < 15:
            continue
        if card["expiry_date"] is not None and p["status"] == "alive" and card["status"] == "valid":
            assert card["expiry_date"] >= AS_OF.isoformat()
        assert card["number"] == p["pin"]

"""Personas keep their PINs: they are part of the contract agencies' tests rely on."""

from __future__ import annotations

from datetime import date

from sim06.mock_registry import eid_subjects, ids, personas
from sim06.mock_registry.citizen import record_of

# Never edit this table: a persona's PIN is forever (add new personas instead).
FROZEN = {
    "adult-level2": "001090104217",
    "level1-only": "001195208733",
    "child-under-14": "001216531774",
    "no-eid": "079078315062",
    "locked-account": "031188420981",
    "card-due-renewal": "001301642018",
    "expired-card": "048086753329",
    "lost-card": "092192864410",
    "revoked-card": "038080975501",
    "deceased": "040050186692",
    "missing": "042183297783",
    "temporary-residence-only": "060099308874",
    "moved-across-merger": "074185419965",
    "post-reform-newborn": "079325507221",
    "large-household-head": "036062520156",
    "married-apart-husband": "034091631247",
    "married-apart-wife": "027193742338",
    "name-collision-a": "001185853429",
    "name-collision-b": "079185964510",
    "five-word-name": "046196175601",
    "nfd-name": "079187286792",
    "ethnic-hmong": "002094397883",
    "ethnic-ede": "066089408974",
    "ethnic-khmer": "094197519065",
    "birth-year-only": "017142620156",
    "old-cmnd-only": "025055731247",
    "legacy-address-not-migrated": "035170842338",
    "guardian": "004158164510",
    "ward-minor": "004212953429",
    "twin-a": "087211275601",
    "twin-b": "087311386792",
    "centenarian": "052123497883",
}
AS_OF = date(2026, 7, 1)


def test_persona_pins_never_change() -> None:
    current = {p.key: p.pin for p in personas.listed()}
    for key, pin in FROZEN.items():
        assert current.get(key) == pin, key
    assert len(current) >= 25


def test_persona_pins_are_valid_and_unique() -> None:
    pins = [p.pin for p in personas.PERSONAS]
    assert len(set(pins)) == len(pins)
    for p in personas.PERSONAS:
        assert ids.validate_pin(p.pin, sex=p.sex, birth_year=p.birth.year) == (), p.key


def records() -> dict[str, dict[str, object]]:
    people = personas.build(AS_OF)
    return {
        p.key: record_of(person, "x") for p, person in zip(personas.PERSONAS, people, strict=True)
    }


def test_edge_cases_hold() -> None:
    r = records()
    assert r["expired-card"]["id_card"]["status"] == "expired"  # type: ignore[index]
    assert r["card-due-renewal"]["id_card"]["expiry_date"] == "2026-07-20"  # type: ignore[index]
    assert r["centenarian"]["id_card"]["expiry_date"] is None  # type: ignore[index]
    assert r["birth-year-only"]["date_of_birth"] is None
    assert r["old-cmnd-only"]["id_card"] is None and r["old-cmnd-only"]["cmnd"]
    assert r["temporary-residence-only"]["household"] is None
    assert (
        r["temporary-residence-only"]["current_residence"]
        == r["temporary-residence-only"]["temporary_residence"]
    )
    assert r["legacy-address-not-migrated"]["permanent_residence"]["commune_code"] is None  # type: ignore[index]
    moved = r["moved-across-merger"]
    assert moved["permanent_residence"]["province_code"] == "79"  # type: ignore[index]
    assert moved["legacy_permanent_residence"]["province_code"] == "74"  # type: ignore[index]
    assert r["ethnic-ede"]["name"]["full"] == "Y Ngông Niê Kdăm"  # type: ignore[index]
    assert len(str(r["five-word-name"]["name"]["full"]).split()) == 5  # type: ignore[index]
    assert r["name-collision-a"]["name"] == r["name-collision-b"]["name"]
    assert r["twin-a"]["date_of_birth"] == r["twin-b"]["date_of_birth"]
    assert r["ward-minor"]["legal_representative"]["pin"] == FROZEN["guardian"]  # type: ignore[index]
    wife = r["married-apart-wife"]
    husband = r["married-apart-husband"]
    assert wife["spouse"]["pin"] == FROZEN["married-apart-husband"]  # type: ignore[index]
    assert wife["household"]["id"] != husband["household"]["id"]  # type: ignore[index]
    assert r["post-reform-newborn"]["place_of_birth_registration"]["scheme"] == "post_2025"  # type: ignore[index]


def _readme_personas() -> dict[str, str]:
    """key -> PIN of the README's persona table (``a / b`` cells, ``-b`` short for ``a-b``)."""
    from pathlib import Path

    text = (Path(__file__).resolve().parents[2] / "README.md").read_text("utf-8")
    section = text.split("\n## Personas\n", 1)[1].split("\n## ", 1)[0]
    table: dict[str, str] = {}
    for line in section.splitlines():
        cells = [c.strip() for c in line.strip("|").split("|")]
        if len(cells) != 3 or cells[0] in ("key", "---"):
            continue
        keys = [k.strip() for k in cells[0].split("/")]
        pins = [p.strip() for p in cells[1].split("/")]
        stem = keys[0].rsplit("-", 1)[0]
        for key, pin in zip(keys, pins, strict=True):
            table[stem + key if key.startswith("-") else key] = pin
    return table


def test_the_readme_lists_exactly_the_listed_personas() -> None:
    subjects = {p.key: p.identifier for p in eid_subjects.PERSONAS}  # foreigner, organisation
    assert _readme_personas() == {p.key: p.pin for p in personas.listed()} | subjects

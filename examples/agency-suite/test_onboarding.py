"""An agency's checks of the identity lookups its onboarding procedure relies on.

Written as an agency would: against the published contract, with sim06's fixed personas.
It deliberately never asks for a residence confirmation (CT07), so the contract coverage
report names that operation as never exercised.
"""

from __future__ import annotations

import httpx

ADULT = "001090104217"  # persona adult-level2: household head, valid card
DECEASED = "040050186692"  # persona deceased
UNKNOWN = "001099999999"  # well formed, nobody has it


def test_lookup_returns_the_record(registry: httpx.Client) -> None:
    r = registry.get(f"/v1/citizens/{ADULT}")
    assert r.status_code == 200
    record = r.json()
    assert record["pin"] == ADULT
    assert record["name"]["full"] == "Nguyễn Văn An"


def test_deceased_citizen_is_a_record_not_an_error(registry: httpx.Client) -> None:
    r = registry.get(f"/v1/citizens/{DECEASED}")
    assert r.status_code == 200 and r.json()["status"] == "deceased"


def test_unknown_pin_is_a_problem(registry: httpx.Client) -> None:
    r = registry.get(f"/v1/citizens/{UNKNOWN}")
    assert r.status_code == 404
    assert r.headers["content-type"] == "application/problem+json"
    assert r.json()["code"] == "CITIZEN_NOT_FOUND"


def test_declared_identity_matches(registry: httpx.Client) -> None:
    declared = {"pin": ADULT, "full_name": "NGUYEN VAN AN", "date_of_birth": "1990-05-12"}
    r = registry.post("/v1/citizens/verify", json=declared)
    assert r.status_code == 200 and r.json()["matched"] is True


def test_wrong_date_of_birth_does_not_match(registry: httpx.Client) -> None:
    declared = {"pin": ADULT, "date_of_birth": "1991-05-12"}
    r = registry.post("/v1/citizens/verify", json=declared)
    assert r.status_code == 200 and r.json()["matched"] is False


def test_household_replaces_the_household_book(registry: httpx.Client) -> None:
    r = registry.get(f"/v1/citizens/{ADULT}/household")
    assert r.status_code == 200
    assert any(member["pin"] == ADULT for member in r.json()["members"])

"""Lookups and verification of the 2024 law's other subjects (issue 16): an identity-certificate
holder, a cancelled PIN with its replacement, a child's account with its representative, and the
identifiers of foreigners' and organisations' e-ID accounts."""

from __future__ import annotations

import httpx
import pytest

from sim06.mock_registry.eid_subjects import BY_KEY as SUBJECTS
from sim06.mock_registry.personas import BY_KEY
from sim06.services.registry import schemas

pytestmark = pytest.mark.anyio

CERTIFICATE = BY_KEY["identity-certificate"]
CANCELLED = BY_KEY["cancelled-pin"]
REISSUED = BY_KEY["pin-reissued"]
CHILD = BY_KEY["child-account"]
MOTHER = BY_KEY["account-representative"]


async def test_identity_certificate_holder_is_a_record_of_its_own_type(
    client: httpx.AsyncClient,
) -> None:
    r = await client.get(f"/v1/citizens/{CERTIFICATE.pin}")
    assert r.status_code == 200, r.text
    record = r.json()
    assert record["record_type"] == "identity_certificate"
    assert record["nationality"] == "XX"
    assert record["id_card"] is None
    cert = record["identity_certificate"]
    assert cert["number"] == CERTIFICATE.pin
    assert cert["issue_date"] == CERTIFICATE.card_issued.isoformat()
    assert cert["status"] == "valid" and cert["issuing_authority"].startswith("Công an")
    schemas.CitizenRecord.model_validate(record)
    # A citizen's record has no record_type: the schema's default says citizen.
    adult = (await client.get("/v1/citizens/001090104217")).json()
    assert "record_type" not in adult and "identity_certificate" not in adult
    assert schemas.CitizenRecord.model_validate(adult).record_type == "citizen"


async def test_verifying_a_certificate_holder_says_what_the_number_is(
    client: httpx.AsyncClient,
) -> None:
    body = {"pin": CERTIFICATE.pin, "full_name": CERTIFICATE.name.full,
            "date_of_birth": CERTIFICATE.birth.isoformat()}  # fmt: skip
    r = await client.post("/v1/citizens/verify", json=body)
    assert r.status_code == 200, r.text
    result = r.json()
    assert result["verdict"] == "match" and result["record_type"] == "identity_certificate"
    citizen = await client.post("/v1/citizens/verify", json={"pin": "001090104217"})
    assert citizen.json()["record_type"] == "citizen"
    unknown = await client.post("/v1/citizens/verify", json={"pin": "001090999999"})
    assert unknown.json()["verdict"] == "not_found" and unknown.json()["record_type"] is None


async def test_seeded_cancelled_pin_answers_410_with_its_replacement(
    client: httpx.AsyncClient,
) -> None:
    for r in (
        await client.get(f"/v1/citizens/{CANCELLED.pin}"),
        await client.post("/v1/citizens/verify", json={"pin": CANCELLED.pin}),
        await client.get(f"/v1/citizens/{CANCELLED.pin}/household"),
    ):
        assert r.status_code == 410, r.text
        problem = r.json()
        assert problem["code"] == "PIN_CANCELLED"
        assert problem["replaced_by"] == REISSUED.pin
    new = (await client.get(f"/v1/citizens/{REISSUED.pin}")).json()
    assert new["status"] == "alive"
    assert new["pin_history"] == [
        {"pin": CANCELLED.pin, "cancelled_on": "2025-10-06", "reason": CANCELLED.event_reason}
    ]
    assert new["birth_year"] == 1993 and new["id_card"]["number"] == REISSUED.pin


async def test_child_account_names_its_level2_representative(client: httpx.AsyncClient) -> None:
    child = (await client.get(f"/v1/citizens/{CHILD.pin}")).json()
    assert child["eid"]["level"] == 1 and child["eid"]["status"] == "active"
    assert child["eid"]["representative"]["pin"] == MOTHER.pin
    mother = (await client.get(f"/v1/citizens/{MOTHER.pin}")).json()
    assert mother["eid"] == {"level": 2, "status": "active"}
    schemas.CitizenRecord.model_validate(child)


@pytest.mark.parametrize(
    ("key", "kind"), [("foreigner-account", "foreigner"), ("organisation-account", "organisation")]
)
async def test_foreigner_and_organisation_numbers_are_not_citizens(
    client: httpx.AsyncClient, key: str, kind: str
) -> None:
    number = SUBJECTS[key].identifier
    for r in (
        await client.get(f"/v1/citizens/{number}"),
        await client.post("/v1/citizens/verify", json={"pin": number}),
    ):
        assert r.status_code == 404, r.text
        problem = r.json()
        assert problem["code"] == "NOT_A_CITIZEN" and problem["subject_type"] == kind
        assert problem["title_vi"]
    # The same shapes without an account stay malformed PINs.
    unknown = "410085999999" if kind == "foreigner" else "0109876525"
    r = await client.get(f"/v1/citizens/{unknown}")
    assert r.status_code == 422 and r.json()["code"] == "INVALID_PIN"

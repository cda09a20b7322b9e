"""The 2024 law's other subjects through the gateway (issue 16): the registry's distinct answers
reach the agency unchanged (an identity certificate's record type, a cancelled PIN's 410 with its
replacement, a foreigner's or organisation's number as NOT_A_CITIZEN)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from sim06.mock_registry.eid_subjects import BY_KEY as SUBJECTS
from sim06.mock_registry.personas import BY_KEY
from tests.services.gateway.helpers import POLICE, assert_problem

pytestmark = pytest.mark.anyio
Call = Callable[..., Any]

CERTIFICATE = BY_KEY["identity-certificate"]


async def test_identity_certificate_lookup_and_verification(call: Call) -> None:
    r = await call(POLICE, "GET", f"/v1/registry/citizens/{CERTIFICATE.pin}")
    assert r.status_code == 200, r.text
    record = r.json()
    assert record["record_type"] == "identity_certificate" and record["nationality"] == "XX"
    assert record["identity_certificate"]["number"] == CERTIFICATE.pin
    body = {"pin": CERTIFICATE.pin, "full_name": CERTIFICATE.name.full}
    r = await call(POLICE, "POST", "/v1/registry/citizens/verify", json=body)
    assert r.status_code == 200, r.text
    assert r.json()["verdict"] == "match" and r.json()["record_type"] == "identity_certificate"


async def test_cancelled_pin_answers_410_with_replaced_by(call: Call) -> None:
    cancelled, new = BY_KEY["cancelled-pin"].pin, BY_KEY["pin-reissued"].pin
    r = await call(POLICE, "GET", f"/v1/registry/citizens/{cancelled}")
    assert_problem(r, 410, "PIN_CANCELLED", source="registry")
    assert r.json()["replaced_by"] == new
    r = await call(POLICE, "POST", "/v1/registry/citizens/verify", json={"pin": cancelled})
    assert_problem(r, 410, "PIN_CANCELLED", source="registry")
    r = await call(POLICE, "GET", f"/v1/registry/citizens/{new}")
    assert r.status_code == 200 and r.json()["pin_history"][0]["pin"] == cancelled


@pytest.mark.parametrize("key", ["foreigner-account", "organisation-account"])
async def test_foreigner_and_organisation_are_not_citizens(call: Call, key: str) -> None:
    subject = SUBJECTS[key]
    r = await call(POLICE, "GET", f"/v1/registry/citizens/{subject.identifier}")
    assert_problem(r, 404, "NOT_A_CITIZEN", source="registry")
    assert r.json()["subject_type"] == subject.kind
    r = await call(POLICE, "POST", "/v1/registry/citizens/verify",
                   json={"pin": subject.identifier})  # fmt: skip
    assert_problem(r, 404, "NOT_A_CITIZEN", source="registry")

"""The JSON profile: every rule of issue 5 ("What it must show") through the ASGI app."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import httpx
import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import ec
from fastapi import FastAPI

from sim06.services.gateway.signing import request_hash
from tests.services.gateway.helpers import (
    ADMIN,
    ADULT,
    BANK,
    COMMUNE,
    HOSPITAL,
    POLICE,
    assert_problem,
    exchange_headers,
    get_token,
)

pytestmark = pytest.mark.anyio
Call = Callable[..., Any]
RESIDENCE_FIELDS = {
    "pin", "name", "permanent_residence", "temporary_residence", "current_residence",
    "residence_since", "residence_file_number", "household",
}  # fmt: skip


async def _verify_body(call: Call) -> dict[str, Any]:
    r = await call(POLICE, "GET", f"/v1/registry/citizens/{ADULT}")
    record = r.json()
    return {
        "pin": ADULT,
        "full_name": record["name"]["full"],
        "date_of_birth": record["date_of_birth"],
    }


async def test_bank_verify_gets_a_verdict_but_no_address(call: Call) -> None:
    body = await _verify_body(call)
    r = await call(BANK, "POST", "/v1/registry/citizens/verify", json=body)
    assert r.status_code == 200, r.text
    data = r.json()
    assert data["verdict"] == "match" and data["matched"] is True
    assert set(data) == {"verdict", "matched", "fields"}  # no citizen_status, no data
    assert "residence" not in r.text and "address" not in r.text


async def test_bank_may_not_look_up_a_record(call: Call) -> None:
    r = await call(BANK, "GET", f"/v1/registry/citizens/{ADULT}")
    assert_problem(r, 403, "GATEWAY_PURPOSE_NOT_ALLOWED")
    assert "Nguyễn" not in r.text


async def test_commune_reading_residence_gets_residence_fields_only(call: Call) -> None:
    r = await call(COMMUNE, "GET", f"/v1/registry/citizens/{ADULT}")
    assert r.status_code == 200, r.text
    data = r.json()
    assert set(data) == RESIDENCE_FIELDS
    assert data["permanent_residence"]["province_code"]
    for hidden in ("date_of_birth", "ethnicity", "religion", "father", "phone", "id_card"):
        assert hidden not in data


async def test_police_investigation_reads_the_full_record(call: Call) -> None:
    r = await call(POLICE, "GET", f"/v1/registry/citizens/{ADULT}")
    assert r.status_code == 200
    assert {"date_of_birth", "ethnicity", "id_card", "phone"} <= set(r.json())


async def test_hospital_sees_identity_without_address(call: Call) -> None:
    r = await call(HOSPITAL, "GET", f"/v1/registry/citizens/{ADULT}")
    assert r.status_code == 200
    assert "permanent_residence" not in r.json() and r.json()["pin"] == ADULT


async def test_commune_residence_confirmation_and_household(call: Call) -> None:
    r = await call(COMMUNE, "GET", f"/v1/registry/citizens/{ADULT}/residence-confirmation")
    assert r.status_code == 200 and r.json()["document"]["form"] == "CT07"
    r = await call(COMMUNE, "GET", f"/v1/registry/citizens/{ADULT}/household")
    assert r.status_code == 200 and r.json()["count"] >= 1


async def test_fields_parameter_narrows_and_refuses_ungranted_fields(call: Call) -> None:
    r = await call(COMMUNE, "GET", f"/v1/registry/citizens/{ADULT}?fields=pin,current_residence")
    assert r.status_code == 200 and set(r.json()) == {"pin", "current_residence"}
    r = await call(COMMUNE, "GET", f"/v1/registry/citizens/{ADULT}?fields=pin,phone")
    assert_problem(r, 403, "GATEWAY_FORBIDDEN_FIELD")
    r = await call(COMMUNE, "GET", f"/v1/registry/citizens/{ADULT}?fields=nope")
    assert_problem(r, 422, "VALIDATION_FAILED")


async def test_unlicensed_procedure_is_004(call: Call) -> None:
    r = await call(COMMUNE, "GET", f"/v1/registry/citizens/{ADULT}", **{"X-MaDVC": "BCA.DT.001"})
    assert_problem(r, 403, "004")


async def test_unknown_officer_is_005(call: Call) -> None:
    r = await call(COMMUNE, "GET", f"/v1/registry/citizens/{ADULT}", **{"X-MaCanBo": "CB.NOBODY"})
    assert_problem(r, 403, "005")


async def test_officer_without_permission_for_procedure_is_005(call: Call) -> None:
    r = await call(
        COMMUNE,
        "POST",
        "/v1/registry/citizens/verify",
        json={"pin": ADULT},
        **{"X-MaDVC": "2.000815.000.00.00.H26", "X-MaCanBo": "CB.H26.0002",
           "X-Purpose": "birth-registration"},
    )  # fmt: skip
    assert_problem(r, 403, "005")


async def test_purpose_not_licensed_for_procedure(call: Call) -> None:
    r = await call(COMMUNE, "GET", f"/v1/registry/citizens/{ADULT}", **{"X-Purpose": "marketing"})
    assert_problem(r, 403, "GATEWAY_PURPOSE_NOT_ALLOWED")


async def test_missing_headers_are_listed(call: Call) -> None:
    r = await call(
        COMMUNE, "GET", f"/v1/registry/citizens/{ADULT}", **{"X-MaCanBo": "", "X-Purpose": ""}
    )
    body = assert_problem(r, 400, "GATEWAY_MISSING_HEADER")
    assert {e["parameter"] for e in body["errors"]} == {"x-macanbo", "x-purpose"}


async def test_client_header_must_match_the_token(call: Call) -> None:
    r = await call(
        COMMUNE, "GET", f"/v1/registry/citizens/{ADULT}", **{"X-Road-Client": POLICE["code"]}
    )
    assert_problem(r, 403, "GATEWAY_CLIENT_MISMATCH")


async def test_replayed_request_id_is_refused(call: Call) -> None:
    first = await call(COMMUNE, "GET", f"/v1/registry/citizens/{ADULT}", **{"X-MaYeuCau": "once-1"})
    assert first.status_code == 200
    again = await call(COMMUNE, "GET", f"/v1/registry/citizens/{ADULT}", **{"X-MaYeuCau": "once-1"})
    assert_problem(again, 409, "GATEWAY_REQUEST_REPLAYED")


async def test_missing_token_is_401_with_www_authenticate(client: httpx.AsyncClient) -> None:
    r = await client.get(f"/v1/registry/citizens/{ADULT}")
    assert_problem(r, 401, "GATEWAY_UNAUTHENTICATED")
    assert r.headers["www-authenticate"].startswith("Bearer ")


async def test_expired_token_is_401(client: httpx.AsyncClient, app: FastAPI) -> None:
    key = app.state.keys.current
    now = int(time.time())
    claims = {"iss": "urn:sim06:gateway", "aud": "urn:sim06:gateway", "sub": COMMUNE["client_id"],
              "agency": COMMUNE["code"], "scope": "registry:lookup", "iat": now - 600,
              "exp": now - 300, "jti": "x"}  # fmt: skip
    token = jwt.encode(claims, key.private_key, algorithm="ES256", headers={"kid": key.kid})
    r = await client.get(f"/v1/registry/citizens/{ADULT}", headers=exchange_headers(token, COMMUNE))
    body = assert_problem(r, 401, "GATEWAY_UNAUTHENTICATED")
    assert "expired" in body["detail"]
    assert 'error="invalid_token"' in r.headers["www-authenticate"]


async def test_foreign_signed_token_is_401(client: httpx.AsyncClient, app: FastAPI) -> None:
    genuine = await get_token(client, COMMUNE)
    claims = jwt.decode(genuine, options={"verify_signature": False})
    foreign = ec.generate_private_key(ec.SECP256R1())
    kid = app.state.keys.current.kid  # same kid, different key: the signature must fail
    token = jwt.encode(claims, foreign, algorithm="ES256", headers={"kid": kid})
    r = await client.get(f"/v1/registry/citizens/{ADULT}", headers=exchange_headers(token, COMMUNE))
    body = assert_problem(r, 401, "GATEWAY_UNAUTHENTICATED")
    assert "not signed by this gateway" in body["detail"]
    unknown_kid = jwt.encode(claims, foreign, algorithm="ES256", headers={"kid": "other"})
    r = await client.get(
        f"/v1/registry/citizens/{ADULT}", headers=exchange_headers(unknown_kid, COMMUNE)
    )
    assert_problem(r, 401, "GATEWAY_UNAUTHENTICATED")


async def test_token_without_the_scope_is_403(client: httpx.AsyncClient) -> None:
    token = await get_token(client, COMMUNE, scope="registry:verify")
    r = await client.get(f"/v1/registry/citizens/{ADULT}", headers=exchange_headers(token, COMMUNE))
    assert_problem(r, 403, "GATEWAY_INSUFFICIENT_SCOPE")


async def test_quota_breach_is_429_with_retry_after(client: httpx.AsyncClient) -> None:
    agency = {
        "code": "000.00.99.H99", "name": "Quota test", "client_id": "quota-test",
        "client_secret": "quota-test-secret-0123", "quota_per_minute": 2,
        "procedures": [{"code": "P1", "purposes": {"p": {"grants": {"lookup": ["pin"]}}}}],
        "officers": [{"code": "O1", "permissions": ["P1"]}],
    }  # fmt: skip
    r = await client.post(
        "/admin/agencies", json=agency, headers={"Authorization": f"Bearer {ADMIN}"}
    )
    assert r.status_code == 201, r.text
    who = {"client_id": "quota-test", "secret": "quota-test-secret-0123", "code": "000.00.99.H99",
           "procedure": "P1", "officer": "O1", "purpose": "p"}  # fmt: skip
    token = await get_token(client, who)
    statuses = []
    for _ in range(3):
        r = await client.get(f"/v1/registry/citizens/{ADULT}", headers=exchange_headers(token, who))
        statuses.append(r.status_code)
    assert statuses == [200, 200, 429]
    assert_problem(r, 429, "GATEWAY_QUOTA_EXCEEDED")
    assert 1 <= int(r.headers["retry-after"]) <= 61  # held 60.001 s (quota.py)


async def test_registry_problems_pass_through_marked_registry(call: Call) -> None:
    r = await call(POLICE, "GET", "/v1/registry/citizens/003090104217")
    assert_problem(r, 422, "INVALID_PIN", source="registry")
    r = await call(POLICE, "POST", "/v1/registry/citizens/verify", json={"pin": ADULT, "x": 1})
    assert_problem(r, 422, "VALIDATION_FAILED", source="registry")


async def test_malformed_json_body_is_400(client: httpx.AsyncClient) -> None:
    token = await get_token(client, POLICE)
    headers = {**exchange_headers(token, POLICE), "Content-Type": "application/json"}
    r = await client.post("/v1/registry/citizens/verify", content=b"{nope", headers=headers)
    assert_problem(r, 400, "MALFORMED_BODY")


async def test_verify_batch_filters_each_result(call: Call) -> None:
    body = await _verify_body(call)
    r = await call(BANK, "POST", "/v1/registry/citizens/verify-batch",
                   json={"items": [body, {"pin": "001195208733"}]})  # fmt: skip
    assert r.status_code == 200, r.text
    results = r.json()["results"]
    assert results[0]["result"]["verdict"] == "match"
    assert all(set(item["result"]) == {"verdict", "matched", "fields"} for item in results)


async def test_signature_verifies_with_jwks_and_fails_after_one_byte(
    client: httpx.AsyncClient, call: Call
) -> None:
    r = await call(COMMUNE, "GET", f"/v1/registry/citizens/{ADULT}", **{"X-MaYeuCau": "sig-1"})
    assert r.status_code == 200
    jwks = (await client.get("/.well-known/jwks.json")).json()
    signature = r.headers["x-jws-signature"]
    header = jwt.get_unverified_header(signature)
    jwk = next(k for k in jwks["keys"] if k["kid"] == header["kid"])
    key = jwt.PyJWK(jwk).key
    decoded = jwt.api_jws.decode_complete(
        signature, key, algorithms=["ES256"], detached_payload=r.content
    )
    expected = request_hash("GET", f"/v1/registry/citizens/{ADULT}", "sig-1", b"")
    assert r.headers["x-request-hash"] == expected == decoded["header"]["sim06_rqh"]
    tampered = bytearray(r.content)
    tampered[10] ^= 0x01
    with pytest.raises(jwt.InvalidSignatureError):
        jwt.api_jws.decode_complete(
            signature, key, algorithms=["ES256"], detached_payload=bytes(tampered)
        )


async def test_problems_are_signed_too(client: httpx.AsyncClient, call: Call) -> None:
    r = await call(COMMUNE, "GET", f"/v1/registry/citizens/{ADULT}", **{"X-MaCanBo": "CB.NOBODY"})
    jwks = (await client.get("/.well-known/jwks.json")).json()
    key = jwt.PyJWK(jwks["keys"][0]).key
    jwt.api_jws.decode_complete(
        r.headers["x-jws-signature"], key, algorithms=["ES256"], detached_payload=r.content
    )

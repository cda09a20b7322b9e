"""The chip API in process: read a card, send it back to verify, QR code."""

from __future__ import annotations

import base64
from typing import Any

import httpx
import jwt
import orjson
import pytest

from sim06.mock_registry import chip
from sim06.mock_registry.store import SQLiteCitizenStore
from sim06.services.chip import schemas

pytestmark = pytest.mark.anyio

ADULT = "001090104217"
LOST = "092192864410"
CHILD = "001216531774"


def assert_problem(response: httpx.Response, status: int, code: str) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/problem+json"
    body: dict[str, Any] = response.json()
    assert body["code"] == code and body["title_vi"]
    return body


async def read(client: httpx.AsyncClient, pin: str, defect: str | None = None) -> dict[str, Any]:
    params = {"defect": defect} if defect else {}
    r = await client.get(f"/v1/cards/{pin}/chip", params=params)
    assert r.status_code == 200, r.text
    schemas.ChipFilesOut.model_validate(r.json())
    body: dict[str, Any] = r.json()
    return body


async def test_read_then_verify_a_genuine_card(client: httpx.AsyncClient) -> None:
    files = await read(client, ADULT)
    assert base64.b64decode(files["dg1Data"])[:1] == b"\x61"
    r = await client.post("/v1/chip/verify", json=files)
    assert r.status_code == 200, r.text
    verdict = schemas.Verdict.model_validate(r.json())
    assert verdict.valid and verdict.reason is None and verdict.failed == []
    assert all(c.passed for c in verdict.checks.values())
    # The signature is a JWS by a key published at /v1/chip/jwks.
    jwks = (await client.get("/v1/chip/jwks")).json()
    header = jwt.get_unverified_header(verdict.signature)
    jwk = next(k for k in jwks["keys"] if k["kid"] == header["kid"])
    key = jwt.PyJWK(jwk)
    claims = jwt.decode(verdict.signature, key.key, algorithms=[jwk["alg"]])
    assert claims["jti"] == verdict.verify_request_id and claims["valid"] is True
    assert claims["sub"] == ADULT


@pytest.mark.parametrize(
    ("defect", "reason"),
    [
        ("tampered_dg", "DG_HASH_MISMATCH"),
        ("untrusted_signer", "SIGNER_UNTRUSTED"),
        ("expired_signer", "SIGNER_EXPIRED"),
        ("revoked_signer", "SIGNER_REVOKED"),
        ("lost", "CARD_LOST"),
        ("moved", "RESIDENCE_CHANGED"),
    ],
)
async def test_bad_cards_are_refused(client: httpx.AsyncClient, defect: str, reason: str) -> None:
    files = await read(client, ADULT, defect)
    verdict = (await client.post("/v1/chip/verify", json=files)).json()
    assert verdict["valid"] is False and verdict["reason"] == reason
    assert verdict["failed"][0]["reason"] == reason
    for failure in verdict["failed"]:
        assert verdict["checks"][failure["check"]]["reason"] == failure["reason"]
    claims = jwt.decode(verdict["signature"], options={"verify_signature": False})
    assert claims["reason"] == reason
    assert claims["failed"] == [f["reason"] for f in verdict["failed"]]


async def test_verdict_lists_every_failure(client: httpx.AsyncClient) -> None:
    expired = "048086753329"
    files = await read(client, expired, "revoked_signer")
    verdict = (await client.post("/v1/chip/verify", json=files)).json()
    assert [f["reason"] for f in verdict["failed"]] == ["SIGNER_REVOKED", "CARD_EXPIRED"]
    assert [f["check"] for f in verdict["failed"]] == ["signer_revocation", "card_status"]


async def test_lost_card_persona(client: httpx.AsyncClient) -> None:
    verdict = (await client.post("/v1/chip/verify", json=await read(client, LOST))).json()
    assert verdict["reason"] == "CARD_LOST"
    assert verdict["checks"]["dg_hashes"]["passed"] is True


async def test_optional_files_may_be_left_out(client: httpx.AsyncClient) -> None:
    files = await read(client, ADULT)
    for name in ("comData", "dg2Data", "dg14Data", "dg15Data"):
        del files[name]
    assert (await client.post("/v1/chip/verify", json=files)).json()["valid"] is True


async def test_a_corrupt_ef_com_fails_the_verdict(client: httpx.AsyncClient) -> None:
    files = await read(client, ADULT)
    com = bytearray(base64.b64decode(files["comData"]))
    com[-1] = 0x63  # the tag list's last entry (DG15) now names DG3, which the SOD does not sign
    verdict = (
        await client.post(
            "/v1/chip/verify", json={**files, "comData": base64.b64encode(com).decode()}
        )
    ).json()
    assert verdict["valid"] is False and verdict["reason"] == "COM_MISMATCH"
    assert verdict["checks"]["ef_com"]["passed"] is False
    claims = jwt.decode(verdict["signature"], options={"verify_signature": False})
    assert claims["valid"] is False and claims["checks"]["ef_com"] == "COM_MISMATCH"


async def test_no_card_no_chip(client: httpx.AsyncClient) -> None:
    assert_problem(await client.get(f"/v1/cards/{CHILD}/chip"), 404, "NO_CHIP_CARD")
    assert_problem(await client.get("/v1/cards/001999999999/chip"), 404, "CITIZEN_NOT_FOUND")
    assert_problem(await client.get("/v1/cards/12345/chip"), 422, "VALIDATION_FAILED")
    r = await client.get(f"/v1/cards/{ADULT}/chip", params={"defect": "bent"})
    assert_problem(r, 422, "VALIDATION_FAILED")


async def test_bad_requests_are_4xx(client: httpx.AsyncClient) -> None:
    files = await read(client, ADULT)
    bad = {**files, "sodData": "abc"}  # base64 alphabet, wrong padding
    body = assert_problem(await client.post("/v1/chip/verify", json=bad), 422, "INVALID_CHIP_FILE")
    assert body["errors"][0]["pointer"] == "/sodData"
    r = await client.post("/v1/chip/verify", json={**files, "sodData": "not base64!"})
    assert_problem(r, 422, "VALIDATION_FAILED")
    r = await client.post("/v1/chip/verify", json={**files, "extra": 1})
    assert_problem(r, 422, "VALIDATION_FAILED")
    r = await client.post(
        "/v1/chip/verify", json={**files, "dg1Data": base64.b64encode(b"junk").decode()}
    )
    assert r.status_code == 200 and r.json()["reason"] == "MALFORMED_FILE"
    r = await client.post(
        "/v1/chip/verify", content=b"{", headers={"content-type": "application/json"}
    )
    assert_problem(r, 400, "MALFORMED_BODY")


async def test_qr_text_image_and_parse(client: httpx.AsyncClient) -> None:
    r = await client.get(f"/v1/cards/{ADULT}/qr")
    qr = schemas.QRText.model_validate(r.json())
    assert qr.layout == "cccd_7_field"
    fields = qr.text.split("|")
    assert len(fields) == 7 and fields[0] == ADULT and fields[2] == "Nguyễn Văn An"
    assert fields[3] == "12051990" and fields[4] == "Nam" and fields[6] == "15062021"
    png = await client.get(f"/v1/cards/{ADULT}/qr", params={"format": "png"})
    assert png.headers["content-type"] == "image/png" and png.content[:8] == b"\x89PNG\r\n\x1a\n"
    parsed = (await client.post("/v1/cards/qr/parse", json={"text": qr.text})).json()
    assert parsed["registry_match"] is True and parsed["fields"]["pin"] == ADULT
    wrong = qr.text.replace("Nguyễn Văn An", "Nguyễn Văn Ân")
    parsed = (await client.post("/v1/cards/qr/parse", json={"text": wrong})).json()
    assert parsed["registry_match"] is False and parsed["mismatched_fields"] == ["full_name"]
    r = await client.post("/v1/cards/qr/parse", json={"text": "a|b|c"})
    assert_problem(r, 422, "INVALID_QR_PAYLOAD")
    ext = (await client.get(f"/v1/cards/{ADULT}/qr", params={"layout": "can_cuoc_extended"})).json()
    assert len(ext["text"].split("|")) == 10
    parsed = (await client.post("/v1/cards/qr/parse", json={"text": ext["text"]})).json()
    assert parsed["layout"] == "can_cuoc_extended" and parsed["registry_match"] is True


async def test_a_card_issued_under_six_has_no_face_to_read_or_match(
    client: httpx.AsyncClient, store: SQLiteCitizenStore
) -> None:
    young = next(
        r for r in map(orjson.loads, store.records()) if r["id_card"] and not chip.has_face(r)
    )
    files = await read(client, young["pin"])
    assert files["dg2Data"] == ""  # no DG2 on the chip (Law 26/2023: no biometrics under 6)
    r = await client.post("/v1/chip/verify", json=files)
    verdict = schemas.Verdict.model_validate(r.json())
    assert verdict.valid, verdict.failed
    probe = await client.get(f"/v1/biometrics/probes/{young['pin']}", params={"kind": "genuine"})
    selfie = base64.b64encode(probe.content).decode()
    r = await client.post("/v1/biometrics/face-match", json={"pin": young["pin"], "image": selfie})
    assert_problem(r, 409, "CARD_HAS_NO_FACE")

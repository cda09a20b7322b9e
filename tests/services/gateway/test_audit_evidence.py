"""Audit evidence on a live gateway: the audit key apart from the signing key, signed tree heads,
consistency proofs, the mock RFC 3161 TSA, and citizen access-log entries whose inclusion proofs
verify offline (scripts/verify_access_proof.py) and fail once any byte of them changes."""

from __future__ import annotations

import base64
import json
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import jwt
import pytest
from cryptography import x509
from fastapi import FastAPI
from rfc3161_client import (
    PKIStatus,
    TimestampRequestBuilder,
    VerifierBuilder,
    decode_timestamp_response,
)

from scripts.verify_access_proof import Invalid, verify_entry
from sim06.services.audit.commands import verify_log
from sim06.services.audit.merkle import verify_consistency
from sim06.services.common.settings import Settings
from tests.services.gateway.helpers import ADMIN, ADULT, COMMUNE, HOSPITAL, assert_problem

pytestmark = pytest.mark.anyio
Call = Callable[..., Any]
ADMIN_HEADERS = {"Authorization": f"Bearer {ADMIN}"}
SCRIPT = Path(__file__).parents[3] / "scripts" / "verify_access_proof.py"


@pytest.fixture
def gw_settings(settings: Settings) -> Settings:
    """Every head of these gateways counter-signed by the mock TSA as well."""
    return settings.model_copy(update={"gateway_admin_token": ADMIN, "audit_timestamp": True})


async def access_log(client: httpx.AsyncClient, call: Call) -> dict[str, Any]:
    for agency in (COMMUNE, HOSPITAL):
        assert (await call(agency, "GET", f"/v1/registry/citizens/{ADULT}")).status_code == 200
    r = await client.get(f"/v1/citizens/{ADULT}/access-log", headers=ADMIN_HEADERS)
    assert r.status_code == 200, r.text
    body: dict[str, Any] = r.json()
    return body


async def test_the_audit_key_is_its_own_and_signs_the_tree_heads(client: httpx.AsyncClient) -> None:
    audit = (await client.get("/.well-known/audit-jwks.json")).json()
    signing = (await client.get("/.well-known/jwks.json")).json()
    assert {k["kid"] for k in audit["keys"]}.isdisjoint({k["kid"] for k in signing["keys"]})
    head = (await client.get("/v1/audit/tree-heads/latest")).json()
    key = jwt.PyJWK(audit["keys"][0])
    payload = json.loads(jwt.api_jws.decode(head["signature"], key.key, algorithms=["ES256"]))
    assert payload == {k: head[k] for k in ("log", "root_hash", "timestamp", "tree_size")}
    assert jwt.get_unverified_header(head["signature"])["typ"] == "sim06-sth+jwt"
    with pytest.raises(jwt.InvalidSignatureError):  # not the response-signing key's
        jwt.api_jws.decode(
            head["signature"], jwt.PyJWK(signing["keys"][0]).key, algorithms=["ES256"]
        )


async def test_an_access_log_entry_verifies_offline_and_fails_once_changed(
    client: httpx.AsyncClient, call: Call, tmp_path: Path
) -> None:
    body = await access_log(client, call)
    head = body["tree_head"]
    assert len(body["accesses"]) == 2 and head["tree_size"] >= 2
    jwks = (await client.get("/.well-known/audit-jwks.json")).json()
    (tmp_path / "log.json").write_text(json.dumps(body, ensure_ascii=False), "utf-8")
    (tmp_path / "jwks.json").write_text(json.dumps(jwks), "utf-8")
    done = subprocess.run(
        [sys.executable, str(SCRIPT), str(tmp_path / "log.json"), str(tmp_path / "jwks.json")],
        capture_output=True, text=True, check=False, timeout=60,
    )  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr
    assert done.stdout.count(": OK") == 2

    # Every byte of what the proof covers (the recorded fields and the proof), flipped in turn.
    entry = body["accesses"][0]
    covered = ("seq", "ts", "agency", "officer", "procedure", "purpose", "legal_basis",
               "operation", "fields", "request_id", "proof")  # fmt: skip
    raw = json.dumps({k: entry[k] for k in covered}, ensure_ascii=False).encode("utf-8")
    uncovered = {k: v for k, v in entry.items() if k not in covered}  # the derived labels
    checked = 0
    for i in range(len(raw)):
        mutated = bytearray(raw)
        mutated[i] ^= 0x01
        try:
            changed = json.loads(mutated.decode("utf-8"))
        except ValueError:
            continue  # not JSON any more: nothing to verify
        if changed == {k: entry[k] for k in covered}:
            continue  # a byte of the syntax that means the same (cannot happen with ^ 0x01)
        with pytest.raises((Invalid, KeyError, TypeError)):
            verify_entry({**uncovered, **changed}, head, jwks)
        checked += 1
    assert checked > len(raw) // 2, checked

    # The script says so too, for a file edited by hand.
    body["accesses"][1]["purpose"] += " "
    (tmp_path / "log.json").write_text(json.dumps(body, ensure_ascii=False), "utf-8")
    done = subprocess.run(
        [sys.executable, str(SCRIPT), str(tmp_path / "log.json"), str(tmp_path / "jwks.json")],
        capture_output=True, text=True, check=False, timeout=60,
    )  # fmt: skip
    assert done.returncode == 1 and "FAILED: the entry does not lead to the signed root" in (
        done.stdout
    )


async def test_tree_heads_are_consistent_and_bad_sizes_are_refused(
    client: httpx.AsyncClient, call: Call, app: FastAPI
) -> None:
    await access_log(client, call)  # a head over these records, signed on demand
    await call(COMMUNE, "GET", f"/v1/registry/citizens/{ADULT}")
    app.state.audit.checkpoints.checkpoint()
    heads = (await client.get("/v1/audit/tree-heads")).json()["heads"]
    assert [h["tree_size"] for h in heads] == sorted(h["tree_size"] for h in heads)
    assert heads[0]["tree_size"] == 0 and len(heads) >= 3
    for old, new in zip(heads, heads[1:], strict=False):
        r = await client.get(
            "/v1/audit/consistency", params={"first": old["tree_size"], "second": new["tree_size"]}
        )
        assert r.status_code == 200, r.text
        proof = [base64.b64decode(p) for p in r.json()["proof"]]
        assert verify_consistency(
            old["tree_size"], new["tree_size"], base64.b64decode(old["root_hash"]),
            base64.b64decode(new["root_hash"]), proof,
        )  # fmt: skip
    r = await client.get("/v1/audit/consistency", params={"first": 1, "second": 0})
    assert_problem(r, 400, "AUDIT_TREE_SIZE_INVALID", source=None)
    assert {e["parameter"] for e in r.json()["errors"]} == {"first"}
    past = heads[-1]["tree_size"] + 1
    r = await client.get("/v1/audit/consistency", params={"first": 1, "second": past})
    assert_problem(r, 400, "AUDIT_TREE_SIZE_INVALID", source=None)
    assert [e["parameter"] for e in r.json()["errors"]] == ["second"]


async def test_the_mock_tsa_answers_rfc_3161_over_http(client: httpx.AsyncClient) -> None:
    request = TimestampRequestBuilder().data(b"tree head").build()
    r = await client.post(
        "/__sim06/tsa",
        content=request.as_bytes(),
        headers={"Content-Type": "application/timestamp-query"},
    )
    assert r.status_code == 200 and r.headers["content-type"] == "application/timestamp-reply"
    root = x509.load_pem_x509_certificate((await client.get("/__sim06/tsa/root.pem")).content)
    reply = decode_timestamp_response(r.content)
    assert reply.status == PKIStatus.GRANTED
    verifier = VerifierBuilder.from_request(request).add_root_certificate(root).build()
    assert verifier.verify_message(reply, b"tree head")
    assert reply.tst_info.nonce == request.nonce

    junk = await client.post(
        "/__sim06/tsa", content=b"junk", headers={"Content-Type": "application/timestamp-query"}
    )
    assert decode_timestamp_response(junk.content).status == PKIStatus.REJECTION
    wrong = await client.post("/__sim06/tsa", content=request.as_bytes())
    assert_problem(wrong, 415, "UNSUPPORTED_MEDIA_TYPE", source=None)


async def test_time_stamped_heads_verify_and_a_forged_stamp_fails(
    client: httpx.AsyncClient, call: Call, app: FastAPI, gw_settings: Settings
) -> None:
    body = await access_log(client, call)
    assert body["tree_head"]["timestamp_token"]
    app.state.audit.flush()
    report, _ = verify_log(gw_settings)
    assert report.ok and report.anchored >= 2, report

    heads = app.state.audit.checkpoints.file.path
    original = heads.read_bytes()
    lines = [json.loads(line) for line in original.splitlines()]
    other = lines[0]["tst"]
    lines[-1]["tst"] = other  # a genuine stamp, over another head
    heads.write_text("".join(json.dumps(line) + "\n" for line in lines))
    report, _ = verify_log(gw_settings)
    assert not report.ok and "RFC 3161 time-stamp is not valid" in str(report.problem)
    heads.write_bytes(original)  # the gateway signs its last head on shutdown

"""Expectations: "for PIN X force outcome Y", each kind answered as the contract allows."""

from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

import httpx
import pytest

from tests.services.gateway.helpers import COMMUNE, exchange_headers, get_token

pytestmark = pytest.mark.anyio

ADULT = "001090104217"  # persona adult-level2
OTHER = "001085000109"
EXP = "/__sim06/expectations"


async def expect(client: httpx.AsyncClient, **spec: object) -> dict[str, object]:
    r = await client.put(EXP, json=spec)
    assert r.status_code == 201, r.text
    body: dict[str, object] = r.json()
    return body


async def test_forced_error_is_a_catalogue_problem_and_counts_down(
    clients: dict[str, httpx.AsyncClient],
) -> None:
    registry = clients["registry"]
    await expect(registry, pin=ADULT, operation="citizens-get",
                 outcome={"status": 503, "code": "NOT_READY"}, times=1)  # fmt: skip
    forced = await registry.get(f"/v1/citizens/{ADULT}")
    assert forced.status_code == 503
    assert forced.headers["content-type"] == "application/problem+json"
    assert forced.headers["retry-after"] == "1"
    body = forced.json()
    assert body["code"] == "NOT_READY" and body["type"] == "urn:sim06:problem:NOT_READY"
    assert body["title_vi"] and body["instance"] == f"/v1/citizens/{ADULT}"
    assert (await registry.get(f"/v1/citizens/{ADULT}")).status_code == 200  # times: 1
    listed = (await registry.get(EXP)).json()
    assert listed["count"] == 1
    assert listed["expectations"][0]["hits"] == 1
    assert listed["expectations"][0]["remaining"] == 0


async def test_only_the_named_pin_and_operation_match(
    clients: dict[str, httpx.AsyncClient],
) -> None:
    registry = clients["registry"]
    await expect(registry, pin="adult-level2", operation="citizens-household",
                 outcome={"code": "CITIZEN_NOT_FOUND"})  # fmt: skip
    assert (await registry.get(f"/v1/citizens/{ADULT}")).status_code == 200
    r = await registry.get(f"/v1/citizens/{ADULT}/household")
    assert r.status_code == 404 and r.json()["code"] == "CITIZEN_NOT_FOUND"
    assert (await registry.get(f"/v1/citizens/{ADULT}/household")).status_code == 404  # no limit
    assert (await registry.delete(EXP)).json() == {"cleared": 1}
    assert (await registry.get(f"/v1/citizens/{ADULT}/household")).status_code == 200


async def test_forced_verdicts_keep_the_verify_schema(
    clients: dict[str, httpx.AsyncClient],
) -> None:
    registry = clients["registry"]
    declared = {"pin": ADULT, "full_name": "Nguyễn Văn An", "date_of_birth": "1990-05-12"}
    genuine = (await registry.post("/v1/citizens/verify", json=declared)).json()
    assert genuine["verdict"] == "match"
    await expect(registry, pin=ADULT, operation="citizens-verify",
                 outcome={"verdict": "mismatch"}, times=1)  # fmt: skip
    forced = (await registry.post("/v1/citizens/verify", json=declared)).json()
    assert forced["verdict"] == "mismatch" and forced["matched"] is False
    assert forced["fields"]["full_name"] == "mismatch"
    assert set(forced) == set(genuine) and forced["citizen_status"] == "alive"
    await expect(registry, pin=ADULT, operation="citizens-verify",
                 outcome={"verdict": "not_found"}, times=1)  # fmt: skip
    gone = (await registry.post("/v1/citizens/verify", json=declared)).json()
    assert gone == {"verdict": "not_found", "matched": False, "fields": None,
                    "citizen_status": None, "record_type": None}  # fmt: skip
    assert (await registry.post("/v1/citizens/verify", json=declared)).json() == genuine


async def test_forced_fault_http_503_and_timeout(clients: dict[str, httpx.AsyncClient]) -> None:
    registry = clients["registry"]
    await expect(registry, pin=ADULT, outcome={"fault": "http_503"}, times=1)
    r = await registry.get(f"/v1/citizens/{ADULT}/residence-confirmation")
    assert r.status_code == 503 and r.json()["code"] == "SIM_FAULT_UNAVAILABLE"
    assert "retry-after" in r.headers
    await registry.put("/__sim06/faults", json={"hold_seconds": 0.2})
    await expect(registry, pin=ADULT, operation="citizens-get", outcome={"fault": "timeout"})
    r = await registry.get(f"/v1/citizens/{ADULT}")
    assert r.status_code == 504 and r.json()["code"] == "SIM_FAULT_TIMEOUT"


async def test_chip_verify_invalid_is_a_genuine_signed_refusal(
    clients: dict[str, httpx.AsyncClient],
) -> None:
    identity = clients["identity"]
    card = (await identity.get(f"/v1/cards/{ADULT}/chip")).json()
    assert (await identity.post("/v1/chip/verify", json=card)).json()["valid"] is True
    await expect(identity, pin=ADULT, operation="chip-verify", outcome={"verdict": "invalid"},
                 times=1)  # fmt: skip
    verdict = (await identity.post("/v1/chip/verify", json=card)).json()
    assert verdict["valid"] is False and verdict["reason"]
    assert verdict["signature"].count(".") == 2
    assert (await identity.post("/v1/chip/verify", json=card)).json()["valid"] is True


async def test_oidc_authorize_error_replaces_the_code(
    clients: dict[str, httpx.AsyncClient],
) -> None:
    identity = clients["identity"]
    await expect(identity, pin="adult-level2", operation="oidc-authorize",
                 outcome={"oauth_error": "temporarily_unavailable"}, times=1)  # fmt: skip
    params = {
        "response_type": "code", "client_id": "demo-spa", "scope": "openid",
        "redirect_uri": "http://127.0.0.1:9003/callback", "state": "s1",
        "code_challenge": "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM",
        "code_challenge_method": "S256", "login_hint": ADULT,
    }  # fmt: skip
    r = await identity.get("/authorize", params=params, headers={"X-Sim-Auto-Login": "true"})
    assert r.status_code in (302, 303), r.text
    location = urlsplit(r.headers["location"])
    query = parse_qs(location.query)
    assert location.path == "/callback" and "code" not in query
    assert query["error"] == ["temporarily_unavailable"] and query["state"] == ["s1"]
    r = await identity.get("/authorize", params=params, headers={"X-Sim-Auto-Login": "true"})
    assert "code" in parse_qs(urlsplit(r.headers["location"]).query)


async def test_gateway_lookup_forced_error(clients: dict[str, httpx.AsyncClient]) -> None:
    gateway = clients["gateway"]
    token = await get_token(gateway, COMMUNE)
    await expect(gateway, pin=ADULT, operation="registry-lookup",
                 outcome={"code": "GATEWAY_UPSTREAM_UNAVAILABLE"}, times=1)  # fmt: skip
    r = await gateway.get(f"/v1/registry/citizens/{ADULT}",
                          headers=exchange_headers(token, COMMUNE))  # fmt: skip
    assert r.status_code == 502 and r.json()["code"] == "GATEWAY_UPSTREAM_UNAVAILABLE"
    r = await gateway.get(f"/v1/registry/citizens/{ADULT}",
                          headers=exchange_headers(token, COMMUNE))  # fmt: skip
    assert r.status_code == 200


@pytest.mark.parametrize(
    ("spec", "rule"),
    [
        ({"pin": "nobody", "outcome": {"fault": "reset"}}, "persona"),
        ({"pin": ADULT, "operation": "nope", "outcome": {"fault": "reset"}}, "unknown operation"),
        ({"pin": ADULT, "outcome": {"code": "NOT_A_CODE"}}, "not in contracts/errors.yaml"),
        ({"pin": ADULT, "outcome": {"code": "NOT_READY", "status": 404}}, "status 503"),
        ({"pin": ADULT, "outcome": {"fault": "reset", "verdict": "match"}}, "exactly one"),
        (
            {"pin": ADULT, "operation": "citizens-get", "outcome": {"verdict": "mismatch"}},
            "verdicts apply",
        ),
        ({"pin": ADULT, "outcome": {"oauth_error": "access_denied"}}, "oidc-authorize only"),
        ({"pin": ADULT, "outcome": {"fault": "reset"}, "times": 0}, "greater than or equal"),
    ],
)
async def test_invalid_expectations_are_422(
    clients: dict[str, httpx.AsyncClient], spec: dict[str, object], rule: str
) -> None:
    r = await clients["registry"].put(EXP, json=spec)
    assert r.status_code == 422, r.text
    assert r.headers["content-type"] == "application/problem+json"
    assert rule in r.text


async def test_malformed_body_and_wrong_method(clients: dict[str, httpx.AsyncClient]) -> None:
    registry = clients["registry"]
    r = await registry.put(EXP, content=b"{not json")
    assert r.status_code == 422 and r.json()["code"] == "VALIDATION_FAILED"
    r = await registry.post(EXP, json={})
    assert r.status_code == 405 and r.json()["code"] == "METHOD_NOT_ALLOWED"
    r = await registry.put(EXP, content=b"x" * 70_000)
    assert r.status_code == 413

"""SOAP via a provincial LGSP: the JSON wrapper observed in an OpenCPS adapter (domain §6.3)."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from typing import Any

import httpx
import pytest
from defusedxml.ElementTree import fromstring

from sim06.services.gateway.lgsp import auth_hash, lgsp_access_token, officer_key_pass
from tests.services.gateway.helpers import ADULT, BANK, COMMUNE, POLICE, get_token
from tests.services.gateway.test_soap import BILLION_LAUGHS, NS, XXE, tra_cuu, xac_thuc

pytestmark = pytest.mark.anyio


def _lgsp_header(agency: dict[str, str], secret: str | None = None, **extra: str) -> str:
    """The observed ``lgspaccesstoken``: base64 JSON of the LGSP account (DEMO-ONLY secrets)."""
    doc = {"AccessKey": agency["client_id"], "SecretKey": secret or agency["secret"],
           "AppName": "OpenCPS", "PartnerCode": agency["code"], "PartnerCodeCus": agency["code"],
           **extra}  # fmt: skip
    return base64.b64encode(json.dumps(doc).encode()).decode()


def _officer_pass(agency: dict[str, str], officer: str) -> str:
    """The documented derivation, written out independently of the implementation."""
    mac = hmac.new(agency["secret"].encode(), b"sim06/lgsp-officer/v1|" + officer.encode(),
                   hashlib.sha256)  # fmt: skip
    return mac.hexdigest()[:32]


def _auth_hash(agency: dict[str, str], officer: str, password: str | None = None) -> str:
    secret = password if password is not None else _officer_pass(agency, officer)
    return base64.b64encode(f"{officer}:{secret}".encode()).decode()


async def _post(
    client: httpx.AsyncClient,
    agency: dict[str, str],
    envelope: bytes | str,
    *,
    header: str | None = None,
    body: dict[str, Any] | None = None,
) -> httpx.Response:
    token = await get_token(client, agency)
    lgsp = header if header is not None else _lgsp_header(agency)
    document = {
        "accessToken": f"Bearer {token}",
        "lgspAccessToken": lgsp,
        "AuthHash": _auth_hash(agency, agency["officer"]),
        "data": envelope.decode() if isinstance(envelope, bytes) else envelope,
        **(body or {}),
    }
    document = {k: v for k, v in document.items() if v is not None}
    headers = {"lgspaccesstoken": lgsp} if lgsp else {}
    return await client.post("/lgsp/dancu", json=document, headers=headers)


def _code(r: httpx.Response) -> str | None:
    assert r.headers["content-type"].startswith("text/xml"), r.text
    code: str | None = fromstring(r.content).findtext(".//dan:MaLoi", namespaces=NS)
    return code


async def test_observed_lgsp_request_is_answered_with_soap(client: httpx.AsyncClient) -> None:
    r = await _post(client, BANK, xac_thuc("l-1", ADULT, "NGUYEN VAN AN", BANK["officer"]))
    assert r.status_code == 200, r.text
    assert r.headers["content-type"].startswith("text/xml")
    assert fromstring(r.content).findtext(".//dan:TonTai", namespaces=NS) == "true"
    assert r.headers["x-request-hash"] and r.headers["x-jws-signature"].count(".") == 2
    r = await _post(client, POLICE, tra_cuu("l-2", POLICE, ADULT, "NGUYEN VAN AN", "1990"))
    assert r.status_code == 200, r.text
    collection = fromstring(r.content).find(".//mic:CongdanCollection", NS)
    assert collection is not None and collection.get("SoCongDan") == "1"


async def test_documented_derivation_matches_the_helpers(app: Any) -> None:
    spec = app.state.gateway.agencies.by_client(COMMUNE["client_id"]).spec
    assert officer_key_pass(spec, "CB.H26.0001") == _officer_pass(COMMUNE, "CB.H26.0001")
    assert auth_hash(spec, "CB.H26.0001") == _auth_hash(COMMUNE, "CB.H26.0001")
    decoded = json.loads(base64.b64decode(lgsp_access_token(spec)))
    assert decoded["AccessKey"] == COMMUNE["client_id"] and decoded["PartnerCode"] == spec.code


async def test_empty_macanbo_is_filled_from_the_officer_hash(client: httpx.AsyncClient) -> None:
    r = await _post(client, BANK, xac_thuc("l-3", ADULT, "NGUYEN VAN AN", ""))
    assert r.status_code == 200, r.text


async def test_wrong_secret_key_is_401_fault(client: httpx.AsyncClient) -> None:
    header = _lgsp_header(BANK, secret="not-the-secret-000000")
    r = await _post(client, BANK, xac_thuc("l-4", ADULT, "A", BANK["officer"]), header=header)
    assert r.status_code == 401 and _code(r) == "GATEWAY_UNAUTHENTICATED"
    assert "SecretKey" in r.text and "not-the-secret" not in r.text


async def test_wrong_officer_hash_is_401_and_another_officer_is_005(
    client: httpx.AsyncClient,
) -> None:
    envelope = xac_thuc("l-5", ADULT, "A", BANK["officer"])
    wrong = {"AuthHash": _auth_hash(BANK, BANK["officer"], password="guess")}
    r = await _post(client, BANK, envelope, body=wrong)
    assert r.status_code == 401 and _code(r) == "GATEWAY_UNAUTHENTICATED"
    assert "AuthHash" in r.text
    # A valid hash of one officer does not cover an envelope naming another (per-officer audit).
    other = {"AuthHash": _auth_hash(COMMUNE, "CB.H26.0002")}
    envelope = tra_cuu("l-6", COMMUNE, ADULT, "A", "1990")  # names CB.H26.0001
    r = await _post(client, COMMUNE, envelope, body=other)
    assert r.status_code == 403 and _code(r) == "005"
    # An officer the agency does not know gets the observed 005 once the hash is right.
    unknown = {"AuthHash": _auth_hash(COMMUNE, "CB.NOBODY")}
    envelope = tra_cuu("l-7", {**COMMUNE, "officer": "CB.NOBODY"}, ADULT, "A", "1990")
    r = await _post(client, COMMUNE, envelope, body=unknown)
    assert r.status_code == 403 and _code(r) == "005"


@pytest.mark.parametrize(
    "change",
    [
        {"accessToken": None},
        {"accessToken": "Bearer not-a-jwt"},
        {"AuthHash": None},
        {"AuthHash": "%%%"},
    ],
)
async def test_missing_or_bad_credentials_are_401(
    client: httpx.AsyncClient, change: dict[str, Any]
) -> None:
    r = await _post(client, BANK, xac_thuc("l-8", ADULT, "A", BANK["officer"]), body=change)
    assert r.status_code == 401 and _code(r) == "GATEWAY_UNAUTHENTICATED"
    assert r.headers["www-authenticate"].startswith("Bearer")


async def test_missing_lgsp_token_and_foreign_access_token_are_401(
    client: httpx.AsyncClient,
) -> None:
    envelope = xac_thuc("l-9", ADULT, "A", BANK["officer"])
    r = await _post(client, BANK, envelope, header="", body={"lgspAccessToken": None})
    assert r.status_code == 401 and "lgspaccesstoken" in r.text
    # The commune's token with the bank's LGSP account: refused.
    commune_token = await get_token(client, COMMUNE)
    r = await _post(client, BANK, envelope, body={"accessToken": f"Bearer {commune_token}"})
    assert r.status_code == 401 and "another agency" in r.text
    r = await _post(client, BANK, envelope, header=_lgsp_header(BANK, PartnerCode="000.00.00.H99"))
    assert r.status_code == 403 and _code(r) == "GATEWAY_CLIENT_MISMATCH"


@pytest.mark.parametrize("document", [BILLION_LAUGHS, XXE, b"<not-xml"])
async def test_billion_laughs_inside_data_is_refused(
    client: httpx.AsyncClient, document: bytes
) -> None:
    r = await _post(client, BANK, document)
    assert r.status_code == 400 and _code(r) == "GATEWAY_SOAP_FAULT"
    assert b"lollol" not in r.content and b"root:" not in r.content


async def test_malformed_wrappers_are_400(client: httpx.AsyncClient) -> None:
    headers = {"lgspaccesstoken": _lgsp_header(BANK), "content-type": "application/json"}
    for raw in (b"not json", b"[1]", b'{"data": 5}', b'{"accessToken": "x"}'):
        r = await client.post("/lgsp/dancu", content=raw, headers=headers)
        assert r.status_code == 400 and _code(r) == "GATEWAY_SOAP_FAULT", raw
    huge = "<a>" + "x" * 300_000 + "</a>"
    r = await _post(client, BANK, huge)
    assert r.status_code == 400 and "larger than" in r.text
    r = await client.post("/lgsp/dancu", content=b"<x/>", headers={"content-type": "text/xml"})
    assert r.status_code == 400


async def test_lgsp_exchanges_are_audited(app: Any, client: httpx.AsyncClient) -> None:
    before = app.state.audit.count()
    await _post(client, BANK, xac_thuc("l-10", ADULT, "NGUYEN VAN AN", BANK["officer"]))
    await _post(client, BANK, xac_thuc("l-11", ADULT, "A", BANK["officer"]), header="bad")
    assert app.state.audit.count() == before + 2
    assert app.state.audit.verify().ok

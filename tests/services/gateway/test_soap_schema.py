"""The SOAP profile's WSDL and XSDs: served, committed, obeyed by the answers and enforced on the
requests (issue #18); ``XacMinhThongTinNhanThan``."""

from __future__ import annotations

import base64
import json
from collections.abc import Awaitable, Callable
from pathlib import Path

import httpx
import pytest
from fastapi import FastAPI
from lxml import etree

from sim06.services.gateway import soap_schema
from sim06.services.gateway.agencies import AgencySpec
from sim06.services.gateway.lgsp import auth_hash, lgsp_access_token
from tests.services.gateway.helpers import ADULT, BANK, HOSPITAL, POLICE, get_token
from tests.services.gateway.soap_envelopes import (
    envelope,
    malformed,
    tra_cuu_body,
    xac_minh_body,
    xac_thuc_body,
)

pytestmark = pytest.mark.anyio
ROOT = Path(__file__).resolve().parents[3]
NS = {"soap": "http://schemas.xmlsoap.org/soap/envelope/", "dan": "http://dancuquocgia.bca",
      "mic": "http://www.mic.gov.vn/dancu/1.0"}  # fmt: skip
ROUTES = ("/soap/dancu", "/lgsp/dancu")
Sender = Callable[[httpx.AsyncClient, bytes, dict[str, str]], Awaitable[httpx.Response]]


def test_committed_soap_contracts_match_the_code() -> None:
    assert soap_schema.check_documents(ROOT / "contracts" / "soap") == []


def test_drift_is_reported(tmp_path: Path) -> None:
    soap_schema.write_documents(tmp_path)
    (tmp_path / "dancu.xsd").write_bytes(b"<changed/>")
    (tmp_path / "qldc.xsd").unlink()
    problems = soap_schema.check_documents(tmp_path)
    assert len(problems) == 2 and "dancu.xsd" in problems[0] and "missing" in problems[1]


@pytest.mark.parametrize("route", ROUTES)
async def test_served_documents_equal_the_committed_ones_modulo_the_address(
    client: httpx.AsyncClient, route: str
) -> None:
    committed = ROOT / "contracts" / "soap"
    r = await client.get(f"{route}?wsdl")
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/xml")
    here, default = f"http://gateway{route}", f"{soap_schema.DEFAULT_BASE}{route}"
    assert here in r.text and default not in r.text
    wsdl_file = "dancu.wsdl" if route == "/soap/dancu" else "lgsp-dancu.wsdl"
    assert r.text.replace(here, default) == (committed / wsdl_file).read_text("utf-8")
    imports = etree.fromstring(r.content).findall(".//{http://www.w3.org/2001/XMLSchema}import")
    locations = sorted(i.get("schemaLocation") or "" for i in imports)
    assert locations == sorted(f"{here}?xsd={n}" for n in soap_schema.XSD_NAMES)
    for name in soap_schema.XSD_NAMES:
        r = await client.get(route, params={"xsd": name})
        assert r.status_code == 200, name
        text = r.text.replace(here, f"{soap_schema.DEFAULT_BASE}/soap/dancu")
        assert text == (committed / name).read_text("utf-8"), name


async def test_unknown_documents_and_hostile_hosts(client: httpx.AsyncClient) -> None:
    r = await client.get("/soap/dancu", params={"xsd": "../../etc/passwd"})
    assert r.status_code == 422 and r.json()["code"] == "VALIDATION_FAILED"
    r = await client.get("/lgsp/dancu")  # a plain GET: the WSDL too
    assert r.status_code == 200 and b"<wsdl:definitions" in r.content
    r = await client.get("/soap/dancu?WSDL", headers={"host": 'evil"><x:y'})
    assert r.status_code == 200 and b"evil" not in r.content
    assert f"{soap_schema.DEFAULT_BASE}/soap/dancu" in r.text  # not the injected host
    etree.fromstring(r.content)  # still well-formed


def _answer_schema() -> etree.XMLSchema:
    """The served XSDs (resolved from the package, no network) for the answers' elements."""
    wrapper = (
        '<xs:schema xmlns:xs="http://www.w3.org/2001/XMLSchema" targetNamespace="urn:t">'
        '<xs:import namespace="http://dancuquocgia.bca" schemaLocation="dancu.xsd"/>'
        '<xs:import namespace="http://www.mic.gov.vn/dancu/1.0" schemaLocation="congdan.xsd"/>'
        "</xs:schema>"
    )
    return etree.XMLSchema(etree.fromstring(wrapper.encode(), soap_schema.schema_parser()))


async def _soap(client: httpx.AsyncClient, body: bytes, agency: dict[str, str]) -> httpx.Response:
    token = await get_token(client, agency)
    headers = {"Authorization": f"Bearer {token}", "Content-Type": "text/xml; charset=utf-8"}
    return await client.post("/soap/dancu", content=body, headers=headers)


def _lgsp_sender(app: FastAPI) -> Sender:
    """Posts an envelope through the LGSP wrapper, with the agency's valid credentials."""

    async def send(
        client: httpx.AsyncClient, body: bytes, agency: dict[str, str]
    ) -> httpx.Response:
        spec = app.state.gateway.agencies.by_client(agency["client_id"]).spec
        return await _lgsp(client, body, spec, agency)

    return send


async def _lgsp(
    client: httpx.AsyncClient, body: bytes, spec: AgencySpec, agency: dict[str, str]
) -> httpx.Response:
    token = await get_token(client, agency)
    header = lgsp_access_token(spec)
    wrapper = {
        "accessToken": f"Bearer {token}",
        "lgspAccessToken": header,
        "AuthHash": auth_hash(spec, agency["officer"]),
        "data": body.decode("utf-8"),
    }
    return await client.post("/lgsp/dancu", json=wrapper, headers={"lgspaccesstoken": header})


def _payload(r: httpx.Response) -> etree._Element:
    root = etree.fromstring(r.content)
    body = root.find("soap:Body", NS)
    assert body is not None and len(body) == 1, r.text
    return body[0]


async def test_every_answer_is_valid_against_the_served_xsd(
    app: FastAPI, client: httpx.AsyncClient
) -> None:
    schema = _answer_schema()
    lgsp = _lgsp_sender(app)
    answers = [
        await _soap(client, envelope(xac_thuc_body("v-1", BANK["officer"], ADULT, "NGUYEN VAN AN")),
                    BANK),
        await _soap(client, envelope(tra_cuu_body("v-2", POLICE, ADULT, "1990")), POLICE),
        await _soap(client, envelope(tra_cuu_body("v-3", POLICE, ADULT, "1991")), POLICE),
        await _soap(client, envelope(xac_minh_body("v-4", POLICE, ADULT, "Nguyễn Văn An", "1990")),
                    POLICE),
        await lgsp(client, envelope(xac_minh_body("v-5", HOSPITAL, ADULT, "NGUYEN VAN AN",
                                                   "19900512")), HOSPITAL),
    ]  # fmt: skip
    for r in answers:
        assert r.status_code == 200, r.text
        payload = _payload(r)
        assert schema.validate(payload), (schema.error_log, r.text)


async def test_xac_minh_answers_the_identity_fields_the_grant_allows(
    client: httpx.AsyncClient,
) -> None:
    r = await _soap(client, envelope(xac_minh_body("m-1", POLICE, ADULT, "NGUYEN VAN AN", "1990")),
                    POLICE)  # fmt: skip
    payload = _payload(r)
    assert payload.tag == "{http://www.mic.gov.vn/dancu/1.0}XacMinhThongTinNhanThanResponse"
    collection = payload.find("mic:CongdanCollection", NS)
    assert collection is not None and collection.get("SoCongDan") == "1"
    citizen = collection.find("mic:CongDan", NS)
    assert citizen is not None
    names = [etree.QName(e).localname for e in citizen]
    # Police may see everything: still only the identity part, never residence or ethnicity.
    assert names[:3] == ["SoDinhDanh", "SoCMND", "HoVaTen"] and "NgayThangNamSinh" in names
    assert not {"ThuongTru", "DanToc", "ChuHo", "VoChong"} & set(names)
    assert citizen.findtext("mic:SoDinhDanh", namespaces=NS) == ADULT
    # The hospital's lookup grant has no parents: the answer has none either.
    r = await _soap(client, envelope(xac_minh_body("m-2", HOSPITAL, ADULT, "NGUYEN VAN AN",
                                                   "19900512")), HOSPITAL)  # fmt: skip
    names = [etree.QName(e).localname for e in _payload(r).iter()]
    assert "SoDinhDanh" in names and "Cha" not in names and "Me" not in names
    # A wrong date of birth: an empty collection, not an error.
    r = await _soap(client, envelope(xac_minh_body("m-3", POLICE, ADULT, "NGUYEN VAN AN",
                                                   "19900102")), POLICE)  # fmt: skip
    assert r.status_code == 200 and _payload(r)[0].get("SoCongDan") == "0"
    # The bank has no lookup grant: the policy refusal, as a Fault.
    bank = {**BANK, "procedure": BANK["procedure"]}
    r = await _soap(client, envelope(xac_minh_body("m-4", bank, ADULT, "A", "1990")), BANK)
    assert r.status_code == 403
    assert etree.fromstring(r.content).findtext(".//dan:MaLoi", namespaces=NS) == (
        "GATEWAY_PURPOSE_NOT_ALLOWED"
    )


@pytest.mark.parametrize("route", ROUTES)
async def test_malformed_envelopes_get_a_client_fault_naming_the_problem(
    app: FastAPI, client: httpx.AsyncClient, route: str
) -> None:
    send = _soap if route == "/soap/dancu" else _lgsp_sender(app)
    cases = malformed(POLICE, ADULT, f"bad-{route[1:5]}")
    assert len(cases) >= 30
    for case in cases:
        r = await send(client, case.document, POLICE)
        assert r.status_code == 400, (case.name, r.text)
        fault = etree.fromstring(r.content).find(".//soap:Fault", NS)
        assert fault is not None, case.name
        assert fault.findtext("faultcode") == "soap:Client", case.name
        assert fault.findtext("detail/dan:MaLoi", namespaces=NS) == case.code, (case.name, r.text)
        assert case.says in (fault.findtext("faultstring") or ""), (case.name, r.text)
        assert fault.findtext("detail/dan:NguonLoi", namespaces=NS) == "gateway", case.name


@pytest.mark.parametrize(
    "document",
    [
        b'<?xml version="1.0" encoding="x-evil-9"?><a/>',
        b'<?xml version="1.0" encoding="ebcdic-cp-us"?><a/>',
        b'<?xml version="1.0" encoding="utf-32"?><a/>',
        b"<soapenv:Envelope xmlns:soapenv='http://schemas.xmlsoap.org/soap/envelope/'>\xff\xfe",
        b"<a>" * 300 + b"</a>" * 300,
        b"",
        "<?xml version='1.0' encoding='UTF-16'?><a/>".encode("utf-16"),
    ],
)
async def test_unknown_encodings_bad_bytes_and_depth_are_400_before_authentication(
    client: httpx.AsyncClient, document: bytes
) -> None:
    """Issue #17: these answered 500 before authentication."""
    r = await client.post("/soap/dancu", content=document, headers={"content-type": "text/xml"})
    assert r.status_code == 400, r.text
    assert etree.fromstring(r.content).findtext(".//dan:MaLoi", namespaces=NS) in (
        "GATEWAY_SOAP_FAULT", "GATEWAY_SOAP_INVALID")  # fmt: skip
    wrapped = json.dumps({"accessToken": "x", "AuthHash": "x",
                          "data": document.decode("latin-1")})  # fmt: skip
    lgsp = base64.b64encode(b"{}").decode()
    r = await client.post("/lgsp/dancu", content=wrapped, headers={
        "content-type": "application/json", "lgspaccesstoken": lgsp})  # fmt: skip
    assert r.status_code == 400, r.text

"""SOAP profile: observed envelopes answered; DTD, entity and external-entity documents refused."""

from __future__ import annotations

import base64
import hashlib
import time

import httpx
import pytest
from defusedxml.ElementTree import fromstring

from tests.services.gateway.helpers import ADULT, BANK, COMMUNE, POLICE, get_token

pytestmark = pytest.mark.anyio
NS = {"soap": "http://schemas.xmlsoap.org/soap/envelope/", "dan": "http://dancuquocgia.bca",
      "mic": "http://www.mic.gov.vn/dancu/1.0"}  # fmt: skip


def xac_thuc(request_id: str, pin: str, name: str, officer: str) -> bytes:
    """The observed XacThucThongTinCongDan envelope (XSD of anhnbt/lgsp, domain §6.3)."""
    return f"""<?xml version="1.0" encoding="UTF-8"?>
<soapenv:Envelope xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/"
                  xmlns:dan="http://dancuquocgia.bca">
  <soapenv:Header/>
  <soapenv:Body>
    <dan:XacThucThongTinCongDanRequest>
      <dan:MaYeuCau>{request_id}</dan:MaYeuCau>
      <dan:MaDichVu>033</dan:MaDichVu>
      <dan:MaCanBo>{officer}</dan:MaCanBo>
      <dan:SoDinhDanh>{pin}</dan:SoDinhDanh>
      <dan:SoCMND></dan:SoCMND>
      <dan:HoVaTen>{name}</dan:HoVaTen>
    </dan:XacThucThongTinCongDanRequest>
  </soapenv:Body>
</soapenv:Envelope>""".encode()


def tra_cuu(request_id: str, agency: dict[str, str], pin: str, name: str, year: str) -> bytes:
    """The observed TraCuuThongTinCongDan envelope."""
    return f"""<soapenv:Envelope xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/"
 xmlns:dan="http://dancuquocgia.bca"><soapenv:Body><dan:TraCuuThongTinCongDan>
 <dan:MaYeuCau>{request_id}</dan:MaYeuCau><dan:MaDVC>{agency["procedure"]}</dan:MaDVC>
 <dan:MaTichHop>037</dan:MaTichHop><dan:MaCanBo>{agency["officer"]}</dan:MaCanBo>
 <dan:MaDonVi>{agency["code"]}</dan:MaDonVi><dan:SoDinhDanh>{pin}</dan:SoDinhDanh>
 <dan:HoVaTen>{name}</dan:HoVaTen><dan:NgayThangNamSinh><dan:Nam>{year}</dan:Nam>
 </dan:NgayThangNamSinh></dan:TraCuuThongTinCongDan></soapenv:Body></soapenv:Envelope>""".encode()


async def _post(client: httpx.AsyncClient, body: bytes, agency: dict[str, str]) -> httpx.Response:
    token = await get_token(client, agency)
    headers = {"Authorization": f"Bearer {token}", "Content-Type": "text/xml; charset=utf-8",
               "SOAPAction": '""'}  # fmt: skip
    return await client.post("/soap/dancu", content=body, headers=headers)


async def test_xac_thuc_answers_ton_tai(client: httpx.AsyncClient) -> None:
    r = await _post(client, xac_thuc("s-1", ADULT, "NGUYEN VAN AN", BANK["officer"]), BANK)
    assert r.status_code == 200, r.text
    assert r.headers["content-type"].startswith("text/xml")
    root = fromstring(r.content)
    assert root.findtext(".//dan:KetQuaXacThucResponse/dan:TonTai", namespaces=NS) == "true"
    r = await _post(client, xac_thuc("s-2", ADULT, "TRAN THI BINH", BANK["officer"]), BANK)
    assert fromstring(r.content).findtext(".//dan:TonTai", namespaces=NS) == "false"


async def test_tra_cuu_returns_congdan_collection_filtered_by_policy(
    client: httpx.AsyncClient,
) -> None:
    r = await _post(client, tra_cuu("s-3", POLICE, ADULT, "NGUYEN VAN AN", "1990"), POLICE)
    assert r.status_code == 200, r.text
    root = fromstring(r.content)
    collection = root.find(".//mic:CongdanCollection", NS)
    assert collection is not None and collection.get("SoCongDan") == "1"
    congdan = collection.find("mic:CongDan", NS)
    assert congdan is not None
    assert congdan.findtext("mic:SoDinhDanh", namespaces=NS) == ADULT
    assert congdan.findtext("mic:HoVaTen/mic:Ten", namespaces=NS) == "An"
    assert congdan.findtext("mic:NgayThangNamSinh/mic:Nam", namespaces=NS) == "1990"
    assert congdan.find("mic:ThuongTru/mic:MaTinhThanh", NS) is not None
    # The commune's residence purpose: residence fields, no ethnicity or birth date.
    r = await _post(client, tra_cuu("s-4", COMMUNE, ADULT, "Nguyễn Văn An", "1990"), COMMUNE)
    congdan = fromstring(r.content).find(".//mic:CongDan", NS)
    assert congdan is not None and congdan.find("mic:ThuongTru", NS) is not None
    assert (
        congdan.find("mic:DanToc", NS) is None and congdan.find("mic:NgayThangNamSinh", NS) is None
    )


async def test_tra_cuu_with_a_wrong_name_is_an_empty_collection(client: httpx.AsyncClient) -> None:
    r = await _post(client, tra_cuu("s-5", POLICE, ADULT, "LE VAN C", "1990"), POLICE)
    collection = fromstring(r.content).find(".//mic:CongdanCollection", NS)
    assert collection is not None and collection.get("SoCongDan") == "0" and len(collection) == 0


async def test_soap_faults_carry_the_observed_codes(client: httpx.AsyncClient) -> None:
    r = await _post(client, tra_cuu("s-6", {**COMMUNE, "procedure": "X.1"}, ADULT, "A", "1990"),
                    COMMUNE)  # fmt: skip
    assert r.status_code == 403
    assert fromstring(r.content).findtext(".//dan:MaLoi", namespaces=NS) == "004"
    r = await _post(client, tra_cuu("s-7", {**COMMUNE, "officer": "NOBODY"}, ADULT, "A", "1990"),
                    COMMUNE)  # fmt: skip
    assert fromstring(r.content).findtext(".//dan:MaLoi", namespaces=NS) == "005"


BILLION_LAUGHS = b"""<?xml version="1.0"?>
<!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
<!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">]>
<soapenv:Envelope xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/"><soapenv:Body>
<XacThucThongTinCongDan><MaYeuCau>&lol3;</MaYeuCau></XacThucThongTinCongDan>
</soapenv:Body></soapenv:Envelope>"""
XXE = b"""<?xml version="1.0"?>
<!DOCTYPE foo [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>
<soapenv:Envelope xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/"><soapenv:Body>
<XacThucThongTinCongDan><MaYeuCau>&xxe;</MaYeuCau></XacThucThongTinCongDan>
</soapenv:Body></soapenv:Envelope>"""


@pytest.mark.parametrize("document", [BILLION_LAUGHS, XXE, b"<not-xml", b"<a/>"])
async def test_dangerous_or_malformed_documents_are_refused_with_400(
    client: httpx.AsyncClient, document: bytes
) -> None:
    r = await _post(client, document, BANK)
    assert r.status_code == 400
    assert b"root:" not in r.content
    assert fromstring(r.content).findtext(".//dan:MaLoi", namespaces=NS) == "GATEWAY_SOAP_FAULT"


async def test_observed_direct_digest_authentication(client: httpx.AsyncClient) -> None:
    stamp = str(int(time.time() * 1000))
    url = "http://gateway/soap/dancu"
    user, secret = BANK["client_id"], BANK["secret"]
    digest = hashlib.sha256(f"{url}{user}{stamp}{secret}".encode()).hexdigest()
    auth = base64.b64encode(f"{user}:{digest}".encode()).decode()
    headers = {"Authorization": f"Basic {auth}", "Timestamp": stamp, "X-Road-Client": BANK["code"]}
    body = xac_thuc("s-8", ADULT, "NGUYEN VAN AN", BANK["officer"])
    r = await client.post(url, content=body, headers=headers)
    assert r.status_code == 200, r.text
    stale = {**headers, "Timestamp": str(int(stamp) - 3_600_000)}
    r = await client.post(url, content=xac_thuc("s-9", ADULT, "X", BANK["officer"]), headers=stale)
    assert r.status_code == 401

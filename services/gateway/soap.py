"""SOAP 1.1 profile at ``POST /soap/dancu``: the envelopes observed in public integrators' code.

These are observed shapes (domain §6.3, [P]), not an official specification:

- ``XacThucThongTinCongDan[Request]`` (ns ``http://dancuquocgia.bca``): ``MaYeuCau``,
  ``MaDichVu``, ``MaCanBo``, ``SoDinhDanh`` or ``SoCMND``, ``HoVaTen`` → ``KetQuaXacThucResponse``
  with ``TonTai`` true/false. The envelope has no ``MaDVC``: the agency's ``default_procedure``
  is used unless a ``MaDVC`` element is sent.
- ``TraCuuThongTinCongDan[Request]``: ``MaYeuCau``, ``MaDVC``, ``MaTichHop``, ``MaCanBo``,
  ``MaDonVi``, ``SoDinhDanh`` or ``SoCMND``, ``HoVaTen``, ``NgayThangNamSinh{NgayThangNam|Nam}``
  → ``CongdanCollection`` (ns ``http://www.mic.gov.vn/dancu/1.0``) with one ``CongDan`` when the
  declaration matches, none otherwise, each element present only if the policy grants it.

Authentication: a gateway ``Bearer`` token, or the observed direct scheme: headers
``Timestamp`` (ms since epoch, within 5 minutes) and ``Authorization: Basic
base64(client_id ":" hex(sha256(url + client_id + timestamp + client_secret)))`` where ``url`` is
the endpoint URL the client called (scheme, host, path). Purpose and legal basis may be sent as
``X-Purpose`` / ``X-Legal-Basis`` headers; otherwise the first purpose of the procedure that
grants the operation is used.

- ``XacMinhThongTinNhanThan[Request]`` (ns ``http://gtel.vn/qldc``, the variant of a provincial
  adapter's mock): ``MaYeuCau``, ``MaDVC``, ``MaTichHop``, ``MaDonVi``, ``MaCanBo``,
  ``SoDinhDanh`` or ``SoCMND``, ``HoVaTen``, ``NgayThangNamSinh`` (yyyymmdd or yyyy) →
  ``XacMinhThongTinNhanThanResponse`` (ns MIC) holding a ``CongdanCollection`` whose
  ``CongDan`` has the identity fields only (:data:`IDENTITY_FIELDS`, as the lookup grant allows).

The WSDL and XSDs are in ``services/gateway/wsdl/`` (:mod:`services.gateway.soap_schema`).
Parsing uses lxml with no network, no entity expansion and bounded depth; a DTD (billion laughs,
external entities), an unknown encoding, invalid bytes or a truncated document is a 400
``GATEWAY_SOAP_FAULT``; a well-formed envelope that breaks the XSD (wrong namespace, a second
``Body``, a duplicated, unknown or misplaced element, a wrong type) a 400 ``GATEWAY_SOAP_INVALID``
naming the problem. Faults carry the sim06 code in ``detail`` and an HTTP status matching it
(4xx for client faults, a documented deviation from SOAP 1.1's blanket 500).
"""

from __future__ import annotations

import re
import threading
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from typing import Any

from lxml import etree

from sim06.services.common.problems import ProblemError
from sim06.services.gateway import soap_schema

SOAP_ENV = "http://schemas.xmlsoap.org/soap/envelope/"
NS_DAN = "http://dancuquocgia.bca"
NS_MIC = "http://www.mic.gov.vn/dancu/1.0"
NS_QLDC = "http://gtel.vn/qldc"
SOAP_MEDIA = "text/xml; charset=utf-8"
# Serialisation prefixes (the registry is process-wide; these URIs are ours to name).
ET.register_namespace("soap", SOAP_ENV)
ET.register_namespace("dan", NS_DAN)
ET.register_namespace("dc", NS_MIC)
# Operation → the policy operation it is authorised as (XacMinh discloses record fields).
OPERATIONS = {"XacThucThongTinCongDan": "verify", "TraCuuThongTinCongDan": "lookup",
              "XacMinhThongTinNhanThan": "lookup"}  # fmt: skip
# The part of the record XacMinhThongTinNhanThan answers (the adapter mock's CongDan).
IDENTITY_FIELDS = frozenset(
    {"pin", "cmnd", "name", "date_of_birth", "birth_year", "father", "mother"}
)
_MARITAL = {"single": "1", "married": "2", "divorced": "3", "widowed": "3"}
_BLOOD = {None: "00", "A": "01", "B": "02", "AB": "03", "O": "04"}
_SEX = {"male": "1", "female": "2"}  # [U]: the sample shows 1 for a man; 2 is our assumption


@dataclass(slots=True)
class SoapCall:
    """The parsed request: its operation name and its leaf elements by local name."""

    name: str
    values: dict[str, str]


_PARSERS = threading.local()  # lxml parsers must not be shared between threads


def _parser() -> etree.XMLParser:
    parser: etree.XMLParser | None = getattr(_PARSERS, "parser", None)
    if parser is None:
        parser = _PARSERS.parser = soap_schema.safe_parser()
    return parser


# WS-I Basic Profile 1.1 R1012: a message is UTF-8 or UTF-16. Others (UTF-7, EBCDIC, ...) are
# refused before libxml2 hands them to iconv, or after parsing when the declaration was not
# ASCII-readable (a UTF-16 document declaring another encoding).
_ENCODINGS = frozenset({"UTF-8", "UTF-16", "UTF-16LE", "UTF-16BE"})
_DECLARED = re.compile(
    rb"""\A(?:\xef\xbb\xbf)?<\?xml[^>]{0,200}?encoding\s*=\s*["']([^"']{0,64})"""
)


def _dtd_refused() -> ProblemError:
    return ProblemError("GATEWAY_SOAP_FAULT", "DTDs, entities and external references are refused.")


def _encoding_refused(name: str) -> ProblemError:
    return ProblemError(
        "GATEWAY_SOAP_FAULT",
        f"Encoding {name[:64]!r} is refused: send UTF-8 or UTF-16 (WS-I Basic Profile R1012).",
    )


def _well_formed(raw: bytes) -> etree._Element:
    """The root of ``raw`` parsed safely; ``GATEWAY_SOAP_FAULT`` for anything not plain XML."""
    if b"<!DOCTYPE" in raw:  # refused unparsed when readable as ASCII; after parsing otherwise
        raise _dtd_refused()
    declared = _DECLARED.match(raw)
    if declared is not None:
        name = declared.group(1).decode("latin-1")
        if name.upper() not in _ENCODINGS:
            raise _encoding_refused(name)
    try:
        root = etree.fromstring(raw, _parser())
    except etree.XMLSyntaxError as exc:
        raise ProblemError(
            "GATEWAY_SOAP_FAULT", f"The body is not well-formed XML: {exc.msg[:200]}"
        ) from None
    except (ValueError, LookupError):  # e.g. an encoding Python knows and libxml2 refuses
        raise ProblemError("GATEWAY_SOAP_FAULT", "The body is not well-formed XML.") from None
    info = root.getroottree().docinfo
    if info.internalDTD is not None or info.doctype:
        raise _dtd_refused()
    if (info.encoding or "UTF-8").upper() not in _ENCODINGS:
        raise _encoding_refused(info.encoding or "")
    return root


def parse(raw: bytes) -> SoapCall:
    """Parse and validate a SOAP 1.1 request; a client fault naming anything unexpected."""
    root = _well_formed(raw)
    if root.tag != f"{{{SOAP_ENV}}}Envelope":
        version = " (SOAP 1.2 is not supported)" if "soap-envelope" in str(root.tag) else ""
        raise ProblemError(
            "GATEWAY_SOAP_FAULT", f"The document is not a SOAP 1.1 Envelope{version}."
        )
    soap_schema.validate(root)
    request = root[-1][0]  # the schema leaves one Body, last, holding one request
    name = etree.QName(request).localname.removesuffix("Request")
    values: dict[str, str] = {}
    for element in request.iter():
        if len(element) == 0 and element is not request:
            values[etree.QName(element).localname] = (element.text or "").strip()[:300]
    return SoapCall(name, values)


def declaration(values: dict[str, str]) -> dict[str, Any]:
    decl: dict[str, Any] = {}
    if values.get("SoDinhDanh"):
        decl["pin"] = values["SoDinhDanh"]
    elif values.get("SoCMND"):
        decl["cmnd"] = values["SoCMND"]
    else:
        raise ProblemError("GATEWAY_SOAP_FAULT", "Give SoDinhDanh (12 digits) or SoCMND (9).")
    if values.get("HoVaTen"):
        decl["full_name"] = values["HoVaTen"]
    day = values.get("NgayThangNam", "")
    born = values.get("NgayThangNamSinh", "")  # XacMinh: one value, yyyymmdd or yyyy
    if len(born) == 8:
        day = born
    elif len(born) == 4:
        values = {**values, "Nam": born}
    if day:
        if len(day) != 8 or not day.isdigit():
            raise ProblemError("GATEWAY_SOAP_FAULT", "NgayThangNam must be yyyymmdd.")
        decl["date_of_birth"] = f"{day[:4]}-{day[4:6]}-{day[6:]}"
    elif values.get("Nam", "").isdigit():
        decl["birth_year"] = int(values["Nam"])
    return decl


def sub(parent: ET.Element, tag: str, text: Any) -> ET.Element:
    element = ET.SubElement(parent, tag)
    if text is not None:
        element.text = str(text)
    return element


def _address(parent: ET.Element, tag: str, addr: dict[str, Any] | None) -> None:
    if addr is None:
        return
    element = ET.SubElement(parent, tag)
    sub(element, "MaTinhThanh", addr.get("province_code"))
    if addr.get("district_code"):
        sub(element, "MaQuanHuyen", addr["district_code"])
    sub(element, "MaPhuongXa", addr.get("commune_code"))
    sub(element, "ChiTiet", str(addr.get("detail") or "").upper())
    sub(element, "QuocGia", addr.get("country", "VN"))


def _person(parent: ET.Element, tag: str, ref: dict[str, Any] | None) -> None:
    if ref is None:
        return
    element = ET.SubElement(parent, tag)
    sub(element, "HoVaTen", ref.get("full_name"))
    sub(element, "QuocTich", ref.get("nationality"))
    sub(element, "SoDinhDanh", ref.get("pin"))
    sub(element, "SoCMND", ref.get("cmnd"))


def congdan(
    parent: ET.Element, record: dict[str, Any], allowed: frozenset[str] | None
) -> list[str]:
    """Append a ``CongDan`` with the granted fields; the English names of those returned."""

    def ok(name: str) -> bool:
        return name in record if allowed is None else name in allowed

    out = [name for name in record if ok(name)]
    c = ET.SubElement(parent, f"{{{NS_MIC}}}CongDan")
    if ok("pin"):
        sub(c, "SoDinhDanh", record["pin"])
    if ok("cmnd"):
        sub(c, "SoCMND", record["cmnd"])
    if ok("name"):
        name = ET.SubElement(c, "HoVaTen")
        for tag, key in (("Ho", "family"), ("ChuDem", "middle"), ("Ten", "given")):
            sub(name, tag, record["name"][key])
    if ok("sex"):
        sub(c, "GioiTinh", _SEX.get(record["sex"]))
    if ok("ethnicity"):
        sub(c, "DanToc", record["ethnicity"]["code"])
    if ok("religion"):
        sub(c, "TonGiao", record["religion"]["code"])
    if ok("marital_status"):
        sub(c, "TinhTrangHonNhan", _MARITAL.get(record["marital_status"]))
    if ok("blood_group"):
        sub(c, "NhomMau", _BLOOD.get(record["blood_group"], "00"))
    if ok("birth_year") or ok("date_of_birth"):
        birth = ET.SubElement(c, "NgayThangNamSinh")
        if ok("birth_year"):
            sub(birth, "Nam", record["birth_year"])
        if ok("date_of_birth") and record["date_of_birth"]:
            sub(birth, "NgayThangNam", record["date_of_birth"].replace("-", ""))
    if ok("place_of_birth_registration"):
        reg = ET.SubElement(c, "NoiDangKyKhaiSinh")
        sub(reg, "MaTinhThanh", record["place_of_birth_registration"].get("province_code"))
        sub(reg, "QuocGia", "VN")
    if ok("nationality"):
        sub(c, "QuocTich", record["nationality"])
    if ok("hometown") and record["hometown"]:
        home = ET.SubElement(c, "QueQuan")
        sub(home, "MaTinhThanh", record["hometown"].get("province_code"))
        sub(home, "QuocGia", "VN")
    if ok("permanent_residence"):
        _address(c, "ThuongTru", record["permanent_residence"])
    if ok("current_residence"):
        _address(c, "NoiOHienTai", record["current_residence"])
    for key, tag in (("father", "Cha"), ("mother", "Me"), ("spouse", "VoChong"),
                     ("legal_representative", "NguoiDaiDien")):  # fmt: skip
        if ok(key):
            _person(c, tag, record[key])
    if ok("household") and record["household"]:
        ref = record["household"]
        head = ET.SubElement(c, "ChuHo")
        # "CH01" (the head) is the only observed code; other relationships [U]: Vietnamese text.
        sub(head, "QuanHe", "CH01" if ref["relationship"] == "head" else ref["relationship_vi"])
        sub(head, "SoDinhDanh", ref["head_pin"])
        sub(head, "HoVaTen", ref["head_name"])
    if ok("residence_file_number"):
        sub(c, "SoSoHoKhau", record["residence_file_number"])
    for element in c.iter():  # everything in the collection is in the MIC namespace
        if not element.tag.startswith("{"):
            element.tag = f"{{{NS_MIC}}}{element.tag}"
    return sorted(out)


def envelope(payload: ET.Element) -> bytes:
    """``payload`` wrapped in a SOAP 1.1 envelope."""
    env = ET.Element(f"{{{SOAP_ENV}}}Envelope")
    ET.SubElement(env, f"{{{SOAP_ENV}}}Body").append(payload)
    return bytes(ET.tostring(env, encoding="utf-8", xml_declaration=True))


def collection(parent: ET.Element, request_id: str, records: list[dict[str, Any]]) -> ET.Element:
    """An empty ``CongdanCollection`` (filled by :func:`congdan`); empty means no match."""
    as_of = records[0]["data_as_of"] if records else ""
    return ET.SubElement(
        parent,
        f"{{{NS_MIC}}}CongdanCollection",
        {"SoCongDan": str(len(records)), "GhiChu": "", "ThoiDiemDuLieu": as_of, "id": request_id},
    )


def fault(exc: ProblemError, *, source: str = "gateway") -> bytes:
    """A SOAP 1.1 Fault carrying the sim06 code and where it arose (gateway or registry)."""
    element = ET.Element(f"{{{SOAP_ENV}}}Fault")
    side = "Client" if exc.spec.status < 500 else "Server"
    sub(element, "faultcode", f"soap:{side}")
    # The title in both languages, then what exactly was wrong (also in detail/MoTa).
    sub(element, "faultstring", f"{exc.spec.title} / {exc.spec.title_vi}: {exc.detail}")
    detail = ET.SubElement(element, "detail")
    sub(detail, f"{{{NS_DAN}}}MaLoi", exc.spec.code)
    sub(detail, f"{{{NS_DAN}}}MoTa", exc.detail)
    sub(detail, f"{{{NS_DAN}}}NguonLoi", source)
    return envelope(element)

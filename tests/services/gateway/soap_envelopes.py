"""SOAP request envelopes for the gateway tests: the three valid operations and 34 malformed
variants (namespace, structure, duplicates, unknown elements, types), each with the fault it
must get. Shared by the schema, fuzz and generated-client tests."""

from __future__ import annotations

from dataclasses import dataclass

SOAP = "http://schemas.xmlsoap.org/soap/envelope/"
DAN = "http://dancuquocgia.bca"
QLDC = "http://gtel.vn/qldc"
_OPEN = f'<soapenv:Envelope xmlns:soapenv="{SOAP}" xmlns:dan="{DAN}" xmlns:qldc="{QLDC}">'


def xac_thuc_body(request_id: str, officer: str, pin: str, name: str) -> str:
    """The observed ``XacThucThongTinCongDanRequest`` (domain §6.3)."""
    return (
        f"<dan:XacThucThongTinCongDanRequest><dan:MaYeuCau>{request_id}</dan:MaYeuCau>"
        f"<dan:MaDichVu>033</dan:MaDichVu><dan:MaCanBo>{officer}</dan:MaCanBo>"
        f"<dan:SoDinhDanh>{pin}</dan:SoDinhDanh><dan:SoCMND></dan:SoCMND>"
        f"<dan:HoVaTen>{name}</dan:HoVaTen></dan:XacThucThongTinCongDanRequest>"
    )


def tra_cuu_body(request_id: str, agency: dict[str, str], pin: str, born: str) -> str:
    """The observed ``TraCuuThongTinCongDan`` with ``NgayThangNamSinh/Nam``."""
    return (
        f"<dan:TraCuuThongTinCongDan><dan:MaYeuCau>{request_id}</dan:MaYeuCau>"
        f"<dan:MaDVC>{agency['procedure']}</dan:MaDVC><dan:MaTichHop>037</dan:MaTichHop>"
        f"<dan:MaCanBo>{agency['officer']}</dan:MaCanBo><dan:MaDonVi>{agency['code']}</dan:MaDonVi>"
        f"<dan:SoDinhDanh>{pin}</dan:SoDinhDanh><dan:HoVaTen>NGUYEN VAN AN</dan:HoVaTen>"
        f"<dan:NgayThangNamSinh><dan:Nam>{born}</dan:Nam></dan:NgayThangNamSinh>"
        "</dan:TraCuuThongTinCongDan>"
    )


def xac_minh_body(request_id: str, agency: dict[str, str], pin: str, name: str, born: str) -> str:
    """``XacMinhThongTinNhanThanRequest`` in the adapter mock's namespace."""
    return (
        f"<qldc:XacMinhThongTinNhanThanRequest><qldc:MaYeuCau>{request_id}</qldc:MaYeuCau>"
        f"<qldc:MaDVC>{agency['procedure']}</qldc:MaDVC><qldc:MaTichHop>038</qldc:MaTichHop>"
        f"<qldc:MaDonVi>{agency['code']}</qldc:MaDonVi>"
        f"<qldc:MaCanBo>{agency['officer']}</qldc:MaCanBo>"
        f"<qldc:SoDinhDanh>{pin}</qldc:SoDinhDanh><qldc:SoCMND></qldc:SoCMND>"
        f"<qldc:HoVaTen>{name}</qldc:HoVaTen><qldc:NgayThangNamSinh>{born}</qldc:NgayThangNamSinh>"
        "</qldc:XacMinhThongTinNhanThanRequest>"
    )


def envelope(body: str, header: str = "<soapenv:Header/>") -> bytes:
    """``body`` in a SOAP 1.1 envelope declaring the profile's prefixes."""
    return (
        f'<?xml version="1.0" encoding="UTF-8"?>{_OPEN}{header}<soapenv:Body>{body}'
        "</soapenv:Body></soapenv:Envelope>"
    ).encode()


@dataclass(frozen=True, slots=True)
class Malformed:
    """An invalid request, the fault code it must get and a word its faultstring must hold."""

    name: str
    document: bytes
    code: str
    says: str


def malformed(agency: dict[str, str], pin: str, tag: str) -> list[Malformed]:
    """34 envelopes that break the profile's XSD or SOAP 1.1 (``tag`` makes MaYeuCau unique)."""
    x = xac_thuc_body(f"{tag}-x", agency["officer"], pin, "NGUYEN VAN AN")
    t = tra_cuu_body(f"{tag}-t", agency, pin, "1990")
    m = xac_minh_body(f"{tag}-m", agency, pin, "NGUYEN VAN AN", "1990")
    invalid, fault = "GATEWAY_SOAP_INVALID", "GATEWAY_SOAP_FAULT"
    o, c = "<dan:MaYeuCau>", "</dan:MaYeuCau>"
    cases = [
        # --- namespaces
        ("request-in-foreign-namespace", envelope(x.replace("dan:", "w:").replace(
            "<w:XacThucThongTinCongDanRequest>",
            '<w:XacThucThongTinCongDanRequest xmlns:w="urn:wrong">')), invalid, "urn:wrong"),
        ("unqualified-child", envelope(x.replace(f"{o}{tag}-x{c}", f"<MaYeuCau>{tag}</MaYeuCau>")),
         invalid, "MaYeuCau"),
        ("soap-1.2-envelope", envelope(x).replace(SOAP.encode(), b"http://www.w3.org/2003/05/soap-envelope"),
         fault, "SOAP 1.2"),
        ("body-in-foreign-namespace", envelope(x).replace(b"soapenv:Body", b"b:Body").replace(
            b"<b:Body>", b'<b:Body xmlns:b="urn:b">', 1), invalid, "Body"),
        ("xacminh-in-dan-namespace", envelope(m.replace("qldc:", "dan:")), invalid, "XacMinh"),
        ("child-in-mic-namespace", envelope(t.replace(
            "<dan:MaTichHop>037</dan:MaTichHop>",
            '<m:MaTichHop xmlns:m="http://www.mic.gov.vn/dancu/1.0">037</m:MaTichHop>')),
         invalid, "wrong namespace"),
        # --- structure
        ("second-body", envelope(x).replace(b"</soapenv:Body>", b"</soapenv:Body><soapenv:Body/>"),
         invalid, "second Body"),
        ("two-requests", envelope(x + t), invalid, "more than one request"),
        ("empty-body", envelope(""), invalid, "Missing child"),
        ("no-body", f"{_OPEN}<soapenv:Header/></soapenv:Envelope>".encode(), invalid, "Body"),
        ("header-after-body", envelope(x, header="").replace(
            b"</soapenv:Body>", b"</soapenv:Body><soapenv:Header/>"), invalid, "Header"),
        ("text-in-body", envelope("hello" + x), invalid, "content"),
        ("element-after-body", envelope(x).replace(b"</soapenv:Envelope>",
                                                   b"<dan:Extra/></soapenv:Envelope>"),
         invalid, "Extra"),
        ("birth-date-and-year", envelope(t.replace("<dan:Nam>1990</dan:Nam>",
                                                   "<dan:Nam>1990</dan:Nam><dan:NgayThangNam>"
                                                   "19900101</dan:NgayThangNam>")),
         invalid, "NgayThangNam"),
        ("missing-request-id", envelope(x.replace(f"{o}{tag}-x{c}", "")), invalid,
         "missing element MaYeuCau"),
        ("missing-officer", envelope(t.replace(f"<dan:MaCanBo>{agency['officer']}</dan:MaCanBo>",
                                               "")), invalid, "missing element MaCanBo"),
        ("missing-procedure", envelope(t.replace(f"<dan:MaDVC>{agency['procedure']}</dan:MaDVC>",
                                                 "")), invalid, "missing element MaDVC"),
        ("wrong-order", envelope(x.replace("<dan:MaDichVu>033</dan:MaDichVu>", "").replace(
            "</dan:MaCanBo>", "</dan:MaCanBo><dan:MaDichVu>033</dan:MaDichVu>")),
         invalid, "misplaced element MaDichVu"),
        ("unknown-operation", envelope(f"<dan:XoaCongDan>{o}1{c}</dan:XoaCongDan>"),
         invalid, "XoaCongDan"),
        ("not-an-envelope", b"<a/>", fault, "Envelope"),
        # --- duplicates
        ("duplicated-request-id", envelope(x.replace(c, c + o + "again" + c, 1)), invalid,
         "duplicated element MaYeuCau"),
        ("duplicated-pin", envelope(t.replace("</dan:SoDinhDanh>",
                                              f"</dan:SoDinhDanh><dan:SoDinhDanh>{pin}"
                                              "</dan:SoDinhDanh>")),
         invalid, "duplicated element SoDinhDanh"),
        ("duplicated-name", envelope(m.replace("</qldc:HoVaTen>",
                                               "</qldc:HoVaTen><qldc:HoVaTen>X</qldc:HoVaTen>")),
         invalid, "duplicated element HoVaTen"),
        ("duplicated-header", envelope(x, header="<soapenv:Header/><soapenv:Header/>"), invalid,
         "duplicated element Header"),
        ("duplicated-birth", envelope(t.replace("</dan:NgayThangNamSinh>",
                                                "</dan:NgayThangNamSinh><dan:NgayThangNamSinh>"
                                                "<dan:Nam>1991</dan:Nam></dan:NgayThangNamSinh>")),
         invalid, "duplicated element NgayThangNamSinh"),
        # --- unknown elements and attributes
        ("unknown-element", envelope(x.replace(c, c + "<dan:Foo>1</dan:Foo>", 1)), invalid,
         "unknown element"),
        ("unknown-attribute", envelope(x.replace("<dan:XacThucThongTinCongDanRequest>",
                                                 '<dan:XacThucThongTinCongDanRequest dan:x="1">')),
         invalid, "attribute"),
        # --- types
        ("year-not-digits", envelope(t.replace("<dan:Nam>1990", "<dan:Nam>19x0")), invalid,
         "19x0"),
        ("iso-date", envelope(t.replace("<dan:Nam>1990</dan:Nam>",
                                        "<dan:NgayThangNam>1990-01-01</dan:NgayThangNam>")),
         invalid, "1990-01-01"),
        ("xacminh-slashed-date", envelope(m.replace(">1990</qldc:NgayThangNamSinh>",
                                                    ">01/01/1990</qldc:NgayThangNamSinh>")),
         invalid, "01/01/1990"),
        ("request-id-too-long", envelope(x.replace(f"{tag}-x{c}", "r" * 301 + c)), invalid,
         "length"),
        ("element-inside-value", envelope(x.replace(f"{tag}-x{c}", f"<dan:Ma>{tag}</dan:Ma>{c}")),
         invalid, "MaYeuCau"),
        ("name-too-long", envelope(x.replace("NGUYEN VAN AN", "A" * 201)), invalid, "length"),
        ("text-for-birth", envelope(t.replace("<dan:Nam>1990</dan:Nam>", "1990")), invalid,
         "NgayThangNamSinh"),
    ]  # fmt: skip
    return [Malformed(name, doc, code, says) for name, doc, code, says in cases]

"""Claims released about a citizen, by scope and by the OIDC ``claims`` request parameter.

Standard claims (OIDC Core §5.1, §5.4):

    profile  name, family_name, given_name, middle_name, birthdate, gender, locale,
             preferred_username (the PIN, as the real IdP's tokens carry it, domain §5.6)
    email    email, email_verified
    phone    phone_number (E.164), phone_number_verified
    address  address {formatted, street_address, locality, region, country}

Claims profile ``vneid_profile`` (scope of the same name): the attribute names observed in
real "login with VNeID" integrations (domain §5.6 [P]; values are sim06's best guess [I]):

    SoDinhDanh        12-digit PIN                    SoCMND        old 9-digit CMND or null
    HoVaTen           full name                       NgayThangNamSinh  yyyymmdd (yyyy if only
    GioiTinh          "Nam" / "Nữ"                                       the year is recorded)
    DanToc, TonGiao   names from the code lists       QuocTich      "VN"
    ThuongTru         permanent residence, one line   NoiOHienNay   current residence, one line
    QueQuan, NoiDangKyKhaiSinh   province names       TinhTrangHonNhan  marital status code
    NhomMau           blood group or null             SoDienThoai, ThuDienTu  phone, e-mail
    Cha, Me, VoChong  names of father, mother, spouse ChuHo         household head's name
    TrangThai         record status                   LoaiTaiKhoan  account type: "1" citizen
                                                                    (observed), "2" foreigner,
                                                                    "3" organisation [I]
    MaSoDoanhNghiep, TenDoanhNghiep, DiaChi   organisations' accounts only: tax code, name and
                                              address of the head office
    TechID            = sub                           loAs          level achieved: "LoA1"/"LoA2"
    MaDanToc, MaTonGiao, MaTinhTrangHonNhan, MaNhomMau   the same four attributes as codes of
                      the observed code lists (domain §3.4 [P]; the SOAP profile's values):
                      ethnicity and religion 2-digit codes, marital status 1/2/3, blood group
                      00 (unknown)/01 A/02 B/03 AB/04 O. Observed integrations receive codes;
                      the four observed names keep the words released in 1.0.0, so these
                      coded claims are sim06's names for them [I].

Each claim belongs to one scope; a ``claims`` request (OIDC Core §5.5) adds single claims for
the ID token or userinfo whatever the scopes.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

from sim06.mock_registry.eid_subjects import ACCOUNT_TYPE

__all__ = ["SCOPE_CLAIMS", "SUPPORTED_CLAIMS", "SUPPORTED_SCOPES", "release"]

Record = dict[str, Any]


def _addr_line(addr: dict[str, Any] | None) -> str | None:
    return None if addr is None else addr.get("full")


def _address(r: Record) -> dict[str, Any] | None:
    addr = r["current_residence"]
    if addr is None:
        return None
    return {
        "formatted": addr.get("full"),
        "street_address": addr.get("detail"),
        "locality": addr.get("commune_name"),
        "region": addr.get("province_name"),
        "country": addr.get("country", "VN"),
    }


def _birthdate(r: Record) -> str | None:
    dob: str | None = r["date_of_birth"]
    if dob is None and r["birth_year"] is None:
        return None  # an organisation
    return dob if dob is not None else f"{r['birth_year']:04d}"


def _account_type(r: Record) -> str:
    return ACCOUNT_TYPE.get(str(r.get("record_type") or "citizen"), "1")


def _organisation(r: Record, key: str) -> Any:
    org = r.get("organisation")
    return None if org is None else org[key]


# Code lists observed in integrators' code (domain §3.4 [P]), as the SOAP profile writes them.
MARITAL_CODES = {"single": "1", "married": "2", "divorced": "3", "widowed": "3"}
BLOOD_CODES = {"A": "01", "B": "02", "AB": "03", "O": "04"}  # no test result: "00"


def _phone(r: Record) -> str | None:
    phone: str | None = r["phone"]
    if not phone:
        return None
    return "+84" + phone[1:] if phone.startswith("0") else phone


def _ref_name(ref: dict[str, Any] | None) -> str | None:
    return None if ref is None else ref.get("full_name")


Getter = Callable[[Record], Any]

# claim -> (scope, getter(record)).
CLAIMS: dict[str, tuple[str, Getter]] = {
    "name": ("profile", lambda r: r["name"]["full"]),
    "family_name": ("profile", lambda r: r["name"]["family"]),
    "given_name": ("profile", lambda r: r["name"]["given"]),
    "middle_name": ("profile", lambda r: r["name"]["middle"] or None),
    "birthdate": ("profile", lambda r: _birthdate(r)),
    "gender": ("profile", lambda r: r["sex"]),
    "locale": ("profile", lambda r: "vi-VN"),  # noqa: ARG005
    "preferred_username": ("profile", lambda r: r["pin"]),
    "email": ("email", lambda r: r["email"]),
    "email_verified": ("email", lambda r: False if r["email"] else None),
    "phone_number": ("phone", lambda r: _phone(r)),
    "phone_number_verified": ("phone", lambda r: True if r["phone"] else None),
    "address": ("address", lambda r: _address(r)),
    "SoDinhDanh": ("vneid_profile", lambda r: r["pin"]),
    "SoCMND": ("vneid_profile", lambda r: r["cmnd"]),
    "HoVaTen": ("vneid_profile", lambda r: r["name"]["full"]),
    "NgayThangNamSinh": ("vneid_profile", lambda r: (_birthdate(r) or "").replace("-", "") or None),
    "GioiTinh": ("vneid_profile", lambda r: {"male": "Nam", "female": "Nữ"}.get(r["sex"])),
    "DanToc": ("vneid_profile", lambda r: (r["ethnicity"] or {}).get("name")),
    "TonGiao": ("vneid_profile", lambda r: (r["religion"] or {}).get("name")),
    "QuocTich": ("vneid_profile", lambda r: r["nationality"]),
    "ThuongTru": ("vneid_profile", lambda r: _addr_line(r["permanent_residence"])),
    "NoiOHienNay": ("vneid_profile", lambda r: _addr_line(r["current_residence"])),
    "QueQuan": ("vneid_profile", lambda r: (r["hometown"] or {}).get("province_name")),
    "NoiDangKyKhaiSinh": (
        "vneid_profile",
        lambda r: (r["place_of_birth_registration"] or {}).get("province_name"),
    ),
    "TinhTrangHonNhan": ("vneid_profile", lambda r: r["marital_status"]),
    "NhomMau": ("vneid_profile", lambda r: r["blood_group"]),
    "SoDienThoai": ("vneid_profile", lambda r: r["phone"]),
    "ThuDienTu": ("vneid_profile", lambda r: r["email"]),
    "Cha": ("vneid_profile", lambda r: _ref_name(r["father"])),
    "Me": ("vneid_profile", lambda r: _ref_name(r["mother"])),
    "VoChong": ("vneid_profile", lambda r: _ref_name(r["spouse"])),
    "ChuHo": ("vneid_profile", lambda r: (r["household"] or {}).get("head_name")),
    "TrangThai": ("vneid_profile", lambda r: r["status"]),
    "MaDanToc": ("vneid_profile", lambda r: (r["ethnicity"] or {}).get("code")),
    "MaTonGiao": ("vneid_profile", lambda r: (r["religion"] or {}).get("code")),
    "MaTinhTrangHonNhan": ("vneid_profile", lambda r: MARITAL_CODES.get(r["marital_status"])),
    "MaNhomMau": ("vneid_profile", lambda r: BLOOD_CODES.get(r["blood_group"], "00")),
    "LoaiTaiKhoan": ("vneid_profile", lambda r: _account_type(r)),
    # Organisations' accounts (observed names of the portal SSO, domain §5.6 [P]).
    "MaSoDoanhNghiep": ("vneid_profile", lambda r: _organisation(r, "tax_code")),
    "TenDoanhNghiep": ("vneid_profile", lambda r: _organisation(r, "name")),
    "DiaChi": ("vneid_profile", lambda r: (_organisation(r, "address") or {}).get("full")),
    # Filled from the login, not the record (see ``release``).
    "TechID": ("vneid_profile", lambda r: None),  # noqa: ARG005
    "loAs": ("vneid_profile", lambda r: None),  # noqa: ARG005
}

SCOPE_CLAIMS: dict[str, list[str]] = {}
for _claim, (_scope, _) in CLAIMS.items():
    SCOPE_CLAIMS.setdefault(_scope, []).append(_claim)

# access_log: the gateway may show the citizen who read their data (citizen_token.py).
SUPPORTED_SCOPES = ("openid", *SCOPE_CLAIMS, "offline_access", "access_log")
SUPPORTED_CLAIMS = ("sub", "iss", "aud", "exp", "iat", "auth_time", "nonce", "acr", "amr",
                    "sid", *CLAIMS)  # fmt: skip


def requested(scopes: Iterable[str], extra: Iterable[str] = ()) -> list[str]:
    """Claim names asked for by ``scopes`` plus single ``extra`` claims, in a stable order."""
    names: dict[str, None] = {}
    for scope in scopes:
        for claim in SCOPE_CLAIMS.get(scope, ()):
            names[claim] = None
    for claim in extra:
        if claim in CLAIMS:
            names[claim] = None
    return list(names)


def release(record: Record, names: Iterable[str], *, sub: str, level: int) -> dict[str, Any]:
    """Values of ``names`` for ``record``; claims without a value are left out (OIDC §5.3.2)."""
    from_login = {"TechID": sub, "loAs": f"LoA{level}"}
    out: dict[str, Any] = {}
    for name in names:
        spec = CLAIMS.get(name)
        if spec is None:
            continue
        value = from_login[name] if name in from_login else spec[1](record)
        if value is not None:
            out[name] = value
    return out


def claims_request_names(request: dict[str, Any] | None, target: str) -> list[str]:
    """Claim names of the ``claims`` parameter's ``userinfo`` or ``id_token`` member."""
    if not request:
        return []
    member = request.get(target)
    return [str(k) for k in member] if isinstance(member, dict) else []

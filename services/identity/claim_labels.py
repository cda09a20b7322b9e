"""What each claim is, in Vietnamese and English: the consent and app-simulator pages list them.

A citizen asked to share ``NoiDangKyKhaiSinh`` or ``phone_number_verified`` should read what it
is, not the identifier; the identifier stays beside the label for the developer testing a flow.
"""

from __future__ import annotations

from collections.abc import Iterable
from html import escape

__all__ = ["CLAIM_LABELS", "claim_items", "claim_label"]

# claim -> (Vietnamese, English)
CLAIM_LABELS: dict[str, tuple[str, str]] = {
    "sub": ("Mã định danh của bạn với dịch vụ này", "Your identifier at this service"),
    # OIDC standard claims (OIDC Core §5.1)
    "name": ("Họ và tên", "Full name"),
    "family_name": ("Họ", "Family name"),
    "given_name": ("Tên", "Given name"),
    "middle_name": ("Tên đệm", "Middle name"),
    "birthdate": ("Ngày sinh", "Date of birth"),
    "gender": ("Giới tính", "Sex"),
    "locale": ("Ngôn ngữ", "Language"),
    "preferred_username": ("Số định danh cá nhân (tên đăng nhập)",
                           "Personal identification number (user name)"),
    "email": ("Thư điện tử", "E-mail address"),
    "email_verified": ("Thư điện tử đã được xác minh hay chưa", "Whether the e-mail is verified"),
    "phone_number": ("Số điện thoại", "Phone number"),
    "phone_number_verified": ("Số điện thoại đã được xác minh hay chưa",
                              "Whether the phone number is verified"),
    "address": ("Địa chỉ nơi ở hiện tại", "Current address"),
    # vneid_profile (services.identity.claims)
    "SoDinhDanh": ("Số định danh cá nhân", "Personal identification number"),
    "SoCMND": ("Số chứng minh nhân dân (cũ)", "Old identity card (CMND) number"),
    "HoVaTen": ("Họ và tên", "Full name"),
    "NgayThangNamSinh": ("Ngày, tháng, năm sinh", "Date of birth"),
    "GioiTinh": ("Giới tính", "Sex"),
    "DanToc": ("Dân tộc", "Ethnicity"),
    "TonGiao": ("Tôn giáo", "Religion"),
    "QuocTich": ("Quốc tịch", "Nationality"),
    "ThuongTru": ("Nơi thường trú", "Permanent residence"),
    "NoiOHienNay": ("Nơi ở hiện tại", "Current residence"),
    "QueQuan": ("Quê quán", "Place of origin"),
    "NoiDangKyKhaiSinh": ("Nơi đăng ký khai sinh", "Place of birth registration"),
    "TinhTrangHonNhan": ("Tình trạng hôn nhân", "Marital status"),
    "NhomMau": ("Nhóm máu", "Blood group"),
    "SoDienThoai": ("Số điện thoại", "Phone number"),
    "ThuDienTu": ("Thư điện tử", "E-mail address"),
    "Cha": ("Họ tên cha", "Father's name"),
    "Me": ("Họ tên mẹ", "Mother's name"),
    "VoChong": ("Họ tên vợ hoặc chồng", "Spouse's name"),
    "ChuHo": ("Họ tên chủ hộ", "Name of the head of household"),
    "TrangThai": ("Tình trạng của công dân", "Citizen record status"),
    "MaDanToc": ("Mã dân tộc", "Ethnicity code"),
    "MaTonGiao": ("Mã tôn giáo", "Religion code"),
    "MaTinhTrangHonNhan": ("Mã tình trạng hôn nhân", "Marital status code"),
    "MaNhomMau": ("Mã nhóm máu", "Blood group code"),
    "LoaiTaiKhoan": ("Loại tài khoản", "Account type"),
    # organisations' accounts
    "MaSoDoanhNghiep": ("Mã số doanh nghiệp (mã số thuế)", "Enterprise code (tax code)"),
    "TenDoanhNghiep": ("Tên doanh nghiệp", "Enterprise name"),
    "DiaChi": ("Địa chỉ trụ sở chính", "Head office address"),
    "TechID": ("Mã định danh kỹ thuật với dịch vụ này", "Technical identifier at this service"),
    "loAs": ("Mức độ tài khoản định danh điện tử", "Electronic identification level"),
}  # fmt: skip


def claim_label(name: str) -> tuple[str, str]:
    """(Vietnamese, English) label of ``name``; the identifier itself if sim06 has none."""
    return CLAIM_LABELS.get(name, (name, name))


def claim_items(names: Iterable[str]) -> str:
    """``<li>`` items: the Vietnamese and English label, then the claim identifier."""
    items = []
    for name in names:
        vi, en = claim_label(name)
        items.append(
            f'<li data-claim="{escape(name)}">{escape(vi)} / <span class="en">{escape(en)}'
            f"</span> <small><code>{escape(name)}</code></small></li>"
        )
    return "".join(items)

"""Logins of the e-ID accounts that are not citizens' (Decree 69/2024): a foreigner's and an
organisation's, with their identifiers and account type (LoaiTaiKhoan); and the child account
registered by a level-2 representative."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from sim06.mock_registry.eid_subjects import BY_KEY as SUBJECTS
from sim06.mock_registry.personas import BY_KEY
from tests.services.identity.conftest import (
    AUTO,
    auth_params,
    get_code,
    pkce_pair,
    redeem,
    redirect_query,
)

pytestmark = pytest.mark.anyio

FOREIGNER = SUBJECTS["foreigner-account"].identifier
ORGANISATION = SUBJECTS["organisation-account"].identifier
SCOPE = "openid profile vneid_profile"


async def userinfo(idp: httpx.AsyncClient, **extra: str) -> dict[str, Any]:
    code, verifier, _ = await get_code(idp, scope=SCOPE, **extra)
    r = await redeem(idp, code, verifier)
    assert r.status_code == 200, r.text
    r = await idp.get("/userinfo", headers={"Authorization": f"Bearer {r.json()['access_token']}"})
    assert r.status_code == 200, r.text
    info: dict[str, Any] = r.json()
    return info


async def test_foreigner_logs_in_with_the_foreigners_identification_number(
    idp: httpx.AsyncClient,
) -> None:
    info = await userinfo(idp, login_hint=FOREIGNER, acr_values="LoA2")
    assert info["LoaiTaiKhoan"] == "2" and info["QuocTich"] == "KR"
    assert info["SoDinhDanh"] == FOREIGNER == info["preferred_username"]
    assert info["HoVaTen"] == "Kim Min Jun" and info["GioiTinh"] == "Nam"
    assert info["loAs"] == "LoA2"
    assert "MaSoDoanhNghiep" not in info and "SoCMND" not in info
    # The persona key works as a login hint too.
    assert (await userinfo(idp, login_hint="foreigner-account"))["SoDinhDanh"] == FOREIGNER


async def test_organisation_logs_in_with_its_tax_code(idp: httpx.AsyncClient) -> None:
    info = await userinfo(idp, login_hint=ORGANISATION, acr_values="LoA2")
    assert info["LoaiTaiKhoan"] == "3"
    assert info["MaSoDoanhNghiep"] == ORGANISATION
    assert info["TenDoanhNghiep"] == "Công ty TNHH Phần mềm Sao Mai" == info["name"]
    assert info["DiaChi"]
    # An organisation has no sex or date of birth: those claims are left out, not invented.
    assert not {"GioiTinh", "NgayThangNamSinh", "birthdate", "gender"} & set(info)


async def test_citizens_are_account_type_1(idp: httpx.AsyncClient) -> None:
    info = await userinfo(idp)
    assert info["LoaiTaiKhoan"] == "1" and "MaSoDoanhNghiep" not in info


async def test_unknown_identifiers_of_the_right_shape_are_refused(idp: httpx.AsyncClient) -> None:
    for hint in ("410085999999", "0109876525"):  # a foreigner's shape; a valid tax code
        verifier, challenge = pkce_pair()
        params = auth_params(challenge, login_hint=hint)
        q = redirect_query(await idp.get("/authorize", params=params, headers=AUTO))
        assert q["error"] == "access_denied", q
        del verifier


async def test_child_account_logs_in_at_level_1_only(idp: httpx.AsyncClient) -> None:
    child = BY_KEY["child-account"].pin
    info = await userinfo(idp, login_hint=child, acr_values="LoA1")
    assert info["SoDinhDanh"] == child and info["loAs"] == "LoA1"
    verifier, challenge = pkce_pair()
    params = auth_params(challenge, login_hint=child, acr_values="LoA2")
    q = redirect_query(await idp.get("/authorize", params=params, headers=AUTO))
    assert q["error"] == "unmet_authentication_requirements", q
    del verifier

"""Shared constants and helpers of the gateway tests (demo agencies are DEMO-ONLY)."""

from __future__ import annotations

import itertools
from typing import Any

import httpx

ADMIN = "test-admin-token-0123456789"

# Demo agencies of examples/agencies.yaml (DEMO-ONLY secrets).
COMMUNE = {
    "client_id": "ubnd-ba-dinh",
    "secret": "demo-only-commune-secret-0001",
    "code": "000.21.01.H26",
    "procedure": "1.004222.000.00.00.H26",
    "officer": "CB.H26.0001",
    "purpose": "residence",
}
POLICE = {
    "client_id": "cat-pc02",
    "secret": "demo-only-police-secret-0002",
    "code": "000.00.12.H30",
    "procedure": "BCA.DT.001",
    "officer": "CB.H30.0101",
    "purpose": "investigation",
}
HOSPITAL = {
    "client_id": "bv-bach-mai",
    "secret": "demo-only-hospital-secret-0003",
    "code": "000.05.18.G14",
    "procedure": "BYT.KCB.001",
    "officer": "CB.G14.0007",
    "purpose": "patient-admission",
}
BANK = {
    "client_id": "demo-bank",
    "secret": "demo-only-bank-secret-0004",
    "code": "000.00.00.K01",
    "procedure": "NHNN.EKYC.01",
    "officer": "BANK.EKYC.SYSTEM",
    "purpose": "account-opening",
}
ADULT = "001090104217"  # persona adult-level2: Nguyễn Văn An, born 1990

_ids = itertools.count(1)


async def get_token(client: httpx.AsyncClient, agency: dict[str, str], scope: str = "") -> str:
    data = {"grant_type": "client_credentials"}
    if scope:
        data["scope"] = scope
    r = await client.post("/oauth/token", data=data, auth=(agency["client_id"], agency["secret"]))
    assert r.status_code == 200, r.text
    token: str = r.json()["access_token"]
    return token


def exchange_headers(token: str, agency: dict[str, str], **override: str) -> dict[str, str]:
    headers = {
        "Authorization": f"Bearer {token}",
        "X-Road-Client": agency["code"],
        "X-MaYeuCau": f"req-{next(_ids):08d}",
        "X-MaDVC": agency["procedure"],
        "X-MaCanBo": agency["officer"],
        "X-Purpose": agency["purpose"],
        "X-Legal-Basis": "Nghi dinh 104/2022/ND-CP",
    }
    headers.update(override)
    return {k: v for k, v in headers.items() if v != ""}


def assert_problem(
    r: httpx.Response, status: int, code: str, source: str | None = "gateway"
) -> dict[str, Any]:
    assert r.status_code == status, r.text
    assert r.headers["content-type"] == "application/problem+json"
    body: dict[str, Any] = r.json()
    assert body["code"] == code and body["status"] == status
    assert body["title"] and body["title_vi"]
    if source is not None:  # exchanges say where a problem arose
        assert body["source"] == source
    return body


def agency_document(code: str, client_id: str, quota: int, grants: Any = "*") -> dict[str, Any]:
    """An agency document for the admin API, and the matching caller description."""
    return {
        "code": code,
        "name": f"Test agency {client_id}",
        "client_id": client_id,
        "client_secret": f"{client_id}-secret-0123456789",
        "quota_per_minute": quota,
        "procedures": [{"code": "P1", "purposes": {"p": {"grants": {"lookup": grants}}}}],
        "officers": [{"code": "O1", "permissions": ["P1"]}, {"code": "O2", "permissions": []}],
    }


async def register(client: httpx.AsyncClient, document: dict[str, Any]) -> dict[str, str]:
    """Register ``document`` with the admin API; the caller dict for ``exchange_headers``."""
    r = await client.post(
        "/admin/agencies", json=document, headers={"Authorization": f"Bearer {ADMIN}"}
    )
    assert r.status_code == 201, r.text
    return {
        "client_id": document["client_id"],
        "secret": document["client_secret"],
        "code": document["code"],
        "procedure": "P1",
        "officer": "O1",
        "purpose": "p",
    }


# Civil-status writers and feed readers (examples/agencies.yaml, DEMO-ONLY secrets).
BIRTH_OFFICE = {**COMMUNE, "procedure": "2.000815.000.00.00.H26",
                "purpose": "birth-registration"}  # fmt: skip
DEATH_OFFICE = {**COMMUNE, "procedure": "SIM06.HT.KHAITU.H26", "purpose": "death-registration"}
WARD_POLICE = {
    "client_id": "ca-phuong-ba-dinh",
    "secret": "demo-only-ward-police-secret-0007",
    "code": "000.32.21.H26",
    "procedure": "SIM06.CT.CUTRU.H26",
    "officer": "CB.H26.0301",
    "purpose": "residence-registration",
}
SOCIAL_SECURITY = {
    "client_id": "bhxh-cap-the",
    "secret": "demo-only-social-security-secret-0008",
    "code": "000.00.15.G13",
    "procedure": "SIM06.BHXH.BHYT6",
    "officer": "BHXH.HN.SYSTEM",
    "purpose": "health-insurance-under-6",
}
FUNERAL_OFFICE = {
    "client_id": "mai-tang-ba-dinh",
    "secret": "demo-only-funeral-allowance-secret-0009",
    "code": "000.21.02.H26",
    "procedure": "SIM06.XH.MAITANG",
    "officer": "CB.H26.0401",
    "purpose": "funeral-allowance",
}

"""Admin API and start-up safety."""

from __future__ import annotations

import httpx
import pytest

from sim06.services.common.settings import Settings
from sim06.services.gateway.app import UnsafeConfiguration, check_safe, create_app
from tests.services.gateway.helpers import ADMIN, agency_document

ADMIN_HEADERS = {"Authorization": f"Bearer {ADMIN}"}


@pytest.mark.anyio
async def test_admin_needs_the_token(client: httpx.AsyncClient) -> None:
    for headers in ({}, {"Authorization": "Bearer changethis"}):
        r = await client.get("/admin/agencies", headers=headers)
        assert r.status_code == 401 and r.json()["code"] == "GATEWAY_ADMIN_UNAUTHORIZED"


@pytest.mark.anyio
async def test_add_and_list_agencies_without_secrets(client: httpx.AsyncClient) -> None:
    document = agency_document("000.00.42.H42", "admin-added", 10)
    r = await client.post("/admin/agencies", json=document, headers=ADMIN_HEADERS)
    assert r.status_code == 201 and r.json()["auth_methods"] == ["client_secret_basic"]
    r = await client.post("/admin/agencies", json=document, headers=ADMIN_HEADERS)
    assert r.status_code == 409 and r.json()["code"] == "GATEWAY_AGENCY_EXISTS"
    r = await client.get("/admin/agencies", headers=ADMIN_HEADERS)
    listed = r.json()["data"]
    assert "000.00.42.H42" in {a["code"] for a in listed} and r.json()["count"] == 8
    assert "secret" not in r.text.replace("client_secret_basic", "")


@pytest.mark.anyio
@pytest.mark.parametrize(
    "change",
    [
        {"code": "H30"},  # not the QCVN 102:2016 form
        {"procedures": [{"code": "P1", "purposes": {"p": {"grants": {"lookup": ["salary"]}}}}]},
        {"procedures": [{"code": "P1", "purposes": {"p": {"grants": {"delete": "*"}}}}]},
        {"officers": [{"code": "O1", "permissions": ["P9"]}]},
        {"client_secret": None},
    ],
)
async def test_invalid_agencies_are_422(
    client: httpx.AsyncClient, change: dict[str, object]
) -> None:
    document = {**agency_document("000.00.43.H43", "bad", 10), **change}
    r = await client.post("/admin/agencies", json=document, headers=ADMIN_HEADERS)
    assert r.status_code == 422 and r.json()["code"] == "VALIDATION_FAILED", r.text


@pytest.mark.anyio
async def test_audit_verify_endpoint(client: httpx.AsyncClient) -> None:
    r = await client.get("/admin/audit/verify", headers=ADMIN_HEADERS)
    assert r.json()["ok"] is True


def test_unsafe_defaults_are_refused_outside_the_embedded_demo(settings: Settings) -> None:
    check_safe(settings)  # the embedded demo accepts "changethis" (with a warning)
    standalone = settings.model_copy(update={"gateway_embedded": False})
    with pytest.raises(UnsafeConfiguration, match="ADMIN_TOKEN"):
        create_app(standalone)
    strong = standalone.model_copy(update={"gateway_admin_token": "x" * 32})
    with pytest.raises(UnsafeConfiguration, match="AGENCIES_FILE"):
        check_safe(strong)

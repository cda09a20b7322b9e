"""The account page's evidence download: the citizen's access log with an inclusion proof per
entry and the signed tree head, which the standalone script verifies with the audit JWKS."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
from fastapi import FastAPI

from sim06.services.common.settings import Settings
from sim06.services.gateway.app import create_app as create_gateway
from sim06.services.identity import create_app
from sim06.services.identity.access_log_source import HttpAccessLogSource
from tests.services.gateway.helpers import ADMIN, COMMUNE, HOSPITAL, exchange_headers, get_token
from tests.services.identity.conftest import ADULT, ISSUER
from tests.services.identity.test_account import account_login

pytestmark = pytest.mark.anyio
SCRIPT = Path(__file__).parents[3] / "scripts" / "verify_access_proof.py"


@pytest.fixture
async def gateway(idp_settings: Settings) -> AsyncIterator[FastAPI]:
    app = create_gateway(idp_settings.model_copy(update={"gateway_admin_token": ADMIN}))
    yield app
    await app.state.gateway.registry.aclose()
    app.state.audit.close()


async def test_the_evidence_download_verifies_offline(
    idp_settings: Settings, gateway: FastAPI, tmp_path: Path
) -> None:
    transport = httpx.ASGITransport(app=gateway)
    async with httpx.AsyncClient(transport=transport, base_url="http://gateway") as gw:
        for agency in (COMMUNE, HOSPITAL):
            headers = exchange_headers(await get_token(gw, agency), agency)
            assert (await gw.get(f"/v1/registry/citizens/{ADULT}", headers=headers)).is_success
        jwks = (await gw.get("/.well-known/audit-jwks.json")).content
    source = HttpAccessLogSource("http://gateway", transport=transport)
    app = create_app(idp_settings, access_log=source)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url=ISSUER) as c:
        page = await account_login(c, ADULT, "/account/access-log")
        assert 'href="/account/access-log/evidence.json"' in page.text
        r = await c.get("/account/access-log/evidence.json")
    assert r.status_code == 200 and "attachment" in r.headers["content-disposition"]
    body = r.json()
    assert body["count"] == 2 and all(a["proof"] for a in body["accesses"])
    (tmp_path / "evidence.json").write_bytes(r.content)
    (tmp_path / "jwks.json").write_bytes(jwks)
    done = subprocess.run(
        [sys.executable, str(SCRIPT), str(tmp_path / "evidence.json"), str(tmp_path / "jwks.json")],
        capture_output=True, text=True, check=False, timeout=60,
    )  # fmt: skip
    assert done.returncode == 0 and done.stdout.count(": OK") == 2, done.stdout
    body["accesses"][0]["officer"] = "CB.SOMEONE.ELSE"
    (tmp_path / "evidence.json").write_text(json.dumps(body), "utf-8")
    done = subprocess.run(
        [sys.executable, str(SCRIPT), str(tmp_path / "evidence.json"), str(tmp_path / "jwks.json")],
        capture_output=True, text=True, check=False, timeout=60,
    )  # fmt: skip
    assert done.returncode == 1 and done.stdout.count("FAILED") == 1, done.stdout

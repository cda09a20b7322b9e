"""Schemathesis (``--checks all``) against the live identity provider and its chip endpoints.

Every check counts, stateful links included: no 5xx, no undocumented status or media type, no
response its schema rejects, no schema-violating request accepted and no schema-valid request
refused, except the refusals listed in ``REFUSALS`` (see ``schemathesis_tuning.py``). The demo
relying parties are loaded, so the contract's examples reach real clients.
"""

from __future__ import annotations

import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from sim06.services.bench import start_uvicorn
from tests.services.schemathesis_tuning import config

pytestmark = pytest.mark.e2e

ROOT = Path(__file__).resolve().parents[3]
# Schema-valid requests refused by design (RFC 6749 §4.1.2.1: an unknown client or an
# unregistered redirect URI is shown as a 400 page, never redirected).
REFUSALS = {
    "GET /authorize": [400],  # unknown client, unregistered redirect_uri, used request_uri
    "POST /authorize": [400],
    "GET /logout": [400],  # id_token_hint not issued here, unregistered post-logout URI
    "POST /logout": [400],
    "POST /par": [400],  # unregistered redirect_uri, claims that are not a JSON object
    "POST /v1/biometrics/face-match": [422],  # base64 that is no decodable JPEG/PNG
}
# The same refusals on the observed login profiles (the VNeID realm, the portal SSO).
REALM_AUTH = "/auth/realms/citizen/protocol/openid-connect/auth"
REALM_LOGOUT = "/auth/realms/citizen/protocol/openid-connect/logout"
for _method in ("GET", "POST"):
    REFUSALS[f"{_method} {REALM_AUTH}"] = [400]
    REFUSALS[f"{_method} {REALM_LOGOUT}"] = [400]
    REFUSALS[f"{_method} /oauth2/authorize"] = [400]
    REFUSALS[f"{_method} /oidc/logout"] = [400]
# Codes and refresh tokens are registered state (Schemathesis exempts only the root tokenUrl).
REFUSALS["POST /auth/realms/citizen/protocol/openid-connect/token"] = [400]
REFUSALS["POST /oauth2/token"] = [400]
# Once client and redirect URI are trusted, a bad request is refused by redirecting the error
# to the client (RFC 6749 §4.1.2.1): a 303, not a 4xx.
REJECTIONS = {
    f"{method} {path}": [303]
    for method in ("GET", "POST")
    for path in ("/authorize", REALM_AUTH, "/oauth2/authorize")
}


def failures(report: Path) -> dict[str, set[str]]:
    """Operation → the Schemathesis codes it failed, from the JUnit report."""
    out: dict[str, set[str]] = {}
    for case in ET.parse(report).getroot().iter("testcase"):
        for failure in [*case.iter("failure"), *case.iter("error")]:
            codes = {c.strip() for c in (failure.get("message") or "").split(",") if c.strip()}
            out.setdefault(str(case.get("name")), set()).update(codes or {"error"})
    return out


def test_identity_conforms_to_its_contract(seeded_db: Path, tmp_path: Path) -> None:
    env = {
        "SIM06_DB_PATH": str(seeded_db), "SIM06_DATA_DIR": str(tmp_path),
        "SIM06_IDENTITY_CLIENTS_FILE": str(ROOT / "examples" / "identity-clients.yaml"),
    }  # fmt: skip
    (tmp_path / "schemathesis.toml").write_text(config(REFUSALS, REJECTIONS))
    with start_uvicorn(
        "sim06.services.asgi:identity", factory=True, env=env, health_path="/healthz"
    ) as server:
        result = subprocess.run(
            [
                str(Path(sys.executable).parent / "schemathesis"),
                "--config-file",
                str(tmp_path / "schemathesis.toml"),
                "run",
                f"{server.url}/openapi.json",
                "--checks",
                "all",
                "--max-examples",
                "25",
                "--seed",
                "6",
                "--no-color",
                "--report",
                "junit",
                "--report-dir",
                str(tmp_path / "report"),
            ],  # fmt: skip
            capture_output=True,
            text=True,
            timeout=300,
            check=False,
        )
    [report] = (tmp_path / "report").glob("*.xml")
    assert not failures(report), result.stdout[-6000:]
    assert result.returncode == 0, result.stdout[-6000:]

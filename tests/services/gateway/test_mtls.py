"""mTLS with certificate-bound tokens (RFC 8705) against a live HTTPS listener on 127.0.0.1,
and the TLS-terminating proxy mode (``X-SSL-Client-Cert`` from a trusted address only)."""

from __future__ import annotations

import socket
import ssl
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import quote

import httpx
import jwt
import pytest
import uvicorn
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from sim06.mock_registry.pki import Pki
from sim06.services.common.settings import Settings
from sim06.services.gateway.app import create_app
from sim06.services.gateway.mtls import issue_demo_agency_cert, thumbprint, tls_config
from tests.services.gateway.helpers import ADMIN, ADULT, COMMUNE, POLICE, exchange_headers

FORM = {"grant_type": "client_credentials"}


@pytest.fixture(scope="module")
def tls_settings(tmp_path_factory: pytest.TempPathFactory, seeded_db: Path) -> Settings:
    data = tmp_path_factory.mktemp("mtls")
    return Settings(data_dir=data / "data", db_path=seeded_db, gateway_admin_token=ADMIN)


@pytest.fixture(scope="module")
def certs(tls_settings: Settings, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    out = tmp_path_factory.mktemp("certs")
    for agency in (COMMUNE, POLICE):
        issue_demo_agency_cert(tls_settings, agency["client_id"], out)
    return {"dir": out, "ca": out / "gateway-tls-ca.pem"}


@pytest.fixture(scope="module")
def base_url(tls_settings: Settings) -> Iterator[str]:
    """The gateway on a live HTTPS listener configured by ``tls_config`` (as ``sim06 up``)."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.bind(("127.0.0.1", 0))
    app = create_app(tls_settings)
    options = {k: v for k, v in tls_config(tls_settings).items() if k != "port"}
    config = uvicorn.Config(app, loop="asyncio", lifespan="off", log_level="warning", **options)
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started and thread.is_alive() and time.monotonic() < deadline:
        time.sleep(0.01)
    try:
        assert server.started, "uvicorn did not start"
        yield f"https://127.0.0.1:{sock.getsockname()[1]}"
    finally:
        server.should_exit = True
        thread.join(5)
        sock.close()
        app.state.audit.close()


def _client(base: str, certs: dict[str, Path], client_id: str | None) -> httpx.Client:
    context = ssl.create_default_context(cafile=str(certs["ca"]))
    if client_id is not None:
        folder = certs["dir"]
        context.load_cert_chain(folder / f"{client_id}.pem", folder / f"{client_id}.key.pem")
    return httpx.Client(base_url=base, verify=context, timeout=10)


def _thumbprint_of(path: Path) -> str:
    return thumbprint(x509.load_pem_x509_certificate(path.read_bytes()).public_bytes(
        serialization.Encoding.DER))  # fmt: skip


def _claims(token: str) -> dict[str, Any]:
    claims: dict[str, Any] = jwt.decode(token, options={"verify_signature": False})
    return claims


def _lookup(client: httpx.Client, token: str) -> httpx.Response:
    return client.get(f"/v1/registry/citizens/{ADULT}", headers=exchange_headers(token, COMMUNE))


@pytest.mark.e2e
def test_tls_client_auth_binds_the_token_to_the_certificate(
    base_url: str, certs: dict[str, Path]
) -> None:
    with _client(base_url, certs, COMMUNE["client_id"]) as mtls:
        r = mtls.post("/oauth/token", data={**FORM, "client_id": COMMUNE["client_id"]})
        assert r.status_code == 200, r.text
        token = r.json()["access_token"]
        bound = _thumbprint_of(certs["dir"] / f"{COMMUNE['client_id']}.pem")
        assert _claims(token)["cnf"] == {"x5t#S256": bound}
        r = _lookup(mtls, token)
        assert r.status_code == 200, r.text
    # The same token over TLS without the certificate, or with another agency's: refused.
    with _client(base_url, certs, None) as plain:
        r = _lookup(plain, token)
        assert r.status_code == 401 and "RFC 8705" in r.json()["detail"]
        assert 'error="invalid_token"' in r.headers["www-authenticate"]
    with _client(base_url, certs, POLICE["client_id"]) as other:
        assert _lookup(other, token).status_code == 401


@pytest.mark.e2e
def test_client_secret_over_mtls_is_bound_and_without_a_certificate_is_not(
    base_url: str, certs: dict[str, Path]
) -> None:
    auth = (COMMUNE["client_id"], COMMUNE["secret"])
    with _client(base_url, certs, COMMUNE["client_id"]) as mtls:
        token = mtls.post("/oauth/token", data=FORM, auth=auth).json()["access_token"]
    assert "cnf" in _claims(token)
    with _client(base_url, certs, None) as plain:
        assert _lookup(plain, token).status_code == 401
        unbound = plain.post("/oauth/token", data=FORM, auth=auth).json()["access_token"]
        assert "cnf" not in _claims(unbound)
        assert _lookup(plain, unbound).status_code == 200


@pytest.mark.e2e
def test_a_certificate_of_another_client_or_none_is_invalid_client(
    base_url: str, certs: dict[str, Path]
) -> None:
    with _client(base_url, certs, POLICE["client_id"]) as other:
        r = other.post("/oauth/token", data={**FORM, "client_id": COMMUNE["client_id"]})
        assert r.status_code == 401 and r.json()["error"] == "invalid_client"
    with _client(base_url, certs, None) as plain:
        r = plain.post("/oauth/token", data={**FORM, "client_id": COMMUNE["client_id"]})
        assert r.status_code == 401 and r.json()["error"] == "invalid_client"


def _self_signed(folder: Path, common_name: str) -> tuple[Path, Path]:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])
    now = datetime.now(UTC)
    cert = (
        x509.CertificateBuilder().subject_name(name).issuer_name(name)
        .public_key(key.public_key()).serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(days=1)).not_valid_after(now + timedelta(days=1))
        .sign(key, hashes.SHA256())
    )  # fmt: skip
    cert_path, key_path = folder / f"{common_name}.pem", folder / f"{common_name}.key.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                          serialization.NoEncryption())
    )  # fmt: skip
    return cert_path, key_path


@pytest.mark.e2e
def test_a_certificate_not_issued_by_the_agency_ca_fails_the_handshake(
    base_url: str, certs: dict[str, Path], tmp_path: Path
) -> None:
    cert, key = _self_signed(tmp_path, COMMUNE["client_id"])
    context = ssl.create_default_context(cafile=str(certs["ca"]))
    context.load_cert_chain(cert, key)
    with httpx.Client(base_url=base_url, verify=context, timeout=10) as forged:
        with pytest.raises(httpx.TransportError):
            forged.post("/oauth/token", data={**FORM, "client_id": COMMUNE["client_id"]})


# --- TLS-terminating proxy mode (ASGI transport; the client address is 127.0.0.1) -----------


def _escaped(path: Path) -> str:
    """``$ssl_client_escaped_cert``: the PEM, URL-encoded."""
    return quote(path.read_text(), safe="")


async def _token_via_proxy(settings: Settings, trusted: list[str], cert_pem: str) -> httpx.Response:
    app = create_app(settings.model_copy(update={"gateway_mtls_trusted_proxies": trusted}))
    try:
        transport = httpx.ASGITransport(app=app, client=("127.0.0.1", 40000))
        async with httpx.AsyncClient(transport=transport, base_url="http://gateway") as client:
            return await client.post(
                "/oauth/token",
                data={**FORM, "client_id": COMMUNE["client_id"]},
                headers={"X-SSL-Client-Cert": cert_pem},
            )
    finally:
        await app.state.gateway.registry.aclose()
        app.state.audit.close()


@pytest.mark.anyio
async def test_proxy_header_is_trusted_only_from_the_configured_address(
    tls_settings: Settings, certs: dict[str, Path]
) -> None:
    pem = _escaped(certs["dir"] / f"{COMMUNE['client_id']}.pem")
    r = await _token_via_proxy(tls_settings, ["127.0.0.1"], pem)
    assert r.status_code == 200, r.text
    assert _claims(r.json()["access_token"])["cnf"]["x5t#S256"] == _thumbprint_of(
        certs["dir"] / f"{COMMUNE['client_id']}.pem"
    )
    r = await _token_via_proxy(tls_settings, [], pem)  # header from anyone else: ignored
    assert r.status_code == 401 and r.json()["error"] == "invalid_client"
    r = await _token_via_proxy(tls_settings, ["10.0.0.9"], pem)
    assert r.status_code == 401


@pytest.mark.anyio
async def test_proxy_header_with_a_foreign_or_expired_certificate_is_ignored(
    tls_settings: Settings, tmp_path: Path
) -> None:
    forged, _ = _self_signed(tmp_path, COMMUNE["client_id"])
    r = await _token_via_proxy(tls_settings, ["127.0.0.1"], _escaped(forged))
    assert r.status_code == 401
    pki = Pki(tls_settings.keys_dir / "pki")
    key = ec.generate_private_key(ec.SECP256R1())
    expired = pki.issue_agency_certificate(
        COMMUNE["client_id"], key.public_key(), organization_unit=COMMUNE["code"],
        not_before=datetime.now(UTC) - timedelta(days=30), days=1,
    )  # fmt: skip
    pem = quote(expired.public_bytes(serialization.Encoding.PEM).decode(), safe="")
    r = await _token_via_proxy(tls_settings, ["127.0.0.1"], pem)
    assert r.status_code == 401
    r = await _token_via_proxy(tls_settings, ["127.0.0.1"], "garbage")
    assert r.status_code == 401


def test_issue_demo_agency_cert_writes_a_client_certificate(
    tls_settings: Settings, certs: dict[str, Path]
) -> None:
    cert = x509.load_pem_x509_certificate((certs["dir"] / "cat-pc02.pem").read_bytes())
    subject = {a.oid: a.value for a in cert.subject}
    assert subject[NameOID.COMMON_NAME] == POLICE["client_id"]
    assert subject[NameOID.ORGANIZATIONAL_UNIT_NAME] == POLICE["code"]
    ca = x509.load_pem_x509_certificate((certs["dir"] / "agency-ca.pem").read_bytes())
    cert.verify_directly_issued_by(ca)
    assert (certs["dir"] / "cat-pc02.key.pem").stat().st_mode & 0o077 == 0
    with pytest.raises(KeyError):
        issue_demo_agency_cert(tls_settings, "no-such-client", certs["dir"])

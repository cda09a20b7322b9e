"""Mutual TLS for agencies and certificate-bound access tokens (RFC 8705).

The gateway's HTTPS listener asks for a client certificate (optional: agencies without one still
connect) and verifies it against the mock **agency CA** (``mock_registry.pki``). The certificate
then reaches the app in one of two ways:

- **Direct** (``sim06 up``): uvicorn 0.54 does not expose the peer certificate, so
  :class:`TlsHttpProtocol` (passed as uvicorn's ``http=`` protocol class by :func:`tls_config`)
  reads it from the connection's ``ssl_object`` once per connection and adds the ASGI TLS
  extension to each request's scope: ``scope["extensions"]["tls"]["client_cert_chain"]``
  (https://asgi.readthedocs.io/en/latest/specs/tls.html).
- **Behind a TLS-terminating proxy** (nginx ``ssl_verify_client optional;
  proxy_set_header X-SSL-Client-Cert $ssl_client_escaped_cert;``): the URL-encoded PEM in
  ``X-SSL-Client-Cert``, believed only from the addresses in
  ``SIM06_GATEWAY_MTLS_TRUSTED_PROXIES``; from anyone else the header is ignored.

:class:`ClientCertMiddleware` checks the certificate once more (issued by the agency CA, within
its validity) and publishes it for the request in a context variable that
:class:`~services.gateway.oauth.TokenService` reads: at ``/oauth/token`` for
``tls_client_auth`` (RFC 8705 §2.1; sim06's convention: subject CN = client_id, OU = agency
code) and to bind the token (``cnf.x5t#S256``, §3.1); on every exchange to refuse a bound token
presented without its certificate (401 ``invalid_token``, §3).
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import os
import shutil
import ssl
import tempfile
from collections.abc import Iterator
from contextvars import ContextVar
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import cached_property
from ipaddress import ip_address
from pathlib import Path
from typing import Any
from urllib.parse import unquote

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID
from starlette.types import ASGIApp, Receive, Scope, Send
from uvicorn.protocols.http.auto import AutoHTTPProtocol

from sim06.mock_registry.pki import Pki
from sim06.services.common.settings import Settings
from sim06.services.gateway.agencies import load_agencies

PROXY_HEADER = b"x-ssl-client-cert"
_presented: ContextVar[PresentedCertificate | None] = ContextVar("sim06_mtls", default=None)


def thumbprint(der: bytes) -> str:
    """``x5t#S256``: base64url (no padding) of the SHA-256 of the DER certificate (RFC 8705)."""
    return base64.urlsafe_b64encode(hashlib.sha256(der).digest()).rstrip(b"=").decode()


@dataclass(frozen=True)
class PresentedCertificate:
    """The verified client certificate of the current request's connection."""

    der: bytes
    thumbprint: str

    @cached_property
    def certificate(self) -> x509.Certificate:
        return x509.load_der_x509_certificate(self.der)

    def subject(self, oid: x509.ObjectIdentifier) -> str | None:
        values = self.certificate.subject.get_attributes_for_oid(oid)
        return str(values[0].value) if len(values) == 1 else None


def presented() -> PresentedCertificate | None:
    """The client certificate of the request being served, if its connection presented one."""
    return _presented.get()


@contextlib.contextmanager
def presenting(certificate: PresentedCertificate | None) -> Iterator[None]:
    """Serve the code inside as if its connection had presented ``certificate``."""
    token = _presented.set(certificate)
    try:
        yield
    finally:
        _presented.reset(token)


class ClientCertMiddleware:
    """Publish the connection's verified client certificate for the request (module docstring)."""

    def __init__(
        self, app: ASGIApp, *, settings: Settings, ca: x509.Certificate | None = None
    ) -> None:
        self.app = app
        self.settings = settings
        self._ca = ca  # loaded on the first certificate: plain HTTP never touches the PKI
        trusted_proxies = settings.gateway_mtls_trusted_proxies
        self.trusted = frozenset(str(ip_address(p)) for p in trusted_proxies or [])
        self._checked: dict[bytes, PresentedCertificate | None] = {}

    def _der(self, scope: Scope) -> bytes | None:
        tls = (scope.get("extensions") or {}).get("tls") or {}
        chain = tls.get("client_cert_chain") or []
        if chain:
            return ssl.PEM_cert_to_DER_cert(chain[0])
        client = scope.get("client")
        if not self.trusted or not client or client[0] not in self.trusted:
            return None
        for name, value in scope["headers"]:
            if name == PROXY_HEADER and value:
                try:
                    return ssl.PEM_cert_to_DER_cert(unquote(value.decode("latin-1")).strip())
                except ValueError:
                    return None
        return None

    def _verify(self, der: bytes) -> PresentedCertificate | None:
        """The certificate if the agency CA issued it and it is valid now; cached by DER."""
        now = datetime.now(UTC)
        found = self._checked.get(der)
        if found is None and der not in self._checked:
            try:
                if self._ca is None:
                    self._ca = agency_ca(self.settings)[0]
                cert = x509.load_der_x509_certificate(der)
                cert.verify_directly_issued_by(self._ca)
                found = PresentedCertificate(der, thumbprint(der))
            except (ValueError, TypeError, InvalidSignature):  # not from the agency CA
                found = None
            if len(self._checked) > 10_000:
                self._checked.clear()
            self._checked[der] = found
        if found is not None:
            cert = found.certificate
            if not cert.not_valid_before_utc <= now <= cert.not_valid_after_utc:
                return None
        return found

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        der = self._der(scope)
        if der is None:  # plain HTTP (the hot path): the variable already says "none"
            await self.app(scope, receive, send)
            return
        with presenting(self._verify(der)):
            await self.app(scope, receive, send)


class TlsHttpProtocol(AutoHTTPProtocol):  # type: ignore[misc,valid-type]
    """uvicorn's HTTP/1.1 protocol plus the ASGI TLS extension (the client certificate)."""

    def connection_made(self, transport: Any) -> None:
        super().connection_made(transport)
        ssl_object = transport.get_extra_info("ssl_object")
        if ssl_object is None:
            return
        der = ssl_object.getpeercert(binary_form=True)
        extension: dict[str, Any] = {
            "server_cert": None,
            "client_cert_chain": [ssl.DER_cert_to_PEM_cert(der)] if der else [],
            "client_cert_name": None,
            "client_cert_error": None,
            "tls_version": None,
            "cipher_suite": None,
        }
        inner: ASGIApp = self.app  # type: ignore[has-type]

        async def app(scope: Scope, receive: Receive, send: Send) -> None:
            scope.setdefault("extensions", {})["tls"] = extension
            await inner(scope, receive, send)

        self.app = app  # per connection: this protocol object serves one connection


# --- certificates ------------------------------------------------------------------------------


def _tls_dir(settings: Settings) -> Path:
    return settings.keys_dir / "gateway-tls"


def _pem_key(key: ec.EllipticCurvePrivateKey) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )


def _write(path: Path, data: bytes, *, private: bool = False) -> None:
    path.write_bytes(data)
    if private:
        os.chmod(path, 0o600)


def _generate_server(directory: Path) -> None:
    """A self-signed "sim06 Gateway TLS CA SIMULATED" and a localhost server certificate."""
    now = datetime.now(UTC).replace(microsecond=0) - timedelta(minutes=5)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COUNTRY_NAME, "VN"),
                         x509.NameAttribute(NameOID.COMMON_NAME,
                                            "sim06 Gateway TLS CA SIMULATED")])  # fmt: skip
    ca = (
        x509.CertificateBuilder()
        .subject_name(ca_name)
        .issuer_name(ca_name)
        .public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now)
        .not_valid_after(now + timedelta(days=3650))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(
            x509.KeyUsage(False, False, False, False, False, True, True, False, False),
            critical=True,
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key()), False)
        .sign(ca_key, hashes.SHA256())
    )
    key = ec.generate_private_key(ec.SECP256R1())
    names = [x509.DNSName("localhost"), x509.IPAddress(ip_address("127.0.0.1")),
             x509.IPAddress(ip_address("::1"))]  # fmt: skip
    server = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")]))
        .issuer_name(ca_name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now)
        .not_valid_after(now + timedelta(days=825))
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.SubjectAlternativeName(names), critical=False)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), False
        )
        .sign(ca_key, hashes.SHA256())
    )
    pem = serialization.Encoding.PEM
    _write(directory / "server-ca.pem", ca.public_bytes(pem))
    _write(directory / "server.pem", server.public_bytes(pem))
    _write(directory / "server.key.pem", _pem_key(key), private=True)


def server_files(settings: Settings) -> tuple[Path, Path]:
    """(certificate, key) of the HTTPS listener: the configured ones, or generated once."""
    if settings.gateway_tls_certfile and settings.gateway_tls_keyfile:
        return settings.gateway_tls_certfile, settings.gateway_tls_keyfile
    directory = _tls_dir(settings)
    if not (directory / "server.key.pem").exists():
        # Generate beside the target and rename, so concurrent first runs never see half a set.
        directory.parent.mkdir(parents=True, exist_ok=True)
        staging = Path(tempfile.mkdtemp(prefix=".gateway-tls-", dir=directory.parent))
        try:
            _generate_server(staging)
            with contextlib.suppress(OSError):
                os.rename(staging, directory)
        finally:
            shutil.rmtree(staging, ignore_errors=True)
    return directory / "server.pem", directory / "server.key.pem"


def agency_ca(settings: Settings) -> tuple[x509.Certificate, Path]:
    """The mock agency CA (created with the PKI on first use) and its PEM file."""
    pki = Pki(settings.keys_dir / "pki")
    return pki.agency_ca, pki.directory / "agency-ca.pem"


def tls_config(settings: Settings) -> dict[str, Any]:
    """uvicorn ``Config`` keyword arguments of the gateway's HTTPS + optional mTLS listener."""
    certfile, keyfile = server_files(settings)
    _, ca_file = agency_ca(settings)
    return {
        "port": settings.gateway_tls_port,
        "ssl_certfile": str(certfile),
        "ssl_keyfile": str(keyfile),
        "ssl_ca_certs": str(ca_file),
        "ssl_cert_reqs": ssl.CERT_OPTIONAL,
        "http": TlsHttpProtocol,
    }


def issue_demo_agency_cert(settings: Settings, client_id: str, out_dir: Path) -> list[Path]:
    """A DEMO-ONLY client certificate for the agency ``client_id`` (``sim06 keys agency-cert``).

    Writes ``<client_id>.pem`` and ``<client_id>.key.pem`` (subject CN = client_id, OU = agency
    code, issued by the agency CA for a year), ``agency-ca.pem`` and ``gateway-tls-ca.pem`` (to
    verify the gateway's HTTPS certificate). ``KeyError`` if no such agency.
    """
    spec = next(
        (a for a in load_agencies(settings.gateway_agencies_file) if a.client_id == client_id),
        None,
    )
    if spec is None:
        raise KeyError(f"no agency with client_id {client_id!r}")
    pki = Pki(settings.keys_dir / "pki")
    key = ec.generate_private_key(ec.SECP256R1())
    cert = pki.issue_agency_certificate(client_id, key.public_key(), organization_unit=spec.code)
    out_dir.mkdir(parents=True, exist_ok=True)
    pem = serialization.Encoding.PEM
    paths = [out_dir / f"{client_id}.pem", out_dir / f"{client_id}.key.pem",
             out_dir / "agency-ca.pem", out_dir / "gateway-tls-ca.pem"]  # fmt: skip
    _write(paths[0], cert.public_bytes(pem))
    _write(paths[1], _pem_key(key), private=True)
    _write(paths[2], pki.agency_ca.public_bytes(pem))
    if settings.gateway_tls_certfile is None:  # a configured certificate has its own CA
        server_files(settings)
        shutil.copyfile(_tls_dir(settings) / "server-ca.pem", paths[3])
        return paths
    return paths[:3]

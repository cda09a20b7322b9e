"""Mock public-key infrastructure of the chip card and of agency mTLS (ICAO 9303 part 12).

    CSCA  "CSCA Viet Nam SIMULATED" (self-signed, ECDSA P-384)
    ├── DS current   signs genuine cards
    ├── DS expired   validity ended 31 Dec 2020
    ├── DS revoked   listed in the CSCA's CRL (keyCompromise)
    └── CRL
    rogue CSCA (same name, other key) ── DS untrusted   a forger's signer
    Agency CA "sim06 Agency CA SIMULATED" ── agency client certificates (gateway mTLS)

Everything is generated on first use into one directory (the services pass
``settings.keys_dir / "pki"``) and loaded afterwards; private keys are files of mode 0600 and never
leave it. Validity periods are fixed dates of the simulated world, so results depend on the
verification date only, never on the wall clock. Whether Vietnam's real CSCA is published
(ICAO PKD or bilateral) is unknown (domain §4.7, [U]): these anchors are sim06's own.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import shutil
import tempfile
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

SIGNERS = ("current", "expired", "revoked", "untrusted")


def _utc(year: int, month: int = 1, day: int = 1) -> datetime:
    return datetime(year, month, day, tzinfo=UTC)


CSCA_VALIDITY = (_utc(2016), _utc(2046))
DS_VALIDITY = {
    "current": (_utc(2021), _utc(2041)),
    "expired": (_utc(2016), _utc(2020, 12, 31)),
    "revoked": (_utc(2021), _utc(2041)),
    "untrusted": (_utc(2021), _utc(2041)),
}
REVOKED_ON = _utc(2024, 3, 1)
CRL_THIS_UPDATE = _utc(2024, 3, 1)
CRL_NEXT_UPDATE = _utc(2046)


def _name(common_name: str, unit: str) -> x509.Name:
    return x509.Name(
        [
            x509.NameAttribute(NameOID.COUNTRY_NAME, "VN"),
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, "Bộ Công an (SIMULATED - sim06)"),
            x509.NameAttribute(NameOID.ORGANIZATIONAL_UNIT_NAME, unit),
            x509.NameAttribute(NameOID.COMMON_NAME, common_name),
        ]
    )


CSCA_NAME = _name("CSCA Viet Nam SIMULATED", "sim06 test PKI - not a real CSCA")
AGENCY_CA_NAME = _name("sim06 Agency CA SIMULATED", "sim06 test PKI - gateway mTLS")


@dataclass(frozen=True)
class Signer:
    """A document signer: its key and certificate."""

    name: str
    key: ec.EllipticCurvePrivateKey
    certificate: x509.Certificate


def _ca(
    name: x509.Name, key: ec.EllipticCurvePrivateKey, validity: tuple[datetime, datetime]
) -> x509.Certificate:
    ski = x509.SubjectKeyIdentifier.from_public_key(key.public_key())
    return (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(validity[0])
        .not_valid_after(validity[1])
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(
            x509.KeyUsage(False, False, False, False, False, True, True, False, False),
            critical=True,
        )
        .add_extension(ski, critical=False)
        .sign(key, hashes.SHA384() if isinstance(key.curve, ec.SECP384R1) else hashes.SHA256())
    )


def _issue(
    issuer_cert: x509.Certificate,
    issuer_key: ec.EllipticCurvePrivateKey,
    subject: x509.Name,
    public_key: ec.EllipticCurvePublicKey,
    validity: tuple[datetime, datetime],
    *,
    client_auth: bool = False,
) -> x509.Certificate:
    builder = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(issuer_cert.subject)
        .public_key(public_key)
        .serial_number(x509.random_serial_number())
        .not_valid_before(validity[0])
        .not_valid_after(validity[1])
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(True, False, False, False, False, False, False, False, False),
            critical=True,
        )
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(issuer_key.public_key()),
            critical=False,
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(public_key), critical=False)
    )
    if client_auth:
        builder = builder.add_extension(
            x509.ExtendedKeyUsage([ExtendedKeyUsageOID.CLIENT_AUTH]), critical=False
        )
    digest = hashes.SHA384() if isinstance(issuer_key.curve, ec.SECP384R1) else hashes.SHA256()
    return builder.sign(issuer_key, digest)


def _key_pem(key: ec.EllipticCurvePrivateKey) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )


def _write(path: Path, data: bytes, private: bool = False) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600 if private else 0o644)
    with os.fdopen(fd, "wb") as fh:
        fh.write(data)


def _load_key(path: Path) -> ec.EllipticCurvePrivateKey:
    key = serialization.load_pem_private_key(path.read_bytes(), password=None)
    if not isinstance(key, ec.EllipticCurvePrivateKey):
        raise TypeError(f"{path} is not an EC private key")
    return key


def _load_cert(path: Path) -> x509.Certificate:
    return x509.load_pem_x509_certificate(path.read_bytes())


def _generate(directory: Path) -> None:
    """Write a fresh PKI into ``directory`` (which must be empty)."""
    csca_key = ec.generate_private_key(ec.SECP384R1())
    csca = _ca(CSCA_NAME, csca_key, CSCA_VALIDITY)
    rogue_key = ec.generate_private_key(ec.SECP384R1())
    rogue = _ca(CSCA_NAME, rogue_key, CSCA_VALIDITY)  # same name: only the key tells it apart
    _write(directory / "csca.key.pem", _key_pem(csca_key), private=True)
    _write(directory / "csca.pem", csca.public_bytes(serialization.Encoding.PEM))
    serials: dict[str, int] = {}
    for name in SIGNERS:
        key = ec.generate_private_key(ec.SECP256R1())
        subject = _name(f"Document Signer {name} SIMULATED", "sim06 test PKI - document signer")
        issuer, issuer_key = (rogue, rogue_key) if name == "untrusted" else (csca, csca_key)
        cert = _issue(issuer, issuer_key, subject, key.public_key(), DS_VALIDITY[name])
        serials[name] = cert.serial_number
        _write(directory / f"ds-{name}.key.pem", _key_pem(key), private=True)
        _write(directory / f"ds-{name}.pem", cert.public_bytes(serialization.Encoding.PEM))
    revoked = (
        x509.RevokedCertificateBuilder()
        .serial_number(serials["revoked"])
        .revocation_date(REVOKED_ON)
        .add_extension(x509.CRLReason(x509.ReasonFlags.key_compromise), critical=False)
        .build()
    )
    crl = (
        x509.CertificateRevocationListBuilder()
        .issuer_name(csca.subject)
        .last_update(CRL_THIS_UPDATE)
        .next_update(CRL_NEXT_UPDATE)
        .add_revoked_certificate(revoked)
        .add_extension(x509.CRLNumber(1), critical=False)
        .sign(csca_key, hashes.SHA384())
    )
    _write(directory / "csca.crl", crl.public_bytes(serialization.Encoding.DER))
    agency_key = ec.generate_private_key(ec.SECP256R1())
    agency = _ca(AGENCY_CA_NAME, agency_key, CSCA_VALIDITY)
    _write(directory / "agency-ca.key.pem", _key_pem(agency_key), private=True)
    _write(directory / "agency-ca.pem", agency.public_bytes(serialization.Encoding.PEM))
    # Seeds the per-card chip keys (DG14/DG15): same installation, same card -> same keys.
    _write(directory / "chip-master.key", secrets.token_bytes(32), private=True)


class Pki:
    """The simulated PKI loaded from (or, the first time, generated into) ``directory``."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        if not (directory / "csca.pem").exists():
            self._create()
        self.csca = _load_cert(directory / "csca.pem")
        self.crl = x509.load_der_x509_crl((directory / "csca.crl").read_bytes())
        self.signers = {
            name: Signer(
                name,
                _load_key(directory / f"ds-{name}.key.pem"),
                _load_cert(directory / f"ds-{name}.pem"),
            )
            for name in SIGNERS
        }
        self.agency_ca = _load_cert(directory / "agency-ca.pem")
        self._agency_key = _load_key(directory / "agency-ca.key.pem")
        self.chip_master = (directory / "chip-master.key").read_bytes()

    def _create(self) -> None:
        # Generate beside the target and rename: a concurrent first run (two workers) either
        # wins the rename or finds the other's complete directory; never a half-written PKI.
        self.directory.parent.mkdir(parents=True, exist_ok=True)
        staging = Path(tempfile.mkdtemp(prefix=".pki-", dir=self.directory.parent))
        try:
            _generate(staging)
            with contextlib.suppress(FileExistsError, OSError):
                if not self.directory.exists():
                    os.rename(staging, self.directory)
        finally:
            if staging.exists():
                shutil.rmtree(staging)
        os.chmod(self.directory, 0o700)

    def signer(self, name: str = "current") -> Signer:
        """A document signer by name (one of ``SIGNERS``)."""
        return self.signers[name]

    def trusted_signers(self) -> list[x509.Certificate]:
        """The DS certificates the CSCA issued (the untrusted one is not among them)."""
        return [s.certificate for n, s in self.signers.items() if n != "untrusted"]

    def issue_agency_certificate(
        self,
        common_name: str,
        public_key: ec.EllipticCurvePublicKey,
        *,
        not_before: datetime | None = None,
        days: int = 365,
        organization_unit: str = "agency",
    ) -> x509.Certificate:
        """An mTLS client certificate (EKU clientAuth) for an agency, signed by the agency CA."""
        start = not_before or datetime.now(UTC).replace(microsecond=0)
        subject = x509.Name(
            [
                x509.NameAttribute(NameOID.COUNTRY_NAME, "VN"),
                x509.NameAttribute(NameOID.ORGANIZATIONAL_UNIT_NAME, organization_unit),
                x509.NameAttribute(NameOID.COMMON_NAME, common_name),
            ]
        )
        return _issue(
            self.agency_ca,
            self._agency_key,
            subject,
            public_key,
            (start, start + timedelta(days=days)),
            client_auth=True,
        )

    def export(self, target: Path) -> list[Path]:
        """Write the trust anchors integrators install: CSCA, trusted DS certificates, CRL
        (PEM and DER) and the agency CA. No private key is written."""
        target.mkdir(parents=True, exist_ok=True)
        pem = serialization.Encoding.PEM
        files = {
            "csca.pem": self.csca.public_bytes(pem),
            "csca.crl": self.crl.public_bytes(serialization.Encoding.DER),
            "csca.crl.pem": self.crl.public_bytes(pem),
            "agency-ca.pem": self.agency_ca.public_bytes(pem),
            "document-signers.pem": b"".join(c.public_bytes(pem) for c in self.trusted_signers()),
        }
        written = []
        for name, data in files.items():
            path = target / name
            path.write_bytes(data)
            written.append(path)
        return written

"""The simulated PKI: CSCA, document signers, CRL, agency CA; generated once, then loaded."""

from __future__ import annotations

import stat
from datetime import UTC, datetime
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from sim06.mock_registry.pki import SIGNERS, Pki


@pytest.fixture
def pki(tmp_path: Path) -> Pki:
    return Pki(tmp_path / "keys" / "pki")


def test_csca_is_self_signed_simulated_and_vietnamese(pki: Pki) -> None:
    csca = pki.csca
    assert csca.subject == csca.issuer
    csca.verify_directly_issued_by(csca)
    assert "SIMULATED" in csca.subject.rfc4514_string()
    assert csca.subject.get_attributes_for_oid(NameOID.COUNTRY_NAME)[0].value == "VN"
    assert csca.extensions.get_extension_for_class(x509.BasicConstraints).value.ca


def test_signers_chain_and_validity(pki: Pki) -> None:
    at = datetime(2026, 7, 1, tzinfo=UTC)
    for name in ("current", "expired", "revoked"):
        pki.signer(name).certificate.verify_directly_issued_by(pki.csca)
    with pytest.raises(InvalidSignature):  # same issuer name, a forger's key
        pki.signer("untrusted").certificate.verify_directly_issued_by(pki.csca)
    current = pki.signer("current").certificate
    expired = pki.signer("expired").certificate
    assert current.not_valid_before_utc <= at <= current.not_valid_after_utc
    assert expired.not_valid_after_utc < at


def test_crl_is_signed_by_the_csca_and_lists_only_the_revoked_signer(pki: Pki) -> None:
    assert pki.crl.is_signature_valid(pki.csca.public_key())  # type: ignore[arg-type]
    revoked = {r.serial_number for r in pki.crl}
    assert revoked == {pki.signer("revoked").certificate.serial_number}


def test_generated_once_then_loaded(tmp_path: Path) -> None:
    first = Pki(tmp_path / "pki")
    again = Pki(tmp_path / "pki")
    assert first.csca == again.csca
    assert first.chip_master == again.chip_master
    for name in SIGNERS:
        assert first.signer(name).certificate == again.signer(name).certificate
    mode = stat.S_IMODE((tmp_path / "pki" / "csca.key.pem").stat().st_mode)
    assert mode == 0o600
    assert stat.S_IMODE((tmp_path / "pki").stat().st_mode) == 0o700


def test_agency_client_certificate(pki: Pki) -> None:
    key = ec.generate_private_key(ec.SECP256R1())
    cert = pki.issue_agency_certificate("BHXH Viet Nam", key.public_key(), days=30)
    cert.verify_directly_issued_by(pki.agency_ca)
    eku = cert.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
    assert ExtendedKeyUsageOID.CLIENT_AUTH in eku
    assert not cert.extensions.get_extension_for_class(x509.BasicConstraints).value.ca


def test_export_writes_trust_anchors_and_no_private_key(pki: Pki, tmp_path: Path) -> None:
    written = pki.export(tmp_path / "export")
    assert {p.name for p in written} >= {"csca.pem", "csca.crl", "document-signers.pem"}
    for path in written:
        assert b"PRIVATE KEY" not in path.read_bytes()
    signers = x509.load_pem_x509_certificates(
        (tmp_path / "export" / "document-signers.pem").read_bytes()
    )
    assert pki.signer("untrusted").certificate not in signers
    assert (
        x509.load_pem_x509_certificate((tmp_path / "export" / "csca.pem").read_bytes()) == pki.csca
    )
    x509.load_der_x509_crl((tmp_path / "export" / "csca.crl").read_bytes())

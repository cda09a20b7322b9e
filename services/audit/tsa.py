"""A mock RFC 3161 time-stamping authority, and the client side the audit log uses.

X-Road time-stamps its message log with an external TSA; sim06 runs its own so that agencies can
test the exchange offline (``POST /__sim06/tsa`` on the gateway: ``application/timestamp-query``
in, ``application/timestamp-reply`` out) and so that signed tree heads can be counter-signed
(``SIM06_AUDIT_TIMESTAMP``). Its trust anchor is a root certificate generated on first run into
``DATA_DIR/keys/tsa/`` with the TSA's signing certificate (ES256, extended key usage
``timeStamping``, critical, as RFC 3161 §2.3 requires).

The reply (a CMS SignedData over a TSTInfo, RFC 3161 §2.4.2 and RFC 5652) is built with
asn1crypto, which has the ASN.1 of both; requests are built and replies verified with Trail of
Bits' ``rfc3161-client`` (a maintained client, Rust-backed, used by sigstore-python) rather
than ``rfc3161ng``, unmaintained since 2020 and pyasn1-based, so that an independent
implementation checks what this one signs.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import secrets
import threading
from pathlib import Path
from typing import Any, ClassVar

from asn1crypto import algos, cms, core, tsp, x509  # type: ignore[import-untyped]
from cryptography import x509 as cx509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from sim06.services.common.settings import Settings

QUERY_TYPE = "application/timestamp-query"
REPLY_TYPE = "application/timestamp-reply"
# sim06's TSA policy, under the IANA example enterprise number (RFC 5612): not a real policy.
POLICY = "1.3.6.1.4.1.32473.6.1"
_HASHES = {"sha256": hashlib.sha256, "sha384": hashlib.sha384, "sha512": hashlib.sha512}
_DIGEST_SIZES = {"sha256": 32, "sha384": 48, "sha512": 64}


def _name(common: str) -> cx509.Name:
    return cx509.Name(
        [
            cx509.NameAttribute(NameOID.COUNTRY_NAME, "VN"),
            cx509.NameAttribute(NameOID.ORGANIZATION_NAME, "sim06 (synthetic, DEMO-ONLY)"),
            cx509.NameAttribute(NameOID.COMMON_NAME, common),
        ]
    )


def _generate(directory: Path) -> None:
    """A root and a TSA certificate, ten years, under ``directory``."""
    now = dt.datetime.now(dt.UTC) - dt.timedelta(minutes=5)
    root_key = ec.generate_private_key(ec.SECP256R1())
    root = (
        cx509.CertificateBuilder()
        .subject_name(_name("sim06 TSA root"))
        .issuer_name(_name("sim06 TSA root"))
        .public_key(root_key.public_key())
        .serial_number(cx509.random_serial_number())
        .not_valid_before(now)
        .not_valid_after(now + dt.timedelta(days=3650))
        .add_extension(cx509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(
            cx509.KeyUsage(False, False, False, False, False, True, True, False, False),
            critical=True,
        )
        .add_extension(
            cx509.SubjectKeyIdentifier.from_public_key(root_key.public_key()), critical=False
        )
        .sign(root_key, hashes.SHA256())
    )
    key = ec.generate_private_key(ec.SECP256R1())
    cert = (
        cx509.CertificateBuilder()
        .subject_name(_name("sim06 time-stamping authority"))
        .issuer_name(root.subject)
        .public_key(key.public_key())
        .serial_number(cx509.random_serial_number())
        .not_valid_before(now)
        .not_valid_after(now + dt.timedelta(days=3650))
        .add_extension(cx509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(
            cx509.KeyUsage(True, False, False, False, False, False, False, False, False),
            critical=True,
        )
        .add_extension(cx509.ExtendedKeyUsage([ExtendedKeyUsageOID.TIME_STAMPING]), critical=True)
        .add_extension(
            cx509.AuthorityKeyIdentifier.from_issuer_public_key(root_key.public_key()),
            critical=False,
        )
        .sign(root_key, hashes.SHA256())
    )
    directory.mkdir(parents=True, exist_ok=True)
    pem = serialization.Encoding.PEM
    (directory / "root.pem").write_bytes(root.public_bytes(pem))
    (directory / "tsa.pem").write_bytes(cert.public_bytes(pem))
    key_file = directory / "tsa-key.pem"
    key_file.touch(mode=0o600)
    key_file.write_bytes(
        key.private_bytes(pem, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )  # the root's key is not kept: the TSA certificate is the only one it ever signs


class TimeStampAuthority:
    """Answers TimeStampReq with signed TimeStampResp (granted, or rejected with a reason)."""

    _instances: ClassVar[dict[Path, TimeStampAuthority]] = {}
    _guard: ClassVar[threading.Lock] = threading.Lock()

    def __init__(self, directory: Path) -> None:
        if not (directory / "tsa-key.pem").exists():
            _generate(directory)
        self.root = cx509.load_pem_x509_certificate((directory / "root.pem").read_bytes())
        self.certificate = cx509.load_pem_x509_certificate((directory / "tsa.pem").read_bytes())
        key = serialization.load_pem_private_key(
            (directory / "tsa-key.pem").read_bytes(), password=None
        )
        assert isinstance(key, ec.EllipticCurvePrivateKey)
        self._key = key
        der = self.certificate.public_bytes(serialization.Encoding.DER)
        self._cert = x509.Certificate.load(der)
        self._cert_hash = hashlib.sha256(der).digest()

    @classmethod
    def of(cls, settings: Settings) -> TimeStampAuthority:
        """The TSA of ``settings``'s data directory (one per process)."""
        directory = settings.keys_dir / "tsa"
        with cls._guard:
            if directory not in cls._instances:
                cls._instances[directory] = cls(directory)
            return cls._instances[directory]

    def respond(self, query: bytes) -> bytes:
        """The DER TimeStampResp to a DER TimeStampReq."""
        try:
            request = tsp.TimeStampReq.load(query, strict=True)
            imprint = request["message_imprint"]
            algorithm = imprint["hash_algorithm"]["algorithm"].native
            digest = imprint["hashed_message"].native
            _ = request["version"].native, request["cert_req"].native, request["nonce"].native
        except (ValueError, TypeError, KeyError):
            return _rejection("badDataFormat", "not a DER TimeStampReq (RFC 3161 §2.4.1)")
        if request["version"].native != "v1":
            return _rejection("badRequest", "only version 1 requests")
        if algorithm not in _HASHES or len(digest) != _DIGEST_SIZES[algorithm]:
            return _rejection("badAlg", "the message imprint must be SHA-256, -384 or -512")
        policy = request["req_policy"].native
        if policy is not None and policy != POLICY:
            return _rejection("unacceptedPolicy", f"this TSA answers under {POLICY} only")
        if request["extensions"].native:
            return _rejection("unacceptedExtension", "no extension is supported")
        token = self._token(request)
        reply: bytes = tsp.TimeStampResp(
            {"status": {"status": "granted"}, "time_stamp_token": token}
        ).dump()
        return reply

    def stamp(self, data: bytes) -> bytes:
        """Time-stamp ``data`` (its SHA-256) through the same RFC 3161 exchange a client makes."""
        from rfc3161_client import TimestampRequestBuilder

        query = TimestampRequestBuilder().data(data).build().as_bytes()
        return self.respond(query)

    def verify(self, reply: bytes, data: bytes) -> bool:
        """Whether ``reply`` is a granted time-stamp over ``data`` by this TSA (checked by
        rfc3161-client: signature, certificate chain to the root, EKU, imprint)."""
        from rfc3161_client import VerificationError, VerifierBuilder, decode_timestamp_response

        try:
            response = decode_timestamp_response(reply)
            verifier = VerifierBuilder().add_root_certificate(self.root).build()
            return bool(verifier.verify_message(response, data))
        except (VerificationError, ValueError):
            return False

    def _token(self, request: tsp.TimeStampReq) -> cms.ContentInfo:
        now = dt.datetime.now(dt.UTC)
        info: dict[str, Any] = {
            "version": "v1",
            "policy": POLICY,
            "message_imprint": request["message_imprint"],
            "serial_number": secrets.randbits(127),
            "gen_time": now,
            "accuracy": {"millis": 1},
        }
        if request["nonce"].native is not None:
            info["nonce"] = request["nonce"].native
        content = tsp.TSTInfo(info).dump()
        signed_attrs = cms.CMSAttributes(
            [
                cms.CMSAttribute({"type": "content_type", "values": ["tst_info"]}),
                cms.CMSAttribute({"type": "signing_time", "values": [cms.Time({"utc_time": now})]}),
                cms.CMSAttribute(
                    {"type": "message_digest", "values": [hashlib.sha256(content).digest()]}
                ),
                cms.CMSAttribute(
                    {
                        "type": "signing_certificate_v2",
                        "values": [
                            tsp.SigningCertificateV2(
                                {"certs": [tsp.ESSCertIDv2({"cert_hash": self._cert_hash})]}
                            )
                        ],
                    }
                ),
            ]
        )
        signature = self._key.sign(signed_attrs.dump(), ec.ECDSA(hashes.SHA256()))
        signer = cms.SignerInfo(
            {
                "version": "v1",
                "sid": cms.SignerIdentifier(
                    {
                        "issuer_and_serial_number": cms.IssuerAndSerialNumber(
                            {
                                "issuer": self._cert.issuer,
                                "serial_number": self._cert.serial_number,
                            }
                        )
                    }
                ),
                "digest_algorithm": algos.DigestAlgorithm({"algorithm": "sha256"}),
                "signed_attrs": signed_attrs,
                "signature_algorithm": algos.SignedDigestAlgorithm({"algorithm": "sha256_ecdsa"}),
                "signature": signature,
            }
        )
        signed: dict[str, Any] = {
            "version": "v3",
            "digest_algorithms": [algos.DigestAlgorithm({"algorithm": "sha256"})],
            "encap_content_info": {
                "content_type": "tst_info",
                "content": core.ParsableOctetString(content),
            },
            "signer_infos": [signer],
        }
        if request["cert_req"].native:
            signed["certificates"] = [self._cert]
        return cms.ContentInfo({"content_type": "signed_data", "content": cms.SignedData(signed)})


def _rejection(failure: str, text: str) -> bytes:
    """A TimeStampResp without a token (asn1crypto's TimeStampResp wants one: the SEQUENCE is
    written around the PKIStatusInfo here)."""
    status: bytes = tsp.PKIStatusInfo(
        {"status": "rejection", "status_string": [text], "fail_info": tsp.PKIFailureInfo({failure})}
    ).dump()
    size = len(status)
    length = (
        bytes([size])
        if size < 0x80
        else bytes([0x81, size])
        if size < 0x100
        else (bytes([0x82]) + size.to_bytes(2, "big"))
    )
    return b"\x30" + length + status

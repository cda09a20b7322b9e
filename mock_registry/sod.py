"""EF.SOD read by a relying party: CMS SignedData, its signature, the data-group hashes.

ICAO 9303 part 10 §4.6.2 and part 11 §5.1. Parsing is separate from verifying the signature so
that passive authentication can still report the signer's chain and every altered data group
when the signature itself fails.

    CheckFailed(reason, detail)   a failed check, with a stable reason code of ``passive_auth``
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass

from asn1crypto import cms  # type: ignore[import-untyped]
from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa

from sim06.mock_registry import lds

HASHES: dict[str, Callable[[], hashes.HashAlgorithm]] = {
    "sha1": hashes.SHA1,
    "sha224": hashes.SHA224,
    "sha256": hashes.SHA256,
    "sha384": hashes.SHA384,
    "sha512": hashes.SHA512,
}
_DG_HASH_OIDS = {
    "1.3.14.3.2.26": "sha1",
    "2.16.840.1.101.3.4.2.1": "sha256",
    "2.16.840.1.101.3.4.2.2": "sha384",
    "2.16.840.1.101.3.4.2.3": "sha512",
}


class CheckFailed(Exception):
    """A check failed with a stable reason code and a human detail."""

    def __init__(self, reason: str, detail: str) -> None:
        super().__init__(detail)
        self.reason = reason
        self.detail = detail


@dataclass(frozen=True)
class SignedSOD:
    """The parts of an EF.SOD the checks need."""

    signer: x509.Certificate  # the DS certificate that travels in the SOD
    content: bytes  # the LDSSecurityObject (eContent)
    digest_name: str
    message_digest: bytes | None
    signed_attrs: bytes  # DER of the signed attributes as a SET, what the signature covers
    signature: bytes


def parse(sod: bytes) -> SignedSOD:
    """Parse EF.SOD (MALFORMED_FILE, or SOD_SIGNATURE_INVALID if no certificate is the signer)."""
    try:
        info = cms.ContentInfo.load(lds.unwrap(sod, lds.TAG_SOD))
        if info["content_type"].native != "signed_data":
            raise CheckFailed("MALFORMED_FILE", "EF.SOD does not hold CMS SignedData")
        signed = info["content"]
        encap = signed["encap_content_info"]
        if encap["content_type"].dotted != lds.OID_LDS_SECURITY_OBJECT:
            raise CheckFailed("MALFORMED_FILE", "EF.SOD content is not an LDSSecurityObject")
        content = bytes(encap["content"].contents)
        signer_info = signed["signer_infos"][0]
        sid_choice = signer_info["sid"]
        sid = sid_choice.chosen
        candidates = [
            c.chosen for c in signed["certificates"] if c.name == "certificate"
        ]  # the DS certificate travels in the SOD (ICAO 9303 part 10 §4.6.2.3)
        match = next(
            (
                c
                for c in candidates
                if sid_choice.name != "issuer_and_serial_number"
                or (
                    c.serial_number == sid["serial_number"].native
                    # DER comparison: asn1crypto's Name equality runs LDAP string prep (slow)
                    and c.issuer.dump() == sid["issuer"].dump()
                )
            ),
            None,
        )
        if match is None:
            raise CheckFailed("SOD_SIGNATURE_INVALID", "no certificate in the SOD is the signer")
        cert = x509.load_der_x509_certificate(match.dump())
        attrs = signer_info["signed_attrs"]
        values = {a["type"].native: a["values"][0] for a in attrs}
        digest = values.get("message_digest")
        return SignedSOD(
            signer=cert,
            content=content,
            digest_name=signer_info["digest_algorithm"]["algorithm"].native,
            message_digest=None if digest is None else bytes(digest.native),
            # The signature covers the attributes as a SET (tag 0x31), not their [0] encoding.
            signed_attrs=b"\x31" + attrs.dump()[1:],
            signature=bytes(signer_info["signature"].native),
        )
    except (ValueError, KeyError, IndexError, TypeError, lds.TLVError) as exc:
        raise CheckFailed("MALFORMED_FILE", f"EF.SOD is malformed: {exc}") from exc


def _verify(cert: x509.Certificate, signature: bytes, data: bytes, algo: str) -> None:
    key = cert.public_key()
    hash_alg = HASHES[algo]()
    if isinstance(key, ec.EllipticCurvePublicKey):
        key.verify(signature, data, ec.ECDSA(hash_alg))
    elif isinstance(key, rsa.RSAPublicKey):
        key.verify(signature, data, padding.PKCS1v15(), hash_alg)
    else:
        raise InvalidSignature("unsupported DS key type")


def verify_signature(sod: SignedSOD) -> str:
    """Check messageDigest and the CMS signature with the DS certificate's key."""
    if sod.digest_name not in HASHES:
        raise CheckFailed("SOD_SIGNATURE_INVALID", f"unsupported digest {sod.digest_name}")
    if sod.message_digest != hashlib.new(sod.digest_name, sod.content).digest():
        raise CheckFailed(
            "SOD_SIGNATURE_INVALID", "messageDigest does not match the security object"
        )
    try:
        _verify(sod.signer, sod.signature, sod.signed_attrs, sod.digest_name)
    except (InvalidSignature, ValueError) as exc:
        raise CheckFailed("SOD_SIGNATURE_INVALID", "the SOD signature does not verify") from exc
    return "CMS SignedData verifies with the DS certificate"


def signed_groups(content: bytes) -> set[int]:
    """The data-group numbers the LDSSecurityObject ``content`` has a hash for (ValueError if
    it does not parse)."""
    try:
        sec = lds.LDSSecurityObject.load(content)
        return {int(h["data_group_number"].native) for h in sec["data_group_hash_values"]}
    except (KeyError, TypeError) as exc:
        raise ValueError(f"LDSSecurityObject is malformed: {exc}") from exc


def dg_hashes(content: bytes, dgs: dict[int, bytes]) -> str:
    """Every data group read hashes to its value in the LDSSecurityObject ``content``."""
    try:
        sec = lds.LDSSecurityObject.load(content)
        algo = sec["hash_algorithm"]["algorithm"].dotted
        signed = {
            int(h["data_group_number"].native): bytes(h["data_group_hash_value"].native)
            for h in sec["data_group_hash_values"]
        }
    except (ValueError, KeyError, TypeError) as exc:
        raise CheckFailed("MALFORMED_FILE", f"LDSSecurityObject is malformed: {exc}") from exc
    if algo not in _DG_HASH_OIDS:
        raise CheckFailed("DG_HASH_MISMATCH", f"unsupported hash algorithm {algo}")
    name = _DG_HASH_OIDS[algo]
    missing = sorted(n for n in dgs if n not in signed)
    bad = sorted(
        n for n, d in dgs.items() if n in signed and hashlib.new(name, d).digest() != signed[n]
    )
    # One reason per check: an altered group is the graver finding; the detail names both.
    problems = []
    if bad:
        problems.append(f"DG{', DG'.join(map(str, bad))} altered after signing")
    if missing:
        problems.append(f"no hash for DG{', DG'.join(map(str, missing))}")
    if problems:
        raise CheckFailed("DG_HASH_MISMATCH" if bad else "DG_HASH_MISSING", "; ".join(problems))
    return f"{len(dgs)} data groups match ({name})"
